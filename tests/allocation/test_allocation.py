"""Closed-form allocation schemes: optimal (exact optimum of (19)), equal, equal_full, frontier.

Every expected value is computed independently of the code under test: rates,
powers and CRBs through ``jcas.model.metrics`` (eq. (15), (16), (18)), optimality by
brute force over a grid and by the KKT conditions of water-filling. Tolerances
are rounding-level (1e-9 relative) except the grid checks, whose tolerance is
the grid's resolution (stated at each test).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import drops

from jcas.allocation import (
    SCHEMES,
    STATUSES,
    SUCCESS_STATUSES,
    Allocation,
    allocate,
    optimal_split,
    rate_crb_frontier,
    water_fill,
)
from jcas.model.metrics import crb_closed_form, sum_rate, transmit_power
from jcas.model.params import SystemParams
from jcas.parts.arrays.ula import steering_derivative_norm2

RTOL = 1e-9


def _sum_rate(alloc: Allocation, beta: np.ndarray, xi: np.ndarray, p: SystemParams) -> np.ndarray:
    return sum_rate(alloc.gamma, alloc.eta, xi, beta, p.Nt, p.sigma_u2_w, p.tau_bar)


def _crb(alloc: Allocation, xi: np.ndarray, p: SystemParams) -> np.ndarray:
    return crb_closed_form(alloc.gamma, alloc.eta, xi, p.Nt, p.Nr, p.theta_rad, p.sigma_r_bar2)


def _binding_crb0(p: SystemParams, where: float = 0.5) -> float:
    """A CRB0 strictly inside the range where the constraint binds (independent formula)."""
    dr = steering_derivative_norm2(p.Nr, p.theta_rad)
    dt = steering_derivative_norm2(p.Nt, p.theta_rad)
    a, b = p.Nt * dr + p.Nr * dt, p.Nt**2 * dr
    assert b > a
    pw = p.pt_w / p.Nt
    tight, loose = p.sigma_r_bar2 / (b * pw), p.sigma_r_bar2 / (a * pw)
    return float(tight ** (1 - where) * loose**where)


PARAMS = [
    SystemParams(),
    SystemParams(Nt=35, Nr=35, snr_com_db=0.0),
    SystemParams(K=8, Nt=100, Nr=100, snr_com_db=-10.0),
    SystemParams(K=2, Nt=15, Nr=15, snr_com_db=30.0, theta_deg=30.0),
]


def test_contract_names_and_shapes() -> None:
    assert set(SUCCESS_STATUSES) < set(STATUSES)
    p = SystemParams()
    beta, xi = drops(p, 5)
    for scheme in SCHEMES:  # every registered scheme
        a = allocate(scheme, beta, xi, p)
        assert a.gamma.shape == a.eta.shape == (5, p.K)
        assert a.status.shape == a.iterations.shape == a.solve_time_s.shape == (5,)
        assert a.iterations.dtype == np.int64
        assert a.solve_time_s.dtype == np.float64
        assert set(a.status) <= set(STATUSES)
        assert np.all(a.solve_time_s >= 0)
        with pytest.raises(dataclasses.FrozenInstanceError):
            a.gamma = a.eta  # type: ignore[misc]
        with pytest.raises(ValueError, match="read-only"):
            a.gamma[0, 0] = 1.0
    with pytest.raises(ValueError, match="scheme"):
        allocate("nope", beta, xi, p)
    with pytest.raises(TypeError):
        allocate("optimal", beta, xi, p, bogus=1)
    with pytest.raises(ValueError, match="status"):
        Allocation(np.zeros((1, 2)), np.zeros((1, 2)), np.array(["ok"]), np.zeros(1), np.zeros(1))


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("binding", [False, True])
def test_optimal_meets_power_and_crb(params: SystemParams, binding: bool) -> None:
    p = params.replace(crb0=_binding_crb0(params)) if binding else params
    beta, xi = drops(p, 200)
    a = allocate("optimal", beta, xi, p)
    assert np.all(a.status == "optimal")
    assert np.all(a.gamma >= 0)
    assert np.all(a.eta >= 0)
    np.testing.assert_allclose(transmit_power(a.gamma, a.eta, xi, p.Nt), p.pt_w, rtol=RTOL)
    crb = _crb(a, xi, p)
    assert np.all(crb <= p.crb0 * (1 + RTOL))
    if binding:  # the least sensing power that meets CRB0: the constraint is tight
        np.testing.assert_allclose(crb, p.crb0, rtol=RTOL)
    else:  # CRB0 does not bind: no sensing power at all
        assert np.all(a.eta == 0)


def test_optimal_water_filling_kkt() -> None:
    """At full power with fixed split, rate_k = log(1 + g_k x_k): KKT of water-filling."""
    p = SystemParams(K=8, Nt=35, Nr=35, snr_com_db=10.0)
    beta, xi = drops(p, 300)
    a = allocate("optimal", beta, xi, p)
    pw = p.pt_w / p.Nt
    g = p.Nt**2 * xi / (p.Nt * beta * pw + p.sigma_u2_w)
    x = xi * a.gamma
    marginal = g / (1 + g * x)  # d/dx_k of ln(1 + g_k x_k)
    on = x > 0
    level = np.max(np.where(on, marginal, -np.inf), axis=1, keepdims=True)
    np.testing.assert_allclose(
        np.where(on, marginal, level), np.broadcast_to(level, on.shape), rtol=1e-9
    )
    assert np.all(np.where(on, True, g <= level * (1 + 1e-12)))
    assert np.mean(on) < 1.0  # the test set contains switched-off users


def test_water_fill_random() -> None:
    rng = np.random.default_rng(3)
    gain = 10 ** rng.uniform(-6, 3, size=(500, 6))
    gain[:10, 0] = 0.0  # a zero gain never gets power
    total = 10 ** rng.uniform(-3, 2, size=500)
    x = water_fill(gain, total)
    assert np.all(x >= 0)
    assert np.all(x[:10, 0] == 0)
    np.testing.assert_allclose(x.sum(axis=1), total, rtol=1e-12)
    marginal = gain / (1 + gain * x)
    on = x > 0
    level = np.max(np.where(on, marginal, -np.inf), axis=1, keepdims=True)
    np.testing.assert_allclose(
        np.where(on, marginal, level), np.broadcast_to(level, on.shape), rtol=1e-8
    )
    assert np.all(np.where(on, True, gain <= level * (1 + 1e-12)))


@pytest.mark.parametrize("binding", [False, True])
def test_optimal_brute_force_k2(binding: bool) -> None:
    """K = 2: no point of a 3-D grid over (x1, x2, s) beats `optimal`; a fine grid on the
    full-power face comes within its resolution of it (spacing 1e-3 of the budget: the
    grid best trails by at most ~1e-3 relative where CRB0 truncates the grid, less inside)."""
    p = SystemParams(K=2, Nt=15, Nr=15, snr_com_db=10.0)
    if binding:
        p = p.replace(crb0=_binding_crb0(p, 0.3))
    beta, xi = drops(p, 4, seed=5)
    best = _sum_rate(allocate("optimal", beta, xi, p), beta, xi, p)
    pw = p.pt_w / p.Nt
    n = 41
    grid = np.linspace(0.0, pw, n)
    x1, x2, s = (a.ravel() for a in np.meshgrid(grid, grid, grid, indexing="ij"))
    keep = x1 + x2 + s <= pw * (1 + 1e-12)
    x1, x2, s = x1[keep], x2[keep], s[keep]
    for d in range(len(beta)):
        gamma = np.stack([x1 / xi[d, 0], x2 / xi[d, 1]], axis=1)
        eta = np.stack([s / 2, s / 2], axis=1)
        rate = sum_rate(gamma, eta, xi[d], beta[d], p.Nt, p.sigma_u2_w, p.tau_bar)
        crb = crb_closed_form(gamma, eta, xi[d], p.Nt, p.Nr, p.theta_rad, p.sigma_r_bar2)
        ok = crb <= p.crb0
        assert np.any(ok)
        assert rate[ok].max() <= best[d] * (1 + 1e-12)
        # fine grid on the full-power face c + s = p
        fine = np.linspace(0.0, 1.0, 1001)
        sf, share = (a.ravel() for a in np.meshgrid(fine, fine, indexing="ij"))
        c = (1 - sf) * pw
        gamma = np.stack([share * c / xi[d, 0], (1 - share) * c / xi[d, 1]], axis=1)
        eta = np.stack([sf * pw / 2, sf * pw / 2], axis=1)
        rate = sum_rate(gamma, eta, xi[d], beta[d], p.Nt, p.sigma_u2_w, p.tau_bar)
        crb = crb_closed_form(gamma, eta, xi[d], p.Nt, p.Nr, p.theta_rad, p.sigma_r_bar2)
        grid_best = rate[crb <= p.crb0].max()
        assert grid_best <= best[d] * (1 + 1e-12)
        assert grid_best >= best[d] * (1 - 2e-3)


@pytest.mark.parametrize(
    ("nt", "nr", "case"),
    [(15, 15, "b>a"), (2, 1, "b<a"), (2, 2, "b=a"), (1, 1, "no derivative")],
)
def test_optimal_split_cases(nt: int, nr: int, case: str) -> None:
    """Sensing power buys more Fisher information than communications power iff b > a."""
    p = SystemParams(Nt=nt, Nr=nr)
    dr = steering_derivative_norm2(nr, p.theta_rad)
    dt = steering_derivative_norm2(nt, p.theta_rad)
    a, b = nt * dr + nr * dt, nt**2 * dr
    pw = p.pt_w / nt
    if case == "no derivative":
        assert a == b == 0
        c, s, feasible = optimal_split(p)
        assert not feasible
        assert np.isnan(c)
        assert np.isnan(s)
        return
    # the loosest CRB0 that binds, and a tighter one
    for crb0 in (p.sigma_r_bar2 / (max(a, b) * pw) * 1.5, 1.0):
        q = p.replace(crb0=crb0)
        c, s, feasible = optimal_split(q)
        assert feasible
        assert c + s == pytest.approx(pw, rel=1e-12)
        fisher = a * c + b * s
        assert fisher >= q.sigma_r_bar2 / crb0 * (1 - 1e-12)
        if case == "b>a" and crb0 < 1.0:
            assert s > 0
            assert fisher == pytest.approx(q.sigma_r_bar2 / crb0, rel=1e-12)
        else:  # communications power is at least as CRB-efficient: all of it to users
            assert s == 0


@pytest.mark.parametrize("params", [SystemParams(), SystemParams(Nt=2, Nr=1)])
def test_infeasible_crb0(params: SystemParams) -> None:
    p = params.replace(crb0=1e-9)
    beta, xi = drops(p, 4)
    for scheme in ("optimal", "equal"):
        a = allocate(scheme, beta, xi, p)
        assert np.all(a.status == "infeasible")
        assert np.all(np.isnan(a.gamma))
        assert np.all(np.isnan(a.eta))
        assert not np.any(a.success)
    a = allocate("equal_full", beta, xi, p)
    assert np.all(a.status == "crb_violated")
    assert np.all(np.isfinite(a.gamma))


@pytest.mark.parametrize("binding", [False, True])
def test_equal_identities(binding: bool) -> None:
    p = SystemParams(Nt=35, Nr=35, snr_com_db=20.0)
    if binding:
        p = p.replace(crb0=_binding_crb0(p))
    beta, xi = drops(p, 100)
    ref = allocate("optimal", beta, xi, p)
    a = allocate("equal", beta, xi, p, reference=ref)
    assert np.all(a.status == "feasible")
    np.testing.assert_array_equal(a.gamma, a.gamma[:, :1].repeat(p.K, axis=1))
    np.testing.assert_array_equal(a.eta, a.eta[:, :1].repeat(p.K, axis=1))
    for alloc_a, alloc_b in ((a, ref),):
        np.testing.assert_allclose(
            p.Nt * np.sum(xi * alloc_a.gamma, axis=1),
            p.Nt * np.sum(xi * alloc_b.gamma, axis=1),
            rtol=RTOL,
        )
        np.testing.assert_allclose(
            p.Nt * alloc_a.eta.sum(axis=1), p.Nt * alloc_b.eta.sum(axis=1), rtol=RTOL, atol=0
        )
    np.testing.assert_allclose(_crb(a, xi, p), _crb(ref, xi, p), rtol=RTOL)
    np.testing.assert_allclose(transmit_power(a.gamma, a.eta, xi, p.Nt), p.pt_w, rtol=RTOL)
    assert np.all(_sum_rate(a, beta, xi, p) <= _sum_rate(ref, beta, xi, p) * (1 + 1e-12))
    # default reference is the optimal design
    b = allocate("equal", beta, xi, p)
    np.testing.assert_array_equal(a.gamma, b.gamma)


def test_equal_with_missing_reference() -> None:
    p = SystemParams()
    beta, xi = drops(p, 4)
    ref = allocate("optimal", beta, xi, p)
    gamma = np.array(ref.gamma)
    gamma[1] = np.nan
    status = np.array(ref.status, dtype=object)
    status[2] = "solver_error"
    broken = Allocation(gamma, ref.eta, status, ref.iterations, ref.solve_time_s)
    a = allocate("equal", beta, xi, p, reference=broken)
    assert list(a.status) == ["feasible", "infeasible", "infeasible", "feasible"]
    assert np.all(np.isnan(a.gamma[1:3]))
    assert np.all(np.isfinite(a.gamma[[0, 3]]))


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 1.0])
def test_equal_full_identities(fraction: float) -> None:
    p = SystemParams(Nt=35, Nr=35)
    p = p.replace(crb0=_binding_crb0(p, 0.5))
    beta, xi = drops(p, 50)
    a = allocate("equal_full", beta, xi, p, sensing_fraction=fraction)
    np.testing.assert_allclose(transmit_power(a.gamma, a.eta, xi, p.Nt), p.pt_w, rtol=RTOL)
    np.testing.assert_allclose(p.Nt * a.eta.sum(axis=1), fraction * p.pt_w, rtol=RTOL, atol=0)
    np.testing.assert_array_equal(a.gamma, a.gamma[:, :1].repeat(p.K, axis=1))
    np.testing.assert_array_equal(a.eta, a.eta[:, :1].repeat(p.K, axis=1))
    meets = _crb(a, xi, p) <= p.crb0
    expected = np.where(meets, "feasible", "crb_violated")
    np.testing.assert_array_equal(a.status, expected)
    # this CRB0 is met by half the power on sensing but not by none
    assert (fraction >= 0.5) == bool(meets[0])
    with pytest.raises(ValueError, match="sensing_fraction"):
        allocate("equal_full", beta, xi, p, sensing_fraction=1.5)


def test_frontier_is_the_pareto_front() -> None:
    p = SystemParams(Nt=35, Nr=35, snr_com_db=10.0)
    beta, xi = drops(p, 20)
    fr = rate_crb_frontier(beta, xi, p, 25)
    assert fr.crb0.shape == (25,)
    assert fr.sum_rate.shape == (20, 25)
    assert np.all(np.diff(fr.crb0) > 0)
    assert np.all(np.diff(fr.sum_rate, axis=1) >= -1e-12)  # looser CRB -> more rate
    np.testing.assert_allclose(fr.power_comm + fr.power_sensing, p.pt_w, rtol=RTOL)
    assert fr.sum_rate[:, 0] == pytest.approx(0.0, abs=1e-12)  # tightest: all on sensing
    for j in (1, 12, 24):  # each point is the optimum at its CRB0, met with equality
        q = p.replace(crb0=float(fr.crb0[j]))
        opt = allocate("optimal", beta, xi, q)
        np.testing.assert_allclose(_sum_rate(opt, beta, xi, q), fr.sum_rate[:, j], rtol=1e-9)
        np.testing.assert_allclose(_crb(opt, xi, q), fr.crb0[j], rtol=1e-9)
    # the loosest point is the unconstrained optimum
    free = allocate("optimal", beta, xi, p.replace(crb0=1.0))
    np.testing.assert_allclose(_sum_rate(free, beta, xi, p), fr.sum_rate[:, -1], rtol=1e-9)
    # no equal_full design (any sensing fraction) beats the optimum at its own CRB
    for f in np.linspace(0.01, 0.99, 9):
        e = allocate("equal_full", beta, xi, p, sensing_fraction=float(f))
        crb = _crb(e, xi, p)
        np.testing.assert_allclose(crb, crb[0], rtol=1e-12)  # the CRB depends on the split only
        q = p.replace(crb0=float(crb[0]) * (1 + 1e-12))
        opt = allocate("optimal", beta, xi, q)
        assert np.all(_sum_rate(e, beta, xi, p) <= _sum_rate(opt, beta, xi, q) * (1 + 1e-12))
