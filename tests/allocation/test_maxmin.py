"""jcas.allocation.maxmin: the max-min SINR under CRB0 and the budget, certified.

The optimum ``t*`` is checked by means independent of the code under test:

- scipy's LP (HiGHS): the linear feasibility problem of the common SINR is feasible at
  ``t*`` and infeasible at ``t* (1 + 1e-6)`` (its Farkas certificate), for MRT, ZF, PZF,
  phase-only MRT (a full interference matrix) and MRT with reused pilots, at CRB0 free,
  binding and infeasible, and several (Nt, K, SNR);
- a bisection on the LP's feasibility reaches the same ``t*`` (1e-7 relative);
- at K = 2, 3 a brute-force grid over every allocation (any total power) never beats
  ``t*`` and comes within its resolution;
- the allocation returned meets the constraints, and its rates recomputed from the
  precoder's closed forms (:func:`jcas.model.metrics.closed_form_metrics`) have the
  smallest rate ``tau_bar log2(1 + t*)``.
Run time about 3 s.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import PLANAR_SYSTEM, drops
from scipy.optimize import linprog

from jcas.allocation._structure import min_power
from jcas.allocation.maxmin import maxmin, solve_maxmin
from jcas.model import metrics
from jcas.model.coefficients import Coefficients, FisherCoefficients
from jcas.model.params import ConfigError, SystemParams
from jcas.parts.coefficients import closed_form_coefficients
from jcas.parts.registry import design


def crb0_range(params: SystemParams) -> tuple[float, float]:
    """``(tight, loose)``: the CRB with all power on the more Fisher-efficient use, and with
    all power on communications (CRB0 binds between them), from the coefficients."""
    beta, xi = drops(params, 1)
    coef = closed_form_coefficients(beta, xi, params)
    t2 = coef.fisher.t2[0]
    sigma, p = params.sigma_r_bar2, coef.budget
    return sigma / (np.max(t2) * p), sigma / (t2[0] * p)


def case(precoder: str, nt: int, k: int, snr: float, regime: str, **kw) -> SystemParams:
    base = SystemParams(K=k, Nt=nt, Nr=nt, snr_com_db=snr, precoder=precoder, **kw)
    tight, loose = crb0_range(base)
    crb0 = {"free": 1e-3, "binding": np.sqrt(tight * loose), "infeasible": tight / 10}[regime]
    return base.replace(crb0=float(crb0))


def lp_status(coef: Coefficients, d: int, t: float) -> int:
    """HiGHS status of the feasibility LP at common SINR ``t`` (0 feasible, 2 infeasible):
    ``t (b_k x + e_k s + sigma^2) <= a_k x_k``, ``sum x + s <= p``, ``t2 . z >= F0``, with
    the variables scaled by ``p`` and each row by its largest coefficient."""
    r, f = coef.rate, coef.fisher
    a, b, e = r.signal[d], r.interference[d], r.sensing[d]
    k, p, s2 = len(a), coef.budget, r.noise
    rows, rhs = [], []
    for i in range(k):
        row = np.concatenate([t * b[i], [t * e[i]]]) * p / s2
        row[i] -= a[i] * p / s2
        scale = np.max(np.abs(row))
        rows.append(row / scale)
        rhs.append(-t / scale)
    rows.append(np.ones(k + 1))
    rhs.append(1.0)
    row = -f.t2[d] * p / coef.fisher0
    rows.append(row / np.max(np.abs(row)))
    rhs.append(-1.0 / np.max(np.abs(row)))
    res = linprog(
        np.zeros(k + 1),
        A_ub=np.array(rows),
        b_ub=np.array(rhs),
        bounds=[(0, None)] * (k + 1),
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    return int(res.status)


CASES = [
    (pre, nt, k, snr, regime)
    for pre in ("mrt", "zf", "pzf", "phase_mrt")
    for (nt, k, snr, regime) in (
        (16, 4, 10.0, "free"),
        (35, 4, 20.0, "binding"),
        (8, 3, -5.0, "binding"),
        (16, 4, 20.0, "infeasible"),
    )
]


@pytest.mark.parametrize(("precoder", "nt", "k", "snr", "regime"), CASES)
def test_lp_certifies_the_optimum(precoder: str, nt: int, k: int, snr: float, regime: str) -> None:
    params = case(precoder, nt, k, snr, regime)
    beta, xi = drops(params, 5, seed=3)
    coef = closed_form_coefficients(beta, xi, params)
    sol = solve_maxmin(coef)
    if regime == "infeasible":
        assert set(sol.status) == {"infeasible"}
        assert np.all(np.isnan(sol.x))
        assert all(lp_status(coef, d, 1e-12) == 2 for d in range(len(beta)))
        return
    assert set(sol.status) == {"optimal"}
    for d in range(len(beta)):
        assert lp_status(coef, d, sol.value[d]) == 0, d
        assert lp_status(coef, d, sol.value[d] * (1 + 1e-6)) == 2, d


def test_reused_pilots_full_interference_matrix() -> None:
    """MRT with tau_p < K: pilot contamination makes b_kj depend on j; still exact."""
    params = case("mrt", 16, 4, 20.0, "binding", tau_p=2)
    beta, xi = drops(params, 4, seed=5)
    coef = closed_form_coefficients(beta, xi, params)
    assert coef.rate.split_form() is None
    sol = solve_maxmin(coef)
    assert set(sol.status) == {"optimal"}
    for d in range(len(beta)):
        assert lp_status(coef, d, sol.value[d]) == 0
        assert lp_status(coef, d, sol.value[d] * (1 + 1e-6)) == 2


def test_lp_bisection_reaches_the_same_optimum() -> None:
    params = case("zf", 12, 3, 5.0, "binding")
    beta, xi = drops(params, 3, seed=8)
    coef = closed_form_coefficients(beta, xi, params)
    sol = solve_maxmin(coef)
    for d in range(len(beta)):
        lo, hi = 0.0, 2 * sol.value[d]
        assert lp_status(coef, d, hi) == 2
        while hi - lo > 1e-9 * hi:
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if lp_status(coef, d, mid) == 0 else (lo, mid)
        assert abs(lo - sol.value[d]) <= 1e-7 * sol.value[d]


def _grid_best(coef: Coefficients, d: int, n: int) -> float:
    """Largest min-SINR over a grid of every allocation with ``sum x + s <= p`` meeting
    ``J >= F0``, computed from the coefficient arrays directly."""
    r, f = coef.rate, coef.fisher
    k, p = r.n_users, coef.budget
    axes = np.linspace(0.0, p, n)
    z = np.array(list(itertools.product(axes, repeat=k + 1)))
    z = z[np.sum(z, axis=1) <= p * (1 + 1e-12)]
    x, s = z[:, :k], z[:, k]
    den = x @ r.interference[d].T + np.outer(s, r.sensing[d]) + r.noise
    sinr = np.min(r.signal[d] * x / den, axis=1)
    ok = z @ f.t2[d] >= coef.fisher0
    return float(np.max(sinr[ok]))


@pytest.mark.parametrize(("k", "n"), [(2, 61), (3, 25)])
@pytest.mark.parametrize("precoder", ["mrt", "zf"])
def test_brute_force_grid(k: int, n: int, precoder: str) -> None:
    params = case(precoder, 8, k, 10.0, "binding")
    beta, xi = drops(params, 3, seed=4)
    coef = closed_form_coefficients(beta, xi, params)
    sol = solve_maxmin(coef)
    assert set(sol.status) == {"optimal"}
    for d in range(len(beta)):
        best = _grid_best(coef, d, n)
        assert best <= sol.value[d] * (1 + 1e-9)
        assert best >= sol.value[d] * 0.8  # the grid's resolution: within 20 %


@pytest.mark.parametrize("precoder", ["mrt", "zf", "pzf", "phase_mrt"])
def test_scheme_meets_its_constraints_and_the_closed_forms(precoder: str) -> None:
    params = case(precoder, 16, 4, 15.0, "binding")
    beta, xi = drops(params, 20, seed=6)
    alloc = maxmin(beta, xi, params)
    sol = solve_maxmin(closed_form_coefficients(beta, xi, params))
    assert set(alloc.status) == {"optimal"}
    assert np.all(alloc.iterations > 0)
    got = metrics.closed_form_metrics(alloc.gamma, alloc.eta, xi, beta, params, design(params))
    np.testing.assert_allclose(
        np.min(got["rate"], axis=1), params.tau_bar * np.log2(1 + sol.value), rtol=1e-9
    )
    assert np.all(got["crb"] <= params.crb0 * (1 + 1e-9))
    assert np.all(got["power_total"] <= params.pt_w * (1 + 1e-12))
    # CRB0 binds (between the tight and loose values): the CRB meets it with equality
    np.testing.assert_allclose(got["crb"], params.crb0, rtol=1e-7)


def test_free_crb0_spends_the_budget_on_equal_sinrs() -> None:
    params = case("mrt", 16, 4, 10.0, "free")
    beta, xi = drops(params, 10, seed=9)
    coef = closed_form_coefficients(beta, xi, params)
    sol = solve_maxmin(coef)
    sinr = coef.rate.sinr(sol.x, sol.s)
    np.testing.assert_allclose(sinr, sol.value[:, None] * np.ones((1, 4)), rtol=1e-9)
    np.testing.assert_allclose(sol.x.sum(axis=1) + sol.s, coef.budget, rtol=1e-12)
    np.testing.assert_allclose(sol.s, 0.0, atol=1e-14 * coef.budget)  # rounding leftover


def test_min_power_meets_the_targets_with_equality() -> None:
    params = SystemParams(K=4, Nt=16, Nr=16, precoder="phase_mrt")
    beta, xi = drops(params, 5)
    coef = closed_form_coefficients(beta, xi, params)
    t = np.array([0.01, 0.02, 0.005, 0.03])
    mp = min_power(coef, t[None, :])
    assert np.all(mp.ok)
    for s in (0.0, 1e-3):
        sinr = coef.rate.sinr(mp.u + mp.v * s, np.full(len(beta), s))
        np.testing.assert_allclose(sinr, np.broadcast_to(t, sinr.shape), rtol=1e-11)
    # beyond the interference limit rho(diag(t / a) b) >= 1 no power reaches the targets
    huge = min_power(coef, np.full((1, 4), 1e6))
    assert not np.any(huge.ok)


def test_invalid_drops_are_recorded_not_raised() -> None:
    params = case("mrt", 16, 4, 10.0, "binding")
    beta, xi = drops(params, 4)
    xi = xi.copy()
    xi[1, 2] = np.nan
    xi[2, 0] = 0.0
    alloc = maxmin(beta, xi, params)
    assert list(alloc.status) == ["optimal", "invalid_input", "invalid_input", "optimal"]
    assert np.all(np.isnan(alloc.gamma[1:3]))


def test_bad_options_and_structure_are_refused() -> None:
    params = SystemParams(K=4, Nt=16, Nr=16)
    beta, xi = drops(params, 2)
    for bad in (0.0, -1.0, float("nan"), "x", 0.1):
        with pytest.raises(ValueError, match=r"rtol = "):
            maxmin(beta, xi, params, rtol=bad)
    with pytest.raises(ValueError, match=r"max_iterations = 0"):
        maxmin(beta, xi, params, max_iterations=0)
    coef = closed_form_coefficients(beta, xi, params)
    f = coef.fisher
    t3 = FisherCoefficients(f.t1, f.t2, f.t3 + 1e-3, f.sigma_r_bar2)
    bent = Coefficients(coef.rate, t3, coef.n_tx, coef.pt_w, coef.crb0)
    with pytest.raises(ConfigError, match=r"'maxmin' needs .*linear_fisher_powers.*T3 != 0"):
        solve_maxmin(bent)
    with pytest.raises(ConfigError, match=r"system.Nt = 4 <= system.K = 4"):
        maxmin(beta, xi, params.replace(precoder="zf", Nt=4, Nr=4))
    planar = drops(PLANAR_SYSTEM, 2)
    with pytest.raises(ConfigError, match=r"crb_form = 'sum'"):
        maxmin(*planar, PLANAR_SYSTEM)
    with pytest.raises(ValueError, match=r"beta has K = 4 users but params.K = 3"):
        maxmin(beta, xi, params.replace(K=3))
