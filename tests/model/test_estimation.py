"""MMSE estimation under any channel (jcas.model.estimation).

- The i.i.d. channel keeps the scalar path: bit for bit (7), (8) and (6).
- The matrix path reduces to (7)-(8) for ``R_k = beta_k I`` (with and without shared pilots).
- Against an independent LMMSE of the whole pilot block (Kronecker form, one dense solve).
- Estimate and error covariances against sample covariances of simulated pilots, and the
  orthogonality of the error (local scattering with shared pilots; Rician, phase unaware).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from jcas.model.channel import (
    error_variance,
    estimate_variance,
    mmse_estimate,
    pilot_matrix,
)
from jcas.model.estimation import mmse_estimation
from jcas.model.params import SystemParams
from jcas.parts.channels.exponential import Exponential
from jcas.parts.channels.iid import IID
from jcas.parts.channels.local_scattering import LocalScattering
from jcas.parts.channels.rician import Rician

ANGLES = np.array([[-0.9, 0.2, 0.7, 1.3], [0.1, -0.3, -1.1, 0.5]])
BETA = np.array([[1.0, 0.2, 0.05, 0.6], [0.3, 1.5, 0.02, 0.9]])


def _cn(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / math.sqrt(2)


@pytest.mark.parametrize("tau_p", [4, 2, 1])
def test_iid_keeps_the_scalar_path_bit_for_bit(tau_p: int) -> None:
    p = SystemParams(K=4, Nt=6, tau_p=tau_p, snr_com_db=5.0)
    est = mmse_estimation(IID().statistics(BETA, ANGLES, p.Nt), tau_p, p.pp_w, p.sigma_u2_w)
    np.testing.assert_array_equal(est.xi, estimate_variance(BETA, tau_p, p.pp_w, p.sigma_u2_w))
    np.testing.assert_array_equal(est.eps, error_variance(BETA, tau_p, p.pp_w, p.sigma_u2_w))
    y_full = _cn(np.random.default_rng(0), (2, 3, p.Nt, tau_p))  # (D, S, Nt, tau_p)
    ref = mmse_estimate(y_full, BETA[:, None, :], tau_p, p.pp_w, p.sigma_u2_w)  # (D, S, Nt, K)
    y = np.moveaxis(y_full[..., est.used], -1, 1)  # (D, P, S, Nt)
    ours = est.estimate(np.swapaxes(y, -1, -2))  # (D, K, Nt, S)
    np.testing.assert_array_equal(np.moveaxis(ours, 1, -1), np.swapaxes(ref, 1, 2))


@pytest.mark.parametrize("tau_p", [4, 2])
def test_matrix_path_reduces_to_7_and_8(tau_p: int) -> None:
    p = SystemParams(K=4, Nt=5, tau_p=tau_p, snr_com_db=-3.0)
    dense = IID().statistics(BETA, ANGLES, p.Nt).dense()
    est = mmse_estimation(dense, tau_p, p.pp_w, p.sigma_u2_w)
    xi = estimate_variance(BETA, tau_p, p.pp_w, p.sigma_u2_w)
    eps = error_variance(BETA, tau_p, p.pp_w, p.sigma_u2_w)
    eye = np.eye(p.Nt)
    np.testing.assert_allclose(est.estimate_cov, xi[..., None, None] * eye, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(est.error_cov, eps[..., None, None] * eye, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(est.xi, xi, rtol=1e-13)


@pytest.mark.parametrize("model", [LocalScattering(12.0), Exponential(0.7), Rician(3.0)])
def test_estimator_is_the_lmmse_of_the_whole_pilot_block(model: object) -> None:
    """``h_hat_k = Cov(h_k, vec Y) Cov(vec Y)^{-1} vec Y`` with ``vec Y = sum_k
    sqrt(tau_p p_p) (psi_k (x) I) h_k + n``, one dense solve of size ``Nt tau_p``."""
    p = SystemParams(K=4, Nt=4, tau_p=2, snr_com_db=0.0)
    stats = model.statistics(BETA, ANGLES, p.Nt)  # type: ignore[attr-defined]
    est = mmse_estimation(stats, p.tau_p, p.pp_w, p.sigma_u2_w)
    q = stats.total_covariance()
    psi = pilot_matrix(p.K, p.tau_p)
    amp = math.sqrt(p.tau_p * p.pp_w)
    rng = np.random.default_rng(1)
    for d in range(2):
        cov_y = p.sigma_u2_w * np.eye(p.Nt * p.tau_p, dtype=complex)
        for k in range(p.K):
            cov_y += amp**2 * np.kron(np.outer(psi[:, k], psi[:, k]), q[d, k])
        vec_y = _cn(rng, (p.Nt * p.tau_p,))
        y_cols = vec_y.reshape(p.tau_p, p.Nt).T  # column-stacked: y_p = Y psi_p
        y_used = np.stack([y_cols[:, u] for u in est.used])[None, :, :, None]  # (1, P, Nt, 1)
        ours = est.select([d]).estimate(y_used)[0, :, :, 0]
        for k in range(p.K):
            cross = amp * np.kron(psi[:, k][None, :], q[d, k])  # Cov(h_k, vec Y)
            ref = cross @ np.linalg.solve(cov_y, vec_y)
            np.testing.assert_allclose(ours[k], ref, atol=1e-12 * np.abs(ref).max())
            phi = cross @ np.linalg.solve(cov_y, cross.conj().T)
            np.testing.assert_allclose(est.estimate_cov[d, k], phi, atol=1e-13)
            np.testing.assert_allclose(est.error_cov[d, k], q[d, k] - phi, atol=1e-13)


@pytest.mark.parametrize("model", [LocalScattering(8.0), Rician(5.0, Exponential(0.4))])
def test_covariances_against_simulated_pilots(model: object) -> None:
    """Sample covariances of ``h_hat`` and ``h - h_hat`` and the cross-covariance (zero)
    over 40 000 realizations: every entry within 5 SE, at most 1 % beyond 3 SE."""
    p = SystemParams(K=4, Nt=5, tau_p=2, snr_com_db=0.0)
    stats = model.statistics(BETA[:1], ANGLES[:1], p.Nt)  # type: ignore[attr-defined]
    est = mmse_estimation(stats, p.tau_p, p.pp_w, p.sigma_u2_w)
    n = 40000
    rng = np.random.default_rng(2)
    z = _cn(rng, (1, p.K, p.Nt, n))
    h = stats.sample(z, rng.uniform(0, 2 * math.pi, (1, p.K, n)))
    y = math.sqrt(p.sigma_u2_w) * _cn(rng, (1, est.used.size, p.Nt, n))
    for k, slot in enumerate(est.slots):
        y[:, slot] += math.sqrt(p.tau_p * p.pp_w) * h[:, k]
    h_hat = est.estimate(y)[0]
    err = h[0] - h_hat
    zs = []
    for k in range(p.K):
        for a, b, ref in (
            (h_hat[k], h_hat[k], est.estimate_cov[0, k]),
            (err[k], err[k], est.error_cov[0, k]),
            (err[k], h_hat[k], np.zeros((p.Nt, p.Nt))),
        ):
            prod = a[:, None, :] * b[None, :, :].conj()  # (Nt, Nt, n)
            for part in (np.real, np.imag):
                x = part(prod)
                se = x.std(-1) / math.sqrt(n)
                ok = se > 1e-9 * np.abs(ref).max(initial=1e-300)
                zs.append((np.abs(x.mean(-1) - part(ref)) / np.where(ok, se, np.inf)).ravel())
    zs = np.concatenate(zs)
    assert zs.max() < 5, zs.max()
    assert np.mean(zs > 3) < 0.01, np.mean(zs > 3)
