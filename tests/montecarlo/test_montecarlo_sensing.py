"""Monte-Carlo sensing: CRB (36) with sample covariances, and the ML angle estimator.

What is true (see ``jcas/montecarlo/sensing.py``): ``R -> CRB(R)`` is convex and
``E[X X^H / L] = R_x`` of (37), so ``E[CRB(X X^H / L)] >= (16)`` (Jensen) for every
``L``. As ``L -> inf`` it tends to ``E[CRB(F F^H)]``, still above (16) because the
channel estimates stay random; that gap shrinks as ``Nt`` grows. Given ``F``,
the exact mean over Gaussian symbols is ``crb_symbol_average`` (Wishart).

Tolerances are multiples of the returned standard errors (SE = sample SD / sqrt(n));
3 SE means a 0.27 % false-failure probability per comparison when the model is right.
"""

from __future__ import annotations

import numpy as np
import pytest

from jcas.model.channel import estimate_variance
from jcas.model.metrics import crb_closed_form, crb_general
from jcas.model.params import SystemParams
from jcas.montecarlo import crb_symbol_average, mc_crb, mle_angle, mle_snr_sweep
from jcas.montecarlo.rate import complex_normal, estimated_channels, precoder
from jcas.montecarlo.sensing import _objective, ml_estimate, sample_crb
from jcas.parts.arrays.ula import steering_derivative, steering_vector

BETA = np.array([[0.9, 0.3, 0.1, 0.5]])


def _alloc(params: SystemParams, beta=BETA, sens_frac: float = 0.3):
    """Equal gamma and equal eta using Pt, a fraction ``sens_frac`` for sensing (18)."""
    xi = estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)
    k = beta.shape[1]
    gamma = np.full(beta.shape, (1 - sens_frac) * params.pt_w / params.Nt) / np.sum(
        xi, axis=1, keepdims=True
    )
    eta = np.full(beta.shape, sens_frac * params.pt_w / (params.Nt * k))
    return xi, gamma, eta


def _random_precoder(params, rng, n, beta=BETA, sens_frac=0.3):
    """``n`` precoders (12) from simulated pilots: shape ``(n, Nt, K)``."""
    _xi, gamma, eta = _alloc(params, beta, sens_frac)
    k, nt = params.K, params.Nt
    n_pil = min(k, params.tau_p)
    hbar = complex_normal(rng, (n, nt, k))
    noise = complex_normal(rng, (n, nt, n_pil))
    _h, h_hat = estimated_channels(params, beta, hbar, noise)
    return precoder(h_hat, gamma, eta, steering_vector(nt, params.theta_rad))


@pytest.mark.parametrize(("nt", "nr", "theta_deg"), [(16, 16, 0.0), (15, 9, 17.0), (8, 21, -40.0)])
def test_sample_crb_reduced_basis_equals_full_covariance(nt, nr, theta_deg):
    """``sample_crb`` (2-D basis of span{a_t, a_t_dot}) equals ``crb_general`` on the full R_x."""
    params = SystemParams(Nt=nt, Nr=nr, K=4, theta_deg=theta_deg)
    rng = np.random.default_rng(1)
    f = _random_precoder(params, rng, 5)
    s = complex_normal(rng, (5, 4, params.L))
    w = s @ np.conj(np.swapaxes(s, -1, -2)) / params.L
    rx = f @ w @ np.conj(np.swapaxes(f, -1, -2))
    th = params.theta_rad
    full = crb_general(
        rx,
        steering_vector(nt, th),
        steering_vector(nr, th),
        steering_derivative(nt, th),
        steering_derivative(nr, th),
        params.sigma_r_bar2,
    )
    np.testing.assert_allclose(sample_crb(params, f, w), full, rtol=1e-10)


@pytest.mark.parametrize("n_frame", [3, 5, 30, 1000])
def test_symbol_average_pure_sensing_is_exact(n_frame):
    """With gamma = 0, F = a_t eta_bar^T is deterministic and E[CRB] = (16) L / (L - 1).

    (T1 = Nr M_11 with L M_11 / M0_11 ~ Gamma(L), and E[1 / Gamma(L)] = 1 / (L - 1).)
    """
    params = SystemParams(Nt=12, Nr=10, K=4, theta_deg=10.0)
    xi, gamma, eta = _alloc(params)
    gamma = 0.0 * gamma
    f = precoder(np.zeros((12, 4)), gamma[0], eta[0], steering_vector(12, params.theta_rad))
    cf = crb_closed_form(gamma, eta, xi, 12, 10, params.theta_rad, params.sigma_r_bar2)
    got = crb_symbol_average(params, f, n_frame)
    np.testing.assert_allclose(got, cf[0] * n_frame / (n_frame - 1), rtol=1e-9)
    np.testing.assert_allclose(sample_crb(params, f, None), cf[0], rtol=1e-10)


