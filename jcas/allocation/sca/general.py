"""Algorithm 1 on general coefficients: a full interference matrix and any CRB terms.

Problem, for each drop of a :class:`jcas.model.coefficients.Coefficients` batch (power
factors ``x`` (K) and ``s``, W per antenna):

    maximise   sum_k ln(1 + a_k x_k / (sum_j b_kj x_j + e_k s + sigma_u^2))
    subject to CRB(x, s) <= CRB0   and   sum_k x_k + s <= Pt / Nt,

with ``CRB = sigma_r_bar^2 T1 / (T1 T2 - |T3|^2)`` and ``T_i`` linear in ``(x, s)``
(``T3 != 0`` allowed). Derivation and the validity of each robustness fix:
``docs/theory.md`` §10. In short, as :func:`jcas.allocation.sca.sca` with:

- Scaling: fractions of the budget ``u = x / p``, ``v = s / p`` (``p = Pt / Nt``), gains
  over the noise (``g_k = a_k p / sigma_u^2``, ``H_kj = b_kj p / sigma_u^2``,
  ``hs_k = e_k p / sigma_u^2``: ``SINR_k = g_k u_k / y_k``, ``y_k = sum_j H_kj u_j +
  hs_k v + 1``); CRB terms normalised as in :class:`jcas.allocation.sca.CrbModel`, per
  drop and per user column, and balanced at each iterate.
- The bound (20)-(22) with ``y_k`` affine in every power: only the linear coefficients of
  the program change (``cu_j = u0_j sum_k C_k H_kj``, ``cv = sum_k C_k hs_k``); the CRB
  constraint (23)-(25) with the terms linear in each ``u_k`` and ``v``
  (:class:`jcas.allocation.sca._clarabel.GeneralConicProgram`).
- Feasible start: the midpoint of the feasible part of the equal-split full-power segment
  (the existing start); if that segment misses CRB0, the point of the simplex with the
  largest Fisher information (a vertex when ``T3 = 0``, else a small second-order cone
  program) moved half-way towards the segment. None: ``infeasible`` (exact: the Fisher
  information is concave and homogeneous, so its maximum over the powers is at full power).
- Full-power step: valid for every nonnegative ``b`` (scaling all powers by ``t > 1``
  raises every SINR and divides the CRB by ``t``).
- Stopping rule (Aitken), extrapolation of the split, active set: as in ``sca``, with the
  full gradient of the sum rate (the interference a user causes) in the marginal rates,
  and every move checked against CRB0 (the CRB may depend on the split).
- Repair of a solver output missing CRB0 by its tolerance: towards ``sca``'s anchor (the
  start's split shared by the active users) where it meets CRB0, else the previous iterate.
- Polish (option ``polish``): where it is exact -- split-form rate (``b_kj = B_k``) and a CRB
  that depends on the users' powers only through their sum (equal user columns of
  ``T1, T2, T3``) -- ``sca``'s water-filling at fixed ``(sum u, v)`` at a stopping point;
  elsewhere Newton's method on the KKT conditions on the current support
  (:func:`_newton_polish`), tried after every step with a relative gain below 1e-2 and
  kept only if it is feasible and raises the sum rate; and at a stopping point a
  second-order check (:func:`_escape`): along a direction of positive curvature of the
  Lagrangian (a saddle point, e.g. two users sharing a pilot) the SCA continues from the
  better point.
- Slots of one block-separable Clarabel program per ``(K, slots, T3 present)``, reused
  across iterations, drops and calls: ``sca``'s program (26)
  (:data:`jcas.allocation.sca._clarabel.PROGRAMS`) for drops whose CRB goes through
  ``sum u``, the general one (:data:`jcas.allocation.sca._clarabel.GENERAL_PROGRAMS`) for
  the others; a failed solve is retried alone, then through cvxpy (CLARABEL, ECOS, SCS).

Per-drop statuses: ``converged``, ``max_iterations``, ``infeasible``, ``solver_error``,
``invalid_input`` (non-finite or negative coefficients); nothing is raised out of a batch.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import clarabel  # type: ignore[import-untyped]
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse  # type: ignore[import-untyped]

from jcas.allocation._types import STATUSES, Allocation
from jcas.allocation.closed_form import water_fill
from jcas.allocation.sca import (
    _RHO_MAX,
    _ROUNDING,
    _TINY,
    _W_MAX,
    SCAOptions,
    _attempts,
    _full_power,
    _small,
    _usable,
)
from jcas.allocation.sca._clarabel import (
    CLARABEL_SETTINGS,
    DEFAULT_SOLVERS,
    GENERAL_PROGRAMS,
    PROGRAMS,
    GeneralConicProgram,
    GeneralStepData,
    ProgramCache,
    StepData,
    StepSolution,
)
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
from jcas.model.coefficients import Coefficients

__all__ = ["GeneralModel", "PowerAllocation", "general_model", "sca_general", "start_points"]

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]
Bool = NDArray[np.bool_]

_CRB_SLACK = 1e-12
"""Relative rounding slack on CRB0 after the full-power step (``CRB(t z) = CRB(z) / t``)."""
_NEWTON_MARGIN = 1e-12
"""The Newton polish aims at ``J' = 1 + 1e-12`` (``CRB = CRB0 (1 - 1e-12)``), so that its
result meets CRB0 despite rounding without a repair step."""
_NEWTON_FROM = 1e-2
"""Drops without an exact polish try the Newton polish after every step whose relative
sum-rate gain is below this (near a KKT point, where Newton converges)."""
_EQUAL_RTOL = 1e-12
"""Relative tolerance of the per-drop structure tests (as ``RateCoefficients.split_form``)."""


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True)
class PowerAllocation:
    """Power factors of a batch of D drops with K users (the coefficients' variables).

    Attributes
    ----------
    x : (D, K) users' power factors (W per antenna); NaN where the status is not a success.
    s : (D,) sensing power factor (W per antenna); NaN likewise.
    status : (D,) str, one of :data:`jcas.allocation.STATUSES`.
    iterations : (D,) int64 convex programs solved per drop.
    solve_time_s : (D,) wall-clock time per drop (s; batch time shared over its drops).
    """

    x: Float
    s: Float
    status: NDArray[np.str_]
    iterations: NDArray[np.int64]
    solve_time_s: Float

    def __post_init__(self) -> None:
        x = np.asarray(self.x, dtype=float)
        s = np.asarray(self.s, dtype=float)
        status = np.asarray(self.status, dtype=str)
        if x.ndim != 2 or s.shape != x.shape[:1] or status.shape != s.shape:
            raise ValueError(f"x {x.shape}, s {s.shape}, status {status.shape}: (D, K), (D,), (D,)")
        unknown = set(np.unique(status)) - set(STATUSES)
        if unknown:
            raise ValueError(f"unknown status values {sorted(unknown)}; allowed: {STATUSES}")
        for name, arr in (
            ("x", x),
            ("s", s),
            ("status", status),
            ("iterations", np.asarray(self.iterations, dtype=np.int64)),
            ("solve_time_s", np.asarray(self.solve_time_s, dtype=float)),
        ):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    def to_allocation(self, precoder: Any, xi: ArrayLike) -> Allocation:
        """The precoder's variables ``(gamma, eta)`` of these power factors
        (``precoder.from_power_factors``; NaN kept where the status is not a success)."""
        gamma, eta = precoder.from_power_factors(np.nan_to_num(self.x), np.nan_to_num(self.s), xi)
        bad = ~np.isfinite(self.s)
        gamma, eta = np.array(gamma, dtype=float), np.array(eta, dtype=float)
        gamma[bad], eta[bad] = np.nan, np.nan
        return Allocation(gamma, eta, self.status, self.iterations, self.solve_time_s)


# ----------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class GeneralModel:
    """The problem of ``n`` drops in fractions of the budget, normalised (module doc).

    Attributes
    ----------
    g : (n, K) ``a_k p / sigma_u^2``; hmat : (n, K, K) ``b_kj p / sigma_u^2``;
    hs : (n, K) ``e_k p / sigma_u^2``.
    f1, f2 : (n, K + 1) real, f3 : (n, K + 1) complex: ``T1', T2', T3'`` per unit fraction
        of ``(u_1 .. u_K, v)``, with ``CRB / CRB0 = T1' / (T1' T2' - |T3'|^2)``.
    split : (n,) the rate has the split form (``b_kj = B_k``) on this drop.
    sum_crb : (n,) the CRB depends on the users' powers only through their sum (equal user
        columns of ``f1, f2, f3``).
    """

    g: Float
    hmat: Float
    hs: Float
    f1: Float
    f2: Float
    f3: Complex
    split: Bool
    sum_crb: Bool

    def take(self, idx: Any) -> GeneralModel:
        """The model of some drops (indices or a mask)."""
        return GeneralModel(
            self.g[idx],
            self.hmat[idx],
            self.hs[idx],
            self.f1[idx],
            self.f2[idx],
            self.f3[idx],
            self.split[idx],
            self.sum_crb[idx],
        )

    def den(self, u: Float, v: Float) -> Float:
        """``y_k = sum_j H_kj u_j + hs_k v + 1``, (n, K)."""
        return np.einsum("nkj,nj->nk", self.hmat, u) + self.hs * v[:, None] + 1.0

    def rate(self, u: Float, v: Float) -> Float:
        """Sum over users of ``ln(1 + SINR_k)`` (nats), (n,)."""
        return np.sum(np.log1p(self.g * u / self.den(u, v)), axis=-1)

    def gradient(self, u: Float, v: Float) -> Float:
        """``d rate / d u_m`` (n, K): ``g_m / (y_m + x_m) - sum_k H_km x_k / (y_k (y_k + x_k))``."""
        x = self.g * u
        y = self.den(u, v)
        loss = x / (y * (y + x))
        return self.g / (y + x) - np.einsum("nkm,nk->nm", self.hmat, loss)

    def terms(self, u: Float, v: Float) -> tuple[Float, Float, Complex]:
        """``T1', T2', T3'`` (n,) at fractions ``(u, v)``."""
        z = np.concatenate([u, v[:, None]], axis=1)
        return (
            np.sum(self.f1 * z, axis=1),
            np.sum(self.f2 * z, axis=1),
            np.sum(self.f3 * z, axis=1),
        )

    def crb_ratio(self, u: Float, v: Float) -> Float:
        """``CRB / CRB0`` (n,), ``inf`` where the Fisher information vanishes."""
        t1, t2, t3 = self.terms(u, v)
        det = t1 * t2 - np.abs(t3) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(det > 0, t1 / np.where(det > 0, det, 1.0), np.inf)


