"""The SCA on general coefficients (jcas.allocation.sca.general).

Independent references: the exact optimum (:func:`optimal_coefficients`, itself equal to
``optimal`` and checked by a grid in ``test_coefficient_optimum.py``) on split-form
coefficients; on coefficients with a full interference matrix, a grid over the whole power
simplex refined locally (K = 2, 3) and a multi-start of SLSQP (K = 4, 8), both on the problem
written out from the coefficients in ``benchmarks/sca_general.py``; cvxpy for the conic
program. A failure of the certification is a reference above the SCA by more than 1e-6
(relative), a CRB0 or budget violation, or a failed status where the reference is feasible.

Fast tests about 10 s on an idle 2-core machine; the two slow certifications about 40 s.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import sys
from types import ModuleType

import numpy as np
import pytest
from conftest import ROOT, drops

from jcas.allocation import allocate, rate_crb_frontier
from jcas.allocation.coefficient_optimum import optimal_coefficients
from jcas.allocation.sca import general
from jcas.allocation.sca._clarabel import (
    PROGRAMS,
    GeneralConicProgram,
    GeneralStepData,
    StepData,
)
from jcas.allocation.sca.general import PowerAllocation, general_model, sca_general, start_points
from jcas.model.coefficients import (
    Coefficients,
    FisherCoefficients,
    RateCoefficients,
)
from jcas.model.params import SystemParams
from jcas.parts.coefficients import closed_form_coefficients
from jcas.parts.registry import design

FAMILIES = ("reused pilots", "random, T3 = 0", "random, T3 != 0", "reused, non-centred")


@functools.cache
def bench() -> ModuleType:
    """``benchmarks/sca_general.py`` (the references and case generators)."""
    name = "bench_sca_general"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "sca_general.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _binding(p: SystemParams) -> SystemParams:
    fr = rate_crb_frontier(np.ones((1, p.K)), np.ones((1, p.K)), p, 3)
    return p.replace(crb0=float(fr.crb0[1]))


def _certify(coef: Coefficients, reference: str) -> list[float]:
    """Run ``sca_general`` and compare every drop with the reference; returns the gaps."""
    b = bench()
    res = sca_general(coef)
    tally = b.Tally()
    b.certify(coef, res, getattr(b, reference), tally, coef.source)
    assert tally.failures == []
    return tally.gaps


# --------------------------------------------------------------------------- the conic program
def _random_step(rng: np.random.Generator, k: int, n: int, with_t3: bool) -> GeneralStepData:
    """A random step of the SCA at a feasible iterate (balanced terms = 1 there)."""
    u0 = rng.uniform(0.02, 0.2, (n, k))
    v0 = 1.0 - u0.sum(axis=1) - 0.05
    z0 = np.concatenate([u0, v0[:, None]], axis=1)
    t1 = rng.uniform(0.5, 1.5, (n, k + 1))
    t2 = rng.uniform(0.5, 3.0, (n, k + 1))
    t3 = np.zeros((n, k + 1), complex)
    if with_t3:
        t3 = 0.3 * np.sqrt(t1 * t2) * np.exp(2j * np.pi * rng.uniform(size=(n, k + 1)))
    a, b = 1 / np.sum(t1 * z0, axis=1), 1 / np.sum(t2 * z0, axis=1)
    t1, t2, t3 = a[:, None] * t1, b[:, None] * t2, np.sqrt(a * b)[:, None] * t3
    beta = 0.5 * rng.uniform(0.5, 1.0, n)  # CRB0 met with margin at the iterate
    return GeneralStepData(
        u0=u0,
        bw=rng.uniform(0.01, 1.0, (n, k)),
        cu=rng.uniform(0.0, 0.3, (n, k)),
        cv=rng.uniform(0.0, 0.3, n),
        wmax=np.full((n, k), 1e3),
        t1=t1,
        t2=t2,
        t3=t3,
        beta=beta,
        phi0=np.ones(n),
    )


@pytest.mark.parametrize("with_t3", [False, True])
def test_general_program_matches_cvxpy(with_t3: bool) -> None:
    """The Clarabel data of :class:`GeneralConicProgram` (4 slots, K = 3) and the cvxpy
    formulation of the same step (one slot at a time, CLARABEL and ECOS): optimal values to
    1e-7, ``v`` to 1e-5."""
    rng = np.random.default_rng(3)
    d = _random_step(rng, 3, 4, with_t3)
    sol = GeneralConicProgram(3, 4, with_t3).solve(d)
    assert sol is not None
    for i in range(4):
        one = GeneralStepData(
            *(np.asarray(getattr(d, f.name))[i : i + 1] for f in dataclasses.fields(d))
        )
        for solver in ("CLARABEL", "ECOS"):
            ref = general._cvxpy_step(one, solver)
            assert ref is not None
            w = sol.w[i]
            value = -np.sum(d.bw[i] / w) - d.cu[i] @ w - d.cv[i] * sol.v[i]
            assert abs(value - ref.objective) <= 1e-7 * (1 + abs(ref.objective)), solver
            assert abs(sol.v[i] - ref.v[0]) <= 1e-5


def test_general_program_is_the_sca_program_when_the_crb_goes_through_sum_u() -> None:
    """With equal user columns of the CRB terms the general program is (26) of ``sca``
    (:class:`ConicProgram`): the same solution, 8 slots, K = 4, with and without T3."""
    rng = np.random.default_rng(4)
    for with_t3 in (False, True):
        d = _random_step(rng, 4, 8, with_t3)
        t1 = np.repeat(d.t1[:, :1], 5, axis=1)
        t1[:, 4] = d.t1[:, 4]
        t2 = np.repeat(d.t2[:, :1], 5, axis=1)
        t2[:, 4] = d.t2[:, 4]
        t3 = np.repeat(d.t3[:, :1], 5, axis=1)
        t3[:, 4] = d.t3[:, 4]
        z0 = np.concatenate([d.u0, (1 - d.u0.sum(1) - 0.05)[:, None]], axis=1)
        a = 1 / np.sum(t1 * z0, axis=1)
        b = 1 / np.sum(t2 * z0, axis=1)
        t1, t2, t3 = a[:, None] * t1, b[:, None] * t2, np.sqrt(a * b)[:, None] * t3
        g = dataclasses.replace(d, t1=t1, t2=t2, t3=t3)
        s = StepData(
            u0=d.u0,
            bw=d.bw,
            cu=d.cu,
            cv=d.cv,
            wmax=d.wmax,
            t1=t1[:, [0, 4]],
            t2=t2[:, [0, 4]],
            t3=t3[:, [0, 4]],
            beta=d.beta,
            phi0=d.phi0,
        )
        sol_g = GeneralConicProgram(4, 8, with_t3).solve(g)
        sol_s = PROGRAMS.get(4, 8, with_t3).solve(s)
        assert sol_g is not None
        assert sol_s is not None
        assert abs(sol_g.objective - sol_s.objective) <= 1e-8 * (1 + abs(sol_s.objective))
        np.testing.assert_allclose(sol_g.v, sol_s.v, atol=1e-6)


def test_full_power_scaling_raises_every_sinr_with_a_full_b() -> None:
    """The full-power step's premise (``docs/theory.md`` §10.1) on 2000 random
    drops with a full nonnegative ``b`` (K = 5): scaling every power by ``t`` in (1, 10]
    raises every SINR with power and divides the CRB by ``t``; raising one user's power alone
    lowers some other user's SINR (so only the proportional step is valid)."""
    coef = bench().random_case(5, 2000, 11, "binding", with_t3=True)
    rng = np.random.default_rng(12)
    x = rng.dirichlet(np.ones(6), size=2000)[:, :5] * 0.9
    s = 0.9 - x.sum(axis=1)
    t = rng.uniform(1.0, 10.0, 2000)
    before, after = coef.rate.sinr(x, s), coef.rate.sinr(t[:, None] * x, t * s)
    assert np.all(after > before)
    np.testing.assert_allclose(coef.fisher.crb(t[:, None] * x, t * s), coef.fisher.crb(x, s) / t)
    one = x.copy()
    one[:, 0] *= t
    assert np.any(coef.rate.sinr(one, s)[:, 1:] < before[:, 1:])


