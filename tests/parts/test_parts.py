"""The part interface: MRT and ULA on it reproduce the paper's formulas, the worked-example
precoder's closed forms match its own Monte-Carlo sampler, and the registry derives the
scheme names, options and schema enums and rejects what the parts do not offer.

Independent references: the paper's formulas (15), (16), (18), (37) as written in
``jcas.model.metrics`` (``rate``, ``crb_closed_form``, ``transmit_power``, ``transmit_covariance``)
and the general CRB (36) of a covariance matrix (``crb_general``); for the phase-only MRT,
its sampler driven by simulated channels (``jcas.montecarlo``), within 3 Monte-Carlo
standard errors (0.27 % false-failure probability per comparison; fixed seeds).
"""

from __future__ import annotations

import inspect
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

from jcas.allocation import allocate, sca
from jcas.config import SCHEMES, config_schema, load_config, scheme_options
from jcas.model import metrics
from jcas.model.channel import pilot_gram
from jcas.model.params import ConfigError, SystemParams
from jcas.montecarlo import mc_rate
from jcas.montecarlo.rate import block_rng, complex_normal, estimated_channels, sample_precoder
from jcas.parts import registry
from jcas.parts.arrays import FixedArray
from jcas.parts.arrays.ula import ULA, steering_derivative, steering_vector
from jcas.parts.precoders import Precoder
from jcas.parts.precoders.mrt import MRT
from jcas.parts.registry import design, design_problems


