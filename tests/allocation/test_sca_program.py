"""The SCA step (26) solved by Clarabel directly against the cvxpy formulation of it.

Independent reference: :class:`jcas.allocation.sca._program.Program`, the same program written
in cvxpy (its own canonicalisation: ``inv_pos``, ``square``, ``SOC``), solved by Clarabel
through cvxpy at the same tolerances (1e-10). Random feasible parameter sets (the iterate
meets CRB0, so ``w = 1`` is feasible) for several K, slot counts, with and without ``T3``;
some users switched off (``u0 = bw = 0``), as in the SCA.

What is asserted, and why these tolerances: the optimal value to 1e-8 (relative, absolute
under 1; measured up to 4e-9, typically 1e-11). The optimiser is unique in ``w`` of the
active users (the objective is strongly concave there), but an interior-point solve at a
gap of ~1e-10 fixes ``w_k`` only to about ``sqrt(eps w_k^3 / bw_k)`` (the objective's
curvature is ``2 bw_k / w_k^3``): measured 2e-6 .. 6e-5 relative for the worst user of a
set, up to 1e-2 for a user with a tiny ``bw`` (about to be switched off); tighter
tolerances do not help, Clarabel then stops reporting ``Solved`` (from 1e-12 on).
``w`` is asserted within twice that bound with ``eps = 1e-9 (1 + |value|)``; ``v`` (a
fraction of the budget, tied to ``w`` through ``c + v <= 1``) to 1e-6 absolute (measured
up to 7e-7); ``phi`` where the CRB constraint fixes it (``phi`` appears only in the
constraints and is otherwise free in an interval) to 1e-7, and within its feasible
interval in both solutions. The SCA's own results are compared in
``tests/allocation/test_allocation_sca.py`` and ``tests/pipeline/test_identity.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import drops, job_allocation_code, run_python

from jcas.allocation import sca
from jcas.allocation.planar import crb_pair
from jcas.allocation.sca import CrbModel, PlanarCrbModel, _balanced_model, crb_model
from jcas.allocation.sca._clarabel import PLANAR_MARGIN, ConicProgram, StepData, StepSolution
from jcas.allocation.sca._program import Program
from jcas.model.metrics import closed_form_metrics
from jcas.model.params import SystemParams
from jcas.parts.arrays.ula import element_positions
from jcas.parts.registry import design

ROOT = Path(__file__).resolve().parents[2]


def _model(k: int, with_t3: bool, nt: int) -> CrbModel:
    if not with_t3:
        model = crb_model(SystemParams(K=k, Nt=nt, Nr=nt, crb0=1e-3))
    else:
        p = SystemParams(K=k, Nt=nt, Nr=nt, theta_deg=25.0, crb0=1e-3)
        m = element_positions(nt) + (nt - 1) / 2  # first element at the origin: T3 != 0
        a = np.exp(1j * np.pi * np.sin(p.theta_rad) * m)
        a_dot = 1j * np.pi * np.cos(p.theta_rad) * m * a
        model = crb_model(p, (a, a, a_dot, a_dot))
    assert isinstance(model, CrbModel)
    return model


def _step(rng: np.random.Generator, k: int, n: int, with_t3: bool) -> StepData:
    """Random coefficients of (26) at an iterate on the full-power segment meeting CRB0."""
    model = _model(k, with_t3, int(rng.choice([8, 16, 35])))
    assert bool(np.any(model.t3 != 0)) == with_t3
    grid = np.linspace(0.0, 1.0, 2001)
    ok = model.crb_ratio(1.0 - grid, grid) <= 1.0
    v0 = rng.uniform(grid[ok].min(), grid[ok].max(), n)
    share = rng.dirichlet(np.ones(k), n)
    off = (rng.uniform(size=(n, k)) < 0.15) & (np.arange(k) > 0)  # user 0 always on
    share = np.where(off, 0.0, share)
    share /= share.sum(axis=1, keepdims=True)
    u0 = (1.0 - v0)[:, None] * share
    t1, t2, t3, beta, phi0 = _balanced_model(model, u0, v0)
    # the SCA's coefficients at this iterate for random normalised gains (sca._solve_step)
    g = 10 ** rng.uniform(0.0, 4.0, (n, k))  # SINR_k = g_k u_k / (h_k T + 1)
    h = g / k * rng.uniform(0.01, 1.0, (n, k))
    x0 = g * u0
    y0 = h + 1.0  # T = 1 at full power
    scale = np.sum(np.log1p(x0 / y0), axis=1, keepdims=True)  # the sum rate
    bw = np.where(off, 0.0, x0 / (x0 + y0)) / scale
    ck = np.where(off, 0.0, x0 * h / ((x0 + y0) * y0)) / scale
    wmax = np.where(off, 1.0, np.minimum(1.0 / np.where(off, 1.0, u0), 1e3))
    return StepData(
        u0=u0,
        bw=bw,
        cu=ck.sum(axis=1)[:, None] * u0,
        cv=ck.sum(axis=1) * rng.uniform(0.5, 2.0, n),  # split-power form: another weight
        wmax=wmax,
        t1=t1,
        t2=t2,
        t3=t3,
        beta=beta,
        phi0=phi0,
    )


def _phi_interval(d: StepData, s: StepSolution) -> tuple[np.ndarray, np.ndarray]:
    """The values of phi allowed by (24)-(25) at the solution's (c, v)."""
    c = np.sum(d.u0 * s.w, axis=1)

    def lin(x: np.ndarray) -> np.ndarray:
        return x[:, 0] * c + x[:, 1] * s.v

    t3sq = np.abs(lin(d.t3.real) + 1j * lin(d.t3.imag)) ** 2
    lo = (d.beta * lin(d.t1) + t3sq + d.phi0**2) / (2.0 * d.phi0)
    hi = np.sqrt(np.maximum(lin(d.t1) * lin(d.t2), 0.0))
    return lo, hi


