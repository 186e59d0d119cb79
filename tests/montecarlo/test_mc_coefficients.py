"""The Monte-Carlo coefficient route (jcas.montecarlo.coefficients) certified by closed forms.

1. Against every closed form: MRT, phase-only MRT, ZF, PZF under the i.i.d. channel
   (:func:`jcas.parts.coefficients.closed_form_coefficients`) and MRT under correlated
   Rayleigh and Rician fading (:func:`jcas.parts.precoders.mrt_channels.mrt_coefficients`),
   with and without shared pilots, at several (Nt, K, SNR, spread).
2. Against an independent plain Monte-Carlo of the rate (14) of the full precoder
   ``F = [sqrt(x_k) w_k + sqrt(s / K) b]`` (written here: its own channel factor, a dense
   LMMSE, the precoders by direct solves, the cross terms included) at equal powers, at the
   exact ``optimal`` powers and at unequal ones, for MRT, RZF, M-MMSE and protective M-MMSE.
3. The comparisons can fail: the i.i.d. closed forms are rejected under local scattering and
   the correlated ones without the pilot-contamination term under shared pilots.
4. Batch and chunk invariance.

**Criterion with many comparisons.** Each coefficient entry gives ``z = (MC - closed form)
/ SE``. With ``M`` entries and correct code each ``|z| > 3`` with probability 0.27 %, so
the test asks (a) at most ``c`` entries beyond 3, ``c`` the 1 - 1e-4 quantile of
Binomial(M, 0.0027), and (b) every ``|z| < 5.5`` (probability 4e-8 per entry). Entries
whose SE is at rounding level (the beam ``a_t`` is deterministic) must agree to 1e-9 of
their scale. Seeds are fixed, so the outcome is reproducible; the false-alarm rate of the
criterion is about 1e-4 per test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats as sps

from jcas.allocation import allocate
from jcas.model.channel import estimate_variance
from jcas.model.coefficients import Coefficients, RateCoefficients
from jcas.model.drops import large_scale_fading, user_angles
from jcas.model.estimation import mmse_estimation
from jcas.model.params import SystemParams
from jcas.montecarlo.coefficients import mc_coefficients
from jcas.montecarlo.rate import _features, rate_from_moments
from jcas.parts.arrays.ula import steering_vector
from jcas.parts.channels.exponential import Exponential
from jcas.parts.channels.iid import IID
from jcas.parts.channels.local_scattering import LocalScattering
from jcas.parts.channels.rician import Rician
from jcas.parts.coefficients import closed_form_coefficients
from jcas.parts.precoders.mmse import MMSE, PMMSE
from jcas.parts.precoders.mrt import MRT
from jcas.parts.precoders.mrt_channels import mrt_coefficients
from jcas.parts.precoders.phase_mrt import PhaseMRT
from jcas.parts.precoders.rzf import RZF
from jcas.parts.precoders.zf import PZF, ZF


def _drops(params: SystemParams, n: int, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    beta, _ = large_scale_fading(params, seed, range(n))
    _, angles = user_angles(params, seed, range(n))
    return beta, angles


def _z_scores(mc: Coefficients, ref: Coefficients) -> np.ndarray:
    """Per-entry ``|MC - ref| / SE`` of a, b, e, t1, t2, Re t3, Im t3 (0 where an entry
    with a rounding-level SE agrees to 1e-9 of its group's scale, inf where it does not)."""
    r, f = mc.rate, mc.fisher
    t3_scale = max(np.abs(ref.fisher.t3).max(), ref.fisher.t2.max())  # T3's natural scale
    groups = [
        (r.signal, ref.rate.signal, r.signal_se, None),
        (r.interference, ref.rate.interference, r.interference_se, None),
        (r.sensing, ref.rate.sensing, r.sensing_se, None),
        (f.t1, ref.fisher.t1, f.t1_se, None),
        (f.t2, ref.fisher.t2, f.t2_se, None),
        (f.t3.real, ref.fisher.t3.real, f.t3_se.real, t3_scale),
        (f.t3.imag, ref.fisher.t3.imag, f.t3_se.imag, t3_scale),
    ]
    out = []
    for value, expected, se, scale in groups:
        scale = np.abs(expected).max() if scale is None else scale
        exact = se <= 1e-9 * scale
        diff = np.abs(value - expected)
        z = np.where(
            exact, np.where(diff <= 1e-9 * scale, 0.0, np.inf), diff / np.where(exact, 1, se)
        )
        out.append(z.ravel())
    return np.concatenate(out)


def _assert_agree(z: np.ndarray) -> None:
    m = z.size
    allowed = int(sps.binom.isf(1e-4, m, 2 * sps.norm.sf(3.0)))
    beyond = int(np.sum(z > 3.0))
    assert z.max() < 5.5, f"max |z| = {z.max():.2f} over {m} entries"
    assert beyond <= allowed, f"{beyond} of {m} entries beyond 3 SE (allowed {allowed})"


# ---------------------------------------------------------------- 1. against closed forms
@pytest.mark.parametrize("pre", [MRT(), PhaseMRT(), ZF(), PZF()])
def test_iid_route_matches_the_closed_forms(pre: object) -> None:
    params = SystemParams(K=4, Nt=16, Nr=12, snr_com_db=10.0, theta_deg=20.0, precoder=pre.name)  # type: ignore[attr-defined]
    beta, angles = _drops(params, 3)
    xi = estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)
    mc = mc_coefficients(
        params, IID(), beta, angles, pre, seed=1, drops=range(3), n_realizations=8000
    )  # type: ignore[arg-type]
    _assert_agree(_z_scores(mc.coefficients, closed_form_coefficients(beta, xi, params)))
    assert mc.coefficients.source == "monte_carlo"
    assert np.all(mc.norms_se[:, -1] == 0)


