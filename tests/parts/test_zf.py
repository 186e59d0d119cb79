"""Zero-forcing (``zf``) and protective zero-forcing (``pzf``) precoders: closed forms against
their own Monte-Carlo sampler, the bad inputs they reject, and the registry entries.

Independent references: the sampler driven by simulated channels and MMSE estimates
(:mod:`jcas.montecarlo`), within 3 Monte-Carlo standard errors (0.27 % false-failure
probability per comparison; fixed seeds); each comparison is shown to have power by a
nearby wrong closed form that the same samples reject. The closed forms are derived in
``docs/theory.md`` §6.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import (
    ROOT,
    assert_precoder_moments,
    closed_form_sum_rate,
    drops,
    run_config,
    toy_config,
)

from jcas.allocation import allocate
from jcas.config import load_config
from jcas.model import metrics
from jcas.model.params import ConfigError, SystemParams
from jcas.montecarlo import mc_rate
from jcas.montecarlo.rate import block_rng, complex_normal, estimated_channels, sample_precoder
from jcas.parts import registry
from jcas.parts.precoders import Precoder, RateTerms
from jcas.parts.precoders.zf import PZF, ZF, pzf_beam_moments, zf_directions
from jcas.parts.registry import design, design_problems

PRECODERS = ("zf", "pzf")


def _allocation(params: SystemParams, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """Drops and a random allocation of the full budget (20-60 % on sensing); ZF variables
    are power factors (W per antenna), ``Nt (sum gamma + sum eta) = Pt``."""
    beta, xi = drops(params, n, seed)
    rng = np.random.default_rng(seed)
    gamma = rng.uniform(0.2, 1.0, beta.shape)
    eta = rng.uniform(0.2, 1.0, beta.shape)
    f = rng.uniform(0.2, 0.6, (n, 1))
    p = params.pt_w / params.Nt
    gamma *= (1 - f) * p / np.sum(gamma, axis=1, keepdims=True)
    eta *= f * p / np.sum(eta, axis=1, keepdims=True)
    return beta, xi, gamma, eta


def _estimates(params: SystemParams, beta: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """``n`` realizations of true channels and MMSE estimates of one drop, (n, Nt, K)."""
    rng = block_rng(seed, 0, 0, 0)
    hbar = complex_normal(rng, (n, params.Nt, params.K))
    noise = complex_normal(rng, (n, params.Nt, params.K))
    return estimated_channels(params, beta, hbar, noise)


# --------------------------------------------------------------------------- structure
def test_zf_parts_follow_the_protocol_and_are_registered() -> None:
    assert registry.PRECODERS["zf"].build is ZF
    assert registry.PRECODERS["pzf"].build is PZF
    assert registry.PRECODERS["zf"].module == registry.PRECODERS["pzf"].module == ZF.__module__
    for cls in (ZF, PZF):
        assert isinstance(cls(), Precoder)


def test_sampler_zero_forces_the_estimates_and_protects_them() -> None:
    """``h_hat_j^H f_k = sqrt(Nt gamma_k (Nt - K) xi_k) delta_jk`` (ZF directions) and, for
    PZF, the sensing beam is orthogonal to every estimate."""
    p = SystemParams(K=3, Nt=7, Nr=7, theta_deg=15.0)
    beta, xi, gamma, eta = _allocation(p, 1, seed=2)
    _, h_hat = _estimates(p, beta[0], 5, seed=3)
    a_t = design(p).tx.steering(p.theta_rad)
    w = zf_directions(h_hat, xi[0])
    seen = np.conj(np.swapaxes(h_hat, -1, -2)) @ w
    ref = np.eye(3) * np.sqrt((p.Nt - p.K) * xi[0])
    np.testing.assert_allclose(seen, np.broadcast_to(ref, seen.shape), atol=1e-12)
    zero_eta = np.zeros_like(eta[0])
    for cls in (ZF, PZF):
        f = cls().sample(h_hat, xi[0], gamma[0], zero_eta, a_t)
        expected = np.sqrt(p.Nt * gamma[0] * (p.Nt - p.K) * xi[0])
        seen = np.conj(np.swapaxes(h_hat, -1, -2)) @ f
        ref = np.eye(3) * expected
        np.testing.assert_allclose(seen, np.broadcast_to(ref, seen.shape), atol=1e-12)
    sens = PZF().sample(h_hat, xi[0], np.zeros(3), np.ones(3), a_t)  # (n, Nt, K), beam only
    np.testing.assert_allclose(np.conj(np.swapaxes(h_hat, -1, -2)) @ sens, 0.0, atol=1e-12)
    raw = ZF().sample(h_hat, xi[0], np.zeros(3), np.ones(3), a_t)
    np.testing.assert_allclose(raw, np.broadcast_to(a_t[:, None], raw.shape), rtol=1e-15)


def test_pzf_beam_moments() -> None:
    """``kappa_1 + kappa_2 = 1`` (trace), no users: the unprojected beam; and the
    projection moment against the exact fourth moment of a one-dimensional null space."""
    for nt, k in [(2, 1), (5, 3), (64, 8)]:
        k1, k2 = pzf_beam_moments(nt, k)
        assert abs(k1 + k2 - 1.0) < 1e-14
    assert pzf_beam_moments(9, 0) == (1.0, 0.0)
    # r = 1 (Nt = K + 1): P = u u^H with u uniform on the sphere, E|u^H a|^4 = 2 ||a||^4 /
    # (n (n + 1)), so a^H E[b b^H] a = n E|u^H a|^4 = 2 n^2 / (n + 1) for ||a||^2 = n
    n = 6
    k1, k2 = pzf_beam_moments(n, n - 1)
    assert abs(k1 * n**2 + k2 * n - 2 * n**2 / (n + 1)) < 1e-12
    with pytest.raises(ValueError, match="must exceed"):
        pzf_beam_moments(4, 4)


# --------------------------------------------------------------------------- rate vs MC
def _wrong_signal(terms: RateTerms, params: SystemParams) -> RateTerms:
    """MRT's array gain ``Nt`` in place of ZF's ``Nt - K`` (a nearby wrong closed form)."""
    gain = params.Nt / (params.Nt - params.K)
    return RateTerms(terms.signal * gain, terms.uncertainty, terms.interference)


@pytest.mark.parametrize("name", PRECODERS)
@pytest.mark.parametrize(
    ("nt", "k", "snr_db"),
    [(6, 4, 10.0), (16, 4, 0.0), pytest.param(32, 8, 20.0, marks=pytest.mark.slow)],
)
def test_rate_matches_the_monte_carlo_rate(name: str, nt: int, k: int, snr_db: float) -> None:
    """Closed-form rate (14) within 3 SE of the MC rate of the part's own sampler, including
    Nt = K + 2 (the smallest Nt with a finite variance of the MC features)."""
    p = SystemParams(K=k, Nt=nt, Nr=nt, snr_com_db=snr_db, precoder=name)
    beta, xi, gamma, eta = _allocation(p, 2, seed=nt + k)
    est = mc_rate(p, beta, gamma, eta, seed=5, drops=[0, 1], n_realizations=60_000)
    pre = design(p).precoder
    terms = pre.rate_terms(gamma, eta, xi, beta, p)
    closed = metrics.rate_from_terms(terms, p.sigma_u2_w, p.tau_bar)
    z = (est.rate - closed) / est.rate_se
    assert np.all(np.abs(z) <= 3), z
    wrong = metrics.rate_from_terms(_wrong_signal(terms, p), p.sigma_u2_w, p.tau_bar)
    assert np.max(np.abs(est.rate - wrong) / est.rate_se) > 5


def test_protection_is_visible_in_the_monte_carlo_rate() -> None:
    """Where sensing takes most of the power, the unprotected ZF closed form is rejected by
    the PZF samples and vice versa: the two sensing-leakage terms differ measurably."""
    p = SystemParams(K=4, Nt=12, Nr=12, snr_com_db=20.0)
    beta, xi, gamma, eta = _allocation(p, 2, seed=7)
    gamma, eta = gamma * 0.25, eta * 1.75
    for name, other in (("zf", "pzf"), ("pzf", "zf")):
        q = p.replace(precoder=name)
        est = mc_rate(q, beta, gamma, eta, seed=9, drops=[0, 1], n_realizations=40_000)
        own = metrics.closed_form_metrics(gamma, eta, xi, beta, q, design(q))["rate"]
        r = p.replace(precoder=other)
        alt = metrics.closed_form_metrics(gamma, eta, xi, beta, r, design(r))["rate"]
        assert np.all(np.abs(est.rate - own) <= 3 * est.rate_se)
        assert np.max(np.abs(est.rate - alt) / est.rate_se) > 5


# --------------------------------------------------------------------------- R_x and power
@pytest.mark.parametrize("name", PRECODERS)
@pytest.mark.parametrize(("nt", "k"), [(6, 4), (12, 3)])
def test_covariance_and_power_match_the_sampler(name: str, nt: int, k: int) -> None:
    """Sample means of the forms ``[a_t, a_t_dot]^H F F^H [a_t, a_t_dot]`` and of
    ``||F||^2`` within 3 SE of the closed-form covariance forms and power (18); the PZF
    forms are also rejected with the unprojected beam's (``kappa_1 = 1``)."""
    p = SystemParams(K=k, Nt=nt, Nr=nt, theta_deg=20.0, precoder=name)
    beta, xi, gamma, eta = _allocation(p, 1, seed=9)
    parts = design(p)
    n = 40_000
    _, h_hat = _estimates(p, beta[0], n, seed=1)
    f = sample_precoder(parts, p, beta, h_hat[None], gamma, eta)[0]  # (n, Nt, K)
    forms, expected = assert_precoder_moments(parts, p, f, gamma, eta, xi)
    np.testing.assert_allclose(expected, p.pt_w, rtol=1e-12)
    if name == "pzf":
        zf = design(p.replace(precoder="zf")).precoder.covariance(gamma, eta, xi, p, parts.tx)
        unprojected = np.einsum("dm,mij->dij", zf.weights, zf.forms)[0]
        mean, se = forms[:, 0, 0].real.mean(), forms[:, 0, 0].real.std() / np.sqrt(n)
        assert abs(mean - unprojected[0, 0].real) > 5 * se