CASES = [(k, n, t3) for k in (2, 4, 8) for n in (1, 8, 32) for t3 in (False, True)]


@pytest.mark.parametrize(("k", "n", "with_t3"), CASES)
def test_direct_clarabel_matches_cvxpy_program(k: int, n: int, with_t3: bool) -> None:
    rng = np.random.default_rng(1000 * k + 10 * n + with_t3)
    direct, reference = ConicProgram(k, n, with_t3), Program(k, n, with_t3)
    n_fixed = 0
    for _ in range(3):
        d = _step(rng, k, n, with_t3)
        got = direct.solve(d)
        ref = reference.solve_step(d, "CLARABEL")
        assert got is not None
        assert ref is not None
        assert got.solver == "clarabel"
        assert ref.solver == "cvxpy/CLARABEL"
        assert abs(got.objective - ref.objective) <= 1e-8 * max(1.0, abs(ref.objective))
        on = d.bw > 0
        eps = 1e-9 * (1.0 + abs(ref.objective))
        bound = 2.0 * np.sqrt(eps * ref.w**3 / np.where(on, d.bw, 1.0))
        dw = np.abs(got.w - ref.w)
        assert np.all(dw[on] <= bound[on]), np.max(dw[on] / bound[on])
        # the reported value is the objective of (26) at the returned point
        value = -np.sum(d.bw / np.where(on, got.w, 1.0)) - np.sum(d.cu * got.w) - d.cv @ got.v
        assert abs(value - got.objective) <= 1e-8 * abs(got.objective)
        assert np.all(np.abs(got.v - ref.v) <= 1e-6)
        for s in (got, ref):
            lo, hi = _phi_interval(d, s)
            assert np.all(s.phi >= lo - 1e-8)
            assert np.all(s.phi <= hi + 1e-8)
        lo, hi = _phi_interval(d, ref)
        fixed = hi - lo < 1e-9
        assert np.all(np.abs(got.phi - ref.phi)[fixed] <= 1e-7)
        n_fixed += int(np.sum(fixed))
    assert n_fixed > 0  # the CRB constraint binds in some slots


def _either_path(
    beta: np.ndarray, xi: np.ndarray, p: SystemParams, fixes: bool = True
) -> tuple[Any, Any, dict[bool, np.ndarray]]:
    """``sca`` with (26) solved by Clarabel directly and through cvxpy only (``direct`` off):
    both allocations and their sum rates (bit/s/Hz) by ``direct``."""
    got = {}
    for direct in (True, False):
        options = sca.SCAOptions(
            tol=1e-4,
            max_iterations=100,
            solvers=("CLARABEL", "ECOS", "SCS"),
            batch_size=8,
            active_set=fixes,
            accelerate=fixes,
            off_threshold=1e-5,
            stopping="aitken",
            polish=fixes,
            direct=direct,
        )
        got[direct] = sca._solve(
            beta, xi, p, options, arrays=None, programs=sca.PROGRAMS, trace=None
        )
    rate = {
        d: closed_form_metrics(x.gamma, x.eta, xi, beta, p, design(p))["rate"].sum(axis=1)
        for d, x in got.items()
    }
    return got[True], got[False], rate


