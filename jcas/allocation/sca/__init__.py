"""The paper's Algorithm 1 (successive convex approximation), made robust and fast.

Each iteration solves the convex program (26): the concave bound (20)-(22) of
the sum rate (15) under the power budget (19c) and the CRB constraint in the
form (23)-(25), linearised at the current iterate (or, for the two-angle forms of a
planar array, their convex constraint as it stands: :class:`PlanarCrbModel`; one runner
serves every form). Derivation, robustness fixes and stopping rule: ``docs/theory.md``.
In short:

- Scaling: powers are fractions of the budget (``u_k = xi_k gamma_k / p``,
  ``v = sum eta / p``, ``p = Pt / Nt``), gains are normalised by the noise
  (``g_k = Nt^2 xi_k p / sigma_u^2``, ``h_k = Nt beta_k p / sigma_u^2``, so that
  ``SINR_k = g_k u_k / (h_k T + 1)`` with ``T = sum u + v``), the CRB terms are
  normalised by the Fisher information CRB0 requires and then rescaled at each
  iterate so that ``T1'' = T2'' = phi^(i) = 1`` there (without it the cone (25)
  degenerates at a high SNR_sen or with many antennas), each user's variable is
  scaled by its expansion point (``u_k = u_k^(i) w_k``) and the objective by the
  current sum rate. None of this changes the solution of (26).
- Feasible start: full power, the sensing share at the middle of the interval
  that meets CRB0, the communications power split equally over the users.
- Full-power step: each SCA output is scaled to the full budget (raises every
  SINR, lowers the CRB; all KKT points of (19) are at full power).
- Stopping rule: the relative sum-rate change, extrapolated geometrically to
  the limit (Aitken), below ``tol`` on two consecutive iterations.
- Active set: a user whose power fraction falls under ``off_threshold`` is
  switched off (its power moved to the user with the largest marginal rate,
  accepted only if the sum rate does not decrease), and switched back on if the
  KKT conditions of (19) at the final point say it should receive power.
- Acceleration: after each SCA step the split of the communications power among
  the active users is extrapolated along the step's multiplicative direction
  (``u <- u^(i+1) (u^(i+1) / u^(i))^kappa``, renormalised); the extrapolation is
  kept only if it raises the sum rate, so the iterates still never decrease and
  the fixed points are those of Algorithm 1.
- Speed: the drops are processed in slots of one block-separable conic program,
  built once per (K, number of slots, T3 present) as Clarabel's sparse data
  (:mod:`jcas.allocation.sca._clarabel`; only the numbers change per iteration) and
  reused across iterations, drops and calls; a drop leaves its slot when it stops
  and the next drop takes it. A failed or invalid solve of a drop is retried alone,
  with Clarabel directly and then through the cvxpy formulation
  (:mod:`jcas.allocation.sca._program`, imported only then) with each solver in turn
  (CLARABEL, ECOS, SCS): cvxpy is not imported unless Clarabel fails.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.allocation._types import Allocation
from jcas.allocation.closed_form import water_fill
from jcas.allocation.planar import planar_coefficients
from jcas.allocation.sca._clarabel import (
    DEFAULT_SOLVERS,
    PROGRAMS,
    ConicProgram,
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
from jcas.model.metrics import covariance_crb_terms
from jcas.model.params import SystemParams
from jcas.parts.arrays.base import FixedArray
from jcas.parts.precoders.base import TOTAL_POWER_RATE, Covariance, split_power_sinr
from jcas.parts.registry import design

__all__ = [
    "DEFAULT_SOLVERS",
    "CrbModel",
    "PlanarCrbModel",
    "SCAState",
    "crb_model",
    "sca",
    "surrogate_rate",
]

Float = NDArray[np.float64]
_RHO_MAX = 0.99
"""Cap on the estimated linear convergence ratio of the stopping rule."""
_W_MAX = 1e3
"""Largest factor by which one SCA step may raise a user's power (``docs/theory.md``)."""
_TINY = 1e-3
"""Users under ``_TINY * off_threshold`` are switched off whatever their trend."""
_ROUNDING = 8.0 * np.finfo(float).eps
"""Relative rounding slack (8 ulp) of the switch-off acceptance test (``docs/theory.md``)."""


# ----------------------------------------------------------------------------- model pieces
@dataclass(frozen=True)
class CrbModel:
    """The CRB terms of (36) with R_x of (37), as linear functions of the fractions (C, V).

    ``C = xi^T gamma / p``, ``V = sum eta / p``. With ``F0 = sigma_r_bar^2 / CRB0``
    and ``tau1 = p max(|t1|)``, the normalised terms are
    ``T1' = T1 / tau1``, ``T2' = T2 / F0``, ``T3' = T3 / sqrt(tau1 F0)`` and
    ``CRB <= CRB0  <=>  T1' T2' - |T3'|^2 >= T1'``; ``CRB / CRB0 = T1' / (T1' T2' - |T3'|^2)``.

    Attributes
    ----------
    t1, t2 : (2,) real coefficients of (C, V) in T1', T2'.
    t3 : (2,) complex coefficients of (C, V) in T3'.
    """

    t1: Float
    t2: Float
    t3: NDArray[np.complex128]

    def terms(self, c: ArrayLike, v: ArrayLike) -> tuple[Float, Float, NDArray[np.complex128]]:
        """``T1', T2', T3'`` at fractions (c, v), broadcast shapes."""
        c = np.asarray(c, dtype=float)
        v = np.asarray(v, dtype=float)
        return (
            self.t1[0] * c + self.t1[1] * v,
            self.t2[0] * c + self.t2[1] * v,
            self.t3[0] * c + self.t3[1] * v,
        )

    def crb_ratio(self, c: ArrayLike, v: ArrayLike) -> Float:
        """``CRB / CRB0`` at fractions (c, v) (``inf`` where the Fisher information vanishes)."""
        t1, t2, t3 = self.terms(c, v)
        det = t1 * t2 - np.abs(t3) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(det > 0, t1 / np.where(det > 0, det, 1.0), np.inf)

    @property
    def program(self) -> bool:
        """The conic program's CRB constraint (:class:`ConicProgram`): ``T3`` present."""
        return bool(np.any(self.t3 != 0))

    def step(self, u: Float, v: Float) -> dict[str, Any]:
        """The CRB fields of :class:`StepData` at the iterates ``(u, v)``: (24)-(25) balanced
        there (:func:`_balanced_model`)."""
        t1, t2, t3, beta, phi0 = _balanced_model(self, u, v)
        return {"t1": t1, "t2": t2, "t3": t3, "beta": beta, "phi0": phi0}


