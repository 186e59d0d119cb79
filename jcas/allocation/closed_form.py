"""Closed-form schemes: the exact optimum of (19), the two benchmarks, the rate-CRB frontier.

Everything is vectorised over a batch of D drops; see ``docs/theory.md`` for the
proof that :func:`optimal` is the global optimum of (19) and for the
interpretation of the benchmarks. Notation as in :mod:`jcas.allocation._types`
(``c = xi^T gamma``, ``s = sum eta``, ``p = Pt / Nt``, ``x_k = xi_k gamma_k``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.allocation._types import Allocation, closed_form_crb_coefficients, is_success, timed
from jcas.model.params import SystemParams
from jcas.parts.precoders.base import TOTAL_POWER_RATE, split_power_sinr
from jcas.parts.registry import design

__all__ = [
    "Frontier",
    "equal",
    "equal_full",
    "optimal",
    "optimal_planar",
    "optimal_split",
    "power_split",
    "rate_crb_frontier",
    "split_gains",
    "water_fill",
    "wf_gains",
]

Float = NDArray[np.float64]

EQUAL_FULL_SENSING_FRACTION = 0.5
"""``equal_full``: fraction of Pt spent on sensing (config
``allocation.equal_full_sensing_fraction``)."""

_CRB_RTOL = 1e-9
"""Relative slack when classifying ``equal_full`` against CRB0 (rounding of (16))."""


def _inputs(beta: ArrayLike, xi: ArrayLike, params: SystemParams) -> tuple[Float, Float]:
    beta = np.asarray(beta, dtype=float)
    xi = np.asarray(xi, dtype=float)
    if beta.ndim != 2 or xi.shape != beta.shape:
        raise ValueError(f"beta {beta.shape} and xi {xi.shape} must both be (D, K)")
    if beta.shape[1] != params.K:
        raise ValueError(f"beta has K = {beta.shape[1]} users but params.K = {params.K}")
    return beta, xi


def optimal_split(params: SystemParams) -> tuple[float, float, bool]:
    """The communications / sensing split ``(c*, s*)`` of the optimum of (19) (W per antenna).

    Full power ``c + s = p = Pt / Nt``; the CRB constraint (16) reads
    ``a c + b s >= fisher0`` (:func:`closed_form_crb_coefficients`). The sum rate
    increases with ``c`` at fixed ``c + s = p``, so ``c*`` is the largest feasible ``c``:

    - ``b > a`` (sensing power buys more Fisher information than communications
      power): ``c* = min(p, (b p - fisher0) / (b - a))``, feasible iff ``b p >= fisher0``;
    - ``b <= a``: ``c* = p``, feasible iff ``a p >= fisher0`` (includes
      ``||a_dot|| = 0``, where ``a = b = 0`` and the CRB is infinite: infeasible).

    Independent of the drop. Returns ``(c*, s*, feasible)``; NaN when infeasible.
    """
    a, b, fisher0 = closed_form_crb_coefficients(params)
    p = params.pt_w / params.Nt
    if max(a, b) * p < fisher0:
        return float("nan"), float("nan"), False
    c = min(p, (b * p - fisher0) / (b - a)) if b > a else p
    c = max(c, 0.0)
    return c, p - c, True


def wf_gains(beta: Float, xi: Float, params: SystemParams) -> Float:
    """Water-filling gains ``g_k = A_k / (B_k p + sigma_u^2)`` (1/W per antenna).

    ``A_k, B_k`` of the precoder's total-power form ``SINR_k = A_k x_k / (B_k (c + s) +
    sigma_u^2)`` (:meth:`jcas.parts.precoders.Precoder.total_power_sinr`; MRT (15):
    ``g_k = Nt^2 xi_k / (Nt beta_k p + sigma_u^2)``), so that ``SINR_k = g_k x_k`` at full
    power (``c + s = p``). Shape (D, K).
    """
    p = params.pt_w / params.Nt
    num, den = design(params).precoder.total_power_sinr(beta, xi, params)
    return num / (den * p + params.sigma_u2_w)


def split_gains(beta: Float, xi: Float, params: SystemParams, c: ArrayLike, s: ArrayLike) -> Float:
    """Water-filling gains at the totals ``(c, s)``: ``g_k = A_k / (B_k c + E_k s + sigma_u^2)``.

    ``A, B, E`` of the precoder's split-power form
    (:func:`jcas.parts.precoders.base.split_power_sinr`;
    ZF: ``A_k = Nt (Nt - K) xi_k``, ``B_k = Nt (beta_k - xi_k)``, ``E_k = Nt beta_k``), so
    that ``SINR_k = g_k x_k`` at those totals (``docs/theory.md`` §6). ``c``, ``s`` (W per
    antenna) broadcast against the drops as ``(D, 1)`` or scalars; shape (D, K), or
    (D, n, K) for ``c``, ``s`` of shape (D, n, 1) with ``beta``, ``xi`` as (D, 1, K).
    """
    num, den_c, den_s = split_power_sinr(design(params).precoder, beta, xi, params)
    return num / (den_c * np.asarray(c) + den_s * np.asarray(s) + params.sigma_u2_w)


def _total_power_form(params: SystemParams) -> bool:
    """Whether the precoder of ``params`` offers the total-power rate form (MRT, PZF)."""
    return design(params).precoder.unsupported(TOTAL_POWER_RATE, params) is None


def water_fill(gain: ArrayLike, total: ArrayLike) -> Float:
    """Maximise ``sum_k ln(1 + g_k x_k)`` over ``x >= 0``, ``sum_k x_k = total``.

    ``x_k = max(0, mu - 1/g_k)`` with the level ``mu`` set by the total
    (KKT conditions of the concave problem). Vectorised: sorts ``1/g`` per drop.

    Parameters
    ----------
    gain : (D, K) gains ``g_k >= 0`` (a zero gain never receives power).
    total : (D,) or scalar, ``>= 0``.

    Returns
    -------
    x : (D, K), ``sum_k x_k = total`` up to rounding.
    """
    gain = np.asarray(gain, dtype=float)
    total = np.broadcast_to(np.asarray(total, dtype=float), gain.shape[:-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(gain > 0, 1.0 / gain, np.inf)
        # shift by the best user's 1/g: the level is then O(total), no cancellation at low SNR
        inv = inv - np.min(inv, axis=-1, keepdims=True)
        inv_sorted = np.sort(inv, axis=-1)
        count = np.arange(1, gain.shape[-1] + 1)
        levels = (total[..., None] + np.cumsum(inv_sorted, axis=-1)) / count
        n_active = np.maximum(np.sum(levels > inv_sorted, axis=-1), 1)
        level = np.take_along_axis(levels, (n_active - 1)[..., None], axis=-1)
        x = np.maximum(level - inv, 0.0)
    return np.where(np.isfinite(x), x, 0.0)


def power_split(gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike) -> tuple[Float, Float]:
    """``(c, s) = (xi^T gamma, sum_k eta_k)`` per drop (W per antenna), shapes (D,): the
    power totals of the MRT variables (:meth:`jcas.parts.precoders.MRT.power_factors`)."""
    gamma, eta, xi = (np.asarray(v, dtype=float) for v in (gamma, eta, xi))
    return np.sum(xi * gamma, axis=-1), np.sum(eta, axis=-1)


def _totals(
    gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, params: SystemParams
) -> tuple[Float, Float]:
    """``(c, s)`` of an allocation through the precoder's power factors, shapes (D,)."""
    x, s = design(params).precoder.power_factors(gamma, eta, xi)
    return np.sum(x, axis=-1), s


