"""Scheme ``sca``: the paper's Algorithm 1, made robust (``docs/theory.md`` §3-§5).

Its options (their config keys and defaults, :mod:`jcas.allocation.sca_defaults`, which the
solver shares) and the variants audited against the exact optimum (experiment kind
``sca_audit``) are defined here; the solver (:mod:`jcas.allocation.sca`, Clarabel) is imported
when the scheme runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from jcas.allocation.sca_defaults import (
    SCA_ACCELERATE,
    SCA_ACTIVE_SET,
    SCA_BATCH_SIZE,
    SCA_MAX_ITERATIONS,
    SCA_POLISH,
    SCA_STOPPING,
    SCA_STOPPING_RULES,
    SCA_TOLERANCE,
)
from jcas.parts.precoders.base import CLOSED_FORMS, SPLIT_POWER_RATE
from jcas.parts.registry import SCHEMES_REGISTRY, Param, Part

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from jcas.allocation._types import Allocation
    from jcas.model.coefficients import Coefficients
    from jcas.model.params import SystemParams

__all__ = [
    "SCA_ACCELERATE",
    "SCA_ACTIVE_SET",
    "SCA_BATCH_SIZE",
    "SCA_MAX_ITERATIONS",
    "SCA_POLISH",
    "SCA_STOPPING",
    "SCA_STOPPING_RULES",
    "SCA_TOLERANCE",
    "SCA_VARIANTS",
    "ScaVariant",
    "run",
    "sca_variant",
]


def solve(coef: Coefficients, **options: Any) -> Any:
    """:func:`jcas.allocation.sca.general.sca_general` on coefficients (a full interference
    matrix, any CRB terms; imported on the first call)."""
    from jcas.allocation.sca.general import sca_general

    return sca_general(coef, **options)


def run(beta: ArrayLike, xi: ArrayLike, params: SystemParams, **options: Any) -> Allocation:
    """:func:`jcas.allocation.sca.sca` (imported on the first call: Clarabel)."""
    from jcas.allocation.sca import sca

    return sca(beta, xi, params, **options)


SCHEMES_REGISTRY.register(
    Part(
        "scheme",
        "sca",
        "SCA (Alg. 1)",
        run,
        description="the paper's Algorithm 1 (successive convex approximation) with the "
        "Aitken stop, active set, extrapolation and polish",
        params=(
            Param(
                "sca_tolerance",
                float,
                SCA_TOLERANCE,
                "sca stops when the relative sum-rate change is below this",
                exclusive_minimum=0.0,
                maximum=1.0,
                option="tol",
            ),
            Param(
                "sca_max_iterations",
                int,
                SCA_MAX_ITERATIONS,
                "cap on the convex subproblems of sca per drop",
                minimum=1,
                maximum=10000,
                option="max_iterations",
            ),
            Param(
                "sca_group",
                int,
                SCA_BATCH_SIZE,
                "drops solved together by sca, aligned to global drop indices (drops_per_job "
                "must be a multiple of it, so that results do not depend on drops_per_job)",
                minimum=1,
                maximum=100000,
                option="batch_size",
            ),
            Param(
                "sca_active_set",
                bool,
                SCA_ACTIVE_SET,
                "sca robustness fix: switch off users whose power vanishes",
                option="active_set",
            ),
            Param(
                "sca_accelerate",
                bool,
                SCA_ACCELERATE,
                "sca robustness fix: full-power and extrapolation steps",
                option="accelerate",
            ),
            Param(
                "sca_polish",
                bool,
                SCA_POLISH,
                "sca robustness fix: water-filling polish at the stopping point",
                option="polish",
            ),
            Param(
                "sca_stopping",
                str,
                SCA_STOPPING,
                "sca stopping rule: aitken (extrapolated change) or change (as printed)",
                choices=SCA_STOPPING_RULES,
                option="stopping",
            ),
        ),
        requires=(CLOSED_FORMS, SPLIT_POWER_RATE),
        order=0,
        family="sca",
        solve=solve,
    )
)


# --------------------------------------------------------------------------- sca variants
@dataclass(frozen=True)
class ScaVariant:
    """One variant of ``sca`` audited against the exact optimum (experiment kind
    ``sca_audit``, ``docs/theory.md`` §6.8).

    Attributes
    ----------
    name : the variant's label in the results (``variant`` coordinate; a CF-valid name).
    label : the legend name, saying which robustness fixes run.
    options : keyword options of :func:`jcas.allocation.sca.sca` that define the variant
        (every feature flag and the stopping rule; ``tol``, ``max_iterations`` and
        ``batch_size`` come from the config).
    """

    name: str
    label: str
    options: dict[str, Any]


_SCA_PRINTED: Final[dict[str, Any]] = {
    "stopping": "change",
    "active_set": False,
    "accelerate": False,
    "polish": False,
}

SCA_VARIANTS: Final[tuple[ScaVariant, ...]] = (
    ScaVariant("printed", "Alg. 1 as printed (relative-change stop)", _SCA_PRINTED),
    ScaVariant("aitken", "+ Aitken stop", {**_SCA_PRINTED, "stopping": "aitken"}),
    ScaVariant("active_set", "+ active set", {**_SCA_PRINTED, "active_set": True}),
    ScaVariant("accelerate", "+ extrapolation", {**_SCA_PRINTED, "accelerate": True}),
    ScaVariant("polish", "+ polish", {**_SCA_PRINTED, "polish": True}),
    ScaVariant(
        "default",
        "default: Alg. 1 + Aitken stop, active set, extrapolation, polish",
        {
            "stopping": SCA_STOPPING,
            "active_set": SCA_ACTIVE_SET,
            "accelerate": SCA_ACCELERATE,
            "polish": SCA_POLISH,
        },
    ),
)
"""The ``sca`` variants of the ``sca_audit`` experiment, in legend order: Algorithm 1 as
printed, each robustness fix alone on top of it, and the default (every fix on)."""


def sca_variant(name: str) -> ScaVariant:
    """The :class:`ScaVariant` named ``name`` (``ValueError`` naming the allowed ones)."""
    for variant in SCA_VARIANTS:
        if variant.name == name:
            return variant
    raise ValueError(f"variant = {name!r}: must be one of {[v.name for v in SCA_VARIANTS]}")
