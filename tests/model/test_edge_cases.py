"""Numerical edge cases of the model (``docs/model.md`` §5): no NaN or inf where the true value
is finite, and the documented value where it is not.

Documented non-finite values (see the docstrings and docs/model.md):
- CRB = inf when the Fisher information of theta is 0: Nt = Nr = 1 (a_dot = 0),
  Nr = 1 with sensing power only, or no transmit power. cos(theta) = 0 is not
  reachable in floating point (cos(pi/2) = 6.1e-17): the CRB there is finite
  but astronomically large, and SystemParams rejects |theta| >= 90 deg anyway.
- SINR = 0 (not NaN) for a user without signal power, even with a zero denominator.

Every test here turns warnings into errors: an overflow, 0/0 or divide-by-zero
inside the model fails the test even if the result happens to look right.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jcas.model.channel import error_variance, estimate_variance, pilot_gram
from jcas.model.drops import large_scale_fading, user_distances
from jcas.model.metrics import (
    crb_closed_form,
    crb_general,
    rate,
    sinr,
    transmit_covariance,
    transmit_power,
)
from jcas.model.params import SystemParams
from jcas.parts.arrays.ula import steering_derivative, steering_derivative_norm2, steering_vector

pytestmark = pytest.mark.filterwarnings("error")

EDGE_THETA_DEG = [-89.9999, -89.9, 89.9, 89.9999]
EDGE_SNR_DB = [-30.0, 60.0]
EDGE_NT = [1, 2, 512]


def _chain(
    p: SystemParams, split: float = 0.5, n_drops: int = 3, seed: int = 12345
) -> dict[str, np.ndarray]:
    """params -> drops -> (7), (8) -> equal allocation spending Pt -> (15), (16), (18), (36)."""
    beta, dist = large_scale_fading(p, seed, range(n_drops))
    xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
    eps = error_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
    gamma = (1 - split) * p.pt_w / (p.Nt * p.K * xi)
    eta = np.full_like(xi, split * p.pt_w / (p.Nt * p.K))
    a_t = steering_vector(p.Nt, p.theta_rad)
    return {
        "beta": beta,
        "dist": dist,
        "xi": xi,
        "eps": eps,
        "gamma": gamma,
        "eta": eta,
        "rate": rate(gamma, eta, xi, beta, p.Nt, p.sigma_u2_w, p.tau_bar, pilot_gram(p.K, p.tau_p)),
        "power": transmit_power(gamma, eta, xi, p.Nt),
        "crb": crb_closed_form(gamma, eta, xi, p.Nt, p.Nr, p.theta_rad, p.sigma_r_bar2),
        "crb36": crb_general(
            transmit_covariance(gamma, eta, xi, a_t),
            a_t,
            steering_vector(p.Nr, p.theta_rad),
            steering_derivative(p.Nt, p.theta_rad),
            steering_derivative(p.Nr, p.theta_rad),
            p.sigma_r_bar2,
        ),
    }


def _check_chain(p: SystemParams, out: dict[str, np.ndarray]) -> None:
    for key in ("beta", "xi", "eps", "gamma", "eta", "rate", "power"):
        assert np.all(np.isfinite(out[key])), key
    assert np.all(out["xi"] > 0)
    assert np.all(out["eps"] > 0)
    assert np.allclose(out["xi"] + out["eps"], out["beta"], rtol=1e-13, atol=0)
    assert np.all(out["rate"] >= 0)
    assert np.allclose(out["power"], p.pt_w, rtol=1e-12)
    if p.Nt == p.Nr == 1:
        assert np.all(out["crb"] == np.inf)
        assert np.all(out["crb36"] == np.inf)
    else:
        assert np.all(np.isfinite(out["crb"]))
        assert np.all(out["crb"] > 0)
        assert np.allclose(out["crb36"], out["crb"], rtol=1e-9)


@pytest.mark.parametrize("theta_deg", EDGE_THETA_DEG)
@pytest.mark.parametrize("snr_db", EDGE_SNR_DB)
@pytest.mark.parametrize("nt", EDGE_NT)
@pytest.mark.parametrize("k", [1, 4])
def test_edge_grid(theta_deg: float, snr_db: float, nt: int, k: int) -> None:
    """Every combination of the edge values (K = 1 included; shadowing 0 dB)."""
    p = SystemParams(
        K=k,
        Nt=nt,
        Nr=nt,
        theta_deg=theta_deg,
        snr_com_db=snr_db,
        snr_sen_db=snr_db,
        shadowing_db=0.0,
    )
    _check_chain(p, _chain(p))


@settings(max_examples=60, deadline=None)
@given(
    k=st.sampled_from([1, 2, 4, 9]),
    tau_p=st.sampled_from([1, 2, 10]),
    nt=st.sampled_from(EDGE_NT) | st.integers(1, 512),
    nr=st.sampled_from(EDGE_NT) | st.integers(1, 512),
    theta_deg=st.sampled_from(EDGE_THETA_DEG) | st.floats(-89.9999, 89.9999),
    snr_com=st.sampled_from(EDGE_SNR_DB) | st.floats(-30, 60),
    snr_sen=st.sampled_from(EDGE_SNR_DB) | st.floats(-30, 60),
    shadow=st.sampled_from([0.0, 8.0, 12.0]),
    split=st.sampled_from([0.0, 1.0]) | st.floats(0, 1),
    pt=st.floats(-10, 60),
    pp=st.floats(-10, 40),
    seed=st.integers(0, 2**31),
)
def test_edge_chain_property(
    k: int,
    tau_p: int,
    nt: int,
    nr: int,
    theta_deg: float,
    snr_com: float,
    snr_sen: float,
    shadow: float,
    split: float,
    pt: float,
    pp: float,
    seed: int,
) -> None:
    """The whole chain over valid ranges (any drop seed, transmit and pilot power), biased
    towards the edges (incl. pilot reuse, communications-only and sensing-only
    allocations): finite values, rates >= 0, xi + eps = beta, power (18) = Pt, CRB > 0."""
    p = SystemParams(
        K=k,
        Nt=nt,
        Nr=nr,
        tau_p=tau_p,
        tau_c=tau_p + 5,
        theta_deg=theta_deg,
        snr_com_db=snr_com,
        snr_sen_db=snr_sen,
        shadowing_db=shadow,
        pt_dbm=pt,
        pp_dbm=pp,
    )
    out = _chain(p, split=split, n_drops=2, seed=seed)
    for key in ("xi", "eps", "rate", "power"):
        assert np.all(np.isfinite(out[key])), key
    assert np.allclose(out["xi"] + out["eps"], out["beta"], rtol=1e-13, atol=0)
    assert np.allclose(out["power"], p.pt_w, rtol=1e-12)
    assert np.all(out["rate"] >= 0)
    if split == 1.0:  # sensing only: no user has signal power
        assert np.all(out["rate"] == 0)
    no_information = (nt == nr == 1) or (nr == 1 and split == 1.0)
    if no_information:  # both forms say so, not a huge number from rounding
        assert np.all(out["crb"] == np.inf)
        assert np.all(out["crb36"] == np.inf)
    else:
        assert np.all(np.isfinite(out["crb"]))
        assert np.all(out["crb"] > 0)


def test_theta_at_float_half_pi_is_finite_and_huge() -> None:
    """cos(pi/2) = 6.1e-17 in floating point: the CRB is finite (the true value at that
    float angle), huge, and (36) agrees with (16); nothing is NaN."""
    g, e, xi = np.array([1.0, 2.0]), np.array([0.1, 0.2]), np.array([0.3, 0.4])
    for theta in (np.pi / 2, -np.pi / 2):
        for n in (2, 15, 512):
            a_t, a_dot = steering_vector(n, theta), steering_derivative(n, theta)
            closed = crb_closed_form(g, e, xi, n, n, theta, 0.3)
            general = crb_general(transmit_covariance(g, e, xi, a_t), a_t, a_t, a_dot, a_dot, 0.3)
            assert 1e15 < closed < np.inf
            assert general == pytest.approx(closed, rel=1e-9)


def test_single_antenna_crb_is_inf_by_definition() -> None:
    """N = 1: a_dot = 0, no angle information: CRB = inf for (16) and (36), no warning."""
    g, e, xi = np.ones(3), np.ones(3), np.ones(3)
    assert crb_closed_form(g, e, xi, 1, 1, 0.3, 1.0) == np.inf
    a, a_dot = steering_vector(1, 0.3), steering_derivative(1, 0.3)
    assert crb_general(transmit_covariance(g, e, xi, a), a, a, a_dot, a_dot, 1.0) == np.inf
    # Nr = 1 and sensing power only: R_x ~ a_t a_t^H gives a_t^H R a_t_dot = 0 -> inf
    assert crb_closed_form(0 * g, e, xi, 16, 1, 0.3, 1.0) == np.inf
    # the general form (36) also returns inf there (its J is rounding noise), for any Nt,
    # while a tiny communications power still gives the finite closed-form value
    for n in (2, 15, 64, 512):
        a_t, a_t_dot = steering_vector(n, 0.3), steering_derivative(n, 0.3)
        for comm, expected in ((0.0, np.inf), (1e-9, None)):
            gam = np.array([comm, 0.0, 0.0])
            rx = transmit_covariance(gam, e, xi, a_t)
            got = crb_general(rx, a_t, a, a_t_dot, a_dot, 1.0)
            if expected is None:
                closed = crb_closed_form(gam, e, xi, n, 1, 0.3, 1.0)
                assert got == pytest.approx(closed, rel=1e-2)
            else:
                assert got == expected
    # ... but Nt = 1 with Nr > 1 has information from the receive array
    assert np.isfinite(crb_closed_form(g, e, xi, 1, 16, 0.3, 1.0))


def test_zero_power_gives_zero_rate_and_inf_crb() -> None:
    z = np.zeros(2)
    xi, beta = np.array([0.5, 0.2]), np.array([1.0, 0.3])
    assert np.array_equal(rate(z, z, xi, beta, 16, 0.1, 0.9), [0.0, 0.0])
    assert np.array_equal(sinr(z, z, xi, beta, 16, 0.0), [0.0, 0.0])  # 0/0 -> 0, documented
    assert crb_closed_form(z, z, xi, 16, 16, 0.0, 1.0) == np.inf
    a, a_dot = steering_vector(16, 0.0), steering_derivative(16, 0.0)
    assert crb_general(np.zeros((16, 16)), a, a, a_dot, a_dot, 1.0) == np.inf
    # one user silent, the other served
    s = sinr(np.array([0.0, 1.0]), z, xi, beta, 16, 0.1)
    assert s[0] == 0.0
    assert s[1] > 0.0


def test_very_low_snr_rate_is_accurate() -> None:
    """SNR_com = -30 dB: SINR ~ 1e-9; R = tau_bar log2(1 + x) ~ tau_bar x / ln 2 to
    relative x / 2 (a first-order series, independent of log1p)."""
    xi, beta = np.array([1e-5]), np.array([1e-2])
    g, e = np.array([1.0]), np.array([0.0])
    x = sinr(g, e, xi, beta, 4, 1e3)
    assert 0 < x[0] < 1e-8
    r = rate(g, e, xi, beta, 4, 1e3, 0.9)
    assert r[0] == pytest.approx(0.9 * x[0] / np.log(2), rel=x[0])


def test_very_high_snr_error_variance_is_accurate() -> None:
    """SNR 60 dB (sigma_u^2 = 1e-6 W, Pt = 1 W), orthonormal pilots:
    eps = beta sigma / (tau_p p_p beta + sigma) from (8) by hand."""
    p = SystemParams(snr_com_db=60.0)
    beta = np.array([1.0, 1e-3, 1e-7])
    eps = error_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
    hand = beta * 1e-6 / (10 * 0.01 * beta + 1e-6)
    assert np.allclose(eps, hand, rtol=1e-12, atol=0)


def test_extreme_large_scale_fading_no_overflow() -> None:
    """xi (7) is formed as beta * fraction, so beta^2 never under/overflows."""
    beta = np.array([1e-200, 1e-150, 1.0, 1e150, 1e200])
    xi = estimate_variance(beta, 10, 0.01, 1e-3)
    eps = error_variance(beta, 10, 0.01, 1e-3)
    assert np.all(np.isfinite(xi))
    assert np.all(np.isfinite(eps))
    assert np.allclose(xi + eps, beta, rtol=1e-13, atol=0)
    # beta -> 0: xi ~ tau_p p_p beta^2 / sigma (tiny, but not NaN); beta -> inf: xi ~ beta
    assert xi[-1] == pytest.approx(1e200, rel=1e-12)


@pytest.mark.parametrize("u", [0.0, np.nextafter(1.0, 0.0)])
def test_users_at_inner_and_outer_radius(u: float) -> None:
    """r = r_min: beta = 1 without shadowing; r -> R: beta = (R / r_min)^-nu."""
    p = SystemParams(shadowing_db=0.0, snr_com_db=-30.0)
    r = user_distances(np.full(p.K, u), p.r_min_m, p.r_max_m)
    beta = (r / p.r_min_m) ** -p.pathloss_exponent
    expected = 1.0 if u == 0.0 else (p.r_max_m / p.r_min_m) ** -p.pathloss_exponent
    assert np.allclose(beta, expected, rtol=1e-12)
    xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
    g = np.full(p.K, p.pt_w / (2 * p.Nt * xi.sum()))
    e = np.full(p.K, p.pt_w / (2 * p.Nt * p.K))
    r_k = rate(g, e, xi, beta, p.Nt, p.sigma_u2_w, p.tau_bar)
    assert np.all(np.isfinite(r_k))
    assert np.all(r_k > 0)


def test_derivative_norm_vanishes_only_where_documented() -> None:
    assert steering_derivative_norm2(1, 0.0) == 0.0
    assert steering_derivative_norm2(2, np.radians(89.9999)) > 0.0
    assert np.isfinite(steering_derivative_norm2(512, 0.0))


def test_nan_allocation_propagates_as_nan() -> None:
    """A failed allocation (NaN factors, ``docs/data.md``) gives NaN metrics, never 0 or inf."""
    nan2 = np.full(2, np.nan)
    xi, beta = np.array([0.5, 0.2]), np.array([1.0, 0.3])
    assert np.all(np.isnan(rate(nan2, nan2, xi, beta, 16, 0.1, 0.9)))
    assert np.all(np.isnan(sinr(np.array([0.0, np.nan]), np.zeros(2), xi, beta, 16, 0.1)))
    assert np.isnan(crb_closed_form(nan2, nan2, xi, 16, 16, 0.0, 1.0))
    assert np.isnan(transmit_power(nan2, nan2, xi, 16))
    a, a_dot = steering_vector(16, 0.0), steering_derivative(16, 0.0)
    rx = transmit_covariance(nan2, nan2, xi, a)
    assert np.isnan(crb_general(rx, a, a, a_dot, a_dot, 1.0))
    # a batch with one failed drop: the other drop is unaffected
    gamma = np.array([[1.0, 1.0], [np.nan, np.nan]])
    crb = crb_closed_form(gamma, 0.1 * np.ones((2, 2)), xi, 16, 16, 0.0, 1.0)
    assert np.isfinite(crb[0])
    assert np.isnan(crb[1])
