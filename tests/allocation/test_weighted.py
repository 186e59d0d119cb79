"""jcas.allocation.weighted: the weighted sum-rate optimum, certified.

- With unit weights it is ``optimal`` (independently proven and certified,
  ``docs/theory.md`` §2, §6) to 1e-12: MRT, ZF, PZF at low and high SNR, CRB0 free,
  binding and infeasible.
- The weighted water-filling meets the KKT conditions of its concave problem (sufficient).
- At K = 2, 3 with unequal weights, a brute-force grid over every allocation (any total
  power) meeting CRB0 never beats the optimum, and SLSQP started from the best grid point
  (a different method) converges to it.
- Coefficients without the structure (phase-only MRT, reused pilots, per-user Fisher
  coefficients) and bad weights are refused with errors naming them.
Run time about 2 s.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import drops
from scipy.optimize import minimize

from jcas.allocation import optimal
from jcas.allocation.weighted import solve_weighted, weighted, weighted_water_fill
from jcas.model import metrics
from jcas.model.coefficients import Coefficients, FisherCoefficients
from jcas.model.params import ConfigError, SystemParams
from jcas.parts.coefficients import closed_form_coefficients
from jcas.parts.registry import design


def regime_crb0(params: SystemParams, regime: str) -> float:
    beta, xi = drops(params, 1)
    coef = closed_form_coefficients(beta, xi, params)
    t2, p, sigma = coef.fisher.t2[0], coef.budget, params.sigma_r_bar2
    tight, loose = sigma / (np.max(t2) * p), sigma / (t2[0] * p)
    return float(
        {"free": 1e-3, "binding": np.sqrt(tight * loose), "infeasible": tight / 10}[regime]
    )


@pytest.mark.parametrize("precoder", ["mrt", "zf", "pzf"])
@pytest.mark.parametrize("snr", [-10.0, 20.0])
@pytest.mark.parametrize("regime", ["free", "binding", "infeasible"])
def test_unit_weights_equal_optimal(precoder: str, snr: float, regime: str) -> None:
    base = SystemParams(K=4, Nt=35, Nr=35, snr_com_db=snr, precoder=precoder)
    params = base.replace(crb0=regime_crb0(base, regime))
    beta, xi = drops(params, 50, seed=12)
    got = weighted(beta, xi, params)
    ref = optimal(beta, xi, params)
    np.testing.assert_array_equal(got.status, ref.status)
    if regime == "infeasible":
        assert set(got.status) == {"infeasible"}
        return
    x_got, s_got = design(params).precoder.power_factors(got.gamma, got.eta, xi)
    x_ref, s_ref = design(params).precoder.power_factors(ref.gamma, ref.eta, xi)
    p = params.pt_w / params.Nt
    np.testing.assert_allclose(x_got, x_ref, rtol=0, atol=1e-12 * p)
    np.testing.assert_allclose(s_got, s_ref, rtol=0, atol=1e-12 * p)
    rate_got = metrics.closed_form_metrics(got.gamma, got.eta, xi, beta, params, design(params))
    rate_ref = metrics.closed_form_metrics(ref.gamma, ref.eta, xi, beta, params, design(params))
    np.testing.assert_allclose(
        rate_got["rate"].sum(-1), rate_ref["rate"].sum(-1), rtol=1e-12, atol=0
    )


def test_weighted_water_filling_meets_kkt() -> None:
    rng = np.random.default_rng(1)
    gain = 10.0 ** rng.uniform(-3, 3, (400, 6))
    weights = rng.uniform(0, 3, (400, 6))
    weights[:50, 0] = 0.0
    total = 10.0 ** rng.uniform(-4, 2, 400)
    x = weighted_water_fill(gain, weights, total)
    assert np.all(x >= 0)
    np.testing.assert_allclose(x.sum(-1), total, rtol=1e-12)
    marginal = weights * gain / (1 + gain * x)  # d/dx_k of sum w ln(1 + g x)
    active = x > 1e-12 * total[:, None]
    lam = np.max(np.where(active, marginal, 0), axis=-1)
    # active users share the level lambda; inactive ones are below it
    level = np.broadcast_to(lam[:, None], marginal.shape)
    np.testing.assert_allclose(np.where(active, marginal, level), level, rtol=1e-9)
    assert np.all(np.where(active, 0, marginal) <= lam[:, None] * (1 + 1e-9))
    assert np.all(x[:50, 0] == 0)


def _value(coef: Coefficients, d: int, z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted sum rate (bit/s/Hz) of allocations ``z = [x, s]`` (n, K + 1) of drop d,
    from the coefficient arrays directly."""
    r = coef.rate
    k = r.n_users
    x, s = z[:, :k], z[:, k]
    den = x @ r.interference[d].T + np.outer(s, r.sensing[d]) + r.noise
    return r.tau_bar * np.sum(w * np.log2(1 + r.signal[d] * x / den), axis=-1)