@pytest.mark.parametrize(
    ("model", "tau_p"),
    [(LocalScattering(10.0), 2), (Exponential(0.8), 10), (Rician(5.0, LocalScattering(20.0)), 2)],
)
def test_correlated_route_matches_mrt_closed_forms(model: object, tau_p: int) -> None:
    params = SystemParams(K=4, Nt=16, Nr=12, snr_com_db=10.0, theta_deg=20.0, tau_p=tau_p)
    beta, angles = _drops(params, 3)
    est = mmse_estimation(
        model.statistics(beta, angles, params.Nt),  # type: ignore[attr-defined]
        tau_p,
        params.pp_w,
        params.sigma_u2_w,
    )
    mc = mc_coefficients(
        params, model, beta, angles, MRT(), seed=2, drops=range(3), n_realizations=8000
    )  # type: ignore[arg-type]
    _assert_agree(_z_scores(mc.coefficients, mrt_coefficients(params, est)))


def test_the_comparison_can_fail() -> None:
    """The same samples and criterion reject the i.i.d. closed forms under local
    scattering, and the correlated ones without the pilot-contamination term under shared
    pilots."""
    params = SystemParams(K=4, Nt=16, Nr=12, snr_com_db=10.0, theta_deg=20.0, tau_p=2)
    beta, angles = _drops(params, 3)
    model = LocalScattering(10.0)
    mc = mc_coefficients(
        params, model, beta, angles, MRT(), seed=2, drops=range(3), n_realizations=8000
    ).coefficients
    xi = estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)
    with pytest.raises(AssertionError, match="max"):
        _assert_agree(_z_scores(mc, closed_form_coefficients(beta, xi, params)))
    est = mmse_estimation(
        model.statistics(beta, angles, params.Nt), 2, params.pp_w, params.sigma_u2_w
    )
    right = mrt_coefficients(params, est)
    r, phi = est.stats.covariance, est.estimate_cov
    tr_phi = np.trace(phi, axis1=-2, axis2=-1).real
    wrong_b = params.Nt * np.einsum("dkab,djba->dkj", r, phi).real / tr_phi[:, None, :]
    idx = np.arange(4)
    wrong_b[:, idx, idx] = right.rate.interference[:, idx, idx]
    wrong = Coefficients(
        RateCoefficients(
            right.rate.signal, wrong_b, right.rate.sensing, right.rate.noise, right.rate.tau_bar
        ),
        right.fisher,
        right.n_tx,
        right.pt_w,
        right.crb0,
    )
    _assert_agree(_z_scores(mc, right))
    with pytest.raises(AssertionError, match="max"):
        _assert_agree(_z_scores(mc, wrong))