def test_zf_crb_is_the_mrt_crb_of_the_same_totals() -> None:
    """ZF's expected covariance is MRT's (37) with the same totals ``(c, s)``: same CRB."""
    p = SystemParams(K=4, Nt=16, Nr=16, precoder="zf")
    beta, xi, gamma, eta = _allocation(p, 5, seed=4)
    crb = metrics.closed_form_metrics(gamma, eta, xi, beta, p, design(p))["crb"]
    ref = metrics.crb_closed_form(gamma / xi, eta, xi, p.Nt, p.Nr, p.theta_rad, p.sigma_r_bar2)
    np.testing.assert_allclose(crb, ref, rtol=1e-12)


# --------------------------------------------------------------------------- bad input
def _config(**system: object) -> dict:
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["system"].update(system)
    return cfg


@pytest.mark.parametrize("name", PRECODERS)
def test_too_few_antennas_are_rejected_before_any_job(name: str) -> None:
    cfg = _config(precoder=name, Nt=4)
    cfg["schemes"] = ["equal_full"]
    for exp in cfg["experiments"].values():
        exp["enabled"] = False
        exp.pop("schemes", None)
    with pytest.raises(ConfigError, match=r"system.Nt = 4 <= system.K = 4") as err:
        load_config(cfg)
    assert f"system.precoder = {name!r}" in str(err.value)
    problems = design_problems("optimal", SystemParams(precoder=name, Nt=3))
    assert any("system.Nt = 3 <= system.K = 4" in m for m in problems)