def _equal_columns(a: NDArray[Any], k: int) -> Bool:
    """Per drop: the first ``k`` columns of ``a`` (n, >= k) equal to the first (1e-12 rel.)."""
    cols = a[:, :k]
    return np.all(np.abs(cols - cols[:, :1]) <= _EQUAL_RTOL * np.abs(cols[:, :1]), axis=1)


def general_model(coef: Coefficients) -> tuple[GeneralModel, Bool]:
    """The normalised model of ``coef`` and the mask of drops whose coefficients are valid
    (finite; ``a, b, e, t1, t2 >= 0``; some transmit power reaches the target, ``t1 != 0``).

    ``ValueError`` naming the value when a scalar of ``coef`` is out of range.
    """
    r, f = coef.rate, coef.fisher
    for name, value in (
        ("rate.noise", r.noise),
        ("pt_w", coef.pt_w),
        ("crb0", coef.crb0),
        ("fisher.sigma_r_bar2", f.sigma_r_bar2),
    ):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} = {value!r}: must be finite and > 0")
    if coef.n_tx < 1:
        raise ValueError(f"n_tx = {coef.n_tx!r}: must be >= 1")
    if f.t1.shape != (r.signal.shape[0], r.signal.shape[1] + 1):
        raise ValueError(
            f"fisher t1 {f.t1.shape} does not match rate signal {r.signal.shape}: "
            "must be (D, K + 1) for (D, K)"
        )
    p, k = coef.budget, r.n_users
    a, b, e = r.signal, r.interference, r.sensing
    valid = (
        np.all(np.isfinite(a) & (a >= 0), axis=1)
        & np.all(np.isfinite(b) & (b >= 0), axis=(1, 2))
        & np.all(np.isfinite(e) & (e >= 0), axis=1)
        & np.all(np.isfinite(f.t1) & (f.t1 >= 0), axis=1)
        & np.all(np.isfinite(f.t2) & (f.t2 >= 0), axis=1)
        & np.all(np.isfinite(f.t3), axis=1)
    )
    tau1 = p * np.max(np.abs(np.where(np.isfinite(f.t1), f.t1, 0.0)), axis=1)
    valid &= tau1 > 0
    tau1 = np.where(valid, tau1, 1.0)
    fisher0 = coef.fisher0
    scale = p / r.noise

    def clean(arr: NDArray[Any]) -> NDArray[Any]:
        mask = valid.reshape((-1,) + (1,) * (arr.ndim - 1))
        return np.where(mask, arr, 0)

    model = GeneralModel(
        g=clean(a) * scale,
        hmat=clean(b) * scale,
        hs=clean(e) * scale,
        f1=clean(f.t1) * p / tau1[:, None],
        f2=clean(f.t2) * p / fisher0,
        f3=np.asarray(clean(f.t3) * p / np.sqrt(tau1 * fisher0)[:, None], dtype=complex),
        split=np.all(np.abs(b - b[..., :1]) <= _EQUAL_RTOL * np.abs(b[..., :1]), axis=(1, 2)),
        sum_crb=_equal_columns(f.t1, k) & _equal_columns(f.t2, k) & _equal_columns(f.t3, k),
    )
    return model, valid


# ----------------------------------------------------------------------------- start point
def _max_fisher_socp(model: GeneralModel, on: Bool) -> Float:
    """The point of the full-power simplex (users ``on`` and the sensing beam) with the
    largest ``J' = T2' - |T3'|^2 / T1'``, one block-separable second-order cone program
    (``T1 (T2 - t) >= |T3|^2``, maximise ``t``), (n, K + 1); NaN rows where Clarabel fails.
    """
    n, k1 = model.f1.shape
    m2 = np.maximum(np.max(model.f2, axis=1), 1e-300)
    f1, f2 = model.f1, model.f2 / m2[:, None]
    f3 = model.f3 / np.sqrt(m2)[:, None]
    iz = np.arange(n * k1).reshape(n, k1)
    it = n * k1 + np.arange(n)
    n_vars = n * k1 + n
    rows, cols, vals = [], [], []
    b = []

    def add(r: NDArray[Any], c: NDArray[Any], v: NDArray[Any]) -> None:
        r, c, v = np.broadcast_arrays(r, c, v)
        rows.append(r.ravel())
        cols.append(c.ravel())
        vals.append(v.ravel())

    r0 = 0
    eq = r0 + np.arange(n)  # sum z = 1
    add(eq[:, None], iz, np.ones((n, k1)))
    b.append(np.ones(n))
    r0 += n
    pos = r0 + np.arange(n * k1).reshape(n, k1)  # z >= 0
    add(pos, iz, -np.ones((n, k1)))
    b.append(np.zeros(n * k1))
    r0 += n * k1
    cap = r0 + np.arange(n * (k1 - 1)).reshape(n, k1 - 1)  # z_k <= on_k
    add(cap, iz[:, :-1], np.ones((n, k1 - 1)))
    b.append(on.astype(float).ravel())
    r0 += n * (k1 - 1)
    soc = r0 + np.arange(4 * n).reshape(n, 4)
    add(soc[:, :1], iz, -0.5 * (f1 + f2))
    add(soc[:, 0], it, np.full(n, 0.5))
    add(soc[:, 1:2], iz, -f3.real)
    add(soc[:, 2:3], iz, -f3.imag)
    add(soc[:, 3:4], iz, -0.5 * (f1 - f2))
    add(soc[:, 3], it, np.full(n, -0.5))
    b.append(np.zeros(4 * n))
    r0 += 4 * n
    a = sparse.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, n_vars)
    )
    q = np.zeros(n_vars)
    q[it] = -1.0
    cones = [
        clarabel.ZeroConeT(n),
        clarabel.NonnegativeConeT(n * k1 + n * (k1 - 1)),
        *[clarabel.SecondOrderConeT(4) for _ in range(n)],
    ]
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    for name, value in CLARABEL_SETTINGS.items():
        setattr(settings, name, value)
    try:
        sol = clarabel.DefaultSolver(
            sparse.csc_matrix((n_vars, n_vars)), q, a, np.concatenate(b), cones, settings
        ).solve()
    except (ValueError, ArithmeticError, RuntimeError):  # pragma: no cover - defensive
        return np.full((n, k1), np.nan)
    if sol.status not in (clarabel.SolverStatus.Solved, clarabel.SolverStatus.AlmostSolved):
        return np.full((n, k1), np.nan)
    return np.asarray(sol.x, dtype=float)[iz]