def water_filled_optimum(
    beta: Float,
    xi: Float,
    params: SystemParams,
    split: tuple[float, float, bool],
    gain: Callable[[float, float], Float],
    start: float,
) -> Allocation:
    """The exact optimum at the totals ``split = (c, s, feasible)`` (per antenna, W):
    :func:`water_fill` of ``c`` with the gains ``gain(c, s)`` ``(D, K)``, the sensing
    ``s`` split by the precoder; status ``optimal``, or ``infeasible`` (NaN) on every
    drop when ``feasible`` is false. ``start``: ``time.perf_counter()`` at the call."""
    n_drops, n_users = beta.shape
    c, s, feasible = split
    if not feasible:
        nan = np.full((n_drops, n_users), np.nan)
        return Allocation(
            nan,
            nan.copy(),
            np.full(n_drops, "infeasible"),
            np.zeros(n_drops, np.int64),
            timed(start, n_drops),
        )
    x = water_fill(gain(c, s), c)
    gamma, eta = design(params).precoder.from_power_factors(x, np.full(n_drops, s), xi)
    return Allocation(
        gamma,
        eta,
        np.full(n_drops, "optimal"),
        np.zeros(n_drops, np.int64),
        timed(start, n_drops),
    )


def optimal(beta: ArrayLike, xi: ArrayLike, params: SystemParams) -> Allocation:
    """Exact global optimum of (19) for a batch of drops (``docs/theory.md``).

    Full power, the split :func:`optimal_split` (least sensing power meeting
    CRB0), then :func:`water_fill` of ``c*`` over ``x_k = xi_k gamma_k`` with the
    gains :func:`wf_gains`. The rate and CRB depend on eta only through
    ``sum eta``, so the optimum is not unique in eta; the equal split
    ``eta_k = s* / K`` is returned.

    Parameters
    ----------
    beta, xi : (D, K) large-scale fading and estimate variance (7), dimensionless.
    params : system parameters.

    Returns
    -------
    :class:`Allocation` with status ``optimal``, or ``infeasible`` (NaN
    gamma, eta) on every drop when even all power on sensing misses CRB0.
    """
    if params.crb_form != "azimuth":  # two angles: docs/theory.md §6
        return optimal_planar(*_inputs(beta, xi, params), params)
    start = time.perf_counter()
    beta, xi = _inputs(beta, xi, params)

    def gain(c: float, s: float) -> Float:
        if _total_power_form(params):
            return wf_gains(beta, xi, params)
        # split-power form (ZF): the gains at the optimal totals (docs/theory.md §6)
        return split_gains(beta, xi, params, c, s)

    return water_filled_optimum(beta, xi, params, optimal_split(params), gain, start)


