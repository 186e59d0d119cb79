"""Precoders for any channel: RZF and M-MMSE (no closed forms), the directions of every
precoder, and MRT's closed-form coefficients under correlated and Rician fading.

Independent checks: M-MMSE by a direct ``Nt x Nt`` solve (the part uses the push-through
identity); M-MMSE under the i.i.d. channel is RZF with ``delta + sum eps``; RZF tends to ZF
and MRT at the ends of its regularisation; the protective beams are orthogonal to the
estimates. MRT's closed forms reduce to those of (15)/(37) for ``R_k = beta_k I`` and, for
Rayleigh fading, to ``tr(R_k Phi_j) + |tr(Phi_kj)|^2`` written out here (their agreement
with Monte-Carlo is in ``tests/montecarlo/test_mc_coefficients.py``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from jcas.model.channel import estimate_variance
from jcas.model.estimation import mmse_estimation
from jcas.model.params import ConfigError, SystemParams
from jcas.parts.channels.exponential import Exponential
from jcas.parts.channels.iid import IID
from jcas.parts.channels.local_scattering import LocalScattering
from jcas.parts.channels.rician import Rician
from jcas.parts.coefficients import closed_form_coefficients
from jcas.parts.precoders.base import TOTAL_POWER_RATE
from jcas.parts.precoders.general import precoder_context
from jcas.parts.precoders.mmse import MMSE, PMMSE
from jcas.parts.precoders.mrt import MRT
from jcas.parts.precoders.mrt_channels import mrt_coefficients
from jcas.parts.precoders.rzf import PRZF, RZF
from jcas.parts.precoders.zf import PZF, ZF

P = SystemParams(K=4, Nt=12, Nr=10, snr_com_db=10.0, theta_deg=25.0)
ANGLES = np.array([[-0.9, 0.2, 0.7, 1.3], [0.1, -0.3, -1.1, 0.5]])
BETA = np.array([[1.0, 0.2, 0.05, 0.6], [0.3, 1.5, 0.02, 0.9]])
NEW = (RZF(), PRZF(), MMSE(), PMMSE())


def _estimates(params: SystemParams, model: object, n: int = 6, seed: int = 0):
    stats = model.statistics(BETA, ANGLES, params.Nt)  # type: ignore[attr-defined]
    est = mmse_estimation(stats, params.tau_p, params.pp_w, params.sigma_u2_w)
    rng = np.random.default_rng(seed)
    shape = (2, n, params.Nt, params.K)
    h_hat = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * 0.3
    return est, h_hat


@pytest.mark.parametrize("pre", NEW)
def test_no_closed_forms_is_declared_and_explained(pre: object) -> None:
    assert pre.closed_forms is False  # type: ignore[attr-defined]
    assert all(part.closed_forms for part in (MRT, ZF, PZF))
    xi = np.full((1, 4), 0.5)
    calls = [
        lambda: pre.rate_terms(xi, xi, xi, xi, P),  # type: ignore[attr-defined]
        lambda: pre.covariance(xi, xi, xi, P, None),  # type: ignore[attr-defined]
        lambda: pre.covariance_components(P, None),  # type: ignore[attr-defined]
        lambda: pre.total_power_sinr(xi, xi, P),  # type: ignore[attr-defined]
        lambda: pre.split_power_sinr(xi, xi, P),  # type: ignore[attr-defined]
    ]
    for call in calls:
        with pytest.raises(NotImplementedError, match=f"precoder '{pre.name}'.*mc_coefficients"):  # type: ignore[attr-defined]
            call()
    assert "no closed forms" in pre.unsupported(TOTAL_POWER_RATE, P)  # type: ignore[attr-defined]
    assert pre.unsupported("", P) is None  # type: ignore[attr-defined]
    np.testing.assert_allclose(pre.transmit_power(xi, xi, xi, P), [P.Nt * 4.0])  # type: ignore[attr-defined]


def test_protective_variants_need_more_antennas_than_users() -> None:
    small = SystemParams(K=4, Nt=4, Nr=4)
    for pre in (PRZF(), PMMSE()):
        why = pre.unsupported("", small)
        assert why is not None
        assert "system.Nt = 4 <= system.K" in why
    assert RZF().unsupported("", small) is None
    with pytest.raises(ConfigError, match="normalisation = 'unit'"):
        RZF(normalisation="unit")


def test_mmse_by_a_direct_solve_and_iid_mmse_is_rzf() -> None:
    est, h_hat = _estimates(P, LocalScattering(15.0))
    ctx = precoder_context(P, est)
    v, _ = MMSE().directions(h_hat, ctx)
    z = est.error_cov.sum(axis=1) + ctx.regularisation * np.eye(P.Nt)  # (D, Nt, Nt)
    for d in range(2):
        for s in range(h_hat.shape[1]):
            hh = h_hat[d, s]
            ref = np.linalg.solve(hh @ hh.conj().T + z[d], hh)
            np.testing.assert_allclose(v[d, s], ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())
    est, h_hat = _estimates(P, IID())
    ctx = precoder_context(P, est)
    v, _ = MMSE().directions(h_hat, ctx)
    for d in range(2):
        delta = ctx.regularisation + est.eps[d].sum()
        ref, _ = RZF(regularisation=float(delta)).directions(h_hat[d : d + 1], ctx)
        np.testing.assert_allclose(v[d], ref[0], rtol=1e-12)
    dense = precoder_context(P, mmse_estimation(est.stats.dense(), P.tau_p, P.pp_w, P.sigma_u2_w))
    np.testing.assert_allclose(MMSE().directions(h_hat, dense)[0], v, rtol=1e-10)


def test_rzf_between_zf_and_mrt() -> None:
    est, h_hat = _estimates(P, Exponential(0.5))
    ctx = precoder_context(P, est)
    zf, _ = ZF().directions(h_hat, ctx)
    np.testing.assert_allclose(RZF(regularisation=1e-12).directions(h_hat, ctx)[0], zf, rtol=1e-8)
    big = 1e12
    np.testing.assert_allclose(
        big * RZF(regularisation=big).directions(h_hat, ctx)[0], h_hat, rtol=1e-9
    )
    unit = RZF(normalisation="realization").directions(h_hat, ctx)[0]
    np.testing.assert_allclose(np.sum(np.abs(unit) ** 2, axis=-2), P.Nt, rtol=1e-12)


@pytest.mark.parametrize("pre", [PRZF(), PMMSE(), PMMSE(normalisation="realization")])
def test_protective_beam_is_orthogonal_to_the_estimates(pre: object) -> None:
    est, h_hat = _estimates(P, LocalScattering(5.0))
    ctx = precoder_context(P, est)
    _, b = pre.directions(h_hat, ctx)  # type: ignore[attr-defined]
    leak = np.abs(np.conj(np.swapaxes(h_hat, -1, -2)) @ b[..., None])
    assert leak.max() < 1e-12 * np.abs(b).max() * np.abs(h_hat).max() * P.Nt
    _, b_pzf = PZF().directions(h_hat, ctx)
    if pre.normalisation == "statistical":  # type: ignore[attr-defined]
        np.testing.assert_allclose(b, b_pzf, atol=1e-12)
    else:
        np.testing.assert_allclose(np.sum(np.abs(b) ** 2, axis=-1), P.Nt, rtol=1e-12)
    # parallel estimates (a shared pilot under the i.i.d. channel): still a projection
    hp = h_hat.copy()
    hp[..., 1] = 2.0 * hp[..., 0]
    _, bp = PRZF().directions(hp, ctx)
    assert np.abs(np.conj(np.swapaxes(hp, -1, -2)) @ bp[..., None]).max() < 1e-10


def test_sample_needs_the_context_and_the_norms() -> None:
    est, h_hat = _estimates(P, IID())
    gamma = np.full((2, 1, 4), 0.01)
    with pytest.raises(ValueError, match="needs the drops' PrecoderContext"):
        RZF().sample(h_hat, est.xi, gamma, gamma, np.ones(P.Nt))
    with pytest.raises(ValueError, match=r"needs context\.norms"):
        RZF().sample(h_hat, est.xi, gamma, gamma, np.ones(P.Nt), context=precoder_context(P, est))
    ctx = precoder_context(P, est, norms=np.full((2, 5), 2.0))
    f = RZF().sample(h_hat, est.xi, gamma, gamma, np.ones(P.Nt), context=ctx)
    v, b = RZF().directions(h_hat, ctx)
    ref = v * math.sqrt(P.Nt / 2.0 * 0.01) + b[..., None] * math.sqrt(P.Nt / P.Nt * 0.01)
    np.testing.assert_allclose(f, ref, rtol=1e-13)


@pytest.mark.parametrize("tau_p", [10, 2])
def test_mrt_closed_forms_reduce_to_15_and_37_for_iid(tau_p: int) -> None:
    params = P.replace(tau_p=tau_p)
    xi = estimate_variance(BETA, tau_p, params.pp_w, params.sigma_u2_w)
    ref = closed_form_coefficients(BETA, xi, params)
    est = mmse_estimation(
        IID().statistics(BETA, ANGLES, params.Nt), tau_p, params.pp_w, params.sigma_u2_w
    )
    ours = mrt_coefficients(params, est)
    for a, b in (
        (ours.rate.signal, ref.rate.signal),
        (ours.rate.interference, ref.rate.interference),
        (ours.rate.sensing, ref.rate.sensing),
        (ours.fisher.t1, ref.fisher.t1),
        (ours.fisher.t2, ref.fisher.t2),
    ):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert np.abs(ours.fisher.t3).max() < 1e-12 * ours.fisher.t2.max()


@pytest.mark.parametrize("model", [LocalScattering(10.0), Exponential(0.8)])
def test_mrt_rayleigh_interference_with_shared_pilots(model: object) -> None:
    """``b_kj = Nt (tr(R_k Phi_j) + [shared] |tr(tau_p p_p R_k Psi^-1 R_j)|^2) / tr(Phi_j)``,
    ``b_kk = Nt tr(R_k Phi_k) / tr(Phi_k)``; and the Rician forms tend to these as K -> 0."""
    params = P.replace(tau_p=2)
    stats = model.statistics(BETA, ANGLES, params.Nt)  # type: ignore[attr-defined]
    est = mmse_estimation(stats, params.tau_p, params.pp_w, params.sigma_u2_w)
    ours = mrt_coefficients(params, est)
    r, phi = stats.covariance, est.estimate_cov
    amp2 = params.tau_p * params.pp_w
    nt = params.Nt
    for d in range(2):
        for k in range(4):
            for j in range(4):
                trp = np.trace(phi[d, j]).real
                s = np.trace(r[d, k] @ phi[d, j]).real
                if j % 2 == k % 2 and j != k:
                    psi = amp2 * (r[d, k % 2] + r[d, k % 2 + 2]) + params.sigma_u2_w * np.eye(nt)
                    s += abs(np.trace(amp2 * r[d, k] @ np.linalg.solve(psi, r[d, j]))) ** 2
                assert ours.rate.interference[d, k, j] == pytest.approx(nt * s / trp, rel=1e-10)
    weak = Rician(-250.0, model)  # type: ignore[arg-type]
    est_w = mmse_estimation(
        weak.statistics(BETA, ANGLES, nt), params.tau_p, params.pp_w, params.sigma_u2_w
    )
    near = mrt_coefficients(params, est_w)
    np.testing.assert_allclose(near.rate.interference, ours.rate.interference, rtol=1e-10)
    np.testing.assert_allclose(near.rate.signal, ours.rate.signal, rtol=1e-10)