@pytest.mark.parametrize("name", PRECODERS)
def test_a_sweep_reaching_nt_le_k_is_rejected(name: str) -> None:
    """The default Nt = 15 is fine, but an experiment sweeping Nt down to K is refused,
    naming the experiment."""
    cfg = _config(precoder=name)
    cfg["schemes"] = ["equal_full"]
    cfg["experiments"]["fig1"]["sweep"]["Nt"] = [4, 15]
    with pytest.raises(ConfigError, match=r"experiments\.fig1: .*system.Nt = 4 <= system.K = 4"):
        load_config(cfg)


@pytest.mark.parametrize("name", PRECODERS)
def test_reused_pilots_are_rejected_before_any_job(name: str) -> None:
    cfg = _config(precoder=name, tau_p=2)
    cfg["schemes"] = ["equal_full"]
    for exp in cfg["experiments"].values():
        exp.pop("schemes", None)
    with pytest.raises(ConfigError, match=r"system.tau_p = 2 < system.K = 4") as err:
        load_config(cfg)
    assert "parallel channel estimates" in str(err.value)
    p = SystemParams(precoder=name, tau_p=2)
    beta, xi = drops(p.replace(precoder="mrt"), 2)
    with pytest.raises(ConfigError, match="parallel channel estimates"):
        allocate("equal_full", beta, xi, p)


def test_every_scheme_runs_with_both_precoders() -> None:
    """ZF offers the split-power form and PZF the total-power form: every scheme accepts
    both (the default config with ``system.precoder: zf`` loads)."""
    for name in PRECODERS:
        for scheme in ("sca", "optimal", "equal", "equal_full"):
            assert design_problems(scheme, SystemParams(precoder=name)) == [], (name, scheme)
        assert load_config(_config(precoder=name))["system"]["precoder"] == name
    assert ZF().unsupported("total_power_rate", SystemParams(precoder="zf")) is not None
    assert ZF().unsupported("split_power_rate", SystemParams(precoder="zf")) is None