def start_points(model: GeneralModel, on: Bool) -> tuple[Float, Float, Bool]:
    """Feasible full-power starting points ``(u, v)`` ((n, K), (n,)) and the feasibility mask.

    1. The existing start (``jcas.allocation.sca.start_point``): on the segment
       ``u_k = (1 - V) / n_on`` (users ``on``), ``v = V``, the midpoint of the feasible
       interval of ``V`` on a grid of 4001 points.
    2. Drops where no grid point meets CRB0: the maximiser ``z*`` of the Fisher information
       over the full-power simplex (a vertex when ``T3 = 0``, else :func:`_max_fisher_socp`);
       if it meets CRB0, the start is ``z*`` moved towards the best segment point by half of
       the largest feasible step (found by bisection; the feasible set is convex).
    3. Otherwise the drop is infeasible (the Fisher information is concave and homogeneous
       of degree 1 in the powers: its maximum over ``sum z <= 1`` is on ``sum z = 1``).
    """
    k = model.g.shape[1]
    n_on = np.maximum(on.sum(axis=1), 1)
    grid = np.linspace(0.0, 1.0, 4001)

    def seg(f: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:  # of (1 - V) and V
        return np.sum(np.where(on, f[:, :k], 0), axis=1) / n_on, f[:, k]

    (c1, s1), (c2, s2), (c3, s3) = seg(model.f1), seg(model.f2), seg(model.f3)
    t1 = (1 - grid) * c1[:, None] + grid * s1[:, None]
    t2 = (1 - grid) * c2[:, None] + grid * s2[:, None]
    t3 = (1 - grid) * c3[:, None] + grid * s3[:, None]
    det = t1 * t2 - np.abs(t3) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(det > 0, t1 / np.where(det > 0, det, 1.0), np.inf)
    ok = ratio <= 1.0
    found = np.any(ok, axis=1)
    lo = np.where(found, grid[np.argmax(ok, axis=1)], 0.0)
    hi = np.where(found, grid[len(grid) - 1 - np.argmax(ok[:, ::-1], axis=1)], 0.0)
    v0 = 0.5 * (lo + hi)
    u = np.where(on, ((1.0 - v0) / n_on)[:, None], 0.0)
    v = v0.copy()
    feasible = found.copy()
    rest = np.flatnonzero(~found)
    if len(rest) == 0:
        return u, v, feasible
    sub = model.take(rest)
    z = np.zeros((len(rest), k + 1))
    linear = np.all(sub.f3 == 0, axis=1)
    cand = np.where(np.concatenate([on[rest], np.ones((len(rest), 1), bool)], axis=1), sub.f2, -1)
    best = np.argmax(cand, axis=1)
    z[np.arange(len(rest)), best] = 1.0
    if np.any(~linear):
        zs = _max_fisher_socp(sub.take(~linear), on[rest][~linear])
        zs = np.where(np.isfinite(zs), np.maximum(zs, 0.0), 0.0)
        zs[:, :k] = np.where(on[rest][~linear], zs[:, :k], 0.0)
        total = zs.sum(axis=1, keepdims=True)
        z[~linear] = np.where(total > 0, zs / np.where(total > 0, total, 1.0), 0.0)
    meets = sub.crb_ratio(z[:, :k], z[:, k]) <= 1.0
    # towards the segment point of the smallest CRB (strictly more users with power)
    j = np.argmin(ratio[rest], axis=1)
    vs = grid[j]
    zseg = np.concatenate(
        [np.where(on[rest], ((1.0 - vs) / n_on[rest])[:, None], 0.0), vs[:, None]], axis=1
    )
    lo_m, hi_m = np.zeros(len(rest)), np.ones(len(rest))
    for _ in range(60):
        mid = 0.5 * (lo_m + hi_m)
        zm = (1 - mid)[:, None] * z + mid[:, None] * zseg
        good = sub.crb_ratio(zm[:, :k], zm[:, k]) <= 1.0
        lo_m, hi_m = np.where(good, mid, lo_m), np.where(good, hi_m, mid)
    zm = (1 - 0.5 * lo_m)[:, None] * z + (0.5 * lo_m)[:, None] * zseg
    keep = sub.crb_ratio(zm[:, :k], zm[:, k]) <= 1.0
    zm = np.where(keep[:, None], zm, z)
    u[rest], v[rest], feasible[rest] = zm[:, :k], zm[:, k], meets
    return u, v, feasible


# ----------------------------------------------------------------------------- iteration pieces
def _balanced(
    model: GeneralModel, u: Float, v: Float
) -> tuple[Float, Float, Complex, Float, Float]:
    """The CRB constraint balanced at the iterate (as ``jcas.allocation.sca._balanced_model``):
    ``alpha = 1 / T1'``, ``beta = 1 / T2'``, so ``T1'' = T2'' = phi^(i) = 1`` there. Returns the
    coefficients (n, K + 1) of ``T1'', T2'', T3''``, ``beta`` and ``phi^(i)`` (n,)."""
    t1, t2, _ = model.terms(u, v)
    ok = (t1 > 0) & (t2 > 0) & np.isfinite(t1) & np.isfinite(t2)
    alpha = np.where(ok, 1.0 / np.where(ok, t1, 1.0), 1.0)
    beta = np.where(ok, 1.0 / np.where(ok, t2, 1.0), 1.0)
    b1 = alpha[:, None] * model.f1
    b2 = beta[:, None] * model.f2
    b3 = np.sqrt(alpha * beta)[:, None] * model.f3
    return b1, b2, b3, beta, np.sqrt(np.maximum(alpha * t1 * beta * t2, 0.0))


def _anchor(
    model: GeneralModel,
    start: tuple[Float, Float],
    on: Bool,
    u_prev: Float,
    v_prev: Float,
) -> tuple[Float, Float]:
    """Strictly feasible points to repair towards, one per drop, with the switched-off users
    at 0: the starting split ``(sum u, v)`` with the users' power shared equally by the active
    users (``sca``'s anchor; strictly feasible whenever the CRB depends on ``sum u`` only),
    else, where that misses CRB0, the previous iterate (feasible, possibly on the boundary)."""
    u_s, v_s = start
    c = np.sum(u_s, axis=1, keepdims=True)
    ua = np.where(on, c / np.maximum(on.sum(axis=1, keepdims=True), 1), 0.0)
    ok = model.crb_ratio(ua, v_s) < 1.0
    return np.where(ok[:, None], ua, u_prev), np.where(ok, v_s, v_prev)


def _repair(
    model: GeneralModel, u: Float, v: Float, u_prev: Float, v_prev: Float
) -> tuple[Float, Float]:
    """Make a solver output exactly feasible: clip to ``>= 0``, scale into the budget, and
    move a remaining CRB violation towards a feasible anchor ``(u_prev, v_prev)``
    (:func:`_anchor`) by the smallest step that meets CRB0 (bisection; the set is convex).
    """
    u = np.maximum(u, 0.0)
    v = np.maximum(v, 0.0)
    total = np.sum(u, axis=-1) + v
    scale = np.where(total > 1.0, 1.0 / np.where(total > 0, total, 1.0), 1.0)
    u, v = u * scale[:, None], v * scale
    bad = model.crb_ratio(u, v) > 1.0
    if not np.any(bad):
        return u, v
    sub = model.take(bad)
    ub, vb, ua, va = u[bad], v[bad], u_prev[bad], v_prev[bad]
    lo, hi = np.zeros(len(vb)), np.ones(len(vb))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        um = (1 - mid)[:, None] * ub + mid[:, None] * ua
        vm = (1 - mid) * vb + mid * va
        good = sub.crb_ratio(um, vm) <= 1.0
        hi, lo = np.where(good, mid, hi), np.where(good, lo, mid)
    u, v = u.copy(), v.copy()
    u[bad] = (1 - hi)[:, None] * ub + hi[:, None] * ua
    v[bad] = (1 - hi) * vb + hi * va
    return u, v


def _extrapolate(
    model: GeneralModel,
    u_old: Float,
    u_new: Float,
    v_new: Float,
    r_new: Float,
    on: Bool,
) -> tuple[Float, Float]:
    """Extrapolate the users' split along the SCA step (``jcas.allocation.sca._extrapolate``):
    ``u_k (u_k / u_k^old)^kappa`` for all users and for the shrinking ones, ``kappa = 1, 2, 4,
    ...`` while the sum rate rises, renormalised to the same ``sum u``; a trial is kept only
    if it raises the sum rate and meets CRB0 (the CRB may depend on the split)."""
    best_u, best_r = u_new.copy(), r_new.copy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(on & (u_old > 0) & (u_new > 0), u_new / u_old, 1.0)
    total = np.sum(u_new, axis=1, keepdims=True)
    for direction in (ratio, np.minimum(ratio, 1.0)):
        improving = np.any(direction != 1.0, axis=1)
        kappa = 1.0
        for _ in range(16):
            with np.errstate(over="ignore", invalid="ignore", under="ignore"):
                trial = u_new * direction**kappa
                s = np.sum(trial, axis=1, keepdims=True)
                trial = trial * (total / s)
            valid = np.all(np.isfinite(trial), axis=1) & (s[:, 0] > 0)
            trial = np.where(valid[:, None], trial, u_new)
            r = model.rate(trial, v_new)
            better = improving & valid & (r > best_r) & (model.crb_ratio(trial, v_new) <= 1.0)
            best_u[better], best_r[better] = trial[better], r[better]
            improving &= better
            if not np.any(improving):
                break
            kappa *= 2.0
    return best_u, best_r


def _switch_off(
    model: GeneralModel,
    u_old: Float,
    u: Float,
    v: Float,
    r: Float,
    on: Bool,
    threshold: float,
) -> tuple[Float, Float, Bool]:
    """Active-set step (``jcas.allocation.sca._switch_off``): users under ``threshold`` whose
    power fell give it to the active user with the largest marginal rate (full gradient);
    accepted if the sum rate does not fall (8 ulp) and CRB0 still holds."""
    vanishing = on & (u < threshold) & ((u < u_old) | (u < _TINY * threshold))
    rows = np.flatnonzero(np.any(vanishing, axis=1))
    if len(rows) == 0:
        return u, r, on
    u, r, on = u.copy(), r.copy(), on.copy()
    sub = model.take(rows)
    uu, vv = u[rows], v[rows]
    off = vanishing[rows]
    marginal = np.where(on[rows] & ~off, sub.gradient(uu, vv), -np.inf)
    best = np.argmax(marginal, axis=1)
    has_target = np.isfinite(marginal[np.arange(len(rows)), best])
    trial = np.where(off, 0.0, uu)
    trial[np.arange(len(rows)), best] += np.sum(np.where(off, uu, 0.0), axis=1)
    r_trial = sub.rate(trial, vv)
    accept = (
        has_target & (r_trial >= r[rows] * (1.0 - _ROUNDING)) & (sub.crb_ratio(trial, vv) <= 1.0)
    )
    rr = rows[accept]
    u[rr], r[rr] = trial[accept], r_trial[accept]
    on[rr] = on[rr] & ~off[accept]
    return u, r, on


def _kkt_estimate(
    model: GeneralModel, z: Float, support: Bool, tight: Bool
) -> tuple[Float, Float, Float]:
    """Estimates of the KKT multipliers of (19) at ``z = (u, v)`` (n, K + 1): ``lambda`` of the
    budget and ``mu >= 0`` of the CRB constraint written ``J' >= 1``, by the least-squares fit
    of ``dR/dz_i + mu dJ'/dz_i = lambda`` over the components in ``support``, weighted by
    ``z_i`` (so components on their way to 0 barely count); ``mu = 0`` where not ``tight``.
    Returns ``lambda``, ``mu`` (n,) and the marginals ``L_i = dR/dz_i + mu dJ'/dz_i``."""
    d_rate, _, d_j, _ = _hessians(model, z, second=False)
    w = np.where(support, z, 0.0)
    total = np.maximum(np.sum(w, axis=1, keepdims=True), 1e-300)
    g_bar = np.sum(w * d_rate, axis=1, keepdims=True) / total
    j_bar = np.sum(w * d_j, axis=1, keepdims=True) / total
    gc, jc = d_rate - g_bar, d_j - j_bar
    den = np.sum(w * jc**2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = np.where(den > 0, -np.sum(w * gc * jc, axis=1) / np.where(den > 0, den, 1.0), 0.0)
    mu = np.where(tight, np.maximum(np.nan_to_num(fit), 0.0), 0.0)
    marginal = d_rate + mu[:, None] * d_j
    lam = np.sum(w * marginal, axis=1) / total[:, 0]
    return lam, mu, marginal


def _tight(model: GeneralModel, u: Float, v: Float) -> Bool:
    """Drops whose CRB constraint may be active: ``CRB > CRB0 (1 - 1e-3)`` (the iterates of
    the SCA approach the boundary from inside; the multiplier's sign decides)."""
    return model.crb_ratio(u, v) > 1.0 - 1e-3


def _water_fill_split(model: GeneralModel, u: Float, v: Float) -> Float:
    """Exact maximiser of the sum rate over the users' split at fixed ``(sum u, v)`` on a
    split-form drop (water-filling with the gains ``g_k / y_k`` at those totals), (n, K)."""
    total = np.sum(u, axis=1)
    y = model.hmat[:, :, 0] * total[:, None] + model.hs * v[:, None] + 1.0
    x = water_fill(np.where(model.g > 0, model.g / y, 0.0), total)
    s = np.sum(x, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((s > 0)[:, None], x * (total / np.where(s > 0, s, 1.0))[:, None], u)


def _hessians(
    model: GeneralModel, z: Float, second: bool = True
) -> tuple[Float, Float, Float, Float]:
    """Gradients and Hessians in ``z = (u, v)`` (n, K + 1) of the sum rate and of
    ``J' = T2' - |T3'|^2 / T1'``: ``(dR, d2R, dJ, d2J)``, shapes (n, K+1) and (n, K+1, K+1).

    ``R = sum_k ln(P_k . z + 1) - ln(Q_k . z + 1)`` with ``Q_k = (H_k, hs_k)`` and
    ``P_k = Q_k + g_k e_k``; ``|T3|^2 / T1 = (w_re^2 + w_im^2) / T1`` with Hessian
    ``(2 / T1) sum (grad w - (w / T1) f1)(...)^T`` over the real and imaginary parts.
    """
    n, k1 = z.shape
    k = k1 - 1
    q = np.concatenate([model.hmat, model.hs[:, :, None]], axis=2)  # (n, K, K + 1)
    pm = q.copy()
    pm[:, np.arange(k), np.arange(k)] += model.g
    dp = np.einsum("nki,ni->nk", pm, z) + 1.0
    dq = np.einsum("nki,ni->nk", q, z) + 1.0
    d_rate = np.einsum("nki,nk->ni", pm, 1.0 / dp) - np.einsum("nki,nk->ni", q, 1.0 / dq)
    t1 = np.maximum(np.sum(model.f1 * z, axis=1), 1e-300)
    t3 = np.sum(model.f3 * z, axis=1)
    d_j = model.f2 - (
        2.0 * np.real(np.conj(t3)[:, None] * model.f3) / t1[:, None]
        - (np.abs(t3) ** 2 / t1**2)[:, None] * model.f1
    )
    h_j = np.zeros((n, k1, k1))
    if not second:
        return d_rate, h_j, d_j, h_j
    h_rate = np.einsum("nk,nki,nkj->nij", 1.0 / dq**2, q, q) - np.einsum(
        "nk,nki,nkj->nij", 1.0 / dp**2, pm, pm
    )
    for part in (np.real, np.imag):
        w = part(model.f3) - (part(t3) / t1)[:, None] * model.f1
        h_j -= (2.0 / t1)[:, None, None] * w[:, :, None] * w[:, None, :]
    return d_rate, h_rate, d_j, h_j


def _newton_polish(
    model: GeneralModel, u: Float, v: Float, on: Bool, tight: Bool, iterations: int = 12
) -> tuple[Float, Float]:
    """Newton's method on the KKT conditions of (19) near a stopping point of the SCA.

    Support: the components with power (active users with ``u_k > 0``; ``v`` if positive)
    except those on their way to 0: under 1 % of the largest component with a marginal
    ``L_i`` (:func:`_kkt_estimate`) more than 1 % below the budget's multiplier ``lambda``
    (set to 0). On the support, with full power ``sum z = 1`` and, where ``tight``,
    ``J' = 1 + 1e-12``, each step solves the (K + 3)-dimensional KKT system of the
    Lagrangian's quadratic model (components off the support fixed at 0), the step capped at
    0.5 per component; a component the step drives to 0 or below leaves the support, and a
    CRB multiplier below 0 releases the CRB equality. Near a KKT point it converges
    quadratically (a solve of its conditions to rounding); the caller keeps the result only
    if it is feasible and raises the sum rate. Returns ``(u, v)`` (the input point on rows
    where the iteration produced non-finite numbers).
    """
    n, k = u.shape
    k1 = k + 1
    m = k1 + 2
    z0 = np.concatenate([u, v[:, None]], axis=1)
    support = np.concatenate([on & (u > 0), (v > 0)[:, None]], axis=1)
    tight = tight.copy()
    lam, mu, marginal = _kkt_estimate(model, z0, support, tight)
    fading = (marginal < lam[:, None] - 1e-2 * np.abs(lam)[:, None]) & (
        z0 < 1e-2 * np.max(z0, axis=1, keepdims=True)
    )
    support &= ~fading
    z = np.where(support, z0, 0.0)
    eye = np.eye(k1)
    for _ in range(iterations):
        d_rate, h_rate, d_j, h_j = _hessians(model, z)
        t1, t2, t3 = model.terms(z[:, :k], z[:, k])
        j_val = t2 - np.abs(t3) ** 2 / np.maximum(t1, 1e-300)
        w = h_rate + mu[:, None, None] * h_j
        # a small shift keeps the system regular where the rate is flat along a direction
        scale = np.maximum(np.max(np.abs(w), axis=(1, 2)), 1e-300)
        w = w - 1e-12 * scale[:, None, None] * eye
        off = ~support
        w = np.where(support[:, :, None] & support[:, None, :], w, 0.0)
        w = w - (off[:, :, None] * eye) * scale[:, None, None]
        kkt = np.zeros((n, m, m))
        rhs = np.zeros((n, m))
        kkt[:, :k1, :k1] = w
        ones = support.astype(float)
        kkt[:, :k1, k1] = ones
        kkt[:, k1, :k1] = ones
        rhs[:, :k1] = -np.where(support, d_rate, 0.0)
        rhs[:, k1] = 1.0 - np.sum(z, axis=1)
        gj = np.where(support & tight[:, None], d_j, 0.0)
        kkt[:, :k1, k1 + 1] = gj
        kkt[:, k1 + 1, :k1] = gj
        kkt[:, k1 + 1, k1 + 1] = np.where(tight, 0.0, 1.0)
        rhs[:, k1 + 1] = np.where(tight, 1.0 + _NEWTON_MARGIN - j_val, 0.0)
        with np.errstate(all="ignore"):
            try:
                sol = np.linalg.solve(kkt, rhs[:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:
                break
        ok = np.all(np.isfinite(sol), axis=1)
        dz = np.where(support & ok[:, None], sol[:, :k1], 0.0)
        big = np.max(np.abs(dz), axis=1)
        dz *= np.minimum(1.0, 0.5 / np.maximum(big, 1e-300))[:, None]
        # stationarity: grad R + W dz + nu1 1 + nu2 grad J' = 0, so mu = nu2
        mu = np.where(tight & ok, sol[:, k1 + 1], mu)
        release = tight & (mu < 0)
        tight &= ~release
        mu = np.where(release, 0.0, mu)
        new = z + dz
        support &= new > 0.0
        z = np.where(support, new, 0.0)
    good = np.all(np.isfinite(z), axis=1)
    z = np.where(good[:, None], z, z0)
    return z[:, :k], z[:, k]


def _escape(
    model: GeneralModel, u: Float, v: Float, on: Bool, anchor: tuple[Float, Float]
) -> tuple[Float, Float, Float]:
    """Second-order check at a stopping point: leave a saddle point of (19).

    With a full interference matrix a KKT point need not be a local maximum (two users
    sharing a pilot: giving both power can be a saddle, one of them should be off). On the
    support (active users with power, ``v`` if positive), the Hessian of the Lagrangian
    ``R + mu J'`` (:func:`_hessians`, ``mu`` of :func:`_kkt_estimate`) is projected on the
    directions that keep the budget and, where the CRB constraint may be active, the Fisher
    information to first order; along an eigenvector of a positive eigenvalue (above
    ``1e-9`` of the Hessian's scale) the sum rate rises to second order. Steps of
    ``t_max 2^-i`` (``i = 0 .. 19``, ``t_max`` the longest step keeping every power ``>= 0``)
    are tried both ways, each made feasible by :func:`_repair` towards ``anchor`` and scaled
    to full power; the best is returned with its sum rate (nats), or the input point where
    no step or no positive curvature exists. The caller keeps it only if the sum rate rises
    (then the SCA continues from it).
    """
    k = u.shape[1]
    k1 = k + 1
    z = np.concatenate([u, v[:, None]], axis=1)
    support = np.concatenate([on & (u > 0), (v > 0)[:, None]], axis=1)
    tight = _tight(model, u, v)
    _, mu, _ = _kkt_estimate(model, z, support, tight)
    _, h_rate, d_j, h_j = _hessians(model, z)
    w = h_rate + mu[:, None, None] * h_j
    sup = support.astype(float)
    # orthonormal basis of the constraint normals on the support: 1 and (where tight) grad J'
    a1 = sup / np.sqrt(np.maximum(sup.sum(axis=1, keepdims=True), 1.0))
    a2 = np.where(support & tight[:, None], d_j, 0.0)
    a2 = a2 - np.sum(a2 * a1, axis=1, keepdims=True) * a1
    norm2 = np.linalg.norm(a2, axis=1, keepdims=True)
    keep = norm2 > 1e-12 * np.linalg.norm(d_j, axis=1, keepdims=True)
    a2 = np.where(keep, a2 / np.where(keep, norm2, 1.0), 0.0)
    proj = np.eye(k1)[None] * sup[:, :, None] * sup[:, None, :]
    proj = proj - a1[:, :, None] * a1[:, None, :] - a2[:, :, None] * a2[:, None, :]
    reduced = proj @ w @ proj
    values, vectors = np.linalg.eigh(0.5 * (reduced + np.swapaxes(reduced, 1, 2)))
    scale = np.max(np.abs(w), axis=(1, 2))
    top = values[:, -1]
    e = vectors[:, :, -1]
    curved = np.isfinite(top) & (top > 1e-9 * scale)
    best_u, best_v, best_r = u.copy(), v.copy(), model.rate(u, v)
    if not np.any(curved):
        return best_u, best_v, best_r
    rows = np.flatnonzero(curved)
    sub = model.take(rows)
    zs, es = z[rows], e[rows]
    for sign in (1.0, -1.0):
        d = sign * es
        with np.errstate(divide="ignore", invalid="ignore"):
            limit = np.where(d < 0, zs / np.where(d < 0, -d, 1.0), np.inf)
        t_max = np.min(limit, axis=1)
        t_max = np.where(np.isfinite(t_max), t_max, 1.0)
        for i in range(20):
            trial = np.maximum(zs + (t_max * 0.5**i)[:, None] * d, 0.0)
            ut, vt = _repair(sub, trial[:, :k], trial[:, k], anchor[0][rows], anchor[1][rows])
            ut, vt = _full_power(ut, vt)
            rt = sub.rate(ut, vt)
            ok = (rt > best_r[rows]) & (sub.crb_ratio(ut, vt) <= 1.0 + _CRB_SLACK)
            take = rows[ok]
            best_u[take], best_v[take], best_r[take] = ut[ok], vt[ok], rt[ok]
    return best_u, best_v, best_r


def _polish(
    model: GeneralModel, u: Float, v: Float, on: Bool, anchor: tuple[Float, Float]
) -> tuple[Float, Float, Float, Float]:
    """Polish at a stopping point, by an exact solve where one exists.

    - Drops with a split-form rate and a CRB through ``sum u`` only
      (:attr:`GeneralModel.split` and :attr:`GeneralModel.sum_crb`): the exact maximiser over
      the users' split at fixed ``(sum u, v)`` (:func:`_water_fill_split`; power and CRB
      unchanged), as ``sca``'s polish.
    - Other drops: :func:`_newton_polish` (Newton on the KKT conditions near the stopping
      point) twice, with the CRB equality where it may be active (:func:`_tight`) and
      without it, each made exactly feasible by :func:`_repair` towards ``anchor``
      (:func:`_anchor`); the better is kept.

    Returns ``(u, v)``, the sum rate (nats) and the relative gain (n,); the caller keeps a
    polished point only if it raises the sum rate.
    """
    exact = model.split & model.sum_crb
    u_p, v_p = u.copy(), v.copy()
    if np.any(exact):
        u_p[exact] = _water_fill_split(model.take(exact), u[exact], v[exact])
    if np.any(~exact):
        sub = model.take(~exact)
        us, vs, ons = u[~exact], v[~exact], on[~exact]
        best_u, best_v, best_r = us, vs, sub.rate(us, vs)
        for tight in (_tight(sub, us, vs), np.zeros(len(vs), bool)):
            un, vn = _newton_polish(sub, us, vs, ons, tight)
            un, vn = _repair(sub, un, vn, anchor[0][~exact], anchor[1][~exact])
            un, vn = _full_power(un, vn)
            rn = sub.rate(un, vn)
            better = (rn > best_r) & (sub.crb_ratio(un, vn) <= 1.0 + _CRB_SLACK)
            best_u = np.where(better[:, None], un, best_u)
            best_v, best_r = np.where(better, vn, best_v), np.where(better, rn, best_r)
        u_p[~exact], v_p[~exact] = best_u, best_v
    r_old = model.rate(u, v)
    r_new = model.rate(u_p, v_p)
    with np.errstate(divide="ignore", invalid="ignore"):
        gained = np.where(r_new > 0, (r_new - r_old) / r_new, 0.0)
    return u_p, v_p, r_new, gained


# ----------------------------------------------------------------------------- public entry
def sca_general(
    coef: Coefficients,
    *,
    tol: float = SCA_TOLERANCE,
    max_iterations: int = SCA_MAX_ITERATIONS,
    solvers: Sequence[str] = DEFAULT_SOLVERS,
    batch_size: int = SCA_BATCH_SIZE,
    active_set: bool = SCA_ACTIVE_SET,
    accelerate: bool = SCA_ACCELERATE,
    off_threshold: float = 1e-5,
    stopping: str = SCA_STOPPING,
    polish: bool = SCA_POLISH,
) -> PowerAllocation:
    """Algorithm 1 on general coefficients (module doc; ``docs/theory.md`` §10).

    Parameters
    ----------
    coef : the drops' rate and CRB coefficients (any interference matrix, ``T3 != 0``
        allowed), the budget ``Pt / Nt`` and CRB0.
    tol, max_iterations, solvers, batch_size, active_set, accelerate, off_threshold,
    stopping, polish : as :func:`jcas.allocation.sca.sca` (same defaults). ``polish`` acts
        only on drops where it is exact (split-form rate, CRB through ``sum x`` only).

    Returns
    -------
    :class:`PowerAllocation`: power factors ``x`` (D, K), ``s`` (D,) (W per antenna) and a
    status per drop (``converged``, ``max_iterations``, ``infeasible``, ``solver_error``,
    ``invalid_input``).
    """
    options = _options(
        tol=tol,
        max_iterations=max_iterations,
        solvers=solvers,
        batch_size=batch_size,
        active_set=active_set,
        accelerate=accelerate,
        off_threshold=off_threshold,
        stopping=stopping,
        polish=polish,
    )
    return _solve(coef, options, programs=GENERAL_PROGRAMS, trace=None)


def _options(**kw: Any) -> SCAOptions:
    """Validated :class:`jcas.allocation.sca.SCAOptions` (``ValueError`` naming the option)."""
    if kw["stopping"] not in SCA_STOPPING_RULES:
        raise ValueError(f"stopping = {kw['stopping']!r}: must be one of {SCA_STOPPING_RULES}")
    for name in ("tol", "off_threshold"):
        if not (np.isfinite(kw[name]) and kw[name] > 0):
            raise ValueError(f"{name} = {kw[name]!r}: must be finite and > 0")
    for name in ("max_iterations", "batch_size"):
        if int(kw[name]) < 1:
            raise ValueError(f"{name} = {kw[name]!r}: must be >= 1")
    options = SCAOptions(
        tol=float(kw["tol"]),
        max_iterations=int(kw["max_iterations"]),
        solvers=_usable(kw["solvers"]),
        batch_size=int(kw["batch_size"]),
        active_set=bool(kw["active_set"]),
        accelerate=bool(kw["accelerate"]),
        off_threshold=float(kw["off_threshold"]),
        stopping=str(kw["stopping"]),
        polish=bool(kw["polish"]),
    )
    if not options.solvers:
        raise ValueError("none of the requested solvers is installed")
    return options


def _traced(coef: Coefficients, **kw: Any) -> tuple[PowerAllocation, list[dict[str, Float]]]:
    """:func:`sca_general` with its iterations recorded (tests): one dict per iteration with
    the sum rate in nats of every drop (``rate``, NaN for drops not iterated), its CRB / CRB0
    (``crb_ratio``) and ``sum u + v`` (``power``)."""
    defaults: dict[str, Any] = {
        "tol": SCA_TOLERANCE,
        "max_iterations": SCA_MAX_ITERATIONS,
        "solvers": DEFAULT_SOLVERS,
        "batch_size": SCA_BATCH_SIZE,
        "active_set": SCA_ACTIVE_SET,
        "accelerate": SCA_ACCELERATE,
        "off_threshold": 1e-5,
        "stopping": SCA_STOPPING,
        "polish": SCA_POLISH,
    }
    unknown = set(kw) - set(defaults)
    if unknown:
        raise TypeError(f"unknown sca_general options {sorted(unknown)}")
    trace: list[dict[str, Float]] = []
    out = _solve(coef, _options(**{**defaults, **kw}), programs=GENERAL_PROGRAMS, trace=trace)
    return out, trace


def _solve(
    coef: Coefficients,
    options: SCAOptions,
    *,
    programs: ProgramCache[GeneralConicProgram],
    trace: list[dict[str, Float]] | None,
) -> PowerAllocation:
    """The algorithm behind :func:`sca_general`."""
    t_start = time.perf_counter()
    model, valid = general_model(coef)
    n_drops, n_users = model.g.shape
    p = coef.budget
    x_out = np.full((n_drops, n_users), np.nan)
    s_out = np.full(n_drops, np.nan)
    status = np.full(n_drops, "infeasible", dtype=object)
    status[~valid] = "invalid_input"
    iterations = np.zeros(n_drops, np.int64)
    solve_time = np.zeros(n_drops)
    on = (model.g > 0) & valid[:, None]
    u, v = np.zeros((n_drops, n_users)), np.zeros(n_drops)
    feasible = valid & np.any(on, axis=1)
    if np.any(feasible):
        rows = np.flatnonzero(feasible)
        u[rows], v[rows], feasible[rows] = start_points(model.take(rows), on[rows])
    # no user receives a signal: the sum rate is 0 everywhere, any feasible point is optimal
    silent = valid & ~np.any(on, axis=1)
    if np.any(silent):
        rows = np.flatnonzero(silent)
        us, vs, ok = start_points(model.take(rows), np.ones((len(rows), n_users), bool))
        rows = rows[ok]
        x_out[rows], s_out[rows], status[rows] = us[ok] * p, vs[ok] * p, "converged"
    idx = np.flatnonzero(feasible)
    start_time = (time.perf_counter() - t_start) / max(n_drops, 1)
    solve_time[:] = start_time
    if len(idx) == 0:
        return PowerAllocation(x_out, s_out, status.astype(str), iterations, solve_time)
    sub = model.take(idx)
    u, v = u[idx], v[idx]
    active = on[idx] & (u > 0)
    runner = _Runner(sub, u, v, active, options, trace, programs)
    runner.run()
    status[idx] = runner.status
    iterations[idx] = runner.iterations
    solve_time[idx] += runner.solve_time
    ok = np.isin(runner.status, ("converged", "max_iterations"))
    x_out[idx[ok]] = runner.u[ok] * p
    s_out[idx[ok]] = runner.v[ok] * p
    return PowerAllocation(x_out, s_out, status.astype(str), iterations, solve_time)


class _Runner:
    """Slot scheduler: keeps up to ``batch_size`` unfinished drops in one compiled program."""

    def __init__(
        self,
        model: GeneralModel,
        u: Float,
        v: Float,
        active: Bool,
        options: SCAOptions,
        trace: list[dict[str, Float]] | None,
        programs: ProgramCache[GeneralConicProgram],
    ) -> None:
        self.model, self.opt, self.trace, self.programs = model, options, trace, programs
        self.u, self.v, self.active = u.copy(), v.copy(), active.copy()
        self.start_u, self.start_v = u.copy(), v.copy()
        self.rate = model.rate(self.u, self.v)
        self.attempts = _attempts(options.solvers, options.direct)
        n = len(v)
        self.status = np.full(n, "pending", dtype=object)
        self.iterations = np.zeros(n, np.int64)
        self.solve_time = np.zeros(n)
        self.reactivations = np.zeros(n, np.int64)
        self.escapes = np.zeros(n, np.int64)
        self.change = np.full(n, np.inf)
        self.small = np.zeros(n, bool)

    # -- one convex step for drops idx ----------------------------------------------------
    def _step_data(self, idx: NDArray[np.int64], n_slots: int) -> tuple[GeneralStepData, Any]:
        m = self.model.take(idx)
        u0, v0, on = self.u[idx], self.v[idx], self.active[idx]
        x0 = m.g * u0
        y0 = m.den(u0, v0)
        scale = np.maximum(self.rate[idx], 1e-300)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            bw = np.where(on, x0 / (x0 + y0), 0.0) / scale
            ck = np.where(on, x0 / ((x0 + y0) * y0), 0.0) / scale
        u0_eff = np.where(on, u0, 0.0)
        cu = u0_eff * np.einsum("nk,nkj->nj", ck, m.hmat)
        cv = np.sum(ck * m.hs, axis=1)
        with np.errstate(over="ignore", divide="ignore"):
            inv_u0 = 1.0 / np.where(u0 > 0, u0, 1.0)
        wmax = np.where(on & (u0 > 0), np.minimum(inv_u0, _W_MAX), 1.0)
        t1, t2, t3, beta, phi0 = _balanced(m, u0, v0)
        pad = n_slots - len(idx)

        def padded(a: NDArray[Any]) -> NDArray[Any]:
            return a if pad == 0 else np.concatenate([a, np.repeat(a[:1], pad, axis=0)])

        data = GeneralStepData(
            u0=padded(u0_eff),
            bw=padded(bw),
            cu=padded(cu),
            cv=padded(cv),
            wmax=padded(wmax),
            t1=padded(t1),
            t2=padded(t2),
            t3=padded(t3),
            beta=padded(beta),
            phi0=padded(phi0),
        )
        return data, (bw, cu, cv, v0, on, u0)

    def _solve_step(
        self, idx: NDArray[np.int64], attempts: Sequence[tuple[str, str]], n_slots: int
    ) -> tuple[Float, Float, Bool]:
        """One convex step for drops ``idx``: the drops whose CRB goes through ``sum u`` in
        ``sca``'s program (26) (:class:`jcas.allocation.sca._clarabel.ConicProgram`, the
        same program in the variables ``(c, v)``), the others in the general one; each group
        in slots of a power of two up to ``n_slots``. Returns ``u``, ``v`` and the mask of
        valid solutions."""
        reduced = self.model.sum_crb[idx]
        if np.all(reduced) or not np.any(reduced):
            return self._solve_group(idx, attempts, n_slots, bool(reduced[0]))
        u, v = self.u[idx].copy(), self.v[idx].copy()
        good = np.zeros(len(idx), bool)
        for mask in (reduced, ~reduced):
            slots = min(_small(int(mask.sum())), n_slots)
            u[mask], v[mask], good[mask] = self._solve_group(
                idx[mask], attempts, slots, bool(reduced[mask][0])
            )
        return u, v, good

    def _solve_group(
        self,
        idx: NDArray[np.int64],
        attempts: Sequence[tuple[str, str]],
        n_slots: int,
        reduced: bool,
    ) -> tuple[Float, Float, Bool]:
        n = len(idx)
        data, (bw, cu, cv, v0, on, u0) = self._step_data(idx, n_slots)
        with_t3 = bool(np.any(self.model.f3[idx] != 0))
        for attempt in attempts:
            sol = self._solve_with(attempt, data, n_slots, with_t3, reduced)
            if sol is not None:
                w, v = sol.w[:n], sol.v[:n]
                good = np.all(np.isfinite(w), axis=1) & np.isfinite(v) & np.all(w > 0, axis=1)
                ws = np.where(good[:, None], w, 1.0)
                surr_new = -np.sum(bw / ws, axis=1) - np.sum(cu * ws, axis=1) - cv * v
                surr_old = -np.sum(bw, axis=1) - np.sum(cu, axis=1) - cv * v0
                good &= surr_new >= surr_old - 1e-7 * (1.0 + np.abs(surr_old))
                return np.where(on, u0 * w, 0.0), v, good
        return u0, v0, np.zeros(n, bool)

    def _solve_with(
        self,
        attempt: tuple[str, str],
        data: GeneralStepData,
        n_slots: int,
        with_t3: bool,
        reduced: bool,
    ) -> StepSolution | None:
        backend, solver = attempt
        k = data.u0.shape[1]
        if backend == "clarabel" and reduced:
            return PROGRAMS.get(k, n_slots, with_t3).solve(_reduced(data))
        if backend == "clarabel":
            return self.programs.get(k, n_slots, with_t3).solve(data)
        if n_slots != 1:  # the cvxpy fallback solves one drop at a time
            return None
        return _cvxpy_step(data, solver)

    def _step(self, idx: NDArray[np.int64], n_slots: int) -> None:
        u_new, v_new, good = self._solve_step(idx, self.attempts[:1], n_slots)
        for j in np.flatnonzero(~good):  # per-drop retry with each solver in turn
            for attempt in self.attempts:
                uj, vj, gj = self._solve_step(idx[j : j + 1], [attempt], 1)
                if gj[0]:
                    u_new[j], v_new[j], good[j] = uj[0], vj[0], True
                    break
        self.status[idx[~good]] = "solver_error"
        idx, u_new, v_new = idx[good], u_new[good], v_new[good]
        if len(idx) == 0:
            return
        m = self.model.take(idx)
        u_old, v_old, r_old = self.u[idx], self.v[idx], self.rate[idx]
        start = (self.start_u[idx], self.start_v[idx])
        anchor = _anchor(m, start, self.active[idx], u_old, v_old)
        u_new, v_new = _repair(m, u_new, v_new, *anchor)
        u_new, v_new = _full_power(u_new, v_new)
        r_new = m.rate(u_new, v_new)
        # only through solver round-off (the full-power step keeps CRB0: CRB(tz) = CRB(z) / t)
        worse = (r_new < r_old) | (m.crb_ratio(u_new, v_new) > 1.0 + _CRB_SLACK)
        u_new[worse], v_new[worse], r_new[worse] = u_old[worse], v_old[worse], r_old[worse]
        active = self.active[idx].copy()
        if self.opt.accelerate:
            u_new, r_new = _extrapolate(m, u_old, u_new, v_new, r_new, active)
        if self.opt.active_set:
            u_new, r_new, active = _switch_off(
                m, u_old, u_new, v_new, r_new, active, self.opt.off_threshold
            )
        if self.opt.polish:  # Newton on the KKT conditions near convergence (docs)
            near = ~(m.split & m.sum_crb) & ((r_new - r_old) < _NEWTON_FROM * r_new)
            if np.any(near):
                mn = m.take(near)
                start = (self.start_u[idx][near], self.start_v[idx][near])
                anchor = _anchor(mn, start, active[near], u_new[near], v_new[near])
                u_p, v_p, r_p, _ = _polish(mn, u_new[near], v_new[near], active[near], anchor)
                better = r_p > r_new[near]
                rows = np.flatnonzero(near)[better]
                u_new[rows], v_new[rows], r_new[rows] = u_p[better], v_p[better], r_p[better]
                if self.opt.active_set:
                    active[rows] = (u_p[better] > 0) | (active[rows] & (mn.g[better] <= 0))
        change = (r_new - r_old) / np.maximum(r_new, 1e-300)
        self.u[idx], self.v[idx], self.rate[idx], self.active[idx] = u_new, v_new, r_new, active
        self.iterations[idx] += 1
        if self.opt.stopping == "change":
            done = change < self.opt.tol
        else:  # geometric (Aitken) estimate of the change to come, rho capped at 0.99
            prev = self.change[idx]
            with np.errstate(divide="ignore", invalid="ignore"):
                rho = np.where(prev > 0, change / prev, _RHO_MAX)
            rho = np.clip(np.nan_to_num(rho, nan=_RHO_MAX), 0.0, _RHO_MAX)
            small = change < self.opt.tol * (1.0 - rho)
            done = small & self.small[idx]
            self.small[idx] = small
        self.change[idx] = change
        ending = done | (self.iterations[idx] >= self.opt.max_iterations)
        if self.opt.polish and np.any(ending):
            rows = idx[ending]
            mr = self.model.take(rows)
            start = (self.start_u[rows], self.start_v[rows])
            anchor = _anchor(mr, start, self.active[rows], self.u[rows], self.v[rows])
            u_p, v_p, r_p, gained = _polish(
                mr, self.u[rows], self.v[rows], self.active[rows], anchor
            )
            better = r_p > self.rate[rows]
            rb = rows[better]
            self.u[rb], self.v[rb], self.rate[rb] = u_p[better], v_p[better], r_p[better]
            if self.opt.active_set:
                self.active[rb] = (u_p[better] > 0) | (self.active[rb] & (mr.g[better] <= 0))
            again = rows[better & (gained > self.opt.tol)]
            done[np.isin(idx, again)] = False
            self.small[again] = False
            self.change[again] = np.inf
        inexact = done & ~(self.model.split[idx] & self.model.sum_crb[idx])
        if self.opt.polish and np.any(inexact):  # second-order check at a stopping point
            rows = idx[inexact & (self.escapes[idx] < 10)]
            mr = self.model.take(rows)
            start = (self.start_u[rows], self.start_v[rows])
            anchor = _anchor(mr, start, self.active[rows], self.u[rows], self.v[rows])
            u_e, v_e, r_e = _escape(mr, self.u[rows], self.v[rows], self.active[rows], anchor)
            better = r_e > self.rate[rows] * (1.0 + 1e-12)
            rb = rows[better]
            self.u[rb], self.v[rb], self.rate[rb] = u_e[better], v_e[better], r_e[better]
            if self.opt.active_set:
                self.active[rb] = (u_e[better] > 0) | (self.active[rb] & (mr.g[better] <= 0))
            self.escapes[rb] += 1
            done[np.isin(idx, rb)] = False
            self.small[rb] = False
            self.change[rb] = np.inf
        if self.opt.active_set and np.any(done):
            back = self._switch_on(idx[done])
            done[np.isin(idx, back)] = False
            self.small[back] = False
            self.change[back] = np.inf
        self.status[idx[done]] = "converged"
        capped = (self.iterations[idx] >= self.opt.max_iterations) & ~done
        self.status[idx[capped]] = "max_iterations"

    def _switch_on(self, idx: NDArray[np.int64]) -> NDArray[np.int64]:
        """KKT check at a stopping point (``jcas.allocation.sca._switch_on``): an inactive user
        whose marginal ``L_t`` (the gradient of the sum rate plus ``mu`` times that of the
        Fisher information, :func:`_kkt_estimate`) at zero power exceeds the smallest marginal
        ``L_d`` of the active users violates the KKT conditions of (19). It gets a small share
        of that user's power along ``e_t - e_d + beta (e_v - e_d)``, where ``beta`` (nonzero only
        if the CRB constraint may be active and the two users' Fisher columns differ) keeps
        the Fisher information constant to first order, so that the rate changes by
        ``delta (L_t - L_d) > 0``; the share is halved until the sum rate rises with CRB0 met
        (after :func:`_repair` towards the anchor), and the drop keeps iterating. Returns the
        re-activated drops."""
        m = self.model.take(idx)
        u, v, on = self.u[idx], self.v[idx], self.active[idx]
        k = u.shape[1]
        z = np.concatenate([u, v[:, None]], axis=1)
        support = np.concatenate([on & (u > 0), (v > 0)[:, None]], axis=1)
        tight = _tight(m, u, v)
        _, _, marginal = _kkt_estimate(m, z, support, tight)
        d_j = _hessians(m, z, second=False)[2]
        marg = marginal[:, :k]
        m_on = np.where(on & (u > 0), marg, np.inf)
        m_off = np.where(~on & (m.g > 0), marg, -np.inf)
        lowest = np.argmin(m_on, axis=1)
        best_off = np.argmax(m_off, axis=1)
        rows = np.arange(len(idx))
        scale = np.abs(m_on[rows, lowest])
        want = (
            (m_off[rows, best_off] > m_on[rows, lowest] + 1e-9 * scale)
            & np.isfinite(m_on[rows, lowest])
            & (self.reactivations[idx] < 10)
        )
        back = []
        for j in np.flatnonzero(want):
            donor, taker = lowest[j], best_off[j]
            mj = m.take(slice(j, j + 1))
            beta = 0.0
            gap = d_j[j, k] - d_j[j, donor]
            if tight[j] and v[j] > 0 and abs(gap) > 0 and not m.sum_crb[j]:
                beta = -(d_j[j, taker] - d_j[j, donor]) / gap
            direction = np.zeros(k + 1)
            direction[taker] += 1.0
            direction[donor] -= 1.0 + beta
            direction[k] += beta
            start = (self.start_u[idx[j : j + 1]], self.start_v[idx[j : j + 1]])
            anchor = _anchor(mj, start, on[j : j + 1], u[j : j + 1], v[j : j + 1])
            delta = 1e-3 * u[j, donor] / max(1.0, abs(1.0 + beta))
            for _ in range(30):
                trial = z[j] + delta * direction
                delta *= 0.5
                if np.any(trial < 0):
                    continue
                ut, vt = _repair(mj, trial[None, :k], trial[k : k + 1], *anchor)
                r = mj.rate(ut, vt)[0]
                if r > self.rate[idx[j]] and mj.crb_ratio(ut, vt)[0] <= 1.0:
                    self.u[idx[j]], self.v[idx[j]] = ut[0], vt[0]
                    self.rate[idx[j]] = r
                    self.active[idx[j], taker] = True
                    self.reactivations[idx[j]] += 1
                    back.append(idx[j])
                    break
        return np.asarray(back, dtype=np.int64)

    def run(self) -> None:
        n = len(self.v)
        queue = list(range(n))
        slots: list[int] = []
        while queue or slots:
            while queue and len(slots) < self.opt.batch_size:
                slots.append(queue.pop(0))
            idx = np.asarray(slots, dtype=np.int64)
            n_slots = min(_small(len(idx)), self.opt.batch_size)
            t0 = time.perf_counter()
            self._step(idx, n_slots)
            self.solve_time[idx] += (time.perf_counter() - t0) / len(idx)
            if self.trace is not None:
                record = {name: np.full(n, np.nan) for name in ("rate", "crb_ratio", "power")}
                m = self.model.take(idx)
                record["rate"][idx] = self.rate[idx]
                record["crb_ratio"][idx] = m.crb_ratio(self.u[idx], self.v[idx])
                record["power"][idx] = np.sum(self.u[idx], axis=1) + self.v[idx]
                self.trace.append(record)
            slots = [i for i in slots if self.status[i] == "pending"]


def _reduced(d: GeneralStepData) -> StepData:
    """The step of drops whose CRB terms have equal user columns as the data of ``sca``'s
    program (26): the coefficients of ``(c, v)`` are any user's and the sensing beam's."""
    k = d.u0.shape[1]
    return StepData(
        u0=d.u0,
        bw=d.bw,
        cu=d.cu,
        cv=d.cv,
        wmax=d.wmax,
        t1=d.t1[:, [0, k]],
        t2=d.t2[:, [0, k]],
        t3=d.t3[:, [0, k]],
        beta=d.beta,
        phi0=d.phi0,
    )


def _cvxpy_step(d: GeneralStepData, solver: str) -> StepSolution | None:
    """The step of one slot through cvxpy with ``solver`` (the fallback when Clarabel's direct
    solve fails; imports cvxpy). Same program as :class:`GeneralConicProgram`."""
    import cvxpy as cp

    from jcas.allocation.sca._program import _solver_options, installed_solvers

    if solver not in installed_solvers():
        return None
    k = d.u0.shape[1]
    w = cp.Variable(k, pos=True)
    v = cp.Variable(nonneg=True)
    phi = cp.Variable(nonneg=True)
    u0 = d.u0[0]

    def lin(coef: NDArray[Any]) -> Any:
        return coef[0, :k] @ cp.multiply(u0, w) + coef[0, k] * v

    t1, t2 = lin(d.t1), lin(d.t2)
    t3sq = cp.square(lin(d.t3.real)) + cp.square(lin(d.t3.imag))
    phi0 = float(d.phi0[0])
    objective = -d.bw[0] @ cp.inv_pos(w) - d.cu[0] @ w - float(d.cv[0]) * v
    constraints = [
        u0 @ w + v <= 1.0,
        w <= d.wmax[0],
        float(d.beta[0]) * t1 + t3sq + phi0**2 <= 2.0 * phi0 * phi,
        cp.SOC(0.5 * (t1 + t2), cp.hstack([phi, 0.5 * (t1 - t2)])),
    ]
    problem = cp.Problem(cp.Maximize(objective), constraints)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            problem.solve(solver=solver, warm_start=False, **_solver_options(solver))
    except (cp.SolverError, ArithmeticError, ValueError):
        return None
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or w.value is None:
        return None
    return StepSolution(
        w=np.asarray(w.value, dtype=float)[None],
        v=np.atleast_1d(np.asarray(v.value, dtype=float)),
        phi=np.atleast_1d(np.asarray(phi.value, dtype=float)),
        objective=float(problem.value),
        solver=f"cvxpy/{solver}",
    )