def test_batch_and_chunk_invariance() -> None:
    params = SystemParams(K=3, Nt=8, Nr=8, snr_com_db=5.0)
    beta, angles = _drops(params, 4)
    model = Rician(3.0, Exponential(0.6))
    kw = {"seed": 4, "n_realizations": 600}
    whole = mc_coefficients(params, model, beta, angles, RZF(), drops=[10, 11, 12, 13], **kw)
    alone = mc_coefficients(params, model, beta[2:3], angles[2:3], RZF(), drops=[12], **kw)
    small = mc_coefficients(
        params, model, beta, angles, RZF(), drops=[10, 11, 12, 13], chunk_size=100, **kw
    )
    for other, rows in ((alone, [2]), (small, slice(None))):
        np.testing.assert_allclose(
            other.coefficients.rate.interference,
            whole.coefficients.rate.interference[rows],
            rtol=1e-12,
        )
        np.testing.assert_allclose(
            other.coefficients.fisher.t2, whole.coefficients.fisher.t2[rows], rtol=1e-12
        )
        np.testing.assert_allclose(other.norms, whole.norms[rows], rtol=1e-12)


def test_a_drop_whose_precoder_fails_is_flagged_not_raised() -> None:
    @dataclass(frozen=True)
    class Fragile(MRT):
        def directions(self, h_hat, context):  # type: ignore[no-untyped-def]
            if np.any(context.estimation.stats.beta > 5.0):
                raise np.linalg.LinAlgError("Singular matrix")
            return super().directions(h_hat, context)

    params = SystemParams(K=3, Nt=8, Nr=8)
    beta, angles = _drops(params, 3)
    beta[1, 0] = 10.0
    out = mc_coefficients(
        params,
        Exponential(0.5),
        beta,
        angles,
        Fragile(),
        seed=0,
        drops=[0, 1, 2],
        n_realizations=300,
    )
    np.testing.assert_array_equal(out.failed, [False, True, False])
    assert np.all(np.isnan(out.coefficients.rate.signal[1]))
    assert np.all(np.isnan(out.norms[1]))
    ref = mc_coefficients(
        params,
        Exponential(0.5),
        beta[[0, 2]],
        angles[[0, 2]],
        MRT(),
        seed=0,
        drops=[0, 2],
        n_realizations=300,
    )
    np.testing.assert_allclose(
        out.coefficients.rate.interference[[0, 2]], ref.coefficients.rate.interference, rtol=1e-12
    )


