"""Closed-form metrics: rate (15), power (18), covariance (37), CRB (36) and (16)."""

from __future__ import annotations

import numpy as np
import pytest

from jcas.model.channel import estimate_variance, pilot_gram
from jcas.model.metrics import (
    crb_closed_form,
    crb_general,
    crb_terms,
    rate,
    sinr,
    sum_rate,
    transmit_covariance,
    transmit_power,
)
from jcas.parts.arrays.ula import steering_derivative, steering_vector

# ----------------------------------------------------------------------------- CRB


def _ula(n_tx: int, n_rx: int, theta: float) -> tuple[np.ndarray, ...]:
    return (
        steering_vector(n_tx, theta),
        steering_vector(n_rx, theta),
        steering_derivative(n_tx, theta),
        steering_derivative(n_rx, theta),
    )


@pytest.mark.parametrize(
    ("n_tx", "n_rx"),
    [(15, 15), (16, 16), (35, 35), (96, 64), (4, 9), (10, 3), (2, 2), (1, 1), (7, 1), (1, 5)],
)
@pytest.mark.parametrize("theta_deg", [-89.9, -75.0, -30.0, 0.0, 12.0, 45.0, 85.0])
def test_crb_general_equals_closed_form_with_eq37(n_tx: int, n_rx: int, theta_deg: float) -> None:
    """(36) with R_x from (37) equals (16) to 1e-10 relative (odd/even N, Nt != Nr, one
    antenna on either side, theta near -90 deg); both ``inf`` where the Fisher information
    vanishes (``Nt = Nr = 1``; ``Nr = 1`` with sensing power only)."""
    rng = np.random.default_rng(n_tx * 100 + n_rx)
    theta = np.radians(theta_deg)
    k = 4
    gamma, eta, xi = rng.uniform(0, 2, (3, 5, k))  # a batch of 5 allocations
    eta[0] = 0.0  # communications only
    gamma[1] = 0.0  # sensing only
    a_t, a_r, a_t_dot, a_r_dot = _ula(n_tx, n_rx, theta)
    rx = transmit_covariance(gamma, eta, xi, a_t)
    general = crb_general(rx, a_t, a_r, a_t_dot, a_r_dot, 0.3)
    closed = crb_closed_form(gamma, eta, xi, n_tx, n_rx, theta, 0.3)
    assert general.shape == closed.shape == (5,)
    assert np.allclose(general, closed, rtol=1e-10, atol=0)
    # T3 = 0 (41) for the centred ULA with (37)
    t1, t2, t3 = crb_terms(rx, a_t, a_r, a_t_dot, a_r_dot)
    # (|T3| <= pi Nt T1 bounds its terms; rounding is ~1e-16 of that)
    assert np.all(np.abs(t3) <= 1e-13 * np.pi * n_tx * t1)
    # T1, T2 of (39), (40)
    comm, sens = np.sum(xi * gamma, -1), np.sum(eta, -1)
    dt2, dr2 = (np.sum(np.abs(v) ** 2) for v in (a_t_dot, a_r_dot))
    assert np.allclose(t1, n_tx * n_rx * comm + n_tx**2 * n_rx * sens, rtol=1e-12)
    assert np.allclose(t2, (n_tx * dr2 + n_rx * dt2) * comm + n_tx**2 * dr2 * sens, rtol=1e-12)


def _random_psd(rng: np.random.Generator, n: int, batch: tuple[int, ...]) -> np.ndarray:
    g = rng.standard_normal((*batch, n, n + 2)) + 1j * rng.standard_normal((*batch, n, n + 2))
    return g @ np.conj(np.swapaxes(g, -1, -2)) / (n + 2)


