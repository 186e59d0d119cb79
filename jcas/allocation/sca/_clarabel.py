"""The convex program (26) of one SCA step as sparse conic data for Clarabel, built once per shape.

:class:`ConicProgram` is problem (26) (``docs/theory.md`` §3.5 and §3.8) for a block of
``n`` drop slots with ``K`` users, written directly in Clarabel's standard form

    minimise ``q^T x``  subject to  ``A x + s = b``,  ``s`` in ``K_0 x K_+ x SOC ...``

(``P = 0``). The sparsity pattern, the cones and the permutation from the entries'
construction order to CSC order are computed once per ``(K, n, T3 present)``
(:data:`PROGRAMS`, a :class:`ProgramCache`); each SCA iteration only recomputes the
numeric entries of ``q``, ``A`` and ``b`` from the step's coefficients
(:class:`StepData`) by vectorised index arithmetic, and a fresh
``clarabel.DefaultSolver`` solves it (no solver state is reused, so a result does not
depend on earlier calls). No cvxpy is imported: the cvxpy formulation of the same
program (:class:`jcas.allocation.sca._program.Program`) is the independent reference of the
tests and the fallback when Clarabel fails.

Variables, per slot ``i`` (all slots side by side; the program is block-separable):
``w`` (K) with ``u_k = u0_k w_k``, ``r`` (K) the epigraph of ``1 / w_k``, ``v``,
``c = sum u``, ``phi``. With ``x1 . (c, v) = x1[0] c + x1[1] v`` for a coefficient pair:

==========================================  ===========================================  =======
constraint of (26)                          rows ``s = b - A x``                          cone
==========================================  ===========================================  =======
``c = sum_k u0_k w_k``                      ``s = -c + sum_k u0_k w_k``  (n rows)         zero
(19c) ``c + v <= 1``                        ``s = 1 - c - v``  (n)                        ``>= 0``
trust region ``w_k <= wmax_k``              ``s = wmax_k - w_k``  (nK)                    ``>= 0``
``v >= 0``, ``phi >= 0``                    ``s = v``, ``s = phi``  (n + n)               ``>= 0``
(24) without ``T3``:                        ``s = 2 phi0 phi - t1b . (c, v) - phi0^2``    ``>= 0``
``t1b + phi0^2 <= 2 phi0 phi``              (n)
(25) ``||(phi, (T1-T2)/2)|| <= (T1+T2)/2``  ``((T1+T2)/2, phi, (T1-T2)/2)``  (3 per slot)  SOC(3)
objective ``-bw_k / w_k``:                  ``(r_k + w_k, r_k - w_k, 2)``  (3 per user)    SOC(3)
``r_k >= 1 / w_k`` (``r_k w_k >= 1``)
(24) with ``T3``: with                      ``((L+1)/2, (L-1)/2, Re T3, Im T3)``          SOC(4)
``L = 2 phi0 phi - t1b . (c, v) - phi0^2``,   (4 per slot)
``|T3|^2 <= L``
==========================================  ===========================================  =======

Here ``T1 = t1 . (c, v)``, ``T2 = t2 . (c, v)`` and ``T3 = t3 . (c, v)`` are the balanced
CRB terms and ``t1b = beta t1`` (:func:`jcas.allocation.sca._balanced_model`). The cone
``||(2, r - w)|| <= r + w`` is ``4 r w >= 4`` with ``r, w >= 0``, i.e. the rotated cone of
``inv_pos``; ``|T3|^2 <= L`` is the rotated cone ``||(T3, (L-1)/2)|| <= (L+1)/2``. The
objective ``max -sum bw r - cu . w - cv v`` is minimised as ``q = (bw on r, cu on w,
cv on v)``. Cones in order: zero (n), nonnegative, ``n + nK`` SOC(3), and ``n`` SOC(4)
with ``T3``. Tolerances are those the cvxpy path passes to Clarabel (1e-10).

The two-angle forms of a planar array (``docs/theory.md`` §7) replace ``phi`` and the rows
of (24)-(25) by their own constraint, exact since it is convex, on the normalised Fisher
information ``J_i = j_i . (c, v)`` of each angle (``m`` = :data:`PLANAR_MARGIN`):

==========================================  ===========================================  =======
``per_angle``: ``J_i >= 1 + m``             ``s = J_i - 1 - m``  (2 per slot)             ``>= 0``
``sum``: ``z_az + z_el <= 1 - m``           ``s = 1 - m - z_az - z_el``  (n)              ``>= 0``
``z_i J_i >= 1``                            ``(z_i + J_i, z_i - J_i, 2)``  (2 x 3)        SOC(3)
==========================================  ===========================================  =======

The SOC(3) of the sum form come last. An angle the form leaves free has ``j_i = 0``: its
row reads ``1 >= 0`` (per angle), or ``J_i = 1`` and its ``z_i`` is out of the sum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import clarabel  # type: ignore[import-untyped]
import numpy as np
from numpy.typing import NDArray
from scipy import sparse  # type: ignore[import-untyped]

__all__ = [
    "CLARABEL_SETTINGS",
    "CRB_FORMS",
    "DEFAULT_SOLVERS",
    "GENERAL_PROGRAMS",
    "PLANAR_MARGIN",
    "PROGRAMS",
    "ConicProgram",
    "GeneralConicProgram",
    "GeneralStepData",
    "ProgramCache",
    "StepData",
    "StepSolution",
]

Float = NDArray[np.float64]
Index = NDArray[np.int64]
_P = TypeVar("_P")

DEFAULT_SOLVERS: tuple[str, ...] = ("CLARABEL", "ECOS", "SCS")
"""Conic solvers tried in order when one fails (``CLARABEL`` first directly, then via cvxpy)."""

CLARABEL_SETTINGS: dict[str, float] = {
    "tol_gap_abs": 1e-10,
    "tol_gap_rel": 1e-10,
    "tol_feas": 1e-10,
}
"""Clarabel's tolerances for (26), the same for the direct and the cvxpy path."""


