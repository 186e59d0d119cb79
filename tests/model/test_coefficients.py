"""jcas.model.coefficients: the linear-fractional rate and linear CRB structure.

The coefficients built from a precoder's closed forms reproduce, at random allocations, the
rate (15) and the CRB (16) written out independently (:func:`jcas.model.metrics.rate`,
:func:`jcas.model.metrics.crb_closed_form`) for MRT, and the precoder's own closed-form terms
for every registered precoder; the split-power form is recognised where it holds.
"""

from __future__ import annotations

import numpy as np
import pytest

from jcas.model import metrics
from jcas.model.channel import estimate_variance
from jcas.model.params import SystemParams
from jcas.parts.coefficients import closed_form_coefficients
from jcas.parts.registry import CLOSED_FORMS, PRECODERS, design


def _drops(params: SystemParams, seed: int, n: int = 6):
    rng = np.random.default_rng(seed)
    beta = 10.0 ** rng.uniform(-2, 0, (n, params.K))
    xi = estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)
    x = rng.uniform(0, 1, (n, params.K)) * params.pt_w / params.Nt / (2 * params.K)
    s = rng.uniform(0, 1, n) * params.pt_w / params.Nt / 2
    return beta, xi, x, s


@pytest.mark.parametrize("tau_p", [10, 2])
def test_mrt_coefficients_reproduce_rate_15_and_crb_16(tau_p: int) -> None:
    params = SystemParams(Nt=12, Nr=10, K=4, tau_p=tau_p, snr_com_db=10.0, theta_deg=20.0)
    beta, xi, x, s = _drops(params, 1)
    coef = closed_form_coefficients(beta, xi, params)
    gamma, eta = x / xi, np.repeat(s[:, None] / params.K, params.K, axis=1)
    gram = None
    if tau_p < params.K:
        from jcas.model.channel import pilot_gram

        gram = pilot_gram(params.K, tau_p)
    expected = metrics.rate(
        gamma, eta, xi, beta, params.Nt, params.sigma_u2_w, params.tau_bar, pilot_gram=gram
    )
    np.testing.assert_allclose(coef.rate.rates(x, s), expected, rtol=1e-12)
    crb = metrics.crb_closed_form(
        gamma, eta, xi, params.Nt, params.Nr, params.theta_rad, params.sigma_r_bar2
    )
    np.testing.assert_allclose(coef.fisher.crb(x, s), crb, rtol=1e-12)
    assert coef.fisher.linear
    assert (coef.rate.split_form() is not None) == (tau_p >= params.K)
    np.testing.assert_allclose(coef.power(x, s), params.Nt * (x.sum(-1) + s), rtol=1e-15)


@pytest.mark.parametrize(
    "precoder", [n for n, part in PRECODERS.items() if CLOSED_FORMS in part.capabilities]
)
def test_coefficients_reproduce_each_precoders_closed_forms(precoder: str) -> None:
    params = SystemParams(Nt=14, Nr=9, K=3, snr_com_db=0.0, theta_deg=-30.0, precoder=precoder)
    beta, xi, x, s = _drops(params, 2)
    parts = design(params)
    coef = closed_form_coefficients(beta, xi, params)
    gamma, eta = parts.precoder.from_power_factors(x, s, xi)
    direct = metrics.closed_form_metrics(gamma, eta, xi, beta, params, parts)
    np.testing.assert_allclose(coef.rate.rates(x, s), direct["rate"], rtol=1e-11)
    np.testing.assert_allclose(coef.fisher.crb(x, s), direct["crb"], rtol=1e-11)
    np.testing.assert_allclose(coef.power(x, s), direct["power_total"], rtol=1e-12)


def test_select_keeps_the_drops_and_shapes_are_checked() -> None:
    params = SystemParams(K=2, Nt=8, Nr=8)
    beta, xi, x, s = _drops(params, 3, n=5)
    coef = closed_form_coefficients(beta, xi, params)
    sub = coef.select(np.array([True, False, True, False, False]))
    np.testing.assert_array_equal(
        sub.rate.rates(x[[0, 2]], s[[0, 2]]), coef.rate.rates(x, s)[[0, 2]]
    )
    from jcas.model.coefficients import RateCoefficients

    with pytest.raises(ValueError, match="must be"):
        RateCoefficients(np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3)), 1.0, 0.9)