# --------------------------------------------------------------------------- which CRB
@pytest.mark.parametrize("name", PRECODERS)
def test_closed_form_crb_is_the_crb_of_a_frame_over_many_blocks(name: str) -> None:
    """The closed-form CRB is the CRB (36) of a frame spanning many coherence blocks (its
    covariance pools the blocks' ``F F^H``: 40 frames of 1000 blocks, within 3 SE), and
    the mean per-block CRB ``E[CRB(F F^H)]`` is larger (Jensen: ``R -> CRB(R)`` is
    convex) by far more than 3 SE at Nt = K + 2: optimistic for a single block."""
    from jcas.montecarlo.sensing import sample_crb

    p = SystemParams(K=4, Nt=6, Nr=6, theta_deg=20.0, precoder=name)
    beta, xi, gamma, eta = _allocation(p, 1, seed=12)
    parts = design(p)
    frames, blocks = 40, 1000
    _, h_hat = _estimates(p, beta[0], frames * blocks, seed=4)
    f = sample_precoder(parts, p, beta, h_hat[None], gamma, eta)[0]  # (n, Nt, K)
    closed = metrics.closed_form_metrics(gamma, eta, xi, beta, p, parts)["crb"][0]
    pooled = f.reshape(frames, blocks, p.Nt, p.K).transpose(0, 2, 1, 3)
    pooled = pooled.reshape(frames, p.Nt, blocks * p.K) / np.sqrt(blocks)
    frame_crb = sample_crb(p, pooled, None)  # (frames,) CRB of the pooled covariance
    se = frame_crb.std() / np.sqrt(frames)
    assert abs(frame_crb.mean() - closed) <= 3 * se
    per_block = sample_crb(p, f, None)
    assert per_block.mean() - closed > 5 * per_block.std() / np.sqrt(len(per_block))


@pytest.mark.parametrize("name", PRECODERS)
def test_finite_frame_crb_and_mle_run_through_the_part(name: str) -> None:
    """The finite-L CRB and the ML estimator draw the part's precoder: the mean finite-L
    CRB is above the closed form (Jensen, by more than 3 SE at Nt = K + 2) and, at a high
    SNR_sen, the MLE's MSE is within 3 SE of its own mean CRB (efficiency)."""
    from jcas.montecarlo.sensing import mc_crb, mle_angle

    p = SystemParams(K=4, Nt=6, Nr=6, theta_deg=20.0, snr_sen_db=25.0, precoder=name)
    beta, xi, gamma, eta = _allocation(p, 2, seed=21)
    closed = metrics.closed_form_metrics(gamma, eta, xi, beta, p, design(p))["crb"]
    est = mc_crb(p, beta, gamma, eta, seed=3, drops=[0, 1], n_realizations=4000)
    assert np.all(est.crb - closed > 3 * est.crb_se)
    mle = mle_angle(p, beta, gamma, eta, seed=4, drops=[0, 1], n_trials=4000)
    assert np.all(np.abs(mle.mse - mle.crb) <= 3 * np.hypot(mle.mse_se, mle.crb_se))


@pytest.mark.pipeline
@pytest.mark.slow
def test_zf_runs_from_config_through_the_pipeline(tmp_path: Path) -> None:
    """``system.precoder: zf`` through Snakemake: every scheme allocates, the result file's
    closed-form sum rate is ZF's (recomputed here from the stored allocation) and the
    Monte-Carlo sum rate agrees with it within 3 SE."""
    schemes = ["sca", "optimal", "equal", "equal_full"]
    config = toy_config({"precoder": "zf"}, schemes, 6000, allocation={"sca_group": 2})
    ds = run_config(tmp_path, "zf", config, "toy")
    assert list(ds["scheme"].values) == ["sca", "optimal", "equal", "equal_full"]
    rate, mc, se = (ds[v].values for v in ("sum_rate", "sum_rate_mc", "sum_rate_mc_se"))
    assert np.all(np.isfinite(rate))
    assert np.all(np.abs(mc - rate) <= 3 * se), (mc - rate) / se
    p = SystemParams(Nt=8, Nr=8, snr_com_db=10.0, precoder="zf")
    for i in range(ds.sizes["scheme"]):
        ref = closed_form_sum_rate(ds, p, i)
        np.testing.assert_allclose(ds["sum_rate"].isel(snr_com_db=0, scheme=i), ref, rtol=1e-12)