@dataclass(frozen=True)
class PlanarCrbModel:
    """The two-angle CRB constraints of a planar array, ``per_angle`` or ``sum``
    (:mod:`jcas.allocation.planar`, ``docs/theory.md`` §7), in the fractions (C, V).

    Each angle's Fisher information is linear in the power totals and the Fisher matrix is
    diagonal (MRT covariance (37), centred arrays); normalised by the information each
    angle's bound needs, ``J_i' = fisher[i, 0] C + fisher[i, 1] V`` and the constraint is
    ``J_i' >= 1`` for each angle (``per_angle``: ``fisher[i] = p (a_i, b_i) crb0_i /
    sigma_r_bar^2``) or ``J_az'^-1 + J_el'^-1 <= 1`` (``sum``: ``crb0_i = crb0``). Both
    depend on the users' powers only through ``C = sum u``, as the azimuth form does, so the
    SCA's steps and fixes apply unchanged; the constraint is convex as it stands and enters
    the program exactly (:class:`ConicProgram` with ``crb = form``).

    Attributes
    ----------
    form : ``"per_angle"`` or ``"sum"``.
    fisher : (2, 2) ``[angle, (C, V)]``; an angle with no Fisher information at all is
        left out (zero row).
    """

    form: str
    fisher: Float

    def crb_ratio(self, c: ArrayLike, v: ArrayLike) -> Float:
        """The constraint as a ratio, at most 1 where met: ``max_i 1 / J_i'`` (``per_angle``)
        or ``sum_i 1 / J_i'`` (``sum``), the constrained angles only (``inf`` where one's
        Fisher information vanishes)."""
        c = np.asarray(c, dtype=float)[..., None]
        v = np.asarray(v, dtype=float)[..., None]
        used = np.any(self.fisher != 0, axis=-1)
        j = self.fisher[:, 0] * c + self.fisher[:, 1] * v
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(j > 0, 1.0 / np.where(j > 0, j, 1.0), np.inf)
        inv = np.where(used, inv, 0.0)
        return np.max(inv, axis=-1) if self.form == "per_angle" else np.sum(inv, axis=-1)

    @property
    def program(self) -> str:
        """The conic program's CRB constraint (:class:`ConicProgram`): the form."""
        return self.form

    def step(self, u: Float, v: Float) -> dict[str, Any]:
        """The CRB field of :class:`StepData` (the same at every iterate)."""
        return {"fisher": np.broadcast_to(self.fisher, (len(v), 2, 2)).copy()}


CrbConstraint = CrbModel | PlanarCrbModel
"""The CRB constraint of the SCA: the azimuth form (36) or a two-angle form."""


def crb_model(
    params: SystemParams,
    arrays: Sequence[ArrayLike] | None = None,
) -> CrbConstraint:
    """The CRB constraint of ``params`` in (C, V): the coefficients of T1, T2, T3 of (36)
    (``system.crb_form`` ``azimuth``), or the two-angle forms' (:class:`PlanarCrbModel`).

    The precoder's expected covariance is linear in ``(xi^T gamma, sum eta)``:
    ``R_x = c R_c + s R_s`` (MRT (37): ``R_c = I``, ``R_s = a_t a_t^H``), so
    ``T_j = p (C T_j[R_c] + V T_j[R_s])`` (:func:`jcas.model.metrics.covariance_crb_terms`).
    Works for any array (``T3 != 0`` included).

    Parameters
    ----------
    params : system parameters (Nt, Nr, theta, Pt, sigma_r_bar^2, crb0, parts).
    arrays : optional fixed ``(a_t, a_r, a_t_dot, a_r_dot)`` replacing the array part
        (e.g. a non-centred array in tests).
    """
    p = params.pt_w / params.Nt
    if params.crb_form != "azimuth":  # two angles: docs/theory.md §7
        if arrays is not None:
            raise ValueError(f"arrays: only the azimuth form takes them, not {params.crb_form!r}")
        a, b = planar_coefficients(params)
        if params.crb_form == "per_angle":
            crb0 = np.array([params.crb0_azimuth, params.crb0_elevation])
        else:
            crb0 = np.full(2, params.crb0)
        scale = p * crb0 / params.sigma_r_bar2
        return PlanarCrbModel(params.crb_form, np.stack([a * scale, b * scale], axis=-1))
    parts = design(params)
    tx, rx = parts.tx, parts.rx
    if arrays is not None:
        a_t, a_r, a_t_dot, a_r_dot = arrays
        tx, rx = FixedArray(a_t, a_t_dot), FixedArray(a_r, a_r_dot)
    forms = parts.precoder.covariance_components(params, tx)
    t1, t2, t3 = covariance_crb_terms(Covariance(np.eye(2), forms), rx.gram(params.theta_rad))
    fisher0 = params.sigma_r_bar2 / params.crb0
    tau1 = p * float(np.max(np.abs(t1)))
    return CrbModel(
        t1=p * np.asarray(t1, dtype=float) / tau1,
        t2=p * np.asarray(t2, dtype=float) / fisher0,
        t3=p * np.asarray(t3, dtype=complex) / np.sqrt(tau1 * fisher0),
    )