def test_bad_input_is_refused() -> None:
    params = SystemParams(K=4, Nt=4, Nr=4)
    beta, angles = _drops(params, 1)
    with pytest.raises(ValueError, match=r"system\.Nt = 4 <= system\.K"):
        mc_coefficients(params, IID(), beta, angles, ZF(), seed=0, drops=[0], n_realizations=10)
    upa = SystemParams(K=2, Nt=16, Nr=16, array="upa", tx_rows=4, rx_rows=4)
    beta, angles = _drops(upa, 1)
    with pytest.raises(ValueError, match=r"system\.array = 'upa'"):
        mc_coefficients(
            upa, LocalScattering(), beta, angles, MRT(), seed=0, drops=[0], n_realizations=10
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("nt", "k", "snr", "spread", "tau_p"),
    [(8, 2, 0.0, 5.0, 10), (32, 6, 20.0, 30.0, 3), (64, 8, -5.0, 10.0, 10), (24, 4, 30.0, 0.0, 10)],
)
def test_mrt_closed_forms_over_a_grid(
    nt: int, k: int, snr: float, spread: float, tau_p: int
) -> None:
    params = SystemParams(K=k, Nt=nt, Nr=nt, snr_com_db=snr, theta_deg=-35.0, tau_p=tau_p)
    beta, angles = _drops(params, 3, seed=5)
    model = LocalScattering(spread)
    est = mmse_estimation(model.statistics(beta, angles, nt), tau_p, params.pp_w, params.sigma_u2_w)
    mc = mc_coefficients(
        params, model, beta, angles, MRT(), seed=6, drops=range(3), n_realizations=6000
    )
    _assert_agree(_z_scores(mc.coefficients, mrt_coefficients(params, est)))
    if nt > k + 1:
        iid_params = params.replace(precoder="pzf", tau_p=max(tau_p, k))
        xi = estimate_variance(beta, iid_params.tau_p, params.pp_w, params.sigma_u2_w)
        mc = mc_coefficients(
            iid_params, IID(), beta, angles, PZF(), seed=6, drops=range(3), n_realizations=6000
        )
        _assert_agree(_z_scores(mc.coefficients, closed_form_coefficients(beta, xi, iid_params)))