def test_sca_through_either_path_gives_the_same_allocation() -> None:
    """The whole algorithm with (26) solved directly and through cvxpy only (``direct``
    off): the same statuses, sum rates within 1e-7 relative (measured
    <= 1e-8 over 1000-drop runs, ``benchmarks/sca_solver.py``), for MRT and ZF (the
    split-power form) and a binding CRB0."""
    for precoder, crb0 in (("mrt", 1e-3), ("mrt", 2e-5), ("zf", 1e-3)):
        p = SystemParams(K=4, Nt=15, Nr=15, snr_com_db=10.0, crb0=crb0, precoder=precoder)
        beta, xi = drops(p, 12, seed=8)
        a, b, rate = _either_path(beta, xi, p)
        np.testing.assert_array_equal(a.status, b.status)
        assert set(a.status) == {"converged"}
        np.testing.assert_allclose(rate[True], rate[False], rtol=1e-7)


def test_conic_data_keeps_its_pattern_when_entries_vanish() -> None:
    """Structural zeros stay in A (a coefficient that is 0 this iteration is not dropped),
    so the CSC pattern of every step is the one fixed at construction."""
    rng = np.random.default_rng(3)
    prog = ConicProgram(3, 4, True)
    d = _step(rng, 3, 4, True)
    _, a_full, _ = prog.data(d)
    zero = StepData(**{**d.__dict__, "t3": np.zeros_like(d.t3), "u0": np.zeros_like(d.u0)})
    _, a_zero, _ = prog.data(zero)
    assert a_full.nnz == a_zero.nnz == prog.n_entries
    np.testing.assert_array_equal(a_full.indices, a_zero.indices)
    np.testing.assert_array_equal(a_full.indptr, a_zero.indptr)
    assert np.sum(a_zero.data == 0) > 0


def test_sca_job_does_not_import_cvxpy() -> None:
    """A full ``sca`` allocation of a small drop set (Clarabel succeeding), as a pipeline
    job runs it, leaves cvxpy out of ``sys.modules`` (a fresh interpreter)."""
    code = job_allocation_code("sca", ("sca",), 6) + (
        "st = set(a['status'].ravel().tolist())\n"
        "assert st == {'converged'}, st\n"
        "assert 'cvxpy' not in sys.modules, 'cvxpy imported'\n"
        "assert 'clarabel' in sys.modules\n"
    )
    run_python(code)


# ----------------------------------------------------------------------------- two angles
def _planar_step(rng: np.random.Generator, k: int, n: int, form: str) -> tuple[StepData, Any]:
    """Random coefficients of (26) for a two-angle form at feasible full-power iterates: a UPA
    at a random direction, the bounds between the all-communications and all-sensing CRBs
    (so the constraint binds somewhere on the segment), one angle left free in some draws
    (``per_angle``: its bound at 1 rad^2)."""
    base = SystemParams(
        K=k,
        Nt=16,
        Nr=12,
        array="upa",
        tx_rows=4,
        rx_rows=3,
        theta_deg=float(rng.uniform(-40, 40)),
        elevation_deg=float(rng.uniform(-30, 30)),
    )
    pw = base.pt_w / base.Nt
    comm, sens = crb_pair(pw, 0.0, base), crb_pair(0.0, pw, base)
    mid = np.sqrt(comm * sens) * rng.uniform(0.7, 1.3, 2)
    if form == "per_angle":
        free = rng.uniform() < 0.3
        params = base.replace(
            crb_form=form, crb0_azimuth=float(mid[0]), crb0_elevation=1.0 if free else float(mid[1])
        )
    else:
        params = base.replace(crb_form=form, crb0=float(mid.sum()))
    model = crb_model(params)
    assert isinstance(model, PlanarCrbModel)
    grid = np.linspace(0.0, 1.0, 2001)
    ok = model.crb_ratio(1.0 - grid, grid) <= 1.0
    v0 = rng.uniform(grid[ok].min(), grid[ok].max(), n)
    u0 = (1.0 - v0)[:, None] * rng.dirichlet(np.ones(k), n)
    g = 10 ** rng.uniform(0.0, 4.0, (n, k))
    h = g / k * rng.uniform(0.01, 1.0, (n, k))
    x0 = g * u0
    y0 = h + 1.0
    scale = np.sum(np.log1p(x0 / y0), axis=1, keepdims=True)
    ck = x0 * h / ((x0 + y0) * y0) / scale
    d = StepData(
        u0=u0,
        bw=x0 / (x0 + y0) / scale,
        cu=ck.sum(axis=1)[:, None] * u0,
        cv=ck.sum(axis=1),
        wmax=np.minimum(1.0 / u0, 1e3),
        **model.step(u0, v0),
    )
    return d, model