# --------------------------------------------------------------------------- split form
@pytest.mark.parametrize("precoder", ["mrt", "zf", "pzf"])
def test_split_form_reaches_the_optimum(precoder: str) -> None:
    """Closed-form coefficients (K = 4, Nt = 16, SNR_com -10 / 10 / 30 dB, CRB0 free and
    binding, 10 drops each): every drop converges within 1e-6 of the exact optimum, at
    full power, with CRB <= CRB0 and not above the optimum (1e-9)."""
    gaps = []
    for snr in (-10.0, 10.0, 30.0):
        base = SystemParams(K=4, Nt=16, Nr=16, snr_com_db=snr, precoder=precoder)
        for p in (base, _binding(base)):
            beta, xi = drops(p, 10, seed=int(snr) + 20)
            coef = closed_form_coefficients(beta, xi, p)
            res = sca_general(coef)
            assert np.all(res.status == "converged")
            x, s, _ = optimal_coefficients(coef)
            best = coef.rate.sum_rate(x, s)
            got = coef.rate.sum_rate(res.x, res.s)
            gaps += list((best - got) / best)
            assert np.all(got <= best * (1 + 1e-9))
            assert np.all(coef.fisher.crb(res.x, res.s) <= coef.crb0 * (1 + 1e-9))
            np.testing.assert_allclose(res.x.sum(1) + res.s, coef.budget, rtol=1e-9)
    assert max(gaps) <= 1e-6


