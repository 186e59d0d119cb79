"""Pilots and MMSE channel estimation, eq. (6)-(8)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from jcas.model.channel import (
    error_variance,
    estimate_variance,
    mmse_estimate,
    pilot_assignment,
    pilot_gram,
    pilot_matrix,
)


def test_orthonormal_pilots_gram_is_identity() -> None:
    for k, tau_p in [(1, 1), (4, 4), (4, 10), (7, 8)]:
        psi = pilot_matrix(k, tau_p)
        assert psi.shape == (tau_p, k)
        assert np.array_equal(psi.T @ psi, np.eye(k))
        assert np.array_equal(pilot_gram(k, tau_p), np.eye(k))


def test_reused_pilots_gram() -> None:
    """tau_p < K: user k sends pilot k mod tau_p; gram[j, k] = 1 iff j = k mod tau_p."""
    k, tau_p = 7, 3
    assert np.array_equal(pilot_assignment(k, tau_p), [0, 1, 2, 0, 1, 2, 0])
    gram = pilot_gram(k, tau_p)
    j_idx, k_idx = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    assert np.array_equal(gram, (j_idx % tau_p == k_idx % tau_p).astype(float))
    assert np.allclose(np.linalg.norm(pilot_matrix(k, tau_p), axis=0), 1.0)


def test_pilot_arguments_validated() -> None:
    with pytest.raises(ValueError, match="tau_p = 0"):
        pilot_assignment(3, 0)


betas = arrays(
    float,
    st.integers(1, 8),
    elements=st.floats(1e-12, 1e3, allow_nan=False, allow_infinity=False),
)


@settings(deadline=None)
@given(
    beta=betas,
    tau_p=st.integers(1, 10),
    pp_w=st.floats(1e-6, 10.0),
    sigma=st.floats(1e-9, 1e4),
)
def test_xi_plus_eps_is_beta(beta: np.ndarray, tau_p: int, pp_w: float, sigma: float) -> None:
    """(8): eps = beta - xi, with 0 <= xi <= beta and eps >= 0 (computed without cancellation)."""
    xi = estimate_variance(beta, tau_p, pp_w, sigma)
    eps = error_variance(beta, tau_p, pp_w, sigma)
    assert np.all(xi >= 0)
    assert np.all(eps > 0)
    assert np.all(xi <= beta)
    assert np.allclose(xi + eps, beta, rtol=1e-13, atol=0)


def test_error_variance_accurate_at_high_snr() -> None:
    """eps ~ beta sigma / (tau_p p_p beta) when sigma -> 0: the RHS of (8), not beta - xi."""
    beta = np.array([1.0, 1e-3])
    sigma = 1e-17
    eps = error_variance(beta, 10, 0.01, sigma)
    assert np.allclose(eps, sigma / (10 * 0.01), rtol=1e-10, atol=0)
    # beta - xi would have lost most significant digits here:
    naive = beta - estimate_variance(beta, 10, 0.01, sigma)
    assert np.max(np.abs(naive / eps - 1)) > 1e-3


def _simulate(
    rng: np.random.Generator, beta: np.ndarray, tau_p: int, pp_w: float, sigma: float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """n x (Nt=1) channels and received pilots Y_p = sqrt(tau_p p_p) H Psi^T + N_p."""
    k = beta.size
    cn = (rng.standard_normal((n, 1, k)) + 1j * rng.standard_normal((n, 1, k))) / np.sqrt(2)
    h = np.sqrt(beta) * cn
    noise = (rng.standard_normal((n, 1, tau_p)) + 1j * rng.standard_normal((n, 1, tau_p))) * (
        np.sqrt(sigma / 2)
    )
    y = np.sqrt(tau_p * pp_w) * h @ pilot_matrix(k, tau_p).T + noise
    return h, y


@pytest.mark.parametrize(("k", "tau_p"), [(4, 10), (5, 2), (3, 1)])
def test_xi_and_eps_against_sample_variances(k: int, tau_p: int) -> None:
    """Sample variances of h_hat (6) and of e = h - h_hat match xi (7) and eps (8).

    n = 200_000 samples: |x|^2 of a complex Gaussian is exponential, so the
    relative standard error of a sample variance is about 1/sqrt(n) = 0.22%;
    tolerance 4 standard errors estimated from the samples themselves.
    """
    rng = np.random.default_rng(20261129 + k)
    beta = rng.uniform(0.05, 1.0, k)
    pp_w, sigma, n = 0.01, 0.05, 200_000
    h, y = _simulate(rng, beta, tau_p, pp_w, sigma, n)
    h_hat = mmse_estimate(y, beta, tau_p, pp_w, sigma)
    e = h - h_hat
    for x, expected in [
        (h_hat, estimate_variance(beta, tau_p, pp_w, sigma)),
        (e, error_variance(beta, tau_p, pp_w, sigma)),
    ]:
        p = np.abs(x[:, 0, :]) ** 2
        se = p.std(axis=0, ddof=1) / np.sqrt(n)
        assert np.all(np.abs(p.mean(axis=0) - expected) < 4 * se), (p.mean(axis=0), expected)
    # MMSE orthogonality: the error is uncorrelated with every estimate of the same pilot
    corr = np.mean(h_hat[:, 0, :].conj()[:, :, None] * e[:, 0, None, :], axis=0)
    scale = np.sqrt(np.outer(estimate_variance(beta, tau_p, pp_w, sigma), beta))
    assert np.all(np.abs(corr) < 4 * scale / np.sqrt(n) * np.sqrt(2))


@pytest.mark.parametrize(("k", "tau_p"), [(4, 6), (6, 4), (5, 2)])
def test_mmse_equals_lmmse_from_full_pilot_block(k: int, tau_p: int) -> None:
    """(6) equals the LMMSE estimate from the whole received block (per antenna),
    beta_k sqrt(tau_p p_p) psi_k^T (tau_p p_p Psi diag(beta) Psi^T + sigma I)^-1 y,
    computed here by a dense linear solve (an independent formula)."""
    rng = np.random.default_rng(7)
    beta = rng.uniform(0.01, 2.0, k)
    pp_w, sigma, nt = 0.01, 0.3, 5
    _, y = _simulate(rng, beta, tau_p, pp_w, sigma, 3)  # (3, 1, tau_p)
    y = np.broadcast_to(y, (3, nt, tau_p)) * rng.uniform(0.5, 1.5, (3, nt, 1))
    psi = pilot_matrix(k, tau_p)
    cov = tau_p * pp_w * (psi * beta) @ psi.T + sigma * np.eye(tau_p)
    gain = np.sqrt(tau_p * pp_w) * beta[:, None] * np.linalg.solve(cov, psi).T  # (K, tau_p)
    expected = np.einsum("kt,bnt->bnk", gain, y)
    assert np.allclose(mmse_estimate(y, beta, tau_p, pp_w, sigma), expected, rtol=1e-12)


def test_shared_pilot_estimates_are_parallel() -> None:
    """Users sharing a pilot: h_hat_j = (beta_j / beta_k) h_hat_k (the basis of the
    pilot-contamination term of the rate, docs/model.md)."""
    rng = np.random.default_rng(3)
    beta = np.array([0.4, 0.9, 0.1])
    h_hat = mmse_estimate(
        rng.standard_normal((2, 8, 1)) + 1j * rng.standard_normal((2, 8, 1)), beta, 1, 0.01, 0.1
    )
    assert np.allclose(h_hat[..., 1], beta[1] / beta[0] * h_hat[..., 0], rtol=1e-13)
    xi = estimate_variance(beta, 1, 0.01, 0.1)
    assert np.allclose(xi / xi[0], (beta / beta[0]) ** 2, rtol=1e-13)


def test_batch_shapes_and_per_drop_noise() -> None:
    beta = np.random.default_rng(0).uniform(0.1, 1, (3, 2, 4))
    sigma = np.array([[0.1, 1.0]] * 3)  # shape (3, 2): one noise power per batch entry
    xi = estimate_variance(beta, 10, 0.01, sigma)
    assert xi.shape == (3, 2, 4)
    assert np.allclose(xi[1, 1], estimate_variance(beta[1, 1], 10, 0.01, 1.0))