@dataclass(frozen=True)
class StepData:
    """The coefficients of (26) for ``n`` slots (dimensionless, see ``docs/theory.md`` §3.5).

    Attributes
    ----------
    u0 : (n, K) expansion point ``u_k^(i)`` (0 for switched-off users).
    bw : (n, K) ``B_k / x0_k`` over the objective scale (weight of ``1 / w_k``).
    cu : (n, K) interference coefficient of ``w_k`` over the scale.
    cv : (n,) interference coefficient of ``v`` over the scale.
    wmax : (n, K) trust region of ``w``.
    t1, t2 : (n, 2) coefficients of ``(c, v)`` in the balanced ``T1'', T2''``.
    t3 : (n, 2) complex coefficients in ``T3''``.
    beta : (n,) ``beta`` of ``T1'' T2'' - |T3''|^2 >= beta T1''``.
    phi0 : (n,) ``phi^(i)``, the expansion point of (24).
    fisher : (n, 2, 2) the two-angle forms' normalised Fisher information (``per_angle``,
        ``sum``): ``J_i = fisher[:, i, 0] c + fisher[:, i, 1] v`` for angle ``i`` (az, el),
        the constraint ``J_i >= 1`` (each angle) or ``sum_i 1 / J_i <= 1``; an angle the
        form does not constrain has zero coefficients.

    The azimuth form (26) needs ``t1`` .. ``phi0``, the two-angle forms ``fisher``.
    """

    u0: Float
    bw: Float
    cu: Float
    cv: Float
    wmax: Float
    t1: Float | None = None
    t2: Float | None = None
    t3: NDArray[np.complex128] | None = None
    beta: Float | None = None
    phi0: Float | None = None
    fisher: Float | None = None


