"""jcas.allocation.sensing_centric: the least CRB meeting rate targets, certified.

With ``T3 = 0`` the problem is the LP ``max t2 . z`` subject to the SINR targets and the
budget; scipy's LP (HiGHS) is the independent reference: the same Fisher information to
1e-9 where the scheme says ``optimal``, and LP infeasibility exactly where it says
``infeasible`` (MRT, ZF, PZF, phase-only MRT; common and per-user targets, zero targets,
several (Nt, K, SNR)). At K = 2, 3 a brute-force grid over every allocation meeting the
targets never beats the optimum and comes within its resolution. The returned allocation,
through the precoder's closed forms, meets the targets and has the reported CRB.
Run time about 2 s.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import drops
from scipy.optimize import linprog

from jcas.allocation.maxmin import solve_maxmin
from jcas.allocation.sensing_centric import sensing_centric, sinr_targets, solve_sensing_centric
from jcas.model import metrics
from jcas.model.coefficients import Coefficients, FisherCoefficients
from jcas.model.params import ConfigError, SystemParams
from jcas.parts.coefficients import closed_form_coefficients
from jcas.parts.registry import design


def lp_max_fisher(coef: Coefficients, d: int, t: np.ndarray) -> tuple[int, float]:
    """HiGHS: ``max t2 . z`` s.t. ``t_k (b_k x + e_k s + sigma^2) <= a_k x_k``, ``sum z <= p``;
    returns (status, J) with status 0 optimal, 2 infeasible."""
    r, f = coef.rate, coef.fisher
    a, b, e = r.signal[d], r.interference[d], r.sensing[d]
    k, p, s2 = len(a), coef.budget, r.noise
    rows, rhs = [], []
    for i in range(k):
        row = np.concatenate([t[i] * b[i], [t[i] * e[i]]]) * p / s2
        row[i] -= a[i] * p / s2
        scale = np.max(np.abs(row))
        rows.append(row / scale)
        rhs.append(-t[i] / scale)
    rows.append(np.ones(k + 1))
    rhs.append(1.0)
    top = np.max(f.t2[d])
    res = linprog(
        -f.t2[d] / top,
        A_ub=np.array(rows),
        b_ub=np.array(rhs),
        bounds=[(0, None)] * (k + 1),
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    return int(res.status), (-res.fun * top * p if res.status == 0 else np.nan)


@pytest.mark.parametrize("precoder", ["mrt", "zf", "pzf", "phase_mrt"])
@pytest.mark.parametrize(
    ("nt", "k", "snr", "target"),
    [
        (16, 4, 10.0, 0.05),
        (35, 4, 20.0, 0.3),
        (8, 3, 0.0, [0.02, 0.0, 0.1]),
        (35, 4, 30.0, 8.0),  # infeasible on every drop
    ],
)
def test_lp_gives_the_same_optimum_and_feasibility(
    precoder: str, nt: int, k: int, snr: float, target: object
) -> None:
    params = SystemParams(K=k, Nt=nt, Nr=nt, snr_com_db=snr, precoder=precoder)
    beta, xi = drops(params, 8, seed=2)
    coef = closed_form_coefficients(beta, xi, params)
    sol = solve_sensing_centric(coef, rate_target=target)
    t = sinr_targets(target, k, params.tau_bar)
    for d in range(len(beta)):
        status, j = lp_max_fisher(coef, d, t)
        if sol.status[d] == "optimal":
            assert status == 0, d
            assert abs(params.sigma_r_bar2 / sol.value[d] - j) <= 1e-9 * j
        else:
            assert sol.status[d] == "infeasible"
            assert status == 2, d
    if target == 8.0:
        assert set(sol.status) == {"infeasible"}


@pytest.mark.parametrize(("k", "n"), [(2, 61), (3, 25)])
def test_brute_force_grid(k: int, n: int) -> None:
    params = SystemParams(K=k, Nt=8, Nr=8, snr_com_db=10.0, precoder="zf")
    beta, xi = drops(params, 3, seed=4)
    coef = closed_form_coefficients(beta, xi, params)
    # a common target half the max-min rate of each drop (reachable with room to spare)
    fair = solve_maxmin(coef).value
    r, f, p = coef.rate, coef.fisher, coef.budget
    axes = np.linspace(0.0, p, n)
    z = np.array(list(itertools.product(axes, repeat=k + 1)))
    z = z[np.sum(z, axis=1) <= p * (1 + 1e-12)]
    x, s = z[:, :k], z[:, k]
    for d in range(len(beta)):
        target = 0.5 * params.tau_bar * np.log2(1 + fair[d])
        sol = solve_sensing_centric(coef.select([d]), rate_target=target)
        assert sol.status[0] == "optimal"
        t = sinr_targets(target, k, params.tau_bar)
        den = x @ r.interference[d].T + np.outer(s, r.sensing[d]) + r.noise
        meets = np.all(r.signal[d] * x / den >= t, axis=1)
        best = np.max(z[meets] @ f.t2[d])
        j_star = params.sigma_r_bar2 / sol.value[0]
        assert best <= j_star * (1 + 1e-9)
        assert best >= j_star * 0.9  # grid resolution


@pytest.mark.parametrize("precoder", ["mrt", "zf", "pzf", "phase_mrt"])
def test_scheme_meets_the_targets_with_the_reported_crb(precoder: str) -> None:
    params = SystemParams(K=4, Nt=35, Nr=35, precoder=precoder)
    beta, xi = drops(params, 30, seed=7)
    targets = [0.05, 0.1, 0.0, 0.02]
    alloc = sensing_centric(beta, xi, params, rate_target=targets)
    sol = solve_sensing_centric(closed_form_coefficients(beta, xi, params), rate_target=targets)
    ok = alloc.status == "optimal"
    assert ok.sum() >= 10
    assert set(alloc.status[~ok]) <= {"infeasible"}
    got = metrics.closed_form_metrics(
        alloc.gamma[ok], alloc.eta[ok], xi[ok], beta[ok], params, design(params)
    )
    assert np.all(got["rate"] >= np.array(targets) * (1 - 1e-9))
    np.testing.assert_allclose(got["crb"], sol.value[ok], rtol=1e-9)
    assert np.all(got["power_total"] <= params.pt_w * (1 + 1e-12))
    # every user at its target except where the spare budget goes to a stream
    np.testing.assert_allclose(got["power_total"], params.pt_w, rtol=1e-9)


def test_zero_targets_give_the_least_crb_of_the_budget() -> None:
    """Without rate targets the least CRB is all power on the largest Fisher coefficient."""
    params = SystemParams(K=4, Nt=16, Nr=16)
    beta, xi = drops(params, 5)
    coef = closed_form_coefficients(beta, xi, params)
    sol = solve_sensing_centric(coef, rate_target=0.0)
    expected = params.sigma_r_bar2 / (coef.budget * np.max(coef.fisher.t2, axis=1))
    np.testing.assert_allclose(sol.value, expected, rtol=1e-12)


def test_bad_targets_and_structure_are_refused() -> None:
    params = SystemParams(K=4, Nt=16, Nr=16)
    beta, xi = drops(params, 2)
    with pytest.raises(ValueError, match=r"rate_target = -0.1: entry 0 = -0.1 must be"):
        sensing_centric(beta, xi, params, rate_target=-0.1)
    with pytest.raises(ValueError, match=r"entry 2 = nan must be a finite number >= 0"):
        sensing_centric(beta, xi, params, rate_target=[0.1, 0.1, float("nan"), 0.1])
    with pytest.raises(ValueError, match=r"list of K = 4 numbers"):
        sensing_centric(beta, xi, params, rate_target=[0.1, 0.1])
    with pytest.raises(ValueError, match=r"must be real numbers"):
        sensing_centric(beta, xi, params, rate_target="fast")
    with pytest.raises(ValueError, match=r"too large"):
        sensing_centric(beta, xi, params, rate_target=1e6)
    coef = closed_form_coefficients(beta, xi, params)
    f = coef.fisher
    bent = Coefficients(
        coef.rate,
        FisherCoefficients(f.t1, f.t2, f.t3 + 1e-3j, f.sigma_r_bar2),
        coef.n_tx,
        coef.pt_w,
        coef.crb0,
    )
    with pytest.raises(ConfigError, match=r"'sensing_centric' needs .*'linear_fisher_powers'"):
        solve_sensing_centric(bent)
