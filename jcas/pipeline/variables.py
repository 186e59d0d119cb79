"""Names of the per-job variables that more than one part of the sweep reads: the stages
write them, the aggregation fills or combines them (``docs/data.md``)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "AUDIT_VARIABLES",
    "MC_VARIABLES",
    "PLANAR_MC_VARIABLES",
    "PLANAR_MLE_VARIABLES",
    "ROUTE_VARIABLE_NAMES",
]

MC_VARIABLES: Final = ("sum_rate_mc", "sum_rate_mc_se", "crb_mc")
"""Monte-Carlo variables (NaN in the sweeps without ``monte_carlo``)."""

PLANAR_MC_VARIABLES: Final = ("crb_mc_azimuth", "crb_mc_elevation")
"""Monte-Carlo variables of a planar-array point besides :data:`MC_VARIABLES`: the mean
finite-L CRB of each angle with both angles unknown (``crb_mc`` is the azimuth's with the
elevation known)."""

PLANAR_MLE_VARIABLES: Final = (
    "mle_mse_azimuth",
    "mle_mse_elevation",
    "mle_mse_se_azimuth",
    "mle_mse_se_elevation",
    "mle_bias_azimuth",
    "mle_bias_elevation",
    "crb_mc_azimuth",
    "crb_mc_elevation",
)
"""Variables of :func:`jcas.pipeline.stages.mle.compute_mle_planar` (scheme, drop), per angle."""

AUDIT_VARIABLES: Final = ("sum_rate", "crb", "gap", "iterations", "status", "solve_time")
"""Per (variant, drop) variables of an ``sca_audit`` dataset (``docs/data.md``)."""

ROUTE_VARIABLE_NAMES: Final = ("angle", "direction_norm", "beam_norm", "sum_rate_se", "crb_se")
"""Variables of an allocation on the coefficient route (a correlated or Rician channel, or
a precoder without closed forms): the users' angles (rad), the norms ``E||v_k||^2``,
``E||b||^2`` of the precoder's directions, and the standard errors of the sum rate and CRB
from the Monte-Carlo coefficients; NaN at the closed-form points of an experiment."""