@dataclass(frozen=True)
class StepSolution:
    """An optimal point of (26): ``w`` (n, K), ``v``, ``phi`` (n,), ``objective`` (the
    maximised value of (26), summed over the slots) and ``solver`` (which one ran)."""

    w: Float
    v: Float
    phi: Float
    objective: float
    solver: str


CRB_FORMS: tuple[str, ...] = ("per_angle", "sum")
"""The two-angle CRB forms a :class:`ConicProgram` takes besides the azimuth form (26)."""

PLANAR_MARGIN = 1e-7
"""Relative margin of the two-angle constraints in the program (solver tolerances, e.g.
ECOS's ~1e-8); the SCA makes every iterate exactly feasible afterwards."""


class ConicProgram:
    """Problem (26) for ``n_slots`` drops with ``n_users`` users as Clarabel data (module doc).

    ``crb`` selects the CRB constraint: ``False`` / ``True`` the azimuth form (24)-(25)
    without / with ``T3``; ``"per_angle"`` or ``"sum"`` the two-angle forms of a planar array
    (``docs/theory.md`` §7), which are convex as they stand and enter exactly: per angle
    ``J_i >= 1 + m`` (nonnegative rows), the sum ``sum_i z_i <= 1 - m`` with
    ``z_i J_i >= 1`` (a rotated cone ``||(2, z_i - J_i)|| <= z_i + J_i`` per angle),
    ``m`` = :data:`PLANAR_MARGIN`. The structure (variable and row indices, cones, CSC
    order) is fixed at construction; :meth:`solve` fills in the numbers of one
    :class:`StepData` and calls Clarabel.
    """

    def __init__(self, n_users: int, n_slots: int, crb: bool | str) -> None:
        if isinstance(crb, str) and crb not in CRB_FORMS:
            raise ValueError(f"crb = {crb!r}: must be a bool (azimuth, T3) or one of {CRB_FORMS}")
        k, n = n_users, n_slots
        self.n_users, self.n_slots = k, n
        self.form = crb if isinstance(crb, str) else "azimuth"
        self.with_t3 = crb is True
        azimuth, per_angle, total = (self.form == f for f in ("azimuth", "per_angle", "sum"))
        slot = np.arange(n)
        # variable indices: w, r, v, c, then phi (azimuth) or z (sum form)
        self.iw = np.arange(n * k).reshape(n, k)
        self.ir = n * k + self.iw
        self.iv = 2 * n * k + slot
        self.ic = 2 * n * k + n + slot
        self.iphi = 2 * n * k + 2 * n + slot if azimuth else np.zeros(0, np.int64)
        self.iz = (2 * n * k + 2 * n + 2 * slot[:, None] + np.arange(2)) if total else None
        self.n_vars = 2 * n * k + (3 * n if azimuth else 4 * n if total else 2 * n)
        # row indices, in cone order
        rows = _Rows()
        self.r_eq = rows.take(n)
        self.r_power = rows.take(n)
        self.r_wmax = rows.take(n * k).reshape(n, k)
        self.r_vpos = rows.take(n)
        self.r_phipos = rows.take(n if azimuth else 0)
        self.r_lin24 = rows.take(n if azimuth and not self.with_t3 else 0)
        self.r_angle = rows.take(2 * n if per_angle else 0).reshape(-1, 2)
        self.r_sum = rows.take(n if total else 0)
        n_nonneg = rows.count - n
        self.r_soc25 = rows.take(3 * n if azimuth else 0).reshape(-1, 3)
        self.r_inv = rows.take(3 * n * k).reshape(n, k, 3)
        self.r_soc24 = rows.take(4 * n if self.with_t3 else 0).reshape(-1, 4)
        self.r_zsoc = rows.take(6 * n if total else 0).reshape(-1, 2, 3)
        self.n_rows = rows.count

        # entries (row, column) in construction order; values come in the same order (_values)
        r_list: list[Index] = []
        c_list: list[Index] = []

        def add(r: NDArray[Any], c: NDArray[Any]) -> None:
            r, c = np.broadcast_arrays(np.asarray(r), np.asarray(c))
            r_list.append(r.ravel())
            c_list.append(c.ravel())

        add(self.r_eq, self.ic)  # c ...
        add(self.r_eq[:, None], self.iw)  # ... - sum u0 w
        add(self.r_power, self.ic)
        add(self.r_power, self.iv)
        add(self.r_wmax, self.iw)
        add(self.r_vpos, self.iv)
        if azimuth:
            add(self.r_phipos, self.iphi)
            if not self.with_t3:
                add(self.r_lin24, self.ic)
                add(self.r_lin24, self.iv)
                add(self.r_lin24, self.iphi)
            for j in (0, 2):  # (T1 +- T2) / 2 rows of (25)
                add(self.r_soc25[:, j], self.ic)
                add(self.r_soc25[:, j], self.iv)
            add(self.r_soc25[:, 1], self.iphi)
        for j in (0, 1):  # r + w, r - w
            add(self.r_inv[:, :, j], self.ir)
            add(self.r_inv[:, :, j], self.iw)
        if self.with_t3:
            for j in (0, 1):  # (L +- 1) / 2
                add(self.r_soc24[:, j], self.iphi)
                add(self.r_soc24[:, j], self.ic)
                add(self.r_soc24[:, j], self.iv)
            for j in (2, 3):  # Re T3, Im T3
                add(self.r_soc24[:, j], self.ic)
                add(self.r_soc24[:, j], self.iv)
        if per_angle:  # J_i - (1 + m) >= 0
            add(self.r_angle, self.ic[:, None])
            add(self.r_angle, self.iv[:, None])
        if self.iz is not None:
            add(self.r_sum[:, None], self.iz)  # 1 - m - sum z >= 0
            for j in (0, 1):  # z_i + J_i, z_i - J_i
                add(self.r_zsoc[:, :, j], self.iz)
                add(self.r_zsoc[:, :, j], self.ic[:, None])
                add(self.r_zsoc[:, :, j], self.iv[:, None])
        row = np.concatenate(r_list)
        col = np.concatenate(c_list)
        self._order = np.lexsort((row, col))  # CSC: by column, then row
        self._indices = row[self._order].astype(np.int64)
        self._indptr = np.searchsorted(col[self._order], np.arange(self.n_vars + 1)).astype(
            np.int64
        )
        self.n_entries = len(row)
        self._n_nonneg = n_nonneg
        self._p = sparse.csc_matrix((self.n_vars, self.n_vars))
        self._cones = self.cones()

    def _values(self, d: StepData) -> Float:
        """Numeric entries of ``A``, in construction order (``__init__``)."""
        n = self.n_slots
        one = np.ones(n)
        parts: list[NDArray[Any]] = [
            one,
            -d.u0,
            one,
            one,
            np.ones(self.n_slots * self.n_users),
            -one,
        ]
        minus = -np.ones(n * self.n_users)
        if self.form == "azimuth":
            assert d.t1 is not None
            assert d.t2 is not None
            assert d.beta is not None
            assert d.phi0 is not None
            t1b = d.beta[:, None] * d.t1
            half_sum = -0.5 * (d.t1 + d.t2)
            half_diff = -0.5 * (d.t1 - d.t2)
            parts.append(-one)
            if not self.with_t3:
                parts += [t1b[:, 0], t1b[:, 1], -2.0 * d.phi0]
            parts += [half_sum[:, 0], half_sum[:, 1], half_diff[:, 0], half_diff[:, 1], -one]
            parts += [minus, minus, minus, -minus]
            if self.with_t3:
                assert d.t3 is not None
                for _ in (0, 1):
                    parts += [-d.phi0, 0.5 * t1b[:, 0], 0.5 * t1b[:, 1]]
                parts += [-d.t3[:, 0].real, -d.t3[:, 1].real, -d.t3[:, 0].imag, -d.t3[:, 1].imag]
            return np.concatenate([np.ravel(p) for p in parts])
        assert d.fisher is not None
        parts += [minus, minus, minus, -minus]
        jc, jv = d.fisher[:, :, 0], d.fisher[:, :, 1]
        if self.form == "per_angle":
            parts += [-jc, -jv]
        else:
            ones = np.ones((n, 2))
            parts += [_used(d.fisher).astype(float)]  # the constrained angles' z in the sum
            parts += [-ones, -jc, -jv, -ones, jc, jv]
        return np.concatenate([np.ravel(p) for p in parts])

    def data(self, d: StepData) -> tuple[Float, sparse.csc_matrix, Float]:
        """``q``, ``A`` (CSC) and ``b`` of (26) for one step's coefficients."""
        q, b = _objective_and_rate_rows(self, d)
        if self.form == "azimuth":
            assert d.phi0 is not None
            _azimuth_rows(self, b, d.phi0)
        else:
            assert d.fisher is not None
            used = _used(d.fisher)
            if self.form == "per_angle":  # an angle without constraint: the row reads 1 >= 0
                b[self.r_angle] = np.where(used, -(1.0 + PLANAR_MARGIN), 1.0)
            else:  # an angle outside the sum: J_i = 1 (constant), z_i unconstrained above 1
                b[self.r_sum] = 1.0 - PLANAR_MARGIN
                e = np.where(used, 0.0, 1.0)
                b[self.r_zsoc[:, :, 0]] = e
                b[self.r_zsoc[:, :, 1]] = -e
                b[self.r_zsoc[:, :, 2]] = 2.0
        return q, _matrix(self, self._values(d)), b

    def cones(self) -> list[Any]:
        """Clarabel's cone list, in row order."""
        n, k = self.n_slots, self.n_users
        cones: list[Any] = [clarabel.ZeroConeT(n), clarabel.NonnegativeConeT(self._n_nonneg)]
        n_soc3 = n * k + (n if self.form == "azimuth" else 0)
        cones += [clarabel.SecondOrderConeT(3) for _ in range(n_soc3)]
        if self.with_t3:
            cones += [clarabel.SecondOrderConeT(4) for _ in range(n)]
        if self.form == "sum":
            cones += [clarabel.SecondOrderConeT(3) for _ in range(2 * n)]
        return cones

    def solve(self, d: StepData) -> StepSolution | None:
        """Solve (26) with Clarabel; None unless it reports ``Solved`` or ``AlmostSolved``."""
        q, a, b = self.data(d)
        return _clarabel_solve(self, self._p, q, a, b, self._cones)