def test_same_allocation_as_sca_through_the_precoder() -> None:
    """MRT, K = 4: ``to_allocation`` gives the precoder's variables; their rate equals that of
    ``sca``'s allocation to 1e-6 (both within it of the optimum)."""
    p = _binding(SystemParams(K=4, Nt=35, Nr=35, snr_com_db=0.0))
    beta, xi = drops(p, 20, seed=2)
    coef = closed_form_coefficients(beta, xi, p)
    alloc = sca_general(coef).to_allocation(design(p).precoder, xi)
    ref = allocate("sca", beta, xi, p)
    x, s = design(p).precoder.power_factors(alloc.gamma, alloc.eta, xi)
    xr, sr = design(p).precoder.power_factors(ref.gamma, ref.eta, xi)
    np.testing.assert_allclose(coef.rate.sum_rate(x, s), coef.rate.sum_rate(xr, sr), rtol=1e-6)


# --------------------------------------------------------------------------- full b
def test_full_b_against_a_grid_search_k2() -> None:
    """K = 2, the four full-b families, binding CRB0, 2 drops each: no failure against the
    grid + local search; gaps (reference - sca) / reference <= 1e-6."""
    for family in FAMILIES:
        coef = bench().cases(2, 2, 17, "binding")[family]
        coef = dataclasses.replace(coef, source=family)
        assert max(_certify(coef, "grid_search")) <= 1e-6


def test_iterates_never_decrease_and_stay_feasible() -> None:
    """Per drop and iteration, with and without the active set and the extrapolation, on the
    full-b families (K = 8, binding): the sum rate never decreases (8 ulp), every iterate is
    at full power and meets CRB0 (1e-12)."""
    b = bench()
    for family in FAMILIES:
        coef = b.cases(8, 4, 23, "binding")[family]
        for kw in ({}, {"active_set": False, "accelerate": False}):
            res, trace = general._traced(coef, **kw)
            assert np.all(res.status == "converged"), family
            rate = np.array([t["rate"] for t in trace])
            for d in range(rate.shape[1]):
                r = rate[:, d][np.isfinite(rate[:, d])]
                assert np.all(np.diff(r) >= -8 * np.finfo(float).eps * r[1:]), family
            ratio = np.array([t["crb_ratio"] for t in trace])
            power = np.array([t["power"] for t in trace])
            assert np.all(ratio[np.isfinite(ratio)] <= 1 + 1e-12), family
            np.testing.assert_allclose(power[np.isfinite(power)], 1.0, rtol=1e-12)