def _den(u: Float, v: Float, h: Float) -> Float:
    """Normalised denominators ``y_k`` of the SINR, shape (..., K).

    ``h`` of the shape of ``u`` (total-power form): ``y_k = h_k (sum u + v) + 1``;
    ``h`` with a last axis of 2 (split-power form, ``docs/theory.md`` §6):
    ``y_k = h_k0 sum u + h_k1 v + 1``.
    """
    if h.ndim == u.ndim:
        return h * (np.sum(u, axis=-1, keepdims=True) + v[..., None]) + 1.0
    return h[..., 0] * np.sum(u, axis=-1, keepdims=True) + h[..., 1] * v[..., None] + 1.0


def _sinr(u: Float, v: Float, g: Float, h: Float) -> Float:
    """``SINR_k = g_k u_k / (h_k T + 1)``, ``T = sum u + v``; (n, K) (split form: :func:`_den`)."""
    return g * u / _den(u, v, h)


def _rate_nats(u: Float, v: Float, g: Float, h: Float) -> Float:
    """Sum over users of ``ln(1 + SINR_k)`` (nats), shape (n,)."""
    return np.sum(np.log1p(_sinr(u, v, g, h)), axis=-1)


def surrogate_rate(
    u: ArrayLike, v: ArrayLike, u0: ArrayLike, v0: ArrayLike, g: ArrayLike, h: ArrayLike
) -> Float:
    """Per-user concave bound (20)-(22) of ``ln(1 + SINR_k)`` (nats), expanded at (u0, v0).

    With ``x = Nt^2 xi_k^2 gamma_k / sigma_u^2 = g_k u_k`` and
    ``y = (Nt beta_k S + sigma_u^2) / sigma_u^2 = h_k T + 1`` (normalised by the
    noise, which leaves ``x / y`` unchanged):
    ``A_k - B_k / x - C_k y`` with ``A_k = ln(1 + x0/y0) + 2 x0 / (x0 + y0)``,
    ``B_k = x0^2 / (x0 + y0)`` and ``C_k = x0 / ((x0 + y0) y0)`` -- the paper's (21)-(22)
    with the numerator of (22) read as ``Nt^2 xi_k^2 gamma_k^(i)`` (``docs/model.md`` §4).
    Equals the rate at (u0, v0) and lies below it elsewhere. Shape (..., K);
    ``-inf`` where ``u_k = 0 < u0_k`` and 0 for users with ``u0_k = 0``.
    """
    u, v, u0, v0, g, h = (np.asarray(a, dtype=float) for a in (u, v, u0, v0, g, h))
    x0 = g * u0
    y0 = _den(u0, v0, h)
    x = g * u
    y = _den(u, v, h)
    a_k = np.log1p(x0 / y0) + 2.0 * x0 / (x0 + y0)
    b_k = x0**2 / (x0 + y0)
    c_k = x0 / ((x0 + y0) * y0)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(b_k > 0, b_k / np.where(x > 0, x, 0.0), 0.0)
    return a_k - inv - c_k * y


# ----------------------------------------------------------------------------- iteration state
@dataclass
class SCAState:
    """Iterate of a set of drops (fractions of the budget), all arrays over n drops.

    u : (n, K) user power fractions ``xi_k gamma_k / p``; v : (n,) ``sum eta / p``;
    active : (n, K) users in the active set; rate : (n,) sum of ``ln(1 + SINR)`` (nats).
    """

    u: Float
    v: Float
    active: NDArray[np.bool_]
    rate: Float


def _balanced_model(
    model: CrbModel, u: Float, v: Float
) -> tuple[Float, Float, NDArray[np.complex128], Float, Float]:
    """The CRB constraint of the iterates ``(u, v)`` (n drops) rescaled to O(1), for (24)-(25).

    With ``T1'' = alpha T1'``, ``T2'' = beta T2'``, ``T3'' = sqrt(alpha beta) T3'``
    (``alpha, beta > 0``), ``T1' T2' - |T3'|^2 >= T1'``  <=>
    ``T1'' T2'' - |T3''|^2 >= beta T1''``, and (24)-(25) written in the balanced terms,
    with ``phi'' = sqrt(alpha beta) phi``, describe the same set of ``(u, v)``: the
    SCA step is unchanged. We take ``alpha = 1 / T1'``, ``beta = 1 / T2'`` at the
    iterate, so ``T1'' = T2'' = phi^(i) = 1`` there and ``beta`` is ``CRB / CRB0``
    (``T3 = 0``). Without it, at a high SNR_sen or many antennas ``T2' / T1'``
    reaches 1e8 .. 1e14, the iterate lies within ``T1' / T2'`` (relative) of the
    boundary of the cone (25) and ``phi^(i)^2`` cancels in (24): every solver failed
    (``docs/theory.md`` §3.3).

    Returns ``t1, t2, t3`` (n, 2) coefficients of (C, V), ``beta`` (n,) and
    ``phi^(i) = sqrt(T1'' T2'')`` (n,) at the iterate: (23b) tight, (24) tangent
    to (23a) there.
    """
    c = np.sum(u, axis=-1)
    t1, t2, _ = model.terms(c, v)
    ok = (t1 > 0) & (t2 > 0) & np.isfinite(t1) & np.isfinite(t2)
    alpha = np.where(ok, 1.0 / np.where(ok, t1, 1.0), 1.0)
    beta = np.where(ok, 1.0 / np.where(ok, t2, 1.0), 1.0)
    b1 = alpha[:, None] * model.t1[None, :]
    b2 = beta[:, None] * model.t2[None, :]
    b3 = np.sqrt(alpha * beta)[:, None] * model.t3[None, :]
    t1b = b1[:, 0] * c + b1[:, 1] * v
    t2b = b2[:, 0] * c + b2[:, 1] * v
    return b1, b2, b3, beta, np.sqrt(np.maximum(t1b * t2b, 0.0))