def _used(fisher: Float) -> NDArray[np.bool_]:
    """(n, 2): the angles a two-angle form constrains (nonzero Fisher coefficients)."""
    return np.any(fisher != 0, axis=-1)


class _Rows:
    """Consecutive row ranges, handed out in order."""

    def __init__(self) -> None:
        self.count = 0

    def take(self, m: int) -> Index:
        out = np.arange(self.count, self.count + m, dtype=np.int64)
        self.count += m
        return out


class ProgramCache(Generic[_P]):
    """Programs of (26) by ``(K, number of slots, CRB constraint)``, each made on first use by
    ``build(n_users, n_slots, crb)`` (``crb``: T3 present, or a two-angle form of
    :data:`CRB_FORMS`); one cache per process and formulation (:data:`PROGRAMS` here,
    :data:`jcas.allocation.sca._program.PROGRAMS` for cvxpy's)."""

    def __init__(self, build: Callable[..., _P]) -> None:
        self._build = build
        self._programs: dict[tuple[int, int, bool | str], _P] = {}

    def get(self, n_users: int, n_slots: int, crb: bool | str) -> _P:
        """The program for this shape, built on first use."""
        key = (n_users, n_slots, crb)
        if key not in self._programs:
            self._programs[key] = self._build(n_users, n_slots, crb)
        return self._programs[key]

    def clear(self) -> None:
        """Forget every program."""
        self._programs.clear()

    def __len__(self) -> int:
        return len(self._programs)


