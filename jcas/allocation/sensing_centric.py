"""Sensing-centric allocation: the smallest CRB meeting a rate target per user.

Per drop (``docs/theory.md`` §8.3)::

    minimise   CRB(x, s) = sigma_r_bar^2 / J(x, s)
    subject to R_k(x, s) >= r_k (k = 1..K),   sum_k x_k + s <= p = Pt / Nt,   x, s >= 0,

on :class:`jcas.model.coefficients.Coefficients` (any interference matrix ``b``; a Fisher
information linear in the powers, ``T3 = 0``). The rate target ``r_k`` (bit/s/Hz, rate
(14) with its pre-log ``tau_bar``) is the SINR target ``t_k = 2^(r_k / tau_bar) - 1``; the
targets are reachable iff ``rho(diag(t / a) b) < 1`` and the least powers meeting them fit
the budget; then the largest ``J`` is a knapsack over one constraint, in closed form
(:func:`jcas.allocation._structure.max_fisher`). No iteration: exact to rounding. The
CRB threshold ``crb0`` of ``params`` is not used (the CRB is the objective).
"""

from __future__ import annotations

import time
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.allocation._structure import (
    LINEAR_FISHER_POWERS,
    OptionSpec,
    Solution,
    check_design,
    empty_solution,
    fit_budget,
    invalid_drops,
    max_fisher_arrays,
    min_power_arrays,
    per_user_option,
    refuse_structure,
    scheme_coefficients,
    to_allocation,
)
from jcas.allocation._types import Allocation
from jcas.model.coefficients import Coefficients
from jcas.model.params import SystemParams

__all__ = [
    "NAME",
    "OPTIONS",
    "REQUIRES",
    "sensing_centric",
    "sinr_targets",
    "solve_sensing_centric",
]

Float = NDArray[np.float64]

NAME: Final = "sensing_centric"
REQUIRES: Final = (LINEAR_FISHER_POWERS,)
"""Any interference matrix ``b``; ``T3 = 0``."""

RATE_TARGET: Final = 0.1
"""Default rate target of every user (bit/s/Hz, rate (14))."""

OPTIONS: Final = (
    OptionSpec(
        "rate_target",
        RATE_TARGET,
        "float or list of K floats",
        "bit/s/Hz",
        ">= 0, finite: one target for every user or one per user (rate (14), with tau_bar)",
    ),
)

_CHECK_RTOL: Final = 1e-9
"""Relative slack of the final per-drop check (rates, budget) before ``solver_error``."""


def sinr_targets(rate_target: Any, n_users: int, tau_bar: float) -> Float:
    """SINR targets ``2^(r_k / tau_bar) - 1`` (K,) of rate targets (bit/s/Hz): one number or
    ``K`` (``ValueError`` naming ``rate_target`` and the offending value)."""
    r = per_user_option("rate_target", rate_target, n_users, unit="bit/s/Hz")
    with np.errstate(over="ignore"):
        t = np.expm1(r / tau_bar * np.log(2.0))
    if not np.all(np.isfinite(t)):
        raise ValueError(
            f"rate_target = {rate_target!r}: too large (2^(r / tau_bar) overflows; "
            f"tau_bar = {tau_bar})"
        )
    return t


def solve_sensing_centric(coef: Coefficients, *, rate_target: Any = RATE_TARGET) -> Solution:
    """The least CRB meeting the rate targets within the budget, on coefficients.

    Parameters
    ----------
    coef : the drops' coefficients (requirement :data:`REQUIRES`: ``T3 = 0``).
    rate_target : bit/s/Hz, one number for every user or a list of K (``>= 0``, finite).

    Returns
    -------
    :class:`Solution` with ``value`` the CRB (rad^2; ``inf`` where no power adds Fisher
    information) and ``iterations`` 0; statuses ``optimal``, ``infeasible`` (the targets
    are unreachable: ``rho(diag(t / a) b) >= 1``, or their least powers exceed the budget),
    ``invalid_input`` (non-finite or non-positive signal coefficients, negative ones
    elsewhere), ``solver_error`` (the final check of the rates or the budget failed).

    Raises
    ------
    jcas.model.params.ConfigError : the coefficients lack :data:`REQUIRES`.
    ValueError : a bad ``rate_target`` (named with its value).
    """
    n, k = coef.rate.signal.shape
    t = sinr_targets(rate_target, k, coef.rate.tau_bar)
    refuse_structure(NAME, coef, REQUIRES, None)
    out = empty_solution(n, k)
    bad = invalid_drops(coef)
    out["status"][bad] = "invalid_input"
    good = np.flatnonzero(~bad)
    if len(good) == 0:
        return Solution(**out)
    r, fc = coef.rate, coef.fisher
    a, b, e = r.signal[good], r.interference[good], r.sensing[good]
    t2 = fc.t2[good]
    targets = np.broadcast_to(t, a.shape)
    with np.errstate(all="ignore"):
        mp = min_power_arrays(a, b, e, r.noise, targets)
        kn = max_fisher_arrays(t2, coef.budget, mp)
        feasible = mp.ok & (kn.left >= 0)
        x, s = fit_budget(coef.budget, kn.x, kn.s)
        den = np.einsum("dkj,dj->dk", b, x) + e * s[:, None] + r.noise
        sinr = a * x / den
        fisher = np.einsum("dk,dk->d", t2[:, :k], x) + t2[:, k] * s
        crb = np.where(fisher > 0, fc.sigma_r_bar2 / fisher, np.inf)
        ok = (
            np.all(np.isfinite(x), axis=-1)
            & np.isfinite(s)
            & np.all(sinr >= targets * (1.0 - _CHECK_RTOL), axis=-1)
            & (np.sum(x, axis=-1) + s <= coef.budget * (1.0 + _CHECK_RTOL))
        )
    status = np.where(~feasible, "infeasible", np.where(ok, "optimal", "solver_error"))
    success = status == "optimal"
    out["status"][good] = status
    out["x"][good] = np.where(success[:, None], x, np.nan)
    out["s"][good] = np.where(success, s, np.nan)
    out["value"][good] = np.where(success, crb, np.nan)
    return Solution(**out)


def sensing_centric(
    beta: ArrayLike, xi: ArrayLike, params: SystemParams, *, rate_target: Any = RATE_TARGET
) -> Allocation:
    """The least CRB (36) with every user at its rate target and the budget, exact.

    Builds the closed-form coefficients of the precoder and arrays of ``params``, runs
    :func:`solve_sensing_centric` and maps the power factors back with the precoder's
    ``from_power_factors``. ``params.crb0`` is not used.

    Parameters
    ----------
    beta, xi : (D, K) large-scale fading and MMSE estimate variance (7), dimensionless.
    params : the system.
    rate_target : bit/s/Hz, one number for every user or a list of K numbers (``>= 0``).

    Raises
    ------
    jcas.model.params.ConfigError : the design lacks :data:`REQUIRES` or is invalid for its
        precoder.
    ValueError : a bad ``rate_target``.
    """
    start = time.perf_counter()
    sinr_targets(rate_target, params.K, params.tau_bar)  # bad options before any work
    check_design(NAME, params)
    coef = scheme_coefficients(beta, xi, params)
    refuse_structure(NAME, coef, REQUIRES, params)
    solution = solve_sensing_centric(coef, rate_target=rate_target)
    return to_allocation(solution, xi, params, start)