PLANAR_CASES = [(k, n, f) for k in (2, 8) for n in (1, 16) for f in ("per_angle", "sum")]


@pytest.mark.parametrize(("k", "n", "form"), PLANAR_CASES)
def test_two_angle_programs_match_cvxpy(k: int, n: int, form: str) -> None:
    """The two-angle constraints in the Clarabel data (per angle: nonnegative rows; sum:
    rotated cones) against cvxpy's own canonicalisation of the same program (linear
    constraints, ``inv_pos``): the optimal values to 1e-8, ``w`` and ``v`` as for the azimuth
    form (module docstring), and both solutions meet the form's constraint with the
    program's margin (to the solvers' 1e-10)."""
    rng = np.random.default_rng(7 * k + n + (form == "sum"))
    direct, reference = ConicProgram(k, n, form), Program(k, n, form)
    for _ in range(3):
        d, model = _planar_step(rng, k, n, form)
        got, ref = direct.solve(d), reference.solve_step(d, "CLARABEL")
        assert got is not None
        assert ref is not None
        assert abs(got.objective - ref.objective) <= 1e-8 * max(1.0, abs(ref.objective))
        eps = 1e-9 * (1.0 + abs(ref.objective))
        bound = 2.0 * np.sqrt(eps * ref.w**3 / d.bw)
        assert np.all(np.abs(got.w - ref.w) <= bound), np.max(np.abs(got.w - ref.w) / bound)
        assert np.all(np.abs(got.v - ref.v) <= 1e-6)
        limit = 1.0 / (1.0 + PLANAR_MARGIN) if form == "per_angle" else 1.0 - PLANAR_MARGIN
        for s in (got, ref):
            c = np.sum(d.u0 * s.w, axis=1)
            assert np.all(model.crb_ratio(c, s.v) <= limit + 1e-9)


@pytest.mark.parametrize("form", ["per_angle", "sum"])
def test_two_angle_sca_through_either_path_gives_the_same_allocation(form: str) -> None:
    """One runner for every CRB form: the two-angle forms through Clarabel directly and
    through cvxpy only give the same statuses, iteration counts and sum rates (1e-7 relative;
    the plain algorithm, which creeps at ``tol = 1e-4``, stops within 1e-3 of itself)."""
    p = SystemParams(
        K=4, Nt=16, Nr=12, array="upa", tx_rows=4, rx_rows=3, theta_deg=20.0, elevation_deg=-10.0
    )
    pw = p.pt_w / p.Nt
    mid = np.sqrt(crb_pair(pw, 0.0, p) * crb_pair(0.0, pw, p))
    if form == "per_angle":
        p = p.replace(crb_form=form, crb0_azimuth=float(mid[0]), crb0_elevation=float(mid[1]))
    else:
        p = p.replace(crb_form=form, crb0=float(mid.sum()))
    beta, xi = drops(p, 10, seed=5)
    for fixes in (True, False):
        a, b, rate = _either_path(beta, xi, p, fixes)
        np.testing.assert_array_equal(a.status, b.status)
        assert set(a.status) == {"converged"}
        if fixes:
            np.testing.assert_array_equal(a.iterations, b.iterations)
        np.testing.assert_allclose(rate[True], rate[False], rtol=1e-7 if fixes else 1e-3)


def test_two_angle_sca_does_not_import_cvxpy() -> None:
    """The two-angle forms run on the SCA's own runner and Clarabel data: no cvxpy."""
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from jcas.allocation import allocate\n"
        "from jcas.model.params import SystemParams\n"
        "from jcas.model.drops import large_scale_fading\n"
        "from jcas.model.channel import estimate_variance\n"
        "p = SystemParams(K=3, Nt=16, Nr=12, array='upa', tx_rows=4, rx_rows=3,\n"
        "    elevation_deg=-10.0, crb_form='sum', crb0=1.0)\n"
        "beta, _ = large_scale_fading(p, 1, range(4))\n"
        "xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)\n"
        "a = allocate('sca', beta, xi, p)\n"
        "assert set(a.status.tolist()) == {'converged'}, a.status\n"
        "assert 'cvxpy' not in sys.modules, 'cvxpy imported'\n"
    )
    run_python(code)