def _repair(
    model: CrbConstraint, anchor: tuple[float, float], u: Float, v: Float, on: NDArray[np.bool_]
) -> tuple[Float, Float]:
    """Make a solver output exactly feasible (it may miss (19c) or CRB0 by the solver tolerance).

    Negative parts are clipped; ``(u, v)`` is scaled down so that ``sum u + v <= 1``;
    a remaining CRB violation is removed by moving towards the anchor (the
    starting split, strictly inside the CRB constraint, with the power of the
    active users equal): the largest step keeping the point is found by bisection (the
    feasible set is convex). Feasible outputs are returned unchanged.
    """
    u = np.maximum(u, 0.0)
    v = np.maximum(v, 0.0)
    total = np.sum(u, axis=-1) + v
    scale = np.where(total > 1.0, 1.0 / np.where(total > 0, total, 1.0), 1.0)
    u, v = u * scale[:, None], v * scale
    bad = model.crb_ratio(np.sum(u, axis=-1), v) > 1.0
    if not np.any(bad):
        return u, v
    c_a, v_a = anchor
    ub, vb = u[bad], v[bad]
    on_b = on[bad]
    ua = np.where(on_b, c_a / np.maximum(on_b.sum(axis=1, keepdims=True), 1), 0.0)
    lo = np.zeros(len(vb))  # weight of the anchor: 1 is feasible
    hi = np.ones(len(vb))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        um = (1 - mid)[:, None] * ub + mid[:, None] * ua
        vm = (1 - mid) * vb + mid * v_a
        ok = model.crb_ratio(np.sum(um, axis=-1), vm) <= 1.0
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    u, v = u.copy(), v.copy()
    u[bad] = (1 - hi)[:, None] * ub + hi[:, None] * ua
    v[bad] = (1 - hi) * vb + hi * v_a
    return u, v


def _full_power(u: Float, v: Float) -> tuple[Float, Float]:
    """Scale ``(u, v)`` up to the full budget, ``sum u + v = 1``.

    Raises every SINR (15) (the noise does not scale) and lowers the CRB (16)/(36)
    (``CRB(t u, t v) = CRB(u, v) / t``), so it keeps feasibility, never lowers
    the sum rate, and maps every KKT point of (19) (all at full power) to itself.
    """
    total = np.sum(u, axis=-1) + v
    scale = np.where(total > 0, 1.0 / np.where(total > 0, total, 1.0), 1.0)
    return u * scale[:, None], v * scale


def start_point(model: CrbConstraint) -> tuple[float, float] | None:
    """Feasible starting split ``(C, V)`` on the full-power segment ``C + V = 1``.

    The midpoint of the feasible interval of ``V`` (an interval: the CRB
    constraint is convex), found on a grid of 4001 points, ends included;
    ``None`` when no point of the segment meets CRB0 (then (19) is infeasible:
    the CRB decreases when the power is scaled up, so if any allocation met
    CRB0 its scaled-up version on the segment would).
    """
    grid = np.linspace(0.0, 1.0, 4001)
    ok = model.crb_ratio(1.0 - grid, grid) <= 1.0
    if not np.any(ok):
        return None
    v0 = 0.5 * (grid[ok].min() + grid[ok].max())
    return 1.0 - v0, v0


# ----------------------------------------------------------------------------- public entry
@dataclass(frozen=True)
class SCAOptions:
    """The options of :func:`sca` (validated there); see its parameters."""

    tol: float
    max_iterations: int
    solvers: tuple[str, ...]
    batch_size: int
    active_set: bool
    accelerate: bool
    off_threshold: float
    stopping: str
    polish: bool
    direct: bool = True
    """Solve (26) with Clarabel directly first (False: through cvxpy only, for comparisons)."""