def test_mc_crb_pure_sensing_matches_l_over_l_minus_1():
    """MC of CRB(X X^H / L) with gamma = 0 (only the symbols are random) vs (16) L/(L-1), 3 SE."""
    params = SystemParams(Nt=16, Nr=16, K=4)
    xi, gamma, eta = _alloc(params)
    gamma = 0.0 * gamma
    est = mc_crb(params, BETA, gamma, eta, seed=3, drops=[0], n_realizations=20_000)
    cf = crb_closed_form(gamma, eta, xi, 16, 16, params.theta_rad, params.sigma_r_bar2)
    target = cf * params.L / (params.L - 1)
    assert abs(est.crb[0] - target[0]) <= 3 * est.crb_se[0]
    assert est.crb_se[0] < 0.003 * target[0]


@pytest.mark.parametrize(("n_frame", "sens_frac", "theta_deg"), [(4, 0.02, 0.0), (30, 0.3, 25.0)])
def test_crb_symbol_average_matches_brute_force(n_frame, sens_frac, theta_deg):
    """For fixed F, the Wishart formula equals the mean of CRB over 20000 symbol draws (3 SE).

    L = 4 with little sensing power makes the Schur-complement (Gamma(L-1)) term
    matter; L = 30 at theta = 25 deg is the paper's frame length off broadside.
    """
    params = SystemParams(Nt=9, Nr=12, K=4, L=n_frame, theta_deg=theta_deg)
    rng = np.random.default_rng(7)
    f = _random_precoder(params, rng, 3, sens_frac=sens_frac)
    s = complex_normal(rng, (20_000, 1, 4, n_frame))
    w = s @ np.conj(np.swapaxes(s, -1, -2)) / n_frame
    samples = sample_crb(params, f, w)  # (20000, 3)
    mean, se = samples.mean(axis=0), samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
    exact = crb_symbol_average(params, f, n_frame)
    assert np.all(np.abs(mean - exact) <= 3 * se), (mean - exact) / se
    limit = sample_crb(params, f, None)
    factor = exact / limit
    assert np.all(factor > 1.0)
    assert np.all(factor < n_frame / (n_frame - 2))


def test_mc_crb_methods_agree_and_exceed_closed_form():
    """Sampled and symbol-averaged MC CRB agree; both lie above the L -> inf limit, above (16).

    The two methods share the channel draws (positively correlated), so the
    combined SE sqrt(se1^2 + se2^2) of their difference is conservative.
    Ordering (Jensen, twice): E CRB(R_L) > E CRB(F F^H) > (16), each gap > 3 SE.
    With the same channel draws, mean(L) / mean(inf) lies in [1, L / (L - 2)] exactly.
    """
    params = SystemParams(Nt=16, Nr=16, K=4, snr_com_db=20.0)
    xi, gamma, eta = _alloc(params)
    kw = {"seed": 5, "drops": [0], "n_realizations": 8_000}
    sampled = mc_crb(params, BETA, gamma, eta, **kw)
    averaged = mc_crb(params, BETA, gamma, eta, method="symbol_average", **kw)
    limit = mc_crb(params, BETA, gamma, eta, frame_length=0, **kw)
    cf = crb_closed_form(gamma, eta, xi, 16, 16, params.theta_rad, params.sigma_r_bar2)
    assert abs(sampled.crb[0] - averaged.crb[0]) <= 3 * np.hypot(sampled.crb_se, averaged.crb_se)
    assert averaged.crb_se[0] < sampled.crb_se[0]
    assert averaged.crb[0] - limit.crb[0] > 3 * np.hypot(averaged.crb_se, limit.crb_se)[0]
    assert limit.crb[0] - cf[0] > 3 * limit.crb_se[0]
    ratio = averaged.crb[0] / limit.crb[0]
    assert 1.0 < ratio < params.L / (params.L - 2)


