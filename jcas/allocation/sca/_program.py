"""The convex program (26) of one SCA step in cvxpy, compiled once per shape and cached.

:class:`Program` is problem (26) for a block of drop slots (block-separable, DPP
parameters), with the CRB constraint of the azimuth form (24)-(25) or of a two-angle form
(``per_angle``, ``sum``; :class:`jcas.allocation.sca._clarabel.ConicProgram`);
:class:`ProgramCache` keeps one compiled program per ``(K, number of slots, CRB
constraint)`` so that iterations, drops and calls reuse it.
The SCA (:mod:`jcas.allocation.sca`) solves (26) through Clarabel directly
(:mod:`jcas.allocation.sca._clarabel`, no cvxpy); this formulation is the independent
reference of that one (``tests/allocation/test_sca_program.py``) and the fallback when Clarabel
fails (then ECOS and SCS). Importing this module imports cvxpy.
Derivation: ``docs/theory.md`` §3.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import cvxpy as cp
import numpy as np
from numpy.typing import NDArray

from jcas.allocation.sca._clarabel import (
    CLARABEL_SETTINGS,
    CRB_FORMS,
    DEFAULT_SOLVERS,
    PLANAR_MARGIN,
    ProgramCache,
    StepData,
    StepSolution,
)

__all__ = ["DEFAULT_SOLVERS", "PROGRAMS", "Program", "ProgramCache", "installed_solvers"]

Float = NDArray[np.float64]

_ACCEPTED = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)


class Program:
    """Problem (26) for ``n_slots`` drops at once (block-separable), compiled once (DPP).

    Variables per slot: ``w`` (K) with ``u_k = u0_k w_k``, ``v``, ``c = sum u``, ``phi``.
    Parameters per slot (refreshed each iteration): ``u0`` (K), ``bw`` (K) = ``B_k / x0_k``
    over the objective scale, ``cu`` (K) and ``cv``: the interference term
    ``sum_k C_k h_k T`` over the scale, split over ``w`` and ``v``; the coefficients
    of the CRB terms balanced at the iterate (:func:`_balanced_model`), ``beta`` times
    those of ``T1''``; ``phi0`` and ``phi0^2``; ``wmax`` (K). The two-angle forms
    (``crb = "per_angle"`` or ``"sum"``) take the normalised Fisher coefficients of each
    angle instead (:meth:`set_fisher`) and constrain them exactly, as the Clarabel program.
    """

    def __init__(self, n_users: int, n_slots: int, crb: bool | str) -> None:
        if isinstance(crb, str) and crb not in CRB_FORMS:
            raise ValueError(f"crb = {crb!r}: must be a bool (azimuth, T3) or one of {CRB_FORMS}")
        k, n = n_users, n_slots
        self.n_users, self.n_slots = k, n
        self.form = crb if isinstance(crb, str) else "azimuth"
        self.with_t3 = crb is True
        self.w = cp.Variable((n, k), pos=True)
        self.v = cp.Variable(n, nonneg=True)
        self.c = cp.Variable(n)
        self.phi = cp.Variable(n, nonneg=True)
        self.u0 = cp.Parameter((n, k), nonneg=True)
        self.bw = cp.Parameter((n, k), nonneg=True)
        self.cu = cp.Parameter((n, k), nonneg=True)
        self.cv = cp.Parameter(n, nonneg=True)
        self.wmax = cp.Parameter((n, k), pos=True)
        self.t1 = [cp.Parameter(n) for _ in range(2)]
        self.t1b = [cp.Parameter(n) for _ in range(2)]
        self.t2 = [cp.Parameter(n) for _ in range(2)]
        self.t3re = [cp.Parameter(n) for _ in range(2)]
        self.t3im = [cp.Parameter(n) for _ in range(2)]
        self.phi0 = cp.Parameter(n, nonneg=True)
        self.phi0sq = cp.Parameter(n, nonneg=True)
        # two-angle forms: J_i = jc_i c + jv_i v (+ 1 for an angle left free, sum form)
        self.jc = [cp.Parameter(n, nonneg=True) for _ in range(2)]
        self.jv = [cp.Parameter(n, nonneg=True) for _ in range(2)]
        self.rhs = [cp.Parameter(n) for _ in range(2)]
        self.free = [cp.Parameter(n, nonneg=True) for _ in range(2)]
        self.used = [cp.Parameter(n, nonneg=True) for _ in range(2)]

        def lin(coef: list[cp.Parameter]) -> cp.Expression:
            return cp.multiply(coef[0], self.c) + cp.multiply(coef[1], self.v)

        objective = -cp.sum(cp.multiply(self.bw, cp.inv_pos(self.w)))
        objective -= cp.sum(cp.multiply(self.cu, self.w)) + self.cv @ self.v
        constraints = [
            self.c == cp.sum(cp.multiply(self.u0, self.w), axis=1),
            self.c + self.v <= 1.0,  # (19c)
            self.w <= self.wmax,
        ]
        if self.form == "azimuth":
            t1, t2, t1b = lin(self.t1), lin(self.t2), lin(self.t1b)
            # |T3'|^2 of (24); identically zero for the centred ULA (38), then left out
            t3sq = cp.square(lin(self.t3re)) + cp.square(lin(self.t3im)) if crb else 0.0
            constraints += [
                # (24): beta T1'' + |T3''|^2 <= 2 phi0 phi - phi0^2  (balanced, _balanced_model)
                t1b + t3sq + self.phi0sq <= 2.0 * cp.multiply(self.phi0, self.phi),
                # (25): ||(phi, (T1' - T2') / 2)|| <= (T1' + T2') / 2
                cp.SOC(0.5 * (t1 + t2), cp.vstack([self.phi, 0.5 * (t1 - t2)]), axis=0),
            ]
        elif self.form == "per_angle":  # J_i >= 1 + m (an angle left free: J_i >= -1)
            constraints += [lin([self.jc[i], self.jv[i]]) >= self.rhs[i] for i in (0, 1)]
        else:  # sum_i z_i <= 1 - m over the constrained angles, z_i >= 1 / J_i
            z = cp.Variable((n, 2), nonneg=True)
            for i in (0, 1):
                j = lin([self.jc[i], self.jv[i]]) + self.free[i]
                constraints.append(z[:, i] >= cp.inv_pos(j))
            used = cp.multiply(self.used[0], z[:, 0]) + cp.multiply(self.used[1], z[:, 1])
            constraints.append(used <= 1.0 - PLANAR_MARGIN)
        self.problem = cp.Problem(cp.Maximize(objective), constraints)
        if not self.problem.is_dpp():  # pragma: no cover - guarded by construction
            raise RuntimeError("SCA program is not DPP")

    def set_model(self, t1: Float, t2: Float, t3: NDArray[np.complex128], beta: Float) -> None:
        """Per-slot CRB coefficients: ``t1, t2, t3`` (n_slots, 2) of (C, V) in the balanced
        ``T1'', T2'', T3''`` and ``beta`` (n_slots,) of ``T1'' T2'' - |T3''|^2 >= beta T1''``."""
        for i in range(2):
            self.t1[i].value = t1[:, i]
            self.t1b[i].value = beta * t1[:, i]
            self.t2[i].value = t2[:, i]
            self.t3re[i].value = t3[:, i].real
            self.t3im[i].value = t3[:, i].imag

    def set_fisher(self, fisher: Float) -> None:
        """Per-slot two-angle coefficients (``StepData.fisher``, (n_slots, 2, 2))."""
        used = np.any(fisher != 0, axis=-1)
        for i in range(2):
            self.jc[i].value = fisher[:, i, 0]
            self.jv[i].value = fisher[:, i, 1]
            self.rhs[i].value = np.where(used[:, i], 1.0 + PLANAR_MARGIN, -1.0)
            self.free[i].value = np.where(used[:, i], 0.0, 1.0)
            self.used[i].value = used[:, i].astype(float)

    def load(self, d: StepData) -> None:
        """Set every parameter from one step's coefficients (shapes of :class:`StepData`)."""
        n = self.n_slots
        if d.fisher is not None:
            self.set_fisher(d.fisher)
        else:
            self.set_fisher(np.ones((n, 2, 2)))
        if d.t1 is not None and d.t2 is not None and d.t3 is not None and d.beta is not None:
            self.set_model(d.t1, d.t2, d.t3, d.beta)
        else:
            zero = np.zeros((n, 2))
            self.set_model(zero, zero, zero.astype(complex), np.zeros(n))
        phi0 = d.phi0 if d.phi0 is not None else np.zeros(n)
        self.u0.value = d.u0
        self.bw.value = d.bw
        self.cu.value = d.cu
        self.cv.value = d.cv
        self.wmax.value = d.wmax
        self.phi0.value = phi0
        self.phi0sq.value = phi0**2

    def solve_step(self, d: StepData, solver: str) -> StepSolution | None:
        """Load ``d`` and solve with ``solver``; None when it fails."""
        self.load(d)
        if not self.solve(solver):
            return None
        return StepSolution(
            w=np.asarray(self.w.value, dtype=float),
            v=np.asarray(self.v.value, dtype=float),
            phi=np.asarray(self.phi.value, dtype=float)
            if self.form == "azimuth"
            else np.zeros(self.n_slots),
            objective=float(self.problem.value),
            solver=f"cvxpy/{solver}",
        )

    def solve(self, solver: str) -> bool:
        """Solve with one solver; True when cvxpy reports an (inaccurate) optimum."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.problem.solve(solver=solver, warm_start=False, **_solver_options(solver))
        except (cp.SolverError, ArithmeticError, ValueError):
            return False
        return self.problem.status in _ACCEPTED and self.w.value is not None


def _solver_options(solver: str) -> dict[str, Any]:
    if solver == "CLARABEL":
        return dict(CLARABEL_SETTINGS)
    if solver == "ECOS":
        return {"abstol": 1e-10, "reltol": 1e-10, "feastol": 1e-10, "max_iters": 200}
    if solver == "SCS":
        return {"eps_abs": 1e-10, "eps_rel": 1e-10, "max_iters": 200_000}
    return {}


@functools.cache
def installed_solvers() -> frozenset[str]:
    """The conic solvers cvxpy can call here."""
    return frozenset(cp.installed_solvers())


PROGRAMS: ProgramCache[Program] = ProgramCache(Program)
"""The process-wide cache of the compiled cvxpy programs (compiling (26) costs far more
than solving it): the fallback of the SCA when Clarabel's direct solve fails."""