def test_leaves_a_saddle_point_of_two_users_sharing_a_pilot(monkeypatch) -> None:
    """MRT, K = 8, tau_p = 4, Nt = 10, SNR_com 30 dB (a drop found by the stress run): without
    the second-order check the SCA stops at a KKT point that is a saddle (users 3 and 7 share
    a pilot and both get power), more than 1e-5 below the multi-start's optimum; with it,
    within 1e-9 of it."""
    b = bench()
    coef = b.reused_pilot_case(8, 6, 288, "free", snr_com_db=30.0, nt=10).select([2])
    drop = b.Drop.of(coef, 0)
    best, _ = b.multistart(drop, n_starts=20)

    def rate(res: PowerAllocation) -> float:
        return float(drop.rate(b.point(res.x[0], res.s[0], drop))[0])

    assert rate(sca_general(coef)) >= best * (1 - 1e-9)
    monkeypatch.setattr(general, "_escape", lambda m, u, v, on, anchor: (u, v, m.rate(u, v)))
    assert rate(sca_general(coef)) < best * (1 - 1e-5)


def test_batching_does_not_change_the_result() -> None:
    """Drops in slots of 1 and of 50, in two orders: sum rates equal to 1e-9 relative."""
    coef = bench().cases(4, 12, 31, "binding")["random, T3 != 0"]
    ref = coef.rate.sum_rate(*_xs(sca_general(coef, batch_size=1)))
    order = np.random.default_rng(0).permutation(12)
    got = coef.select(order).rate.sum_rate(*_xs(sca_general(coef.select(order), batch_size=50)))
    np.testing.assert_allclose(got, ref[order], rtol=1e-9)


def _xs(res: PowerAllocation) -> tuple[np.ndarray, np.ndarray]:
    return res.x, res.s


# --------------------------------------------------------------------------- start and statuses
def test_start_point_off_the_equal_split_segment() -> None:
    """K = 2, CRB0 requiring ``J >= 2``; user 0's stream carries ``t2_0`` in 1 .. 4, user 1's
    and the sensing beam's 1, so the equal-split segment meets CRB0 only for ``t2_0 >= 3``
    but the simplex for ``t2_0 >= 2`` (drops 2, 3 need the other start: a vertex with
    ``T3 = 0``, drop 2, the cone program with ``T3 != 0``, drop 3). The start meets CRB0
    exactly where a dense scan of the full-power simplex finds a feasible point, and the SCA
    reports ``infeasible`` exactly where it does not."""
    k, n = 2, 6
    rng = np.random.default_rng(5)
    t1 = np.ones((n, k + 1))
    t2 = np.ones((n, k + 1))
    t2[:, 0] = np.linspace(1.0, 4.0, n)  # 1, 1.6, 2.2, 2.8, 3.4, 4
    t3 = np.zeros((n, k + 1), complex)
    t3[3:] = 0.5 * np.exp(2j * np.pi * rng.uniform(size=(3, k + 1)))
    fisher = FisherCoefficients(t1, t2, t3, 1.0)
    rate = RateCoefficients(np.ones((n, k)), 0.1 * np.ones((n, k, k)), np.ones((n, k)), 1.0, 1.0)
    coef = Coefficients(rate, fisher, 1, 1.0, 0.5)
    model, valid = general_model(coef)
    assert np.all(valid)
    u, v, feasible = start_points(model, np.ones((n, k), bool))
    grid = np.linspace(0, 1, 401)
    a, c = np.meshgrid(grid, grid)
    z = np.stack([a.ravel(), c.ravel(), 1 - a.ravel() - c.ravel()], axis=1)
    z = z[z[:, 2] >= 0]
    seg = np.linspace(0, 1, 4001)
    for d in range(n):
        one = coef.select([d]).fisher
        scan = np.any(one.crb(z[:, :2], z[:, 2]) <= coef.crb0)
        on_segment = np.any(one.crb(np.repeat(((1 - seg) / 2)[:, None], 2, axis=1), seg) <= 0.5)
        assert feasible[d] == scan, d
        assert on_segment == (d >= 4), d
        if feasible[d]:
            assert model.take([d]).crb_ratio(u[d : d + 1], v[d : d + 1])[0] <= 1.0
    np.testing.assert_array_equal(feasible, [False, False, True, True, True, True])
    res = sca_general(coef)
    np.testing.assert_array_equal(res.status == "infeasible", ~feasible)