@pytest.mark.slow
def test_mc_crb_converges_to_closed_form_as_nt_grows():
    """Relative gap E CRB(F F^H) / (16) - 1 shrinks with Nt = Nr (8 -> 32 -> 128).

    Measured: about 14 %, 4.7 %, 1.3 % (SE < 0.3 %). Each step must shrink the gap
    by more than 3 combined SE, and the Nt = 128 gap must be below a fifth of the Nt = 8 one.
    """
    gaps, ses = [], []
    for nt in (8, 32, 128):
        params = SystemParams(Nt=nt, Nr=nt, K=4, snr_com_db=20.0)
        xi, gamma, eta = _alloc(params)
        est = mc_crb(
            params, BETA, gamma, eta, seed=9, drops=[0], n_realizations=6_000, frame_length=0
        )
        cf = crb_closed_form(gamma, eta, xi, nt, nt, params.theta_rad, params.sigma_r_bar2)
        gaps.append(est.crb[0] / cf[0] - 1)
        ses.append(est.crb_se[0] / cf[0])
    assert gaps[2] > 0
    for i in range(2):
        assert gaps[i] - gaps[i + 1] > 3 * np.hypot(ses[i], ses[i + 1])
    assert gaps[2] < gaps[0] / 5


def test_mc_crb_batch_invariance_and_nan_rows():
    """Drop d's MC CRB does not depend on batch composition/order or chunking; NaN rows -> NaN."""
    params = SystemParams(Nt=8, Nr=8, K=4)
    beta = np.array([[0.9, 0.3, 0.1, 0.5], [0.2, 0.4, 0.6, 0.8], [1.0, 0.1, 0.1, 1.0]])
    _xi, gamma, eta = _alloc(params, beta)
    ref = mc_crb(params, beta, gamma, eta, seed=1, drops=[4, 5, 6], n_realizations=600)
    rev = mc_crb(
        params, beta[::-1], gamma[::-1], eta[::-1], seed=1, drops=[6, 5, 4], n_realizations=600
    )
    np.testing.assert_allclose(rev.crb[::-1], ref.crb, rtol=1e-12)
    one = mc_crb(
        params,
        beta[1:2],
        gamma[1:2],
        eta[1:2],
        seed=1,
        drops=[5],
        n_realizations=600,
        chunk_size=1,
    )
    np.testing.assert_allclose(one.crb[0], ref.crb[1], rtol=1e-12)
    np.testing.assert_allclose(one.crb_se[0], ref.crb_se[1], rtol=1e-12)
    g2 = gamma.copy()
    g2[0] = np.nan
    est = mc_crb(params, beta, g2, eta, seed=1, drops=[4, 5, 6], n_realizations=600)
    assert np.isnan(est.crb[0])
    assert np.isnan(est.crb_se[0])
    np.testing.assert_allclose(est.crb[1:], ref.crb[1:], rtol=1e-12)


@pytest.mark.slow
def test_ml_estimate_finds_the_global_maximum():
    """Grid + golden section reach the maximum of the concentrated likelihood.

    Low SNR (threshold region, where lobes nearly tie). Reference: a dense grid
    of 8001 points in u = sin(theta) over [-1, 1] (step 2.5e-4, main lobe ~0.1) plus
    a 2001-point grid within +-5e-4 of the dense optimum (step 5e-7). The estimate
    must score at least as high (to 1e-12 relative) and lie within 1e-6 of the
    local-grid optimum.
    """
    params = SystemParams(Nt=8, Nr=8, K=2, L=10, snr_sen_db=0.0)
    rng = np.random.default_rng(2)
    n = 40
    f = _random_precoder(params, rng, n, beta=BETA[:, :2])
    s = complex_normal(rng, (n, 2, params.L))
    x = f @ s
    a_t = steering_vector(8, params.theta_rad)
    a_r = steering_vector(8, params.theta_rad)
    sigma_r = np.sqrt(2 * params.L * params.sigma_r_bar2)
    y = a_r[:, None] * (np.conj(a_t) @ x)[..., None, :] + sigma_r * complex_normal(
        rng, (n, 8, params.L)
    )
    xh = np.conj(np.swapaxes(x, -1, -2))
    z, r = y @ xh, x @ xh
    theta_hat = ml_estimate(z, r, 8, 8)
    u_hat = np.sin(theta_hat)
    dense = np.linspace(-1, 1, 8001)
    j_dense = _objective(dense, z[:, None], r[:, None], 8, 8)[:, 0]
    u0 = dense[np.argmax(j_dense, axis=-1)]
    local = u0[:, None] + np.linspace(-5e-4, 5e-4, 2001)
    j_local = _objective(local, z, r, 8, 8)
    u_best = local[np.arange(n), np.argmax(j_local, axis=-1)]
    j_hat = _objective(u_hat[:, None], z, r, 8, 8)[:, 0]
    assert np.all(j_hat >= j_local.max(axis=-1) * (1 - 1e-12))
    assert np.all(np.abs(u_hat - u_best) < 1e-6)