PROGRAMS: ProgramCache[ConicProgram] = ProgramCache(ConicProgram)
"""The process-wide cache used by the SCA."""


# ----------------------------------------------------------------------------- general program
@dataclass(frozen=True)
class GeneralStepData:
    """The coefficients of one step of the SCA on general coefficients for ``n`` slots
    (:mod:`jcas.allocation.sca.general`; ``docs/theory.md`` §10).

    As :class:`StepData`, except that the CRB terms are linear in each user's power
    fraction and the sensing fraction, ``T = t[:K] . u + t[K] v`` (``u_k = u0_k w_k``),
    instead of in ``(sum u, v)``, and the interference coefficient of each ``w_k`` is
    free (a full interference matrix).

    Attributes
    ----------
    u0 : (n, K) expansion point (0 for switched-off users).
    bw : (n, K) weight of ``1 / w_k`` in the objective (over its scale).
    cu : (n, K) coefficient of ``w_k``; cv : (n,) coefficient of ``v`` (over the scale).
    wmax : (n, K) trust region of ``w``.
    t1, t2 : (n, K + 1) coefficients of ``(u_1 .. u_K, v)`` in the balanced ``T1'', T2''``.
    t3 : (n, K + 1) complex coefficients in ``T3''``.
    beta : (n,) ``beta`` of ``T1'' T2'' - |T3''|^2 >= beta T1''``.
    phi0 : (n,) ``phi^(i)``, the expansion point of (24).
    """

    u0: Float
    bw: Float
    cu: Float
    cv: Float
    wmax: Float
    t1: Float
    t2: Float
    t3: NDArray[np.complex128]
    beta: Float
    phi0: Float