@pytest.mark.parametrize(
    ("precoder", "weights", "n"),
    [("mrt", [3.0, 1.0], 61), ("zf", [0.5, 2.0], 61), ("mrt", [1.0, 0.2, 2.5], 25)],
)
def test_brute_force_and_slsqp(precoder: str, weights: list[float], n: int) -> None:
    k = len(weights)
    base = SystemParams(K=k, Nt=8, Nr=8, snr_com_db=10.0, precoder=precoder)
    params = base.replace(crb0=regime_crb0(base, "binding"))
    beta, xi = drops(params, 3, seed=21)
    coef = closed_form_coefficients(beta, xi, params)
    w = np.array(weights)
    sol = solve_weighted(coef, weights=weights)
    assert set(sol.status) == {"optimal"}
    p = coef.budget
    axes = np.linspace(0.0, p, n)
    grid = np.array(list(itertools.product(axes, repeat=k + 1)))
    grid = grid[np.sum(grid, axis=1) <= p * (1 + 1e-12)]
    for d in range(len(beta)):
        t2 = coef.fisher.t2[d]
        meets = grid @ t2 >= coef.fisher0
        values = _value(coef, d, grid[meets], w)
        star = _value(coef, d, np.concatenate([sol.x[d], [sol.s[d]]])[None], w)[0]
        np.testing.assert_allclose(star, sol.value[d], rtol=1e-12)
        assert np.max(values) <= star * (1 + 1e-9)
        z0 = grid[meets][np.argmax(values)] / p
        res = minimize(
            lambda z, d=d: -_value(coef, d, z[None] * p, w)[0],
            z0,
            method="SLSQP",
            bounds=[(0, 1)] * (k + 1),
            constraints=[
                {"type": "ineq", "fun": lambda z: 1 - np.sum(z)},
                {"type": "ineq", "fun": lambda z, t2=t2: z @ t2 * p / coef.fisher0 - 1},
            ],
            options={"ftol": 1e-14, "maxiter": 500},
        )
        assert -res.fun <= star * (1 + 1e-9)
        assert -res.fun >= star * (1 - 1e-6)


def test_weights_shift_rate_to_the_heavier_user() -> None:
    params = SystemParams(K=3, Nt=16, Nr=16, snr_com_db=10.0)
    beta, xi = drops(params, 20, seed=3)
    coef = closed_form_coefficients(beta, xi, params)
    base = coef.rate.rates(*_xs(solve_weighted(coef)))
    heavy = coef.rate.rates(*_xs(solve_weighted(coef, weights=[4.0, 1.0, 1.0])))
    assert np.all(heavy[:, 0] >= base[:, 0] * (1 - 1e-12))
    zero = solve_weighted(coef, weights=[0.0, 1.0, 1.0])
    np.testing.assert_array_equal(zero.x[:, 0], 0.0)


def _xs(sol: object) -> tuple[np.ndarray, np.ndarray]:
    return sol.x, sol.s  # type: ignore[attr-defined]


def test_structure_and_bad_weights_are_refused() -> None:
    params = SystemParams(K=4, Nt=16, Nr=16)
    beta, xi = drops(params, 2)
    with pytest.raises(ConfigError, match=r"'weighted' needs .*'split_power_rate'.*'phase_mrt'"):
        weighted(beta, xi, params.replace(precoder="phase_mrt"))
    with pytest.raises(ConfigError, match=r"'split_power_rate'.*differs .*system.tau_p = 2"):
        weighted(beta, xi, params.replace(tau_p=2))
    coef = closed_form_coefficients(beta, xi, params)
    f = coef.fisher
    t2 = f.t2.copy()
    t2[:, 1] *= 1.01
    uneven = Coefficients(
        coef.rate, FisherCoefficients(f.t1, t2, f.t3, f.sigma_r_bar2), coef.n_tx, coef.pt_w, 1e-3
    )
    with pytest.raises(ConfigError, match=r"'linear_fisher'.*t2\[k\] differs between users"):
        solve_weighted(uneven)
    for bad, msg in (
        ([1.0, -1.0, 1.0, 1.0], r"entry 1 = -1.0 must be finite and >= 0"),
        ([1.0, 1.0], r"list of K = 4 numbers"),
        ([0.0, 0.0, 0.0, 0.0], r"at least one weight must be > 0"),
        ([1.0, float("inf"), 1.0, 1.0], r"entry 1 = inf"),
        (["a", 1, 1, 1], r"must be real numbers"),
        (2.0, r"list of K = 4 numbers"),
    ):
        with pytest.raises(ValueError, match=msg):
            weighted(beta, xi, params, weights=bad)