def sca(
    beta: ArrayLike,
    xi: ArrayLike,
    params: SystemParams,
    *,
    tol: float = SCA_TOLERANCE,
    max_iterations: int = SCA_MAX_ITERATIONS,
    solvers: Sequence[str] = DEFAULT_SOLVERS,
    batch_size: int = SCA_BATCH_SIZE,
    active_set: bool = SCA_ACTIVE_SET,
    accelerate: bool = SCA_ACCELERATE,
    off_threshold: float = 1e-5,
    arrays: Sequence[ArrayLike] | None = None,
    stopping: str = SCA_STOPPING,
    polish: bool = SCA_POLISH,
) -> Allocation:
    """Algorithm 1 of the paper for a batch of drops (``docs/theory.md`` §3).

    Needs the total-power or the split-power rate form of the precoder
    (:meth:`jcas.parts.precoders.Precoder.total_power_sinr`); the CRB constraint is that of
    ``params.crb_form``: the azimuth form (36) (``T3 != 0`` included) or a two-angle form
    of a planar array (:class:`PlanarCrbModel`), on the same runner. Defaults of ``tol``,
    ``max_iterations`` and ``batch_size`` are those of :mod:`jcas.parts.registry` (the
    pipeline's).

    Parameters
    ----------
    beta, xi : (D, K) large-scale fading and estimate variance (7).
    params : system parameters.
    tol : stop when the relative sum-rate change of one iteration is below tol.
    max_iterations : cap on convex subproblems per drop (status ``max_iterations``).
    solvers : conic solvers, tried in order when one fails; ``CLARABEL`` runs directly
        (:mod:`jcas.allocation.sca._clarabel`, no cvxpy) and then through cvxpy, the others
        through cvxpy (imported only then).
    batch_size : drops solved together in one block-separable program.
    active_set : switch off users whose power vanishes, and back on per KKT.
    accelerate : extrapolate the user split along the SCA step (kept only if it helps).
    off_threshold : power fraction under which a user counts as vanishing.
    arrays : optional ``(a_t, a_r, a_t_dot, a_r_dot)`` replacing the array part (azimuth
        form only).
    polish : at a stopping point, water-fill the users' split at fixed
        ``(sum u, v)`` and keep iterating if that gained more than ``tol``.
    stopping : ``"aitken"`` (default) or the paper's ``"change"``.

    Returns
    -------
    :class:`Allocation`; the precoder's variables for the power factors
    ``x_k = u_k p`` and ``s = v p`` (MRT: ``gamma_k = u_k p / xi_k``, ``eta_k = v p / K``;
    the rate and CRB depend on eta only through its sum).
    """
    if stopping not in SCA_STOPPING_RULES:
        raise ValueError(f"stopping = {stopping!r}: must be 'aitken' or 'change'")
    options = SCAOptions(
        tol=float(tol),
        max_iterations=int(max_iterations),
        solvers=_usable(solvers),
        batch_size=int(batch_size),
        active_set=bool(active_set),
        accelerate=bool(accelerate),
        off_threshold=float(off_threshold),
        stopping=stopping,
        polish=bool(polish),
    )
    if not options.solvers:
        raise ValueError("none of the requested solvers is installed")
    return _solve(beta, xi, params, options, arrays=arrays, programs=PROGRAMS, trace=None)


def _traced(
    beta: ArrayLike, xi: ArrayLike, params: SystemParams, **options: Any
) -> tuple[Allocation, list[dict[str, Float]]]:
    """:func:`sca` with its iterations recorded (for tests and diagnostics).

    Returns the allocation and one dict per iteration: the sum rate (bit/s/Hz) of every
    drop (``sum_rate``, NaN for drops not iterated) and its number of active users
    (``n_active``, -1).
    """
    defaults = {
        "tol": SCA_TOLERANCE,
        "max_iterations": SCA_MAX_ITERATIONS,
        "solvers": DEFAULT_SOLVERS,
        "batch_size": SCA_BATCH_SIZE,
        "active_set": True,
        "accelerate": True,
        "off_threshold": 1e-5,
        "stopping": "aitken",
        "polish": True,
    }
    arrays = options.pop("arrays", None)
    unknown = set(options) - set(defaults)
    if unknown:
        raise TypeError(f"unknown sca options {sorted(unknown)}")
    merged = {**defaults, **options}
    merged["solvers"] = _usable(merged["solvers"])
    trace: list[dict[str, Float]] = []
    alloc = _solve(
        beta, xi, params, SCAOptions(**merged), arrays=arrays, programs=PROGRAMS, trace=trace
    )
    return alloc, trace


def _solve(
    beta: ArrayLike,
    xi: ArrayLike,
    params: SystemParams,
    options: SCAOptions,
    *,
    arrays: Sequence[ArrayLike] | None,
    programs: ProgramCache[ConicProgram],
    trace: list[dict[str, Float]] | None,
) -> Allocation:
    """The algorithm behind :func:`sca`, with the program cache and an optional trace."""
    beta = np.asarray(beta, dtype=float)
    xi = np.asarray(xi, dtype=float)
    if beta.ndim != 2 or xi.shape != beta.shape or beta.shape[1] != params.K:
        raise ValueError(f"beta {beta.shape}, xi {xi.shape}: must be (D, K = {params.K})")
    n_drops, n_users = beta.shape
    precoder = design(params).precoder
    p = params.pt_w / params.Nt
    if precoder.unsupported(TOTAL_POWER_RATE, params) is None:
        num, den = precoder.total_power_sinr(beta, xi, params)
        g = num * p / params.sigma_u2_w
        h = den * p / params.sigma_u2_w
    else:  # split-power form (ZF): h[..., 0] per unit of sum u, h[..., 1] per unit of v
        num, den_c, den_s = split_power_sinr(precoder, beta, xi, params)
        g = num * p / params.sigma_u2_w
        h = np.stack([den_c, den_s], axis=-1) * p / params.sigma_u2_w
    model = crb_model(params, arrays)

    gamma = np.full((n_drops, n_users), np.nan)
    eta = np.full((n_drops, n_users), np.nan)
    status = np.full(n_drops, "infeasible", dtype=object)
    iterations = np.zeros(n_drops, np.int64)
    solve_time = np.zeros(n_drops)
    start = start_point(model)
    if start is None or n_drops == 0:
        return Allocation(gamma, eta, status.astype(str), iterations, solve_time)

    c0, v0 = start
    on = g > 0
    n_on = np.maximum(on.sum(axis=1, keepdims=True), 1)
    u = np.where(on, c0 / n_on, 0.0)
    v = np.full(n_drops, v0)
    rate = _rate_nats(u, v, g, h)
    state = SCAState(u, v, on, rate)
    options = replace(options, batch_size=min(options.batch_size, n_drops))
    runner = _Runner(params, model, g, h, state, options, start, trace, programs)
    runner.run()
    status[:] = runner.status
    ok = np.isin(runner.status, ("converged", "max_iterations"))
    gamma_ok, eta_ok = precoder.from_power_factors(state.u * p, state.v * p, xi)
    gamma[ok] = gamma_ok[ok]
    eta[ok] = eta_ok[ok]
    return Allocation(gamma, eta, status.astype(str), runner.iterations, runner.solve_time)