def optimal_planar(beta: ArrayLike, xi: ArrayLike, params: SystemParams) -> Allocation:
    """Exact optimum for ``crb_form`` ``per_angle`` or ``sum`` (:mod:`jcas.allocation.planar`:
    full power, the least sensing power meeting the constraint,
    :func:`jcas.allocation.planar.planar_split`); status ``optimal``, or ``infeasible`` (NaN)
    on every drop when no split meets the constraint."""
    from jcas.allocation.planar import planar_split

    start = time.perf_counter()
    beta = np.asarray(beta, dtype=float)
    xi = np.asarray(xi, dtype=float)
    return water_filled_optimum(
        beta, xi, params, planar_split(params), lambda _c, _s: wf_gains(beta, xi, params), start
    )


def equal(
    beta: ArrayLike, xi: ArrayLike, params: SystemParams, *, reference: Allocation | None = None
) -> Allocation:
    """Benchmark "equal power" (paper Sec. V, ``docs/model.md`` §2).

    The precoder's equal split (:meth:`jcas.parts.precoders.Precoder.equal_split`; MRT:
    ``gamma_k`` all equal and ``eta_k`` all equal), with the same communications
    power ``Nt xi^T gamma`` and sensing power ``Nt sum eta`` as the reference
    design of the same drop (by default :func:`optimal`), hence the same total
    power ``P_opt`` (18) and the same CRB (16). Drops whose reference is not a
    success (or not finite) are ``infeasible`` with NaN.

    Parameters
    ----------
    beta, xi : (D, K).
    params : system parameters.
    reference : the reference :class:`Allocation` of the same drops (computed
        with :func:`optimal` when None).
    """
    beta, xi = _inputs(beta, xi, params)
    if reference is None:
        reference = optimal(beta, xi, params)
    start = time.perf_counter()
    if reference.gamma.shape != xi.shape:
        raise ValueError(f"reference has shape {reference.gamma.shape}, drops have {xi.shape}")
    c, s = _totals(reference.gamma, reference.eta, xi, params)
    ok = is_success(reference.status) & np.isfinite(c) & np.isfinite(s)
    split = design(params).precoder.equal_split
    gamma, eta = split(np.where(ok, c, np.nan), np.where(ok, s, np.nan), xi)
    status = np.where(ok, "feasible", "infeasible")
    return Allocation(
        gamma, eta, status, np.zeros(len(status), np.int64), timed(start, len(status))
    )


def equal_full(
    beta: ArrayLike,
    xi: ArrayLike,
    params: SystemParams,
    *,
    sensing_fraction: float = EQUAL_FULL_SENSING_FRACTION,
) -> Allocation:
    """Benchmark "equal & full power" (paper Sec. V, ``docs/model.md`` §2).

    The precoder's equal split (MRT: ``gamma_k`` all equal, ``eta_k`` all equal), total
    power (18) equal to Pt, of
    which the fraction ``sensing_fraction`` goes to sensing:
    ``Nt sum eta = f Pt`` and ``Nt xi^T gamma = (1 - f) Pt``. Status
    ``feasible`` when the CRB (16) meets CRB0 (to a relative 1e-9), else
    ``crb_violated`` (the allocation is still returned).
    """
    start = time.perf_counter()
    beta, xi = _inputs(beta, xi, params)
    f = float(sensing_fraction)
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"sensing_fraction = {sensing_fraction!r}: must be in [0, 1]")
    n_drops = beta.shape[0]
    p = params.pt_w / params.Nt
    split = design(params).precoder.equal_split
    gamma, eta = split(np.full(n_drops, (1.0 - f) * p), np.full(n_drops, f * p), xi)
    if params.crb_form != "azimuth":  # two angles: docs/theory.md §6
        from jcas.allocation.planar import meets_constraint

        meets = bool(meets_constraint((1.0 - f) * p, f * p, params))
    else:
        a, b, fisher0 = closed_form_crb_coefficients(params)
        meets = a * (1.0 - f) * p + b * f * p >= fisher0 * (1.0 - _CRB_RTOL)
    status = np.full(n_drops, "feasible" if meets else "crb_violated")
    return Allocation(gamma, eta, status, np.zeros(n_drops, np.int64), timed(start, n_drops))