# ---------------------------------------------------------------- 2. against a plain MC of (14)
def _plain_mc_rate(
    params: SystemParams,
    model: object,
    beta: np.ndarray,
    angles: np.ndarray,
    kind: str,
    x: np.ndarray,
    s: np.ndarray,
    norms: np.ndarray,
    n: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Sum rate (14) and its SE per drop from simulated ``F``, written independently of the
    route: Cholesky channel factors, the LMMSE by explicit inverses, the precoders by
    direct solves, the projection by a pseudo-inverse, ``F`` with the sensing part on every
    stream; moments and bias correction of :func:`jcas.montecarlo.rate.rate_from_moments`."""
    nt, k = params.Nt, params.K
    rng = np.random.default_rng(seed)
    stats = model.statistics(beta, angles, nt)  # type: ignore[attr-defined]
    q = stats.total_covariance()
    r = stats.covariance if stats.covariance is not None else q
    amp2 = params.tau_p * params.pp_w
    sigma2 = params.sigma_u2_w
    a_t = steering_vector(nt, params.theta_rad)
    delta = k * sigma2 / params.pt_w
    out, out_se = np.zeros(len(beta)), np.zeros(len(beta))
    for d in range(len(beta)):

        def cn(shape: tuple[int, ...]) -> np.ndarray:
            return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / math.sqrt(2)

        h = np.empty((n, nt, k), dtype=complex)
        for j in range(k):
            jitter = 1e-12 * beta[d, j] * np.eye(nt)
            chol = np.linalg.cholesky(r[d, j] + jitter)
            h[:, :, j] = cn((n, nt)) @ chol.T
            if stats.los is not None:
                h[:, :, j] += stats.los[d, j] * np.exp(1j * rng.uniform(0, 2 * np.pi, (n, 1)))
        pilots = np.arange(k) % params.tau_p
        h_hat = np.empty_like(h)
        c_sum = np.zeros((nt, nt), dtype=complex)
        for p in np.unique(pilots):
            users = np.flatnonzero(pilots == p)
            psi = amp2 * q[d, users].sum(0) + sigma2 * np.eye(nt)
            y = math.sqrt(amp2) * h[:, :, users].sum(-1) + math.sqrt(sigma2) * cn((n, nt))
            psi_inv = np.linalg.inv(psi)
            for j in users:
                gain = math.sqrt(amp2) * q[d, j] @ psi_inv
                h_hat[:, :, j] = y @ gain.T
                c_sum += q[d, j] - amp2 * q[d, j] @ psi_inv @ q[d, j]
        hh = np.conj(np.swapaxes(h_hat, -1, -2))
        if kind == "mrt":
            v = h_hat
        elif kind == "rzf":
            v = h_hat @ np.linalg.inv(hh @ h_hat + delta * np.eye(k))
        else:  # M-MMSE, direct Nt x Nt solve
            v = np.linalg.solve(h_hat @ hh + c_sum + delta * np.eye(nt), h_hat)
        if kind == "pmmse":
            b = a_t - (h_hat @ np.linalg.pinv(h_hat) @ a_t[:, None])[..., 0]
        else:
            b = np.broadcast_to(a_t, (n, nt))
        w = v * np.sqrt(nt / norms[d, :k])
        bn = b * math.sqrt(nt / norms[d, k])
        f = w * np.sqrt(x[d]) + bn[..., None] * math.sqrt(s[d] / k)
        g = np.conj(np.swapaxes(h, -1, -2)) @ f  # (n, K, K)
        z = _features(g)
        mean = z.mean(0)
        cov = np.cov(z, rowvar=False)
        _, _, total, total_se = rate_from_moments(mean, cov, n, sigma2, params.tau_bar)
        out[d], out_se[d] = total, total_se
    return out, out_se


def _route_sum_rate(
    coef: Coefficients, x: np.ndarray, s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sum rate from the coefficients and its SE by the delta method, treating the
    coefficient errors as independent (an approximation; the route runs 4x the plain
    Monte-Carlo's realizations, so its SE is the smaller term)."""
    r = coef.rate
    c = r.tau_bar / math.log(2.0)
    den = np.einsum("dkj,dj->dk", r.interference, x) + r.sensing * s[:, None] + r.noise
    num = r.signal * x
    d_num = c / (num + den)
    d_den = d_num - c / den
    var = (d_num * x) ** 2 * r.signal_se**2
    var += np.einsum("dkj,dj->dk", (d_den[..., None] * r.interference_se) ** 2, x**2)
    var += (d_den * s[:, None] * r.sensing_se) ** 2
    return r.sum_rate(x, s), np.sqrt(var.sum(-1))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "model", "powers"),
    [
        ("mrt", IID(), "optimal"),
        ("mrt", LocalScattering(10.0), "equal"),
        ("rzf", LocalScattering(10.0), "equal"),
        ("mmse", Rician(5.0), "unequal"),
        ("pmmse", LocalScattering(20.0), "unequal"),
    ],
)
def test_route_matches_a_plain_monte_carlo_of_the_rate(
    kind: str, model: object, powers: str
) -> None:
    params = SystemParams(K=4, Nt=12, Nr=12, snr_com_db=15.0, theta_deg=10.0)
    n_drops = 3
    beta, angles = _drops(params, n_drops, seed=21)
    budget = params.pt_w / params.Nt
    if powers == "optimal":
        xi = estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)
        alloc = allocate("optimal", beta, xi, params)
        x, s = xi * alloc.gamma, alloc.eta.sum(-1)
    elif powers == "equal":
        x, s = np.full((n_drops, 4), budget / 8), np.full(n_drops, budget / 2)
    else:
        x = budget * np.array([[0.05, 0.3, 0.1, 0.2]] * n_drops)
        s = np.full(n_drops, 0.35 * budget)
    pre = {"mrt": MRT(), "rzf": RZF(), "mmse": MMSE(), "pmmse": PMMSE()}[kind]
    pilot = mc_coefficients(
        params, model, beta, angles, pre, seed=30, drops=range(n_drops), n_realizations=4000
    )
    norms = pilot.norms  # fixed normalisation shared by both estimates below
    route = mc_coefficients(
        params,
        model,
        beta,
        angles,
        pre,
        seed=31,
        drops=range(n_drops),
        n_realizations=40000,
        norms=norms,
    )
    rate, rate_se = _route_sum_rate(route.coefficients, x, s)
    plain, plain_se = _plain_mc_rate(params, model, beta, angles, kind, x, s, norms, 10000, 32)
    z = np.abs(rate - plain) / np.sqrt(rate_se**2 + plain_se**2)
    assert z.max() < 3.0, (rate, plain, rate_se, plain_se)