class GeneralConicProgram:
    """The SCA step on general coefficients for ``n_slots`` drops as Clarabel data.

    Variables per slot: ``w`` (K), ``r`` (K, epigraph of ``1 / w_k``), ``v``, ``phi``.
    Rows, in cone order (``T_i = t_i[:K] . (u0 w) + t_i[K] v``, ``t1b = beta t1``):

    ======================================  ====================================  ======
    constraint                              rows ``s = b - A x``                  cone
    ======================================  ====================================  ======
    (19c) ``sum_k u0_k w_k + v <= 1``       ``1 - sum u0 w - v``  (n)             ``>=0``
    trust region ``w_k <= wmax_k``          ``wmax_k - w_k``  (nK)                ``>=0``
    ``v >= 0``, ``phi >= 0``                ``v``, ``phi``  (n + n)               ``>=0``
    (24) without ``T3``                     ``2 phi0 phi - T1b - phi0^2``  (n)    ``>=0``
    (25) ``phi^2 <= T1 T2``                 ``((T1+T2)/2, phi, (T1-T2)/2)``       SOC(3)
    ``r_k w_k >= 1``                        ``(r_k + w_k, r_k - w_k, 2)`` per k   SOC(3)
    (24) with ``T3``: ``|T3|^2 <= L``       ``((L+1)/2, (L-1)/2, Re/Im T3)``      SOC(4)
    ======================================  ====================================  ======

    (``L = 2 phi0 phi - T1b - phi0^2``.) Objective: minimise ``bw . r + cu . w + cv v``.
    The structure is fixed at construction (one per ``(K, n, T3 present)``,
    :data:`GENERAL_PROGRAMS`); :meth:`solve` fills in the numbers and calls a fresh
    Clarabel solver with :data:`CLARABEL_SETTINGS`, as :class:`ConicProgram` does.
    """

    def __init__(self, n_users: int, n_slots: int, with_t3: bool) -> None:
        k, n = n_users, n_slots
        self.n_users, self.n_slots, self.with_t3 = k, n, with_t3
        slot = np.arange(n)
        self.iw = np.arange(n * k).reshape(n, k)
        self.ir = n * k + self.iw
        self.iv = 2 * n * k + slot
        self.iphi = 2 * n * k + n + slot
        self.n_vars = 2 * n * k + 2 * n
        rows = _Rows()
        self.r_power = rows.take(n)
        self.r_wmax = rows.take(n * k).reshape(n, k)
        self.r_vpos = rows.take(n)
        self.r_phipos = rows.take(n)
        self.r_lin24 = rows.take(0 if with_t3 else n)
        self._n_nonneg = rows.count
        self.r_soc25 = rows.take(3 * n).reshape(n, 3)
        self.r_inv = rows.take(3 * n * k).reshape(n, k, 3)
        self.r_soc24 = rows.take(4 * n if with_t3 else 0).reshape(-1, 4)
        self.n_rows = rows.count

        r_list: list[Index] = []
        c_list: list[Index] = []

        def add(r: NDArray[Any], c: NDArray[Any]) -> None:
            r, c = np.broadcast_arrays(np.asarray(r), np.asarray(c))
            r_list.append(r.ravel())
            c_list.append(c.ravel())

        def add_terms(r: NDArray[Any]) -> None:  # a row of (T_i): every w_k and v
            add(r[:, None], self.iw)
            add(r, self.iv)

        add_terms(self.r_power)
        add(self.r_wmax, self.iw)
        add(self.r_vpos, self.iv)
        add(self.r_phipos, self.iphi)
        if not with_t3:
            add_terms(self.r_lin24)
            add(self.r_lin24, self.iphi)
        for j in (0, 2):
            add_terms(self.r_soc25[:, j])
        add(self.r_soc25[:, 1], self.iphi)
        for j in (0, 1):
            add(self.r_inv[:, :, j], self.ir)
            add(self.r_inv[:, :, j], self.iw)
        if with_t3:
            for j in (0, 1):
                add(self.r_soc24[:, j], self.iphi)
                add_terms(self.r_soc24[:, j])
            for j in (2, 3):
                add_terms(self.r_soc24[:, j])
        row = np.concatenate(r_list)
        col = np.concatenate(c_list)
        self._order = np.lexsort((row, col))
        self._indices = row[self._order].astype(np.int64)
        self._indptr = np.searchsorted(col[self._order], np.arange(self.n_vars + 1)).astype(
            np.int64
        )
        self.n_entries = len(row)
        self._p = sparse.csc_matrix((self.n_vars, self.n_vars))
        self._cones = self.cones()

    def _values(self, d: GeneralStepData) -> Float:
        """Numeric entries of ``A``, in construction order (``__init__``)."""
        n, k = self.n_slots, self.n_users
        one = np.ones(n)

        def terms(coef: Float) -> list[Float]:  # entries of a (T_i)-row: on w_k, then on v
            return [coef[:, :k] * d.u0, coef[:, k]]

        t1b = d.beta[:, None] * d.t1
        parts: list[Float] = [*terms(np.ones((n, k + 1))), np.ones(n * k), -one, -one]
        if not self.with_t3:
            parts += [*terms(t1b), -2.0 * d.phi0]
        parts += [*terms(-0.5 * (d.t1 + d.t2)), *terms(-0.5 * (d.t1 - d.t2)), -one]
        minus = -np.ones(n * k)
        parts += [minus, minus, minus, -minus]
        if self.with_t3:
            for _ in (0, 1):
                parts += [-d.phi0, *terms(0.5 * t1b)]
            parts += [*terms(-d.t3.real), *terms(-d.t3.imag)]
        return np.concatenate([np.ravel(p) for p in parts])

    def data(self, d: GeneralStepData) -> tuple[Float, sparse.csc_matrix, Float]:
        """``q``, ``A`` (CSC) and ``b`` of the step for one step's coefficients."""
        q, b = _objective_and_rate_rows(self, d)
        _azimuth_rows(self, b, d.phi0)
        return q, _matrix(self, self._values(d)), b

    def cones(self) -> list[Any]:
        """Clarabel's cone list, in row order."""
        n, k = self.n_slots, self.n_users
        cones: list[Any] = [clarabel.NonnegativeConeT(self._n_nonneg)]
        cones += [clarabel.SecondOrderConeT(3) for _ in range(n + n * k)]
        if self.with_t3:
            cones += [clarabel.SecondOrderConeT(4) for _ in range(n)]
        return cones

    def solve(self, d: GeneralStepData) -> StepSolution | None:
        """Solve with Clarabel; None unless it reports ``Solved`` or ``AlmostSolved``."""
        q, a, b = self.data(d)
        return _clarabel_solve(self, self._p, q, a, b, self._cones)