def _allocation(params: SystemParams, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """Drops and a random allocation using the full budget (20-60 % on sensing)."""
    beta, xi = drops(params, n, seed)
    rng = np.random.default_rng(seed)
    gamma = rng.uniform(0.2, 1.0, beta.shape)
    eta = rng.uniform(0.2, 1.0, beta.shape)
    f = rng.uniform(0.2, 0.6, (n, 1))
    gamma *= (1 - f) * params.pt_w / (params.Nt * np.sum(xi * gamma, axis=1, keepdims=True))
    eta *= f * params.pt_w / (params.Nt * np.sum(eta, axis=1, keepdims=True))
    return beta, xi, gamma, eta


# --------------------------------------------------------------------------- arrays
@pytest.mark.parametrize("n", [1, 2, 7, 16])
def test_ula_gram_is_the_gram_of_its_vectors(n: int) -> None:
    theta = np.array([-1.2, -0.3, 0.0, 0.4, 1.5])
    ula = ULA(n)
    a, a_dot = ula.steering(theta), ula.derivative(theta)
    np.testing.assert_array_equal(a, steering_vector(n, theta))
    sampled = FixedArray(a[2], a_dot[2]).gram(0.0)
    np.testing.assert_allclose(ula.gram(theta)[2], sampled, rtol=1e-13, atol=1e-12)
    for i in range(len(theta)):
        basis = np.stack([a[i], a_dot[i]], axis=1)
        np.testing.assert_allclose(ula.gram(theta)[i], basis.conj().T @ basis, atol=1e-10 * n**3)
    assert ula.orthogonal_derivative


# --------------------------------------------------------------------------- MRT part
@pytest.mark.parametrize(("k", "tau_p", "nt", "nr"), [(4, 10, 15, 15), (4, 2, 8, 5), (3, 3, 1, 1)])
def test_mrt_part_reproduces_the_papers_closed_forms(k: int, tau_p: int, nt: int, nr: int) -> None:
    p = SystemParams(K=k, tau_p=tau_p, Nt=nt, Nr=nr, theta_deg=23.0)
    beta, xi, gamma, eta = _allocation(p, 50, seed=3)
    out = metrics.closed_form_metrics(gamma, eta, xi, beta, p, design(p))
    gram = pilot_gram(k, tau_p) if tau_p < k else None
    ref_rate = metrics.rate(gamma, eta, xi, beta, nt, p.sigma_u2_w, p.tau_bar, gram)
    np.testing.assert_allclose(out["rate"], ref_rate, rtol=1e-13)
    ref_crb = metrics.crb_closed_form(gamma, eta, xi, nt, nr, p.theta_rad, p.sigma_r_bar2)
    np.testing.assert_allclose(out["crb"], ref_crb, rtol=1e-12)
    # and against the general CRB (36) of the covariance matrix (37) with sampled vectors
    rx = metrics.transmit_covariance(gamma, eta, xi, steering_vector(nt, p.theta_rad))
    a_t, a_r = (steering_vector(n, p.theta_rad) for n in (nt, nr))
    d_t, d_r = (steering_derivative(n, p.theta_rad) for n in (nt, nr))
    general = metrics.crb_general(rx, a_t, a_r, d_t, d_r, p.sigma_r_bar2)
    np.testing.assert_allclose(out["crb"], general, rtol=1e-9)
    np.testing.assert_array_equal(out["power_total"], metrics.transmit_power(gamma, eta, xi, nt))


def test_mrt_sampler_is_eq_12() -> None:
    rng = np.random.default_rng(0)
    h_hat = complex_normal(rng, (3, 6, 4))
    gamma, eta = rng.uniform(0, 1, (3, 4)), rng.uniform(0, 1, (3, 4))
    a_t = steering_vector(6, 0.3)
    f = MRT().sample(h_hat, np.ones((3, 4)), gamma, eta, a_t)
    ref = np.sqrt(gamma[:, None, :]) * h_hat + np.sqrt(eta[:, None, :]) * a_t[None, :, None]
    np.testing.assert_allclose(f, ref, rtol=1e-15)


def test_builtin_parts_follow_the_protocol() -> None:
    for name, cls in registry.PRECODERS.items():
        assert isinstance(cls(), Precoder), name


# --------------------------------------------------------------------------- worked example
@pytest.mark.parametrize(
    ("nt", "k", "snr_db"),
    [
        (8, 2, 0.0),
        pytest.param(16, 4, 10.0, marks=pytest.mark.slow),
        pytest.param(32, 3, 20.0, marks=pytest.mark.slow),
    ],
)
def test_phase_mrt_rate_matches_its_sampler(nt: int, k: int, snr_db: float) -> None:
    """Closed-form rate of the phase-only MRT within 3 SE of the MC rate (14) of its sampler."""
    p = SystemParams(K=k, Nt=nt, Nr=nt, snr_com_db=snr_db, precoder="phase_mrt")
    beta, xi, gamma, eta = _allocation(p, 2, seed=nt + k)
    est = mc_rate(p, beta, gamma, eta, seed=5, drops=[0, 1], n_realizations=100_000)
    closed = metrics.closed_form_metrics(gamma, eta, xi, beta, p, design(p))["rate"]
    assert np.all(np.abs(est.rate - closed) <= 3 * est.rate_se), (est.rate - closed) / est.rate_se
    # the comparison has power: MRT's closed form (no pi/4 loss) is far outside 3 SE
    q = p.replace(precoder="mrt")
    mrt = metrics.closed_form_metrics(gamma, eta, xi, beta, q, design(q))["rate"]
    assert np.max(np.abs(est.rate - mrt) / est.rate_se) > 5


def test_phase_mrt_covariance_and_power_match_its_sampler() -> None:
    """Sample mean of the forms of ``F F^H`` within 3 SE of the closed-form covariance
    forms, and ``E ||F||^2`` of the power (18) (exact here: every entry has a fixed modulus)."""
    p = SystemParams(K=3, Nt=12, Nr=12, theta_deg=20.0, precoder="phase_mrt")
    beta, xi, gamma, eta = _allocation(p, 1, seed=9)
    parts = design(p)
    n = 20_000
    rng = block_rng(1, 0, 0, 0)
    hbar = complex_normal(rng, (n, p.Nt, p.K))
    noise = complex_normal(rng, (n, p.Nt, p.K))
    _, h_hat = estimated_channels(p, beta[0], hbar, noise)
    f = sample_precoder(parts, p, beta, h_hat[None], gamma, eta)[0]  # (n, Nt, K)
    assert_precoder_moments(parts, p, f, gamma, eta, xi)


# --------------------------------------------------------------------------- registry
def test_scheme_names_and_options_come_from_the_registry() -> None:
    names = registry.scheme_names()
    assert tuple(SCHEMES) == names == tuple(registry.SCHEMES_REGISTRY)
    schema = config_schema()
    assert schema["$defs"]["scheme"]["enum"] == list(names)
    allocation = schema["properties"]["allocation"]["properties"]
    for scheme in registry.SCHEMES_REGISTRY.values():
        for option in scheme.params:
            assert allocation[option.key] == option.json_schema()
            assert allocation[option.key]["default"] == option.default
    system = schema["$defs"]["System"]["properties"]
    assert system["precoder"]["enum"] == list(registry.PRECODERS)
    assert system["array"]["enum"] == list(registry.ARRAYS)
    signature = inspect.signature(sca.sca).parameters
    for option, default in registry.scheme_defaults("sca").items():
        assert signature[option].default == default, option


def test_pipeline_sca_options_are_unchanged() -> None:
    """The pipeline's effective sca options (the reference datasets were made with them)."""
    cfg = load_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    assert scheme_options("sca", cfg["allocation"]) == {
        "tol": 1e-4,
        "max_iterations": 100,
        "batch_size": 50,
        "active_set": True,
        "accelerate": True,
        "polish": True,
        "stopping": "aitken",
    }
    assert scheme_options("equal_full", {}) == {"sensing_fraction": 0.5}
    assert scheme_options("optimal", cfg["allocation"]) == {}


def _config(**system: object) -> dict:
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["system"].update(system)
    return cfg


@pytest.mark.parametrize("scheme", ["optimal", "equal", "sca"])
def test_reused_pilots_reject_the_schemes_that_need_total_power_rates(scheme: str) -> None:
    cfg = _config(tau_p=2)
    cfg["schemes"] = [scheme, "equal_full"]
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    text = str(err.value)
    assert f"scheme {scheme!r}" in text
    assert "system.tau_p = 2 < system.K = 4" in text
    assert "precoder 'mrt'" in text
    assert "equal_full" not in text.split("scheme ")[1].split(" needs")[0]
    p = SystemParams(tau_p=2)
    beta, xi = drops(p, 2)
    with pytest.raises(ConfigError, match="pilot-contamination"):
        allocate(scheme, beta, xi, p)


def _runs(experiment: dict, scheme: str) -> bool:
    """Whether an experiment of the default config may run ``scheme`` (its own ``schemes``,
    if it names them, include it)."""
    return scheme in experiment.get("schemes", [scheme])


def test_reused_pilots_accept_equal_full() -> None:
    cfg = _config(tau_p=2)
    cfg["schemes"] = ["equal_full"]
    # ZF and PZF need tau_p >= K (tests/parts/test_zf.py); experiments naming their own
    # schemes without equal_full (the audit, the design objectives, ...) cannot run
    for name, exp in list(cfg["experiments"].items()):
        if {"zf", "pzf"} & set(exp.get("precoders", ())) or not _runs(exp, "equal_full"):
            cfg["experiments"].pop(name)
    for exp in cfg["experiments"].values():
        exp.pop("schemes", None)
    assert load_config(cfg)["system"]["tau_p"] == 2


def test_an_experiments_own_schemes_are_checked_too() -> None:
    """An MLE experiment keeps its own schemes: they are checked at its grid points."""
    cfg = _config(tau_p=2)
    cfg["schemes"] = ["equal_full"]
    cfg["experiments"]["crb_mc"]["schemes"] = ["optimal"]
    with pytest.raises(ConfigError, match=r"experiments\.crb_mc: scheme 'optimal'"):
        load_config(cfg)


def test_phase_mrt_runs_only_the_schemes_it_offers() -> None:
    cfg = _config(precoder="phase_mrt")
    with pytest.raises(ConfigError, match="precoder 'phase_mrt'") as err:
        load_config(cfg)
    assert {"'sca'", "'optimal'", "'equal'"} <= set(str(err.value).split()) | {
        w.strip(",") for w in str(err.value).split()
    }
    cfg["schemes"] = ["equal_full"]
    # the experiments naming their own schemes without equal_full
    for name, exp in list(cfg["experiments"].items()):
        if not _runs(exp, "equal_full"):
            cfg["experiments"].pop(name)
    assert load_config(cfg)["system"]["precoder"] == "phase_mrt"


@pytest.mark.parametrize(("key", "value"), [("precoder", "nope"), ("array", "spherical")])
def test_unknown_part_names_are_rejected(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"system.{key} = '{value}'"):
        load_config(_config(**{key: value}))
    # the library call: refused at construction, naming the key and the registered names
    with pytest.raises(ConfigError, match=f"^{key} = '{value}': must be one of \\["):
        SystemParams(**{key: value})


def _offset_array(params: SystemParams, side: str) -> FixedArray:
    """A non-centred 6-element array (positions 0..5) at 0.3 rad, for the test below."""
    m = np.arange(6.0)
    a = np.exp(1j * np.pi * np.sin(0.3) * m)
    return FixedArray(a, 1j * np.pi * np.cos(0.3) * m * a)


def test_non_centred_array_breaks_linear_fisher() -> None:
    """A registered array whose derivative is not orthogonal to the steering vector is
    refused by the schemes that need a Fisher information linear in the power totals;
    ``sca`` (any CRB) accepts it."""
    offset = registry.Part("array", "offset", "offset", _offset_array)
    with registry.ARRAYS.temporary(offset):
        p = SystemParams(array="offset", Nt=6, Nr=6)
        assert design_problems("sca", p) == []
        problems = design_problems("optimal", p)
    assert len(problems) == 1
    assert "array 'offset' (system.array) is not centred" in problems[0]


# --------------------------------------------------------------------------- pipeline
@pytest.mark.pipeline
@pytest.mark.slow
def test_phase_mrt_runs_from_config_through_the_pipeline(tmp_path: Path) -> None:
    config = toy_config({"precoder": "phase_mrt"}, ["equal_full"], 4000)
    ds = run_config(tmp_path, "toy", config, "toy")
    assert list(ds["scheme"].values) == ["equal_full"]
    assert set(ds["status"].values.ravel()) <= {"feasible", "crb_violated"}
    rate, mc, se = (ds[v].values.ravel() for v in ("sum_rate", "sum_rate_mc", "sum_rate_mc_se"))
    assert np.all(np.isfinite(rate))
    assert np.all(se > 0)
    assert np.all(np.abs(mc - rate) <= 3 * se), (mc - rate) / se
    # the closed form is the phase-only one, not MRT's
    p = SystemParams(Nt=8, Nr=8, snr_com_db=10.0, precoder="phase_mrt")
    ref = closed_form_sum_rate(ds, p, 0)
    np.testing.assert_allclose(rate, ref, rtol=1e-12)