def test_crb_terms_against_dense_traces() -> None:
    """T1, T2, T3 equal trace(A^H A R), trace(A_dot^H A_dot R), trace(A_dot^H A R)
    built densely from A = a_r a_t^H, A_dot = a_r_dot a_t^H + a_r a_t_dot^H, for an
    arbitrary (non-ULA) array and an arbitrary Hermitian PSD covariance."""
    rng = np.random.default_rng(11)
    n_tx, n_rx, batch = 6, 5, (3, 2)

    def cvec(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    a_t, a_t_dot = cvec(*batch, n_tx), cvec(*batch, n_tx)
    a_r, a_r_dot = cvec(*batch, n_rx), cvec(*batch, n_rx)
    rx = _random_psd(rng, n_tx, batch)
    t1, t2, t3 = crb_terms(rx, a_t, a_r, a_t_dot, a_r_dot)
    for idx in np.ndindex(*batch):
        big_a = np.outer(a_r[idx], a_t[idx].conj())
        big_a_dot = np.outer(a_r_dot[idx], a_t[idx].conj()) + np.outer(
            a_r[idx], a_t_dot[idx].conj()
        )
        r = rx[idx]
        assert t1[idx] == pytest.approx(np.trace(big_a.conj().T @ big_a @ r).real, rel=1e-12)
        assert t2[idx] == pytest.approx(
            np.trace(big_a_dot.conj().T @ big_a_dot @ r).real, rel=1e-12
        )
        assert t3[idx] == pytest.approx(np.trace(big_a_dot.conj().T @ big_a @ r), rel=1e-12)


@pytest.mark.parametrize(("n_tx", "n_rx", "theta_deg"), [(8, 8, 20.0), (5, 7, -40.0), (1, 6, 0.0)])
def test_crb_general_against_fisher_information_of_eq9(
    n_tx: int, n_rx: int, theta_deg: float
) -> None:
    """(36) equals [F^-1]_theta,theta of the Fisher matrix of Y = alpha A(theta) X + N
    in the real parameters (theta, Re alpha, Im alpha), F_ij = 2/sigma_r^2 Re tr(D_i^H D_j),
    for a real finite frame X (R_x = X X^H / L) and sigma_r_bar^2 = sigma_r^2 / (2|alpha|^2 L)."""
    rng = np.random.default_rng(5)
    theta = np.radians(theta_deg)
    big_l, alpha, sigma_r2 = 30, 0.7 - 0.4j, 0.2
    a_t, a_r, a_t_dot, a_r_dot = _ula(n_tx, n_rx, theta)
    x = rng.standard_normal((n_tx, big_l)) + 1j * rng.standard_normal((n_tx, big_l))
    big_a = np.outer(a_r, a_t.conj())
    big_a_dot = np.outer(a_r_dot, a_t.conj()) + np.outer(a_r, a_t_dot.conj())
    derivs = [alpha * big_a_dot @ x, big_a @ x, 1j * big_a @ x]
    fim = np.array(
        [[2 / sigma_r2 * np.trace(di.conj().T @ dj).real for dj in derivs] for di in derivs]
    )
    expected = np.linalg.inv(fim)[0, 0]
    sigma_bar2 = sigma_r2 / (2 * abs(alpha) ** 2 * big_l)
    got = crb_general(x @ x.conj().T / big_l, a_t, a_r, a_t_dot, a_r_dot, sigma_bar2)
    assert got == pytest.approx(expected, rel=1e-9)


def test_crb_closed_form_hand_value() -> None:
    """Nt = Nr = 2, theta = 0: ||a_dot||^2 = pi^2 * 2 * 3 / 12 = pi^2 / 2.
    xi^T gamma = 1, sum eta = 0.5: Fisher = (2 + 2) pi^2/2 + 4 pi^2/2 * 0.5 = 3 pi^2."""
    crb = crb_closed_form([1.0, 1.0], [0.25, 0.25], [0.5, 0.5], 2, 2, 0.0, 1.5)
    assert crb == pytest.approx(1.5 / (3 * np.pi**2), rel=1e-14)


def test_crb_closed_form_broadcasts_over_antenna_counts() -> None:
    n = np.array([8, 15, 64])
    gamma = np.ones((3, 2))
    out = crb_closed_form(gamma, 0.1 * gamma, 0.5 * gamma, n, n, 0.2, 1.0)
    for i, ni in enumerate(n):
        assert out[i] == pytest.approx(
            crb_closed_form(gamma[i], 0.1 * gamma[i], 0.5 * gamma[i], int(ni), int(ni), 0.2, 1.0)
        )


# ------------------------------------------------------------------- rate and power

XI = np.array([0.5, 0.25])
BETA = np.array([1.0, 0.5])
GAMMA = np.array([2.0, 4.0])
ETA = np.array([0.1, 0.3])


def test_sinr_and_rate_hand_values() -> None:
    """Nt = 4, sigma_u^2 = 0.2: S = 0.5*2 + 0.25*4 + 0.4 = 2.4;
    SINR_1 = 16 * 0.25 * 2 / (4 * 1 * 2.4 + 0.2) = 8 / 9.8,
    SINR_2 = 16 * 0.0625 * 4 / (4 * 0.5 * 2.4 + 0.2) = 4 / 5."""
    s = sinr(GAMMA, ETA, XI, BETA, 4, 0.2)
    assert s == pytest.approx([8 / 9.8, 0.8], rel=1e-14)
    r = rate(GAMMA, ETA, XI, BETA, 4, 0.2, 0.9)
    assert r == pytest.approx([0.9 * np.log2(1 + 8 / 9.8), 0.9 * np.log2(1.8)], rel=1e-14)
    assert sum_rate(GAMMA, ETA, XI, BETA, 4, 0.2, 0.9) == pytest.approx(r.sum(), rel=1e-14)


def test_sinr_pilot_contamination_hand_values() -> None:
    """Both users on one pilot: extra C_1 = Nt^2 xi_1 xi_2 gamma_2 = 16*0.5*0.25*4 = 8,
    C_2 = 16 * 0.25 * 0.5 * 2 = 4; orthonormal gram gives no extra term."""
    s = sinr(GAMMA, ETA, XI, BETA, 4, 0.2, pilot_gram=np.ones((2, 2)))
    assert s == pytest.approx([8 / 17.8, 4 / 9.0], rel=1e-14)
    assert sinr(GAMMA, ETA, XI, BETA, 4, 0.2, pilot_gram=np.eye(2)) == pytest.approx(
        sinr(GAMMA, ETA, XI, BETA, 4, 0.2), rel=0
    )


def test_transmit_power_hand_value_and_trace_of_covariance() -> None:
    """(18): P = 4 (0.5*2 + 0.25*4 + 0.4) = 9.6 W, and trace(R_x) of (37) is the same."""
    assert transmit_power(GAMMA, ETA, XI, 4) == pytest.approx(9.6, rel=1e-14)
    rx = transmit_covariance(GAMMA, ETA, XI, steering_vector(4, 0.3))
    assert np.trace(rx).real == pytest.approx(9.6, rel=1e-14)
    assert np.allclose(rx, rx.conj().T)


def test_transmit_covariance_against_sample_covariance_of_eq12() -> None:
    """(37) = E{F F^H} for f_k = sqrt(gamma_k) h_hat_k + sqrt(eta_k) a_t (12),
    h_hat_k ~ CN(0, xi_k I). 100_000 draws; each entry of the sample mean is
    checked to 5 standard errors (estimated from the draws)."""
    rng = np.random.default_rng(1)
    n_tx, n = 4, 100_000
    a_t = steering_vector(n_tx, 0.4)
    cn = (rng.standard_normal((n, n_tx, 2)) + 1j * rng.standard_normal((n, n_tx, 2))) / np.sqrt(2)
    f = np.sqrt(GAMMA * XI) * cn + np.sqrt(ETA) * a_t[:, None]
    ffh = np.einsum("nik,njk->nij", f, f.conj())
    mean, se = ffh.mean(0), ffh.std(0, ddof=1) / np.sqrt(n)
    assert np.all(np.abs(mean - transmit_covariance(GAMMA, ETA, XI, a_t)) < 5 * se + 1e-12)


@pytest.mark.slow
@pytest.mark.parametrize(("k", "tau_p"), [(3, 3), (3, 2), (4, 1)])
def test_rate_with_pilot_reuse_against_monte_carlo_of_eq14(k: int, tau_p: int) -> None:
    """(15) with the pilot-contamination term equals (14) evaluated with sample moments
    of simulated channels, noisy pilots, MMSE estimates (6) and the precoder (12).

    40 batches of 5_000 realizations; the SINR of each batch is formed from its
    sample moments and the test asks |mean - closed form| < 4 standard errors
    of the batch means (and < 3% relative, which rules out a trivially large SE).
    """
    from jcas.model.channel import error_variance, mmse_estimate, pilot_matrix

    rng = np.random.default_rng(100 + 10 * k + tau_p)
    n_tx, pp_w, sigma = 6, 0.01, 0.02
    beta = rng.uniform(0.2, 1.0, k)
    gamma, eta = rng.uniform(0.5, 2.0, k), rng.uniform(0.01, 0.2, k)
    xi = estimate_variance(beta, tau_p, pp_w, sigma)
    assert np.allclose(xi + error_variance(beta, tau_p, pp_w, sigma), beta)
    psi = pilot_matrix(k, tau_p)
    a_t = steering_vector(n_tx, 0.3)
    n_batch, per = 40, 5_000
    sinrs = np.empty((n_batch, k))
    for b in range(n_batch):

        def cn(*shape: int) -> np.ndarray:
            return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)

        h = np.sqrt(beta) * cn(per, n_tx, k)
        y = np.sqrt(tau_p * pp_w) * h @ psi.T + np.sqrt(sigma) * cn(per, n_tx, tau_p)
        h_hat = mmse_estimate(y, beta, tau_p, pp_w, sigma)
        f = np.sqrt(gamma) * h_hat + np.sqrt(eta) * a_t[:, None]
        g = np.einsum("nik,nij->nkj", h.conj(), f)  # g[n, k, i] = h_k^H f_i
        mean_g = g.mean(0)
        ds2 = np.abs(np.diag(mean_g)) ** 2
        second = np.mean(np.abs(g) ** 2, axis=0)
        bu = np.diag(second) - ds2
        ui = second.sum(1) - np.diag(second)
        sinrs[b] = ds2 / (bu + ui + sigma)
    closed = sinr(gamma, eta, xi, beta, n_tx, sigma, pilot_gram=pilot_gram(k, tau_p))
    est, se = sinrs.mean(0), sinrs.std(0, ddof=1) / np.sqrt(n_batch)
    assert np.all(np.abs(est - closed) < 4 * se), (est, closed, se)
    assert np.all(np.abs(est / closed - 1) < 0.03)
    if tau_p < k:  # the contamination term matters: the orthonormal formula is rejected
        naive = sinr(gamma, eta, xi, beta, n_tx, sigma)
        assert np.any(np.abs(est - naive) > 10 * se)


def test_batch_broadcasting_of_rate() -> None:
    """Per-drop Nt and noise: (D,) scalars against (D, K) per-user arrays."""
    rng = np.random.default_rng(2)
    gamma, eta, xi = rng.uniform(0.1, 1, (3, 4, 2))
    beta = xi + 0.1
    nt = np.array([4, 16, 64, 256])
    sigma = np.array([0.1, 0.2, 0.3, 0.4])
    out = rate(gamma, eta, xi, beta, nt, sigma, 0.9)
    assert out.shape == (4, 2)
    for d in range(4):
        assert out[d] == pytest.approx(
            rate(gamma[d], eta[d], xi[d], beta[d], int(nt[d]), sigma[d], 0.9), rel=1e-14
        )
