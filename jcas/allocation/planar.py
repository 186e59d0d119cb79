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

Exact optimum (:func:`planar_split`; the allocation is
:func:`jcas.allocation.closed_form.optimal_planar`). The rate has the
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

SCA: :func:`jcas.allocation.sca.sca` on the same runner as the azimuth form, with the
constraint of the form kept exact in its convex program
(:class:`jcas.allocation.sca.PlanarCrbModel`, ``docs/theory.md`` §7.4): linear per angle,
rotated second-order cones for the sum. Both forms depend on the users' powers only
through their sum, as the azimuth form does, so every fix of the SCA applies unchanged.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.fisher import mrt_fisher_coefficients
from jcas.model.params import SystemParams
from jcas.parts.arrays.upa import as_planar
from jcas.parts.registry import design

__all__ = [
    "allocation_crbs",
    "crb_pair",
    "feasible_interval",
    "meets_constraint",
    "planar_coefficients",
    "planar_split",
]

Float = NDArray[np.float64]

_RTOL = 1e-9
"""Relative slack when checking a split against the constraint (rounding of the roots)."""


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
