"""The result type shared by every allocation scheme and small helpers.

Notation used across ``jcas.allocation`` (``docs/theory.md``):

- ``c = xi^T gamma`` and ``s = sum_k eta_k`` (W per antenna): the communications
  and sensing power factors; the transmit power (18) is ``Nt (c + s)`` (W).
- ``p = Pt / Nt`` (W per antenna): the budget of ``c + s``, constraint (19c).
- ``x_k = xi_k gamma_k`` (W per antenna): the communications power factor of user k,
  so that ``c = sum_k x_k`` and ``SINR_k = Nt^2 xi_k x_k / (Nt beta_k (c + s) + sigma_u^2)`` (15).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.metrics import covariance_crb_terms, fisher_from_terms
from jcas.model.params import SystemParams
from jcas.parts.precoders.base import Covariance
from jcas.parts.registry import design

__all__ = [
    "STATUSES",
    "SUCCESS_STATUSES",
    "Allocation",
    "closed_form_crb_coefficients",
    "is_success",
]

Float = NDArray[np.float64]

STATUSES: Final = (
    "optimal",
    "converged",
    "max_iterations",
    "feasible",
    "crb_violated",
    "infeasible",
    "solver_error",
    "invalid_input",
)
"""Every status a scheme may report, per drop.

- ``optimal``: the exact global optimum of (19) (scheme ``optimal``).
- ``converged``: ``sca`` met its stopping rule (relative sum-rate change < tol).
- ``max_iterations``: ``sca`` stopped at the iteration cap; the allocation is
  feasible (every iterate is) but may be short of the stopping rule.
- ``feasible``: a benchmark allocation (``equal``, ``equal_full``) meeting the
  power budget and CRB0.
- ``crb_violated``: an ``equal_full`` allocation that uses the power budget but
  misses CRB0 (its fixed sensing fraction is too small); the allocation is
  still returned, since it is what the benchmark transmits.
- ``infeasible``: no allocation meets CRB0 with the power budget (or the
  reference allocation of ``equal`` is missing); gamma, eta are NaN.
- ``solver_error``: every solver failed on this drop; gamma, eta are NaN.
- ``invalid_input``: a degenerate drop (non-finite or negative beta or xi), not passed
  to any scheme (set by :func:`jcas.pipeline.stages.allocation.compute_allocation`); gamma,
  eta are NaN.
"""

SUCCESS_STATUSES: Final = ("optimal", "converged", "max_iterations", "feasible", "crb_violated")
"""Statuses whose allocation is returned (finite gamma, eta)."""


def is_success(status: ArrayLike) -> NDArray[np.bool_]:
    """Boolean mask of the drops whose status carries an allocation, shape of ``status``."""
    return np.isin(np.asarray(status), SUCCESS_STATUSES)


@dataclass(frozen=True)
class Allocation:
    """Power allocation of a batch of D drops with K users.

    Attributes
    ----------
    gamma : (D, K) communications power factors (dimensionless per unit of xi;
        ``Nt xi_k gamma_k`` is the power of user k in W); NaN where the status is
        not a success.
    eta : (D, K) sensing power factors (W per antenna; ``Nt eta_k`` in W); NaN
        where the status is not a success.
    status : (D,) str, one of :data:`STATUSES`.
    iterations : (D,) int64, SCA iterations (convex subproblems solved); 0 for
        the closed-form schemes.
    solve_time_s : (D,) float64, wall-clock time per drop (s); for schemes
        solved as one batch, the batch time divided by D.
    """

    gamma: Float
    eta: Float
    status: NDArray[np.str_]
    iterations: NDArray[np.int64]
    solve_time_s: Float

    def __post_init__(self) -> None:
        gamma = np.asarray(self.gamma, dtype=float)
        eta = np.asarray(self.eta, dtype=float)
        status = np.asarray(self.status, dtype=str)
        iterations = np.asarray(self.iterations, dtype=np.int64)
        solve_time = np.asarray(self.solve_time_s, dtype=np.float64)
        if gamma.ndim != 2 or eta.shape != gamma.shape:
            raise ValueError(f"gamma {gamma.shape} and eta {eta.shape} must both be (D, K)")
        n_drops = gamma.shape[0]
        per_drop = (("status", status), ("iterations", iterations), ("solve_time_s", solve_time))
        for name, arr in per_drop:
            if arr.shape != (n_drops,):
                raise ValueError(f"{name} has shape {arr.shape}, expected ({n_drops},)")
        unknown = set(np.unique(status)) - set(STATUSES)
        if unknown:
            raise ValueError(f"unknown status values {sorted(unknown)}; allowed: {STATUSES}")
        for name, arr in (
            ("gamma", gamma),
            ("eta", eta),
            ("status", status),
            ("iterations", iterations),
            ("solve_time_s", solve_time),
        ):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def success(self) -> NDArray[np.bool_]:
        """(D,) mask of drops whose status carries an allocation (:data:`SUCCESS_STATUSES`)."""
        return is_success(self.status)


def closed_form_crb_coefficients(params: SystemParams) -> tuple[float, float, float]:
    """Coefficients of the CRB as a function of the power totals ``(c, s)``.

    ``CRB = sigma_r_bar^2 / (a c + b s)``, with ``a`` and ``b`` the Fisher information
    (times ``sigma_r_bar^2``) of the components ``R_c`` and ``R_s`` of the precoder's
    covariance ``R_x = c R_c + s R_s`` (for MRT (37) and the centred ULA, eq. (16):
    ``a = Nt ||a_r_dot||^2 + Nr ||a_t_dot||^2`` and ``b = Nt^2 ||a_r_dot||^2``, dimensionless).
    Valid where the parts offer ``linear_fisher`` (:mod:`jcas.parts.registry`). Returns
    ``(a, b, fisher0)`` with ``fisher0 = sigma_r_bar^2 / CRB0`` the Fisher information the
    constraint (19b) requires: ``a c + b s >= fisher0``.
    """
    parts = design(params)
    forms = parts.precoder.covariance_components(params, parts.tx)
    terms = covariance_crb_terms(Covariance(np.eye(2), forms), parts.rx.gram(params.theta_rad))
    a, b = fisher_from_terms(*terms)
    return float(a), float(b), params.sigma_r_bar2 / params.crb0


def timed(start: float, n_drops: int) -> Float:
    """Wall time since ``start`` (``time.perf_counter``) per drop, shape ``(n_drops,)`` (s)."""
    return np.full(n_drops, (time.perf_counter() - start) / max(n_drops, 1))
