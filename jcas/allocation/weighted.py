"""Weighted sum rate: ``max sum_k w_k R_k`` under CRB0 and the budget, exact.

Per drop (``docs/theory.md`` §8.4)::

    maximise   sum_k w_k R_k(x, s)
    subject to J(x, s) >= F0 = sigma_r_bar^2 / CRB0,   sum_k x_k + s <= p = Pt / Nt,   x, s >= 0,

with weights ``w_k >= 0`` (not all zero), on coefficients with the structure of
``optimal`` (requirements :data:`REQUIRES`): the split-power rate form
``SINR_k = A_k x_k / (B_k c + E_k s + sigma_u^2)`` with ``E_k >= B_k`` and a Fisher
information ``J = a c + b s`` of the totals. The proof of ``docs/theory.md`` §2, §6 goes
through with weights: the budget is spent, the split ``(c*, s*)`` is the least sensing
power meeting ``F0`` (independent of the weights), and at that split the rates decouple,
so the optimum is the *weighted* water-filling ``x_k = max(0, w_k mu - 1 / g_k)``. With
unit weights this is ``optimal`` (to rounding).

:func:`sum_rate_at_budget` (the optimum at a smaller budget) is the inner solver of the
energy-efficiency scheme (:mod:`jcas.allocation.energy`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.allocation._structure import (
    LINEAR_FISHER,
    SPLIT_POWER_RATE,
    OptionSpec,
    Solution,
    check_design,
    empty_solution,
    fit_budget,
    invalid_drops,
    refuse_structure,
    scheme_coefficients,
    split_coefficients,
    to_allocation,
    totals_fisher,
)
from jcas.allocation._types import Allocation
from jcas.model.coefficients import Coefficients
from jcas.model.params import ConfigError, SystemParams

__all__ = [
    "NAME",
    "OPTIONS",
    "REQUIRES",
    "BudgetOptimum",
    "check_weights",
    "optimal_structure",
    "optimal_totals",
    "solve_weighted",
    "sum_rate_at_budget",
    "weighted",
    "weighted_water_fill",
]

Float = NDArray[np.float64]

NAME: Final = "weighted"
REQUIRES: Final = (SPLIT_POWER_RATE, LINEAR_FISHER)
"""The structure of ``optimal``: split-power rate form and Fisher information of the totals."""

OPTIONS: Final = (
    OptionSpec(
        "weights",
        None,
        "list of K floats or None",
        "1",
        ">= 0, finite, not all 0; None: every weight 1 (then the scheme is 'optimal')",
    ),
)

_CHECK_RTOL: Final = 1e-9
"""Relative slack of the final per-drop check (CRB, budget) before ``solver_error``."""


def check_weights(weights: Any, n_users: int) -> Float:
    """``weights`` as a ``(K,)`` array: None -> ones; else K finite numbers ``>= 0``, not all
    zero (``ValueError`` naming ``weights`` and the offending value)."""
    if weights is None:
        return np.ones(n_users)
    arr = np.asarray(weights, dtype=object)
    if arr.ndim != 1 or arr.shape[0] != n_users:
        raise ValueError(f"weights = {weights!r}: must be a list of K = {n_users} numbers")
    try:
        w = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"weights = {weights!r}: must be real numbers") from None
    bad = ~np.isfinite(w) | (w < 0)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(
            f"weights = {weights!r}: entry {i} = {float(w[i])!r} must be finite and >= 0"
        )
    if not np.any(w > 0):
        raise ValueError(f"weights = {weights!r}: at least one weight must be > 0")
    return w


def weighted_water_fill(gain: ArrayLike, weights: ArrayLike, total: ArrayLike) -> Float:
    """Maximise ``sum_k w_k ln(1 + g_k x_k)`` over ``x >= 0``, ``sum_k x_k = total``.

    KKT of the concave problem: ``x_k = max(0, w_k mu - 1 / g_k)`` with the level ``mu``
    set by the total. Breakpoints ``1 / (w_k g_k)`` sorted; the active users are the
    longest prefix whose level exceeds its last breakpoint. Computed relative to the
    smallest breakpoint ``m`` (``x_k = w_k (mu - m) - (1/g_k - w_k m)``) so that at low SNR,
    where ``1 / g`` exceeds the total by orders of magnitude, the level does not lose the
    total to cancellation; with unit weights this is, operation for operation,
    :func:`jcas.allocation.closed_form.water_fill`.

    Parameters
    ----------
    gain : (..., K) gains ``g_k >= 0`` (1/W per antenna).
    weights : (K,) or (..., K) weights ``>= 0`` (a zero weight or gain gets no power).
    total : (...) or scalar, ``>= 0`` (W per antenna).

    Returns
    -------
    x : (..., K), ``sum_k x_k = total`` up to rounding (when some ``w_k g_k > 0``).
    """
    gain = np.asarray(gain, dtype=float)
    w = np.broadcast_to(np.asarray(weights, dtype=float), gain.shape)
    total = np.broadcast_to(np.asarray(total, dtype=float), gain.shape[:-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        useful = (gain > 0) & (w > 0)
        bp = np.where(useful, 1.0 / (w * gain), np.inf)
        bp = bp - np.min(bp, axis=-1, keepdims=True)
        inv = np.where(useful, w * bp, 0.0)  # 1/g_k - w_k m
        order = np.argsort(bp, axis=-1, kind="stable")
        bp_sorted = np.take_along_axis(bp, order, axis=-1)
        inv_sorted = np.take_along_axis(inv, order, axis=-1)
        w_sorted = np.take_along_axis(np.where(useful, w, 0.0), order, axis=-1)
        levels = (total[..., None] + np.cumsum(inv_sorted, axis=-1)) / np.cumsum(w_sorted, axis=-1)
        n_active = np.maximum(np.sum(levels > bp_sorted, axis=-1), 1)
        level = np.take_along_axis(levels, (n_active - 1)[..., None], axis=-1)
        x = np.maximum(w * level - inv, 0.0)
        x = np.where(useful, x, 0.0)
    return np.where(np.isfinite(x), x, 0.0)


def optimal_totals(
    a: ArrayLike, b: ArrayLike, f0: float, q: ArrayLike
) -> tuple[Float, Float, NDArray[np.bool_]]:
    """The split ``(c*, s*)`` of budget ``q`` (W per antenna) and whether ``F0`` is reachable.

    ``J = a c + b s >= F0`` on ``c + s = q``: ``c* = min(q, (b q - F0) / (b - a))`` when
    ``b > a``, ``c* = q`` otherwise, clipped to ``[0, q]``; reachable iff
    ``max(a, b) q >= F0`` (``docs/theory.md`` §2, step 3). ``a``, ``b`` (D,) broadcast
    against ``q`` as ``(D, 1)`` when ``q`` is ``(D, n)``. Returns ``(c, s, feasible)``.
    """
    a, b, q = (np.asarray(v, dtype=float) for v in (a, b, q))
    if q.ndim == 2 and a.ndim == 1:
        a, b = a[:, None], b[:, None]
    feasible = np.maximum(a, b) * q >= f0
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(b > a, np.minimum(q, (b * q - f0) / (b - a)), q)
    c = np.clip(np.where(np.isfinite(c), c, q), 0.0, q)
    return c, q - c, feasible


@dataclass(frozen=True)
class BudgetOptimum:
    """The weighted sum-rate optimum at budgets ``q`` (shape ``Q``: ``(D,)`` or ``(D, n)``).

    Attributes
    ----------
    value : Q, weighted sum rate (bit/s/Hz); ``-inf`` where ``F0`` is unreachable.
    x : Q + (K,), communications power factors (W per antenna).
    c, s : Q, the split (W per antenna).
    feasible : Q, ``max(a, b) q >= F0``.
    """

    value: Float
    x: Float
    c: Float
    s: Float
    feasible: NDArray[np.bool_]


def sum_rate_at_budget(
    split: tuple[Float, Float, Float],
    fisher: tuple[Float, Float],
    noise: float,
    tau_bar: float,
    f0: float,
    q: ArrayLike,
    weights: ArrayLike,
) -> BudgetOptimum:
    """The exact weighted optimum at budget(s) ``q`` instead of ``p``: the split of
    :func:`optimal_totals`, then :func:`weighted_water_fill` at its gains.

    ``split = (A, B, E)`` (D, K) of the rate, ``fisher = (a, b)`` (D,) of ``J = a c + b s``
    (:func:`jcas.allocation._structure.split_coefficients`, ``totals_fisher``).
    """
    big_a, big_b, big_e = split
    q = np.asarray(q, dtype=float)
    c, s, feasible = optimal_totals(fisher[0], fisher[1], f0, q)
    if q.ndim == 2:
        big_a, big_b, big_e = (v[:, None, :] for v in (big_a, big_b, big_e))
    gain = big_a / (big_b * c[..., None] + big_e * s[..., None] + noise)
    x = weighted_water_fill(gain, weights, c)
    w = np.broadcast_to(np.asarray(weights, dtype=float), x.shape)
    value = tau_bar / np.log(2.0) * np.sum(w * np.log1p(gain * x), axis=-1)
    return BudgetOptimum(np.where(feasible, value, -np.inf), x, c, s, feasible)


def optimal_structure(
    scheme: str, coef: Coefficients
) -> tuple[tuple[Float, Float, Float], tuple[Float, Float]]:
    """``(A, B, E)`` and ``(a, b)`` of the structure of ``optimal`` (:data:`REQUIRES`), or
    :class:`jcas.model.params.ConfigError` naming ``scheme`` and what the coefficients lack."""
    refuse_structure(scheme, coef, REQUIRES, None)
    split = split_coefficients(coef)
    fisher = totals_fisher(coef)
    if split is None or fisher is None:  # pragma: no cover - refuse_structure raised
        raise ConfigError(f"scheme {scheme!r}: coefficients without the structure of optimal")
    return split, fisher


def solve_weighted(coef: Coefficients, *, weights: Any = None) -> Solution:
    """The exact weighted sum-rate optimum on coefficients (see the module docstring).

    Parameters
    ----------
    coef : the drops' coefficients (requirements :data:`REQUIRES`).
    weights : K numbers ``>= 0``, not all zero; None: all 1.

    Returns
    -------
    :class:`Solution` with ``value`` the weighted sum rate (bit/s/Hz) and ``iterations`` 0;
    statuses ``optimal``, ``infeasible`` (``max(a, b) p < F0``), ``invalid_input``,
    ``solver_error`` (the final check of the CRB or the budget failed).

    Raises
    ------
    jcas.model.params.ConfigError : the coefficients lack :data:`REQUIRES`.
    ValueError : bad ``weights`` (named with their value).
    """
    n, k = coef.rate.signal.shape
    w = check_weights(weights, k)
    split, fisher = optimal_structure(NAME, coef)
    out = empty_solution(n, k)
    bad = invalid_drops(coef)
    out["status"][bad] = "invalid_input"
    good = np.flatnonzero(~bad)
    if len(good) == 0:
        return Solution(**out)
    r = coef.rate
    sub_split = (split[0][good], split[1][good], split[2][good])
    a, b = fisher[0][good], fisher[1][good]
    p = np.full(len(good), coef.budget)
    with np.errstate(all="ignore"):
        opt = sum_rate_at_budget(sub_split, (a, b), r.noise, r.tau_bar, coef.fisher0, p, w)
        x, s = fit_budget(coef.budget, opt.x, opt.s)
        j = a * np.sum(x, axis=-1) + b * s
        ok = (
            np.all(np.isfinite(x), axis=-1)
            & np.isfinite(s)
            & (j >= coef.fisher0 * (1.0 - _CHECK_RTOL))
            & (np.sum(x, axis=-1) + s <= coef.budget * (1.0 + _CHECK_RTOL))
        )
    status = np.where(~opt.feasible, "infeasible", np.where(ok, "optimal", "solver_error"))
    success = status == "optimal"
    out["status"][good] = status
    out["x"][good] = np.where(success[:, None], x, np.nan)
    out["s"][good] = np.where(success, s, np.nan)
    out["value"][good] = np.where(success, opt.value, np.nan)
    return Solution(**out)


def weighted(
    beta: ArrayLike, xi: ArrayLike, params: SystemParams, *, weights: Any = None
) -> Allocation:
    """Weighted sum-rate optimum under CRB0 and the budget, exact (``optimal`` with weights).

    Builds the closed-form coefficients of the precoder and arrays of ``params``, runs
    :func:`solve_weighted` and maps the power factors back with the precoder's
    ``from_power_factors``.

    Parameters
    ----------
    beta, xi : (D, K) large-scale fading and MMSE estimate variance (7), dimensionless.
    params : the system.
    weights : K numbers ``>= 0``, not all zero; None: all 1 (then the result is
        ``optimal``'s to rounding).

    Raises
    ------
    jcas.model.params.ConfigError : the design lacks :data:`REQUIRES` (e.g. ``phase_mrt``,
        reused pilots) or is invalid for its precoder.
    ValueError : bad ``weights``.
    """
    start = time.perf_counter()
    check_weights(weights, params.K)
    check_design(NAME, params)
    coef = scheme_coefficients(beta, xi, params)
    refuse_structure(NAME, coef, REQUIRES, params)
    return to_allocation(solve_weighted(coef, weights=weights), xi, params, start)