def _objective_and_rate_rows(
    prog: ConicProgram | GeneralConicProgram, d: StepData | GeneralStepData
) -> tuple[Float, Float]:
    """``q`` and the right-hand sides ``b`` of the rows every form of the step shares: the
    budget (19c), the trust region and the epigraph cones of ``1 / w_k``."""
    q = np.zeros(prog.n_vars)
    q[prog.ir] = d.bw
    q[prog.iw] = d.cu
    q[prog.iv] = d.cv
    b = np.zeros(prog.n_rows)
    b[prog.r_power] = 1.0
    b[prog.r_wmax] = d.wmax
    b[prog.r_inv[:, :, 2]] = 2.0
    return q, b


def _azimuth_rows(prog: ConicProgram | GeneralConicProgram, b: Float, phi0: Float) -> None:
    """The right-hand sides of (24) (linear without ``T3``, the 4-cone with it), in ``b``."""
    phi0sq = phi0**2
    if prog.with_t3:
        b[prog.r_soc24[:, 0]] = 0.5 * (1.0 - phi0sq)
        b[prog.r_soc24[:, 1]] = 0.5 * (-1.0 - phi0sq)
    else:
        b[prog.r_lin24] = -phi0sq


def _matrix(prog: ConicProgram | GeneralConicProgram, values: Float) -> sparse.csc_matrix:
    """``A`` in CSC form from its entries in construction order (the pattern fixed at
    construction)."""
    return sparse.csc_matrix(
        (values[prog._order], prog._indices, prog._indptr), shape=(prog.n_rows, prog.n_vars)
    )


