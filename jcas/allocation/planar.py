"""Allocation with two angles: the per-angle and the sum CRB constraints (``docs/theory.md`` §7).

For the centred arrays (:class:`jcas.parts.arrays.UPA`, the ULA its ``1 x N`` case) and the MRT
covariance ``R_x = c I + s a_t a_t^H`` (37), each angle's Fisher information is linear in
the power totals, ``J_i = a_i c + b_i s`` (:func:`jcas.model.fisher.mrt_fisher_coefficients`),
and the Fisher matrix of (az, el) is diagonal, so ``CRB_i = sigma_r_bar^2 / J_i``. The
sensing constraint of ``system.crb_form``:

- ``per_angle``: ``CRB_az <= crb0_azimuth`` and ``CRB_el <= crb0_elevation``, i.e. two
  constraints **linear** in ``(c, s)``: ``a_i c + b_i s >= f_i = sigma_r_bar^2 / crb0_i``;
- ``sum``: ``CRB_az + CRB_el <= crb0``, i.e. ``sigma_r_bar^2 (1/J_az + 1/J_el) <= crb0``,
  **not** linear (a sum of reciprocals of linear functions), but convex in ``(c, s)``.

Exact optimum (:func:`planar_split`, :func:`optimal_planar`). The rate has the
total-power form, so at full power ``c + s = p = Pt / Nt`` the sum rate increases with
``c`` (water-filling of ``c``, :func:`jcas.allocation.closed_form.water_fill`), and full
power is optimal (raising ``c`` to ``p - s`` raises every SINR and every ``J_i``, as
``a_i, b_i >= 0``). On the line ``c = p - s`` every ``J_i(s) = a_i p + (b_i - a_i) s`` is
affine in ``s``, and the feasible set of either form is an interval of ``s`` (per
angle: an intersection of half-lines; sum: a sublevel set of a convex function of
``s``). The optimum is its left end ``s*``: per angle the largest of the half-lines'
lower ends; for the sum, 0 if feasible there, else the smallest root in ``[0, p]`` of the
quadratic ``crb0 J_az(s) J_el(s) - sigma_r_bar^2 (J_az(s) + J_el(s))``. When the
interval is empty no split meets the constraint: ``infeasible``.

SCA (:func:`sca_planar`): each iteration maximises the concave minoriser of the sum
rate obtained by linearising the concave ``-ln(1 + h_k T)`` in
``ln(1 + SINR_k) = ln(1 + h_k T + g_k u_k) - ln(1 + h_k T)`` (``T = sum u + v``, fractions
of ``p``) under the budget and the constraint of the form, kept exact (linear per
angle, ``inv_pos`` for the sum); the sum rate never decreases. The robustness fixes of
:func:`jcas.allocation.sca.sca` apply unchanged, since both constraint forms depend on
the users' powers only through ``sum u`` (``docs/theory.md`` §3): the extrapolation of
the users' split along the step and the water-filling polish at the stop move the split
at fixed ``(sum u, v)``, and the active set freezes vanishing users at 0 (a constraint
``u_k <= on_k`` of the convex program) and re-activates them per KKT.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.allocation._types import Allocation, timed
from jcas.allocation.schemes.sca import (
    SCA_ACCELERATE,
    SCA_ACTIVE_SET,
    SCA_MAX_ITERATIONS,
    SCA_POLISH,
    SCA_TOLERANCE,
)
from jcas.model.fisher import mrt_fisher_coefficients
from jcas.model.params import SystemParams
from jcas.parts.arrays.upa import as_planar
from jcas.parts.registry import design

__all__ = [
    "allocation_crbs",
    "crb_pair",
    "feasible_interval",
    "meets_constraint",
    "optimal_planar",
    "planar_coefficients",
    "planar_split",
    "sca_planar",
]

Float = NDArray[np.float64]

_RTOL = 1e-9
"""Relative slack when checking a split against the constraint (rounding of the roots)."""
_MARGIN = 1e-7
"""Relative margin of the SCA's constraint (solver tolerances, e.g. ECOS's ~1e-8)."""


def planar_coefficients(params: SystemParams) -> tuple[Float, Float]:
    """``(a, b)``, each ``(2,)`` over (az, el): ``J_i = a_i c + b_i s`` for the system's
    arrays (as planar arrays) at its direction (``docs/theory.md`` §7)."""
    parts = design(params)
    tx, rx = as_planar(parts.tx), as_planar(parts.rx)
    a, b = mrt_fisher_coefficients(tx, rx, params.theta_rad, params.elevation_rad)
    return np.asarray(a, dtype=float), np.asarray(b, dtype=float)


def crb_pair(c: ArrayLike, s: ArrayLike, params: SystemParams) -> Float:
    """CRBs of (az, el) (rad^2), ``(..., 2)``, of the power totals ``c``, ``s`` (W per antenna)."""
    a, b = planar_coefficients(params)
    fisher = a * np.asarray(c, dtype=float)[..., None] + b * np.asarray(s, dtype=float)[..., None]
    out = np.full(fisher.shape, np.inf)
    np.divide(params.sigma_r_bar2, fisher, out=out, where=fisher > 0)
    out[np.isnan(fisher)] = np.nan
    return out


def allocation_crbs(gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, params: SystemParams) -> Float:
    """Closed-form CRBs of (az, el) (rad^2), ``(D, 2)``, of an allocation (the precoder's
    power totals in the MRT covariance (37)); NaN for a precoder without that covariance
    and for NaN allocations."""
    from jcas.parts.precoders.mrt import MRT

    pre = design(params).precoder
    x, s = pre.power_factors(gamma, eta, xi)
    out = crb_pair(np.sum(x, axis=-1), s, params)
    if not isinstance(pre, MRT):
        out[...] = np.nan
    return out


def _meets(crb: Float, params: SystemParams) -> NDArray[np.bool_]:
    """Whether CRBs ``(..., 2)`` meet the constraint of ``params.crb_form`` (slack ``_RTOL``)."""
    if params.crb_form == "per_angle":
        crb0 = np.array([params.crb0_azimuth, params.crb0_elevation])
        return np.all(crb <= crb0 * (1 + _RTOL), axis=-1)
    if params.crb_form == "sum":
        return np.asarray(np.sum(crb, axis=-1) <= params.crb0 * (1 + _RTOL))
    return np.asarray(crb[..., 0] <= params.crb0 * (1 + _RTOL))


def meets_constraint(c: ArrayLike, s: ArrayLike, params: SystemParams) -> NDArray[np.bool_]:
    """Whether the power totals ``c``, ``s`` (W per antenna) meet the constraint of
    ``params.crb_form`` (to a relative ``1e-9``); shape of ``c``, ``s`` broadcast."""
    return _meets(crb_pair(c, s, params), params)


def feasible_interval(params: SystemParams) -> tuple[float, float]:
    """``[s_lo, s_hi]`` of sensing powers (W per antenna) meeting the constraint at full
    power ``c = p - s``; ``(nan, nan)`` when empty (module docstring)."""
    a, b = planar_coefficients(params)
    p = params.pt_w / params.Nt
    s2 = params.sigma_r_bar2
    alpha, delta = a * p, b - a  # J_i(s) = alpha_i + delta_i s
    lo, hi = 0.0, p
    if params.crb_form in ("per_angle", "azimuth"):
        if params.crb_form == "per_angle":
            crb0 = [params.crb0_azimuth, params.crb0_elevation]
            angles = [0, 1]
        else:
            crb0, angles = [params.crb0], [0]
        for i in angles:
            f = s2 / crb0[i]
            if delta[i] > 0:
                lo = max(lo, (f - alpha[i]) / delta[i])
            elif delta[i] < 0:
                hi = min(hi, (alpha[i] - f) / (-delta[i]))
            elif alpha[i] < f:
                return math.nan, math.nan
        if lo > hi:
            return math.nan, math.nan
        return lo, hi
    # sum: {s : crb0 J1 J2 - s2 (J1 + J2) >= 0, J1, J2 > 0}, an interval (convexity)
    k = params.crb0
    quad = (
        k * delta[0] * delta[1],
        k * (alpha[0] * delta[1] + alpha[1] * delta[0]) - s2 * (delta[0] + delta[1]),
        k * alpha[0] * alpha[1] - s2 * (alpha[0] + alpha[1]),
    )
    candidates = [0.0, p, *_roots(*quad)]
    points = sorted(x for x in candidates if 0.0 <= x <= p)
    # the interval's ends are among the candidates; each is checked on the CRBs themselves
    ok = [x for x in points if _meets(crb_pair(p - x, x, params), params)]
    if not ok:
        return math.nan, math.nan
    return min(ok), max(ok)


def _roots(qa: float, qb: float, qc: float) -> list[float]:
    """Real roots of ``qa x^2 + qb x + qc`` (stable formula; linear when ``qa = 0``)."""
    if qa == 0.0:
        return [-qc / qb] if qb != 0.0 else []
    disc = qb * qb - 4.0 * qa * qc
    if disc < 0.0:
        return []
    q = -0.5 * (qb + math.copysign(math.sqrt(disc), qb))
    roots = [q / qa]
    if q != 0.0:
        roots.append(qc / q)
    return roots


def planar_split(params: SystemParams) -> tuple[float, float, bool]:
    """``(c*, s*, feasible)`` of the exact optimum: full power, the least sensing power
    meeting the constraint of ``params.crb_form`` (NaN when infeasible)."""
    lo, _ = feasible_interval(params)
    if math.isnan(lo):
        return math.nan, math.nan, False
    p = params.pt_w / params.Nt
    return p - lo, lo, True


def optimal_planar(beta: ArrayLike, xi: ArrayLike, params: SystemParams) -> Allocation:
    """Exact optimum for ``crb_form`` ``per_angle`` or ``sum`` (module docstring); status
    ``optimal``, or ``infeasible`` (NaN) on every drop when no split meets the constraint."""
    from jcas.allocation.closed_form import water_filled_optimum, wf_gains

    start = time.perf_counter()
    beta = np.asarray(beta, dtype=float)
    xi = np.asarray(xi, dtype=float)
    return water_filled_optimum(
        beta, xi, params, planar_split(params), lambda _c, _s: wf_gains(beta, xi, params), start
    )


# --------------------------------------------------------------------------- SCA
def sca_planar(
    beta: ArrayLike,
    xi: ArrayLike,
    params: SystemParams,
    *,
    tol: float = SCA_TOLERANCE,
    max_iterations: int = SCA_MAX_ITERATIONS,
    batch_size: int = 50,
    active_set: bool = SCA_ACTIVE_SET,
    accelerate: bool = SCA_ACCELERATE,
    polish: bool = SCA_POLISH,
    off_threshold: float = 1e-5,
    **_: Any,
) -> Allocation:
    """SCA for the ``per_angle`` and ``sum`` forms (module docstring), batched.

    Start: full power, the sensing share at the middle of the feasible interval, the
    communications power split equally. Stops per drop when the relative sum-rate
    change is below ``tol`` (status ``converged``) or after ``max_iterations``
    (``max_iterations``); ``infeasible`` (NaN) when no split meets the constraint,
    ``solver_error`` when the convex program fails.

    ``active_set``, ``accelerate``, ``polish`` (defaults of :mod:`jcas.parts.registry`, the
    config's ``allocation.sca_*``) are the fixes of :func:`jcas.allocation.sca.sca`: users
    below ``off_threshold`` (fraction of the budget) whose power fell are switched off when
    that does not lower the rate, and back on at a stop where the KKT conditions ask for
    it; the users' split is extrapolated along each step (kept only if the rate rises);
    at a stop the split is water-filled at fixed ``(sum u, v)``, and a drop it raises by
    more than ``tol`` keeps iterating. All three off is the plain SCA above.
    """
    import cvxpy as cp

    from jcas.allocation.sca import SCAState, _extrapolate, _polish, _switch_off, _switch_on

    start = time.perf_counter()
    beta = np.asarray(beta, dtype=float)
    xi = np.asarray(xi, dtype=float)
    n_drops, n_users = beta.shape
    gamma = np.full((n_drops, n_users), np.nan)
    eta = np.full((n_drops, n_users), np.nan)
    status = np.full(n_drops, "infeasible", dtype=object)
    iterations = np.zeros(n_drops, np.int64)
    lo, hi = feasible_interval(params)
    if math.isnan(lo):
        return Allocation(gamma, eta, status.astype(str), iterations, timed(start, n_drops))
    solvers = [s for s in ("CLARABEL", "ECOS", "SCS") if s in cp.installed_solvers()]
    p = params.pt_w / params.Nt
    num, den = design(params).precoder.total_power_sinr(beta, xi, params)
    g = num * p / params.sigma_u2_w  # SINR_k = g_k u_k / (h_k T + 1)
    h = den * p / params.sigma_u2_w
    a, b = planar_coefficients(params)
    s2 = params.sigma_r_bar2
    if params.crb_form == "per_angle":
        crb0 = np.array([params.crb0_azimuth, params.crb0_elevation])
    else:
        crb0 = np.full(2, params.crb0)
    # normalised Fisher coefficients: J_i crb0_i / s2 = ah_i U + bh_i V (U, V fractions of p)
    ah, bh = a * p * crb0 / s2, b * p * crb0 / s2
    use = [i for i in (0, 1) if ah[i] > 0 or bh[i] > 0]

    for first in range(0, n_drops, batch_size):
        rows = np.arange(first, min(first + batch_size, n_drops))
        nb = len(rows)
        u_var = cp.Variable((nb, n_users), nonneg=True)
        v_var = cp.Variable(nb, nonneg=True)
        g_par = cp.Parameter((nb, n_users), nonneg=True)
        h_par = cp.Parameter((nb, n_users), nonneg=True)
        lin = cp.Parameter((nb, n_users), nonneg=True)  # h / (1 + h T0)
        total = cp.sum(u_var, axis=1) + v_var
        t_mat = cp.reshape(total, (nb, 1), order="C") @ np.ones((1, n_users))
        weight = cp.Parameter((nb, n_users), nonneg=True)  # 1 / current sum rate (scaling)
        on_par = cp.Parameter((nb, n_users), nonneg=True)  # 1: active user, 0: frozen at 0
        logs = cp.log(1 + cp.multiply(h_par, t_mat) + cp.multiply(g_par, u_var))
        objective = cp.sum(cp.multiply(weight, logs) - cp.multiply(lin, t_mat))
        cons = [total <= 1, u_var <= on_par]
        comm = cp.sum(u_var, axis=1)
        # a margin of _MARGIN keeps solver tolerances from violating the constraint
        if params.crb_form == "per_angle":
            cons += [ah[i] * comm + bh[i] * v_var >= 1 + _MARGIN for i in use]
        else:
            cons += [sum(cp.inv_pos(ah[i] * comm + bh[i] * v_var) for i in use) <= 1 - _MARGIN]
        problem = cp.Problem(cp.Maximize(objective), cons)
        g_par.value = g[rows]
        h_par.value = h[rows]
        v0 = 0.5 * (lo + hi) / p
        u = np.full((nb, n_users), (1.0 - v0) / n_users)
        v = np.full(nb, v0)
        rate = _sum_rate(u, v, g[rows], h[rows])
        active = np.ones(nb, bool)
        on = np.ones((nb, n_users), bool)  # the active set of each drop
        reactivations = np.zeros(nb, np.int64)
        done_status = np.full(nb, "max_iterations", dtype=object)
        its = np.zeros(nb, np.int64)
        gr, hr = g[rows], h[rows]
        for _it in range(max_iterations):
            on_par.value = on.astype(float)
            t0 = u.sum(axis=1) + v
            scale = 1.0 / np.maximum(rate, 1e-300)
            weight.value = np.broadcast_to(scale[:, None], (nb, n_users)).copy()
            lin.value = scale[:, None] * h[rows] / (1 + h[rows] * t0[:, None])
            ok = False
            for solver in solvers:  # the next solver when one fails (as sca does)
                try:
                    with warnings.catch_warnings():  # "inaccurate": judged by the rate test
                        warnings.simplefilter("ignore", UserWarning)
                        problem.solve(solver=solver)
                    ok = problem.status in ("optimal", "optimal_inaccurate")
                except cp.error.SolverError:
                    ok = False
                if ok:
                    break
            if not ok or u_var.value is None:
                done_status[active] = "solver_error"
                break
            u_new = np.where(on, np.maximum(np.asarray(u_var.value), 0.0), 0.0)
            v_new = np.maximum(np.asarray(v_var.value), 0.0)
            rate_new = _sum_rate(u_new, v_new, gr, hr)
            better = active & (rate_new >= rate)
            u_old, rate_old = u.copy(), rate.copy()
            u[better], v[better] = u_new[better], v_new[better]
            rate = np.where(better, rate_new, rate)
            if accelerate and better.any():  # the split along the step, at fixed (sum u, v)
                rs = np.flatnonzero(better)
                u[rs], rate[rs] = _extrapolate(
                    u_old[rs], u[rs], v[rs], rate[rs], gr[rs], hr[rs], on[rs]
                )
            if active_set and better.any():
                rs = np.flatnonzero(better)
                u[rs], rate[rs], on[rs] = _switch_off(
                    u_old[rs], u[rs], v[rs], rate[rs], gr[rs], hr[rs], on[rs], off_threshold
                )
            change = np.abs(rate - rate_old) / np.maximum(np.abs(rate), 1e-300)
            its[active] += 1
            stop = active & ((change < tol) | ~better)
            if polish and stop.any():  # water-filling at fixed (sum u, v); > tol: go on
                rs = np.flatnonzero(stop)
                u_p, r_p, gained = _polish(u[rs], v[rs], gr[rs], hr[rs])
                up = r_p > rate[rs]
                u[rs[up]], rate[rs[up]] = u_p[up], r_p[up]
                if active_set:  # the users with power (water-filling may switch some on)
                    on[rs[up]] = (u_p[up] > 0) | (on[rs[up]] & (gr[rs[up]] <= 0))
                stop[rs[up & (gained > tol)]] = False
            if active_set and stop.any():  # KKT: switched-off users that want power
                rs = np.flatnonzero(stop)
                state = SCAState(u=u, v=v, active=on, rate=rate)
                back = _switch_on(state, rs, gr, hr, reactivations)
                stop[back] = False
            done_status[stop] = "converged"
            active &= ~stop
            if not active.any():
                break
        # every accepted iterate is feasible up to the solver's tolerance; a drop whose
        # final point misses the constraint by more than _RTOL is reported
        ok_rows = done_status != "solver_error"
        x = u * p
        s = v * p
        crb = crb_pair(x.sum(axis=1), s, params)
        viol = ok_rows & ~_meets(crb, params)
        done_status[viol] = "crb_violated"
        gm, et = design(params).precoder.from_power_factors(x, s, xi[rows])
        gamma[rows] = np.where(ok_rows[:, None], gm, np.nan)
        eta[rows] = np.where(ok_rows[:, None], et, np.nan)
        status[rows] = done_status
        iterations[rows] = its
    return Allocation(gamma, eta, status.astype(str), iterations, timed(start, n_drops))


def _sum_rate(u: Float, v: Float, g: Float, h: Float) -> Float:
    """``sum_k ln(1 + g_k u_k / (h_k T + 1))`` (nat), ``T = sum u + v``, per drop."""
    t = u.sum(axis=1) + v
    return np.sum(np.log1p(g * u / (h * t[:, None] + 1.0)), axis=1)