def test_statuses_in_one_batch_and_nothing_raised() -> None:
    """A batch with a non-finite drop, a negative coefficient, a drop whose users get no
    signal and an infeasible drop: ``invalid_input``, ``invalid_input``, ``converged`` at a
    feasible full-power point (sum rate 0 everywhere), ``infeasible``; the valid drops get
    the allocation they get alone."""
    coef = bench().cases(3, 6, 41, "binding")["random, T3 = 0"]
    a = coef.rate.signal.copy()
    b = coef.rate.interference.copy()
    t2 = coef.fisher.t2.copy()
    a[0, 1] = np.nan
    b[1, 0, 2] = -1.0
    a[2] = 0.0
    t2[3] *= 1e-3  # CRB0 out of reach
    rate = dataclasses.replace(coef.rate, signal=a, interference=b)
    fisher = dataclasses.replace(coef.fisher, t2=t2)
    bad = dataclasses.replace(coef, rate=rate, fisher=fisher)
    res = sca_general(bad)
    assert list(res.status[:4]) == ["invalid_input", "invalid_input", "converged", "infeasible"]
    assert bad.fisher.crb(res.x[2:3], res.s[2:3])[0] <= bad.crb0
    np.testing.assert_allclose(res.x[2].sum() + res.s[2], bad.budget, rtol=1e-12)
    assert np.all(np.isnan(res.x[[0, 1, 3]]))
    alone = sca_general(coef.select([4, 5]))
    np.testing.assert_allclose(res.x[4:], alone.x, rtol=1e-9, atol=1e-15)


def test_solver_failures_fall_back_and_then_give_solver_error(monkeypatch) -> None:
    """Clarabel's direct solve failing: the cvxpy fallback solves every step (same result to
    1e-6); every solver failing: ``solver_error`` with NaN on every drop, nothing raised."""
    coef = bench().cases(3, 3, 43, "binding")["random, T3 != 0"]
    ref = sca_general(coef)
    monkeypatch.setattr(GeneralConicProgram, "solve", lambda self, d: None)
    fallback = sca_general(coef)
    assert np.all(fallback.status == "converged")
    np.testing.assert_allclose(
        coef.rate.sum_rate(fallback.x, fallback.s), coef.rate.sum_rate(ref.x, ref.s), rtol=1e-6
    )
    monkeypatch.setattr(general, "_cvxpy_step", lambda d, solver: None)
    failed = sca_general(coef)
    assert np.all(failed.status == "solver_error")
    assert np.all(np.isnan(failed.x))


def test_bad_input_is_named() -> None:
    coef = bench().cases(2, 1, 1, "free")["random, T3 = 0"]
    with pytest.raises(ValueError, match=r"rate\.noise"):
        sca_general(dataclasses.replace(coef, rate=dataclasses.replace(coef.rate, noise=0.0)))
    with pytest.raises(ValueError, match="crb0"):
        sca_general(dataclasses.replace(coef, crb0=-1.0))
    with pytest.raises(ValueError, match="stopping"):
        sca_general(coef, stopping="never")
    with pytest.raises(ValueError, match="batch_size"):
        sca_general(coef, batch_size=0)


# --------------------------------------------------------------------------- certification
@pytest.mark.slow
@pytest.mark.parametrize("k", [2, 3])
def test_certified_against_a_grid_search(k: int) -> None:
    """K = 2, 3, the four full-b families, CRB0 free and binding, 3 drops each: no failure
    against the grid + local search (benchmarks/sca_general.py part 3); largest gap
    <= 1e-6."""
    gaps = []
    for regime in ("free", "binding"):
        for family, coef in bench().cases(k, 3, 70 + k, regime).items():
            gaps += _certify(dataclasses.replace(coef, source=family), "grid_search")
    assert max(gaps) <= 1e-6


@pytest.mark.slow
def test_certified_against_a_multistart_k8() -> None:
    """K = 8, the four full-b families, CRB0 free and binding, 2 drops each: no failure
    against SLSQP from 50 random feasible starts; largest gap <= 1e-6."""
    gaps = []
    for regime in ("free", "binding"):
        for family, coef in bench().cases(8, 2, 90, regime).items():
            gaps += _certify(dataclasses.replace(coef, source=family), "multistart")
    assert max(gaps) <= 1e-6