def _clarabel_solve(
    prog: ConicProgram | GeneralConicProgram,
    p: sparse.csc_matrix,
    q: Float,
    a: sparse.csc_matrix,
    b: Float,
    cones: list[Any],
) -> StepSolution | None:
    """One Clarabel solve with :data:`CLARABEL_SETTINGS` (``w``, ``v``, ``phi`` of ``prog``;
    ``phi`` 0 for a program without it, the two-angle forms)."""
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    for name, value in CLARABEL_SETTINGS.items():
        setattr(settings, name, value)
    try:
        solution = clarabel.DefaultSolver(p, q, a, b, cones, settings).solve()
    except (ValueError, ArithmeticError, RuntimeError):  # pragma: no cover - defensive
        return None
    accepted = (clarabel.SolverStatus.Solved, clarabel.SolverStatus.AlmostSolved)
    if solution.status not in accepted:
        return None
    x = np.asarray(solution.x, dtype=float)
    return StepSolution(
        w=x[prog.iw],
        v=x[prog.iv],
        phi=x[prog.iphi] if prog.iphi.size else np.zeros(len(prog.iv)),
        objective=-float(solution.obj_val),
        solver="clarabel",
    )


GENERAL_PROGRAMS: ProgramCache[GeneralConicProgram] = ProgramCache(GeneralConicProgram)
"""The process-wide cache of the SCA on general coefficients."""