@pytest.mark.slow
def test_mle_is_efficient_at_10_db():
    """MLE MSE within 10 % of the mean CRB at SNR_sen = 10 dB, Nt = Nr = 16, and unbiased.

    Trials: 20000. For near-Gaussian errors the relative SE of an MSE estimate is
    sqrt(2 / n) = 1.0 %, so the 10 % tolerance is about 10 SE: the test fails by
    chance only if the estimator is really inefficient (at this SNR the echo SNR
    is about 28 dB, far above the threshold, so the expected excess is < 1 %).
    Also |MSE - CRB| <= 3 combined SE, |bias| <= 3 SE and bias^2 < 1 % of the MSE.
    """
    params = SystemParams(Nt=16, Nr=16, K=4, snr_sen_db=10.0, snr_com_db=20.0)
    _xi, gamma, eta = _alloc(params, sens_frac=0.5)
    est = mle_angle(params, BETA, gamma, eta, seed=0, drops=[0], n_trials=20_000)
    rel = est.mse[0] / est.crb[0]
    assert abs(rel - 1) < 0.10, rel
    assert abs(est.mse[0] - est.crb[0]) <= 3 * np.hypot(est.mse_se[0], est.crb_se[0])
    assert est.mse_se[0] / est.mse[0] < 0.015
    assert abs(est.bias[0]) <= 3 * est.bias_se[0]
    assert est.bias[0] ** 2 < 0.01 * est.mse[0]


@pytest.mark.slow
def test_mle_threshold_region():
    """SNR_sen sweep (1000 trials, common random numbers): threshold then efficiency.

    At -15 dB grid outliers make the MSE more than 10x the CRB (measured ~300x);
    at 20 dB the MSE is within 15 % of the CRB (relative SE sqrt(2/1000) = 4.5 %,
    so 15 % is 3.3 SE); the RMSE falls monotonically from -15 dB to 20 dB.
    """
    params = SystemParams(Nt=16, Nr=16, K=4, snr_com_db=20.0)
    _xi, gamma, eta = _alloc(params, sens_frac=0.5)
    snrs = [-15.0, -5.0, 5.0, 20.0]
    sweep = mle_snr_sweep(params, BETA, gamma, eta, snrs, seed=2, drops=[0], n_trials=1000)
    ratio = sweep.mse[:, 0] / sweep.crb[:, 0]
    assert ratio[0] > 10
    assert abs(ratio[-1] - 1) < 0.15
    assert np.all(np.diff(sweep.mse[:, 0]) < 0)
    assert np.all(np.diff(sweep.crb[:, 0]) < 0)
    np.testing.assert_allclose(sweep.snr_sen_db, snrs)


def test_ml_estimate_is_antisymmetric_at_broadside():
    """At theta = 0, conjugating the data maps theta_hat to -theta_hat (to the search tolerance).

    Conjugated data (Y*, X*) have the same distribution at broadside (a(-u) = conj(a(u)),
    a(0) real, circular Gaussian channels, symbols and noise), so this exact symmetry of
    the algorithm makes the estimator unbiased at theta = 0.
    """
    params = SystemParams(Nt=16, Nr=16, K=4, snr_sen_db=-5.0)
    rng = np.random.default_rng(4)
    n = 300
    f = _random_precoder(params, rng, n)
    x = f @ complex_normal(rng, (n, 4, params.L))
    a = steering_vector(16, 0.0)
    sigma_r = np.sqrt(2 * params.L * params.sigma_r_bar2)
    y = a[:, None] * (np.conj(a) @ x)[..., None, :] + sigma_r * complex_normal(
        rng, (n, 16, params.L)
    )
    xh = np.conj(np.swapaxes(x, -1, -2))
    t1 = ml_estimate(y @ xh, x @ xh, 16, 16)
    t2 = ml_estimate(np.conj(y @ xh), np.conj(x @ xh), 16, 16)
    assert np.max(np.abs(t1 + t2)) < 1e-7
    assert np.std(t1) > 1e-3  # non-trivial estimates (threshold region at -5 dB)


def test_quadrature_rule_is_computed_on_first_use() -> None:
    """Importing the Monte-Carlo package does not compute the 160-point Gauss-Legendre rule
    of ``crb_symbol_average`` (about 50 ms that a job with ``method="sample"`` never needs);
    the first symbol average does, once."""
    import subprocess
    import sys

    code = (
        "import numpy as np; import jcas.montecarlo.sensing as s; "
        "assert s._gauss_legendre.cache_info().currsize == 0; "
        "from jcas.model.params import SystemParams; p = SystemParams(Nt=8, Nr=8, K=2); "
        "f = np.ones((8, 2), complex); s.crb_symbol_average(p, f, 5); "
        "s.crb_symbol_average(p, f, 6); i = s._gauss_legendre.cache_info(); "
        "assert (i.misses, i.hits) == (1, 1), i"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