class _Runner:
    """Slot scheduler: keeps up to ``batch_size`` unconverged drops in one compiled program."""

    def __init__(
        self,
        params: SystemParams,
        model: CrbConstraint,
        g: Float,
        h: Float,
        state: SCAState,
        options: SCAOptions,
        anchor: tuple[float, float],
        trace: list[dict[str, Float]] | None,
        programs: ProgramCache[ConicProgram],
    ) -> None:
        self.params, self.model, self.g, self.h, self.state = params, model, g, h, state
        self.opt, self.anchor, self.trace = options, anchor, trace
        self.programs = programs
        self.attempts = _attempts(options.solvers, options.direct)
        n = g.shape[0]
        self.status = np.full(n, "pending", dtype=object)
        self.iterations = np.zeros(n, np.int64)
        self.solve_time = np.zeros(n)
        self.reactivations = np.zeros(n, np.int64)
        self.change = np.full(n, np.inf)
        self.small = np.zeros(n, bool)

    # -- one SCA step for drops idx (in slots 0..len(idx)-1 of the program) --------------
    def _solve_step(
        self, idx: NDArray[np.int64], attempts: Sequence[tuple[str, str]], n_slots: int
    ) -> tuple[Float, Float, NDArray[np.bool_]]:
        st, g, h = self.state, self.g[idx], self.h[idx]
        u0, v0, on = st.u[idx], st.v[idx], st.active[idx]
        n = len(idx)
        x0 = g * u0
        y0 = _den(u0, v0, h)
        scale = np.maximum(st.rate[idx], 1e-300)[:, None]
        split = h.ndim == 3  # split-power form: y_k = h_k0 sum u + h_k1 v + 1
        with np.errstate(divide="ignore", invalid="ignore"):
            bw = np.where(on, x0 / (x0 + y0), 0.0) / scale
            ck = np.where(on, x0 * (h[..., 0] if split else h) / ((x0 + y0) * y0), 0.0) / scale
            cs = np.where(on, x0 * h[..., 1] / ((x0 + y0) * y0), 0.0) / scale if split else ck
        ctot = ck.sum(axis=1)
        ctot_s = cs.sum(axis=1)
        u0_eff = np.where(on, u0, 0.0)
        # trust region on the multiplicative step (inactive at a fixed point, w = 1)
        with np.errstate(over="ignore"):  # 1 / u0 of a subnormal u0 is inf, capped at _W_MAX
            inv_u0 = 1.0 / np.where(u0 > 0, u0, 1.0)
        wmax = np.where(on & (u0 > 0), np.minimum(inv_u0, _W_MAX), 1.0)
        crb = self.model.step(u0, v0)
        pad = n_slots - n

        def padded(a: NDArray[Any]) -> NDArray[Any]:
            if pad == 0:
                return a
            return np.concatenate([a, np.repeat(a[:1], pad, axis=0)])

        data = StepData(
            u0=padded(u0_eff),
            bw=padded(bw),
            cu=padded(ctot[:, None] * u0_eff),
            cv=padded(ctot_s),
            wmax=padded(wmax),
            **{name: padded(value) for name, value in crb.items()},
        )
        for attempt in attempts:
            sol = self._solve_with(attempt, data, g.shape[1], n_slots, self.model.program)
            if sol is not None:
                w, v = sol.w[:n], sol.v[:n]
                good = np.all(np.isfinite(w), axis=1) & np.isfinite(v) & np.all(w > 0, axis=1)
                # the current point is feasible for (26): a correct solve cannot score below it
                surr_new = -np.sum(bw / np.where(good[:, None], w, 1.0), axis=1) - ctot * (
                    np.sum(u0_eff * w, axis=1) + v
                )
                surr_old = -np.sum(bw, axis=1) - ctot * (np.sum(u0_eff, axis=1) + v0)
                good &= surr_new >= surr_old - 1e-7 * (1.0 + np.abs(surr_old))
                return np.where(on, u0 * w, 0.0), v, good
        return u0, v0, np.zeros(n, bool)

    def _solve_with(
        self, attempt: tuple[str, str], data: StepData, n_users: int, n_slots: int, crb: bool | str
    ) -> StepSolution | None:
        """One solve of (26): Clarabel directly, or the cvxpy program with a named solver."""
        backend, solver = attempt
        if backend == "clarabel":
            return self.programs.get(n_users, n_slots, crb).solve(data)
        from jcas.allocation.sca import _program  # cvxpy: only when the direct path failed

        if solver not in _program.installed_solvers():
            return None
        return _program.PROGRAMS.get(n_users, n_slots, crb).solve_step(data, solver)

    def _step(self, idx: NDArray[np.int64], n_slots: int) -> None:
        st = self.state
        u_new, v_new, good = self._solve_step(idx, self.attempts[:1], n_slots)
        bad = np.flatnonzero(~good)
        for j in bad:  # per-drop retry with each solver in turn
            for attempt in self.attempts:
                uj, vj, gj = self._solve_step(idx[j : j + 1], [attempt], 1)
                if gj[0]:
                    u_new[j], v_new[j], good[j] = uj[0], vj[0], True
                    break
        failed = idx[~good]
        self.status[failed] = "solver_error"
        idx, u_new, v_new = idx[good], u_new[good], v_new[good]
        if len(idx) == 0:
            return
        u_old, v_old, r_old = st.u[idx], st.v[idx], st.rate[idx]
        g, h = self.g[idx], self.h[idx]
        u_new, v_new = _repair(self.model, self.anchor, u_new, v_new, st.active[idx])
        u_new, v_new = _full_power(u_new, v_new)
        r_new = _rate_nats(u_new, v_new, g, h)
        worse = r_new < r_old  # only possible through solver round-off: keep the iterate
        u_new[worse], v_new[worse], r_new[worse] = u_old[worse], v_old[worse], r_old[worse]
        if self.opt.accelerate:
            u_new, r_new = _extrapolate(u_old, u_new, v_new, r_new, g, h, st.active[idx])
        active = st.active[idx].copy()
        if self.opt.active_set:
            u_new, r_new, active = _switch_off(
                u_old, u_new, v_new, r_new, g, h, active, self.opt.off_threshold
            )
        change = (r_new - r_old) / np.maximum(r_new, 1e-300)
        st.u[idx], st.v[idx], st.rate[idx], st.active[idx] = u_new, v_new, r_new, active
        self.iterations[idx] += 1
        if self.opt.stopping == "change":
            done = change < self.opt.tol
        else:  # geometric (Aitken) estimate of the change still to come, rho capped at 0.99
            prev = self.change[idx]
            with np.errstate(divide="ignore", invalid="ignore"):
                rho = np.where(prev > 0, change / prev, _RHO_MAX)
            rho = np.clip(np.nan_to_num(rho, nan=_RHO_MAX), 0.0, _RHO_MAX)
            small = change < self.opt.tol * (1.0 - rho)
            done = small & self.small[idx]  # two consecutive iterations: see docs/theory.md
            self.small[idx] = small
        self.change[idx] = change
        # polish at a stopping point: exact water-filling of sum u at fixed (sum u, v);
        # a drop it still raises by more than tol keeps iterating (docs/theory.md §3.12)
        ending = done | (self.iterations[idx] >= self.opt.max_iterations)
        if self.opt.polish and np.any(ending):
            rows = idx[ending]
            u_p, r_p, gained = _polish(st.u[rows], st.v[rows], self.g[rows], self.h[rows])
            better = r_p > st.rate[rows]
            rb = rows[better]
            st.u[rb], st.rate[rb] = u_p[better], r_p[better]
            if self.opt.active_set:  # the users with power (water-filling may switch on)
                st.active[rb] = (u_p[better] > 0) | (st.active[rb] & (self.g[rb] <= 0))
            again = rows[better & (gained > self.opt.tol)]
            done[np.isin(idx, again)] = False
            self.small[again] = False
            self.change[again] = np.inf
        if self.opt.active_set and np.any(done):
            back = _switch_on(st, idx[done], self.g, self.h, self.reactivations)
            done[np.isin(idx, back)] = False
            self.small[back] = False
            self.change[back] = np.inf
        self.status[idx[done]] = "converged"
        capped = (self.iterations[idx] >= self.opt.max_iterations) & ~done
        self.status[idx[capped]] = "max_iterations"

    def run(self) -> None:
        n = self.g.shape[0]
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
                record = np.full(n, np.nan)
                record[idx] = self.state.rate[idx]
                active = np.full(n, -1)
                active[idx] = self.state.active[idx].sum(axis=1)
                self.trace.append(
                    {"sum_rate": record * self.params.tau_bar / np.log(2.0), "n_active": active}
                )
            slots = [i for i in slots if self.status[i] == "pending"]