@dataclass(frozen=True)
class Frontier:
    """Exact Pareto frontier of sum rate vs CRB for a batch of drops.

    Attributes
    ----------
    crb0 : (n_points,) CRB thresholds (rad^2), increasing, log-spaced from the
        tightest feasible value to the loosest one that still binds.
    sum_rate : (D, n_points) optimal sum rate (15) (bit/s/Hz) at each CRB0;
        the optimum meets its CRB0 with equality (it binds on the whole range).
    power_comm, power_sensing : (n_points,) ``Nt c*`` and ``Nt s*`` (W) of the optimum.
    """

    crb0: Float
    sum_rate: Float
    power_comm: Float
    power_sensing: Float


def rate_crb_frontier(
    beta: ArrayLike, xi: ArrayLike, params: SystemParams, n_points: int = 50
) -> Frontier:
    """Trace the exact rate-CRB Pareto frontier of (19) (``docs/theory.md``).

    The tightest feasible CRB0 is ``sigma_r_bar^2 / (max(a, b) p)`` (all power on
    the more CRB-efficient use); the loosest that still binds is the CRB of the
    unconstrained optimum, ``sigma_r_bar^2 / (a p)`` (all power on
    communications). When ``b <= a`` both coincide: the frontier is one point
    (every ``n_points`` entry equal). At each CRB0 in between the optimum spends
    the least sensing power meeting it and water-fills the rest, so its sum rate
    is the largest achievable with ``CRB <= CRB0``, and it is achieved with CRB =
    CRB0: the curve is the Pareto frontier. ``params.crb0`` is ignored.

    Parameters
    ----------
    beta, xi : (D, K).
    params : system parameters.
    n_points : number of CRB0 values (>= 1).
    """
    beta, xi = _inputs(beta, xi, params)
    if n_points < 1:
        raise ValueError(f"n_points = {n_points!r}: must be >= 1")
    a, b, _ = closed_form_crb_coefficients(params)
    p = params.pt_w / params.Nt
    sigma = params.sigma_r_bar2
    if max(a, b) <= 0.0:
        raise ValueError("the CRB is infinite for every allocation (||a_dot|| = 0)")
    tight = sigma / (max(a, b) * p)
    loose = sigma / (a * p) if a > 0 else tight
    crb0 = np.geomspace(tight, max(loose, tight), n_points)
    fisher0 = sigma / crb0
    c = np.clip((b * p - fisher0) / (b - a), 0.0, p) if b > a else np.full(n_points, p)
    if _total_power_form(params):
        gain = wf_gains(beta, xi, params)
        gain_grid = np.repeat(gain[:, None, :], n_points, axis=1)
    else:  # split-power form: the gains change with the split
        gain_grid = split_gains(
            beta[:, None, :], xi[:, None, :], params, c[None, :, None], (p - c)[None, :, None]
        )
    x = water_fill(gain_grid, np.broadcast_to(c, (len(beta), n_points)))
    sum_rate = params.tau_bar * np.sum(np.log2(1.0 + gain_grid * x), axis=-1)
    return Frontier(crb0, sum_rate, params.Nt * c, params.Nt * (p - c))


def equal_full_coefficients(
    coef: Any, *, sensing_fraction: float = EQUAL_FULL_SENSING_FRACTION
) -> Any:
    """``equal_full`` on coefficients (:mod:`jcas.model.coefficients`, any precoder and
    channel): equal power factors over the users at full power, the fraction
    ``sensing_fraction`` of it on the sensing beam; status ``feasible`` where the CRB meets
    CRB0, else ``crb_violated`` (the allocation is still returned, as it is transmitted).

    Returns a :class:`jcas.allocation._structure.Solution` (``x`` (D, K), ``s`` (D,) W per
    antenna, ``status``, ``iterations`` 0, ``value`` the CRB in rad^2).
    """
    from jcas.allocation._structure import Solution

    if not 0.0 <= float(sensing_fraction) <= 1.0:
        raise ValueError(f"sensing_fraction = {sensing_fraction!r}: must be in [0, 1]")
    n_drops, k = coef.rate.signal.shape
    p = coef.budget
    x = np.full((n_drops, k), (1.0 - float(sensing_fraction)) * p / k)
    s = np.full(n_drops, float(sensing_fraction) * p)
    crb = coef.fisher.crb(x, s)
    ok = crb <= coef.crb0 * (1.0 + _CRB_RTOL)
    status = np.where(ok, "feasible", "crb_violated")
    return Solution(x, s, status, np.zeros(n_drops, np.int64), crb)