def _usable(solvers: Sequence[str]) -> tuple[str, ...]:
    """The requested solvers that can run, in order.

    With ``CLARABEL`` requested (the default) nothing is checked here, so that cvxpy is not
    imported: Clarabel is a dependency and runs directly, and a cvxpy solver that is not
    installed is skipped when a fallback reaches it. Without it, cvxpy's list decides.
    """
    names = tuple(str(s) for s in solvers)
    if "CLARABEL" in names:
        return names
    from jcas.allocation.sca._program import installed_solvers

    return tuple(s for s in names if s in installed_solvers())


def _attempts(solvers: Sequence[str], direct: bool = True) -> tuple[tuple[str, str], ...]:
    """The solve attempts of a step, in order: ``CLARABEL`` is tried directly
    (:mod:`jcas.allocation.sca._clarabel`, unless ``direct`` is False) and then through cvxpy;
    every other solver through cvxpy (:mod:`jcas.allocation.sca._program`). The batch uses the
    first; a failed drop all."""
    out: list[tuple[str, str]] = []
    for solver in solvers:
        if solver == "CLARABEL" and direct:
            out.append(("clarabel", solver))
        out.append(("cvxpy", solver))
    return tuple(out)


def _polish(u: Float, v: Float, g: Float, h: Float) -> tuple[Float, Float, Float]:
    """Exact maximiser of the sum rate over the users' split at fixed ``sum u`` and ``v``.

    At fixed ``T = sum u + v`` the rate (15) is ``sum_k ln(1 + a_k u_k)`` with
    ``a_k = g_k / (h_k T + 1)``: separable and concave, maximised by water-filling
    (:func:`water_fill`). Power (19c) and CRB (19b) depend on ``(sum u, v)`` only, so
    they are unchanged. Every KKT point of (19) already has this split (the KKT
    conditions in ``u`` at fixed ``(sum u, v)`` are the water-filling ones and the
    concave problem has one maximiser), so the step does not move a fixed point.

    Returns the split (n, K), its sum rate (n,) in nats, and the relative gain (n,).
    """
    total = np.sum(u, axis=1)
    y = h * (total + v)[:, None] + 1.0 if h.ndim == u.ndim else _den(u, v, h)
    x = water_fill(np.where(g > 0, g / y, 0.0), total)
    s = np.sum(x, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where((s > 0)[:, None], x * (total / np.where(s > 0, s, 1.0))[:, None], u)
    r_old = _rate_nats(u, v, g, h)
    r_new = _rate_nats(x, v, g, h)
    with np.errstate(divide="ignore", invalid="ignore"):
        gained = np.where(r_new > 0, (r_new - r_old) / r_new, 0.0)
    return x, r_new, gained


def _small(n: int) -> int:
    """Program size for a nearly empty batch: the next power of two (fewer compiled sizes)."""
    return 1 << max(int(np.ceil(np.log2(max(n, 1)))), 0)


def _extrapolate(
    u_old: Float,
    u_new: Float,
    v_new: Float,
    r_new: Float,
    g: Float,
    h: Float,
    on: NDArray[np.bool_],
) -> tuple[Float, Float]:
    """Extrapolate the split of ``sum u`` among active users along the SCA step.

    Two directions, each with ``kappa = 1, 2, 4, ...`` while the sum rate keeps
    rising: every user ``u_k <- u_k (u_k / u_k^old)^kappa``, and only the
    shrinking users (``u_k < u_k^old``); both renormalised to the same ``sum u``
    (so the power and the CRB are unchanged). The best point is kept, never
    below ``r_new``.
    """
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
            r = _rate_nats(trial, v_new, g, h)
            better = improving & valid & (r > best_r)
            best_u[better], best_r[better] = trial[better], r[better]
            improving &= better
            if not np.any(improving):
                break
            kappa *= 2.0
    return best_u, best_r


def _switch_off(
    u_old: Float,
    u: Float,
    v: Float,
    r: Float,
    g: Float,
    h: Float,
    on: NDArray[np.bool_],
    threshold: float,
) -> tuple[Float, Float, NDArray[np.bool_]]:
    """Active-set step: switch off users with ``u_k < threshold`` (fraction of the budget)
    whose power decreased in the last step.

    Their power goes to the active user with the largest marginal rate at fixed
    ``T`` (so power and CRB are unchanged); kept only if the sum rate does not
    decrease (then the user leaves the active set).
    """
    vanishing = on & (u < threshold) & ((u < u_old) | (u < _TINY * threshold))
    rows = np.flatnonzero(np.any(vanishing, axis=1))
    if len(rows) == 0:
        return u, r, on
    u, r, on = u.copy(), r.copy(), on.copy()
    uu, gg, hh, vv = u[rows], g[rows], h[rows], v[rows]
    off = vanishing[rows]
    sinr = _sinr(uu, vv, gg, hh)
    y = _den(uu, vv, hh)
    marginal = np.where(on[rows] & ~off, gg / y / (1.0 + sinr), -np.inf)
    best = np.argmax(marginal, axis=1)
    has_target = np.isfinite(marginal[np.arange(len(rows)), best])
    trial = np.where(off, 0.0, uu)
    trial[np.arange(len(rows)), best] += np.sum(np.where(off, uu, 0.0), axis=1)
    r_trial = _rate_nats(trial, vv, gg, hh)
    accept = has_target & (r_trial >= r[rows] * (1.0 - _ROUNDING))
    rr = rows[accept]
    u[rr], r[rr] = trial[accept], r_trial[accept]
    on[rr] = on[rr] & ~off[accept]
    return u, r, on


def _switch_on(
    st: SCAState, idx: NDArray[np.int64], g: Float, h: Float, count: NDArray[np.int64]
) -> NDArray[np.int64]:
    """KKT check at a converged point: re-activate switched-off users that should get power.

    At fixed ``T`` the Lagrangian of (19) is separable; an inactive user whose
    marginal rate at zero power, ``g_k / y_k``, exceeds the smallest marginal of
    the active users (to a relative 1e-9) violates the KKT conditions. It gets
    a small share of that user's power (halved until the sum rate rises) and
    the drop keeps iterating. Returns the re-activated drops.
    """
    u, v, on = st.u[idx], st.v[idx], st.active[idx]
    gg, hh = g[idx], h[idx]
    feasible_user = gg > 0
    sinr = _sinr(u, v, gg, hh)
    y = _den(u, v, hh)
    m_on = np.where(on & (u > 0), gg / y / (1.0 + sinr), np.inf)
    m_off = np.where(~on & feasible_user, gg / y, -np.inf)
    lowest = np.argmin(m_on, axis=1)
    best_off = np.argmax(m_off, axis=1)
    rows = np.arange(len(idx))
    want = (
        (m_off[rows, best_off] > m_on[rows, lowest] * (1.0 + 1e-9))
        & np.isfinite(m_on[rows, lowest])
        & (count[idx] < 10)
    )
    back = []
    for j in np.flatnonzero(want):
        donor, taker = lowest[j], best_off[j]
        delta = 1e-3 * u[j, donor]
        for _ in range(30):
            trial = u[j].copy()
            trial[donor] -= delta
            trial[taker] += delta
            r = _rate_nats(trial[None], v[j : j + 1], gg[j : j + 1], hh[j : j + 1])[0]
            if r > st.rate[idx[j]]:
                st.u[idx[j]] = trial
                st.rate[idx[j]] = r
                st.active[idx[j], taker] = True
                count[idx[j]] += 1
                back.append(idx[j])
                break
            delta *= 0.5
    return np.asarray(back, dtype=np.int64)
