"""The contract suite on toy parts: it fails wrong parts, passes correct new ones, and a
precoder without closed forms runs in the Monte-Carlo paths and is refused by the schemes.

- Wrong parts (each a small, plausible bug) fail the check that covers the bug, called as a
  plain function: so the suite demonstrably can fail. The first is the regularized ZF that
  inherits ZF's closed forms (its closed-form rates are far from its own Monte-Carlo).
- The toy array and precoder of ``tests/data/toys`` (one module each, as
  ``docs/extending.md`` writes them), registered with ``Registry.temporary``, pass every
  check of their kind, and run through a tiny Snakemake sweep in a workflow copy (the
  modules dropped into ``jcas/parts/arrays/`` and ``jcas/parts/precoders/``).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import ROOT, copy_workflow, snakemake, toy_config
from part_checks import (
    CASES,
    TOYS,
    Check,
    array_checks,
    check_array_centred,
    check_array_derivative,
    check_array_gram,
    check_covariance,
    check_crb,
    check_description,
    check_linear_fisher,
    check_power_maps,
    check_rate_terms,
    check_sampler,
    check_scheme,
    check_split_power_rate,
    check_total_power_rate,
    description_checks,
    load_toy,
    precoder_checks,
)

from jcas.allocation import allocate
from jcas.config import load_config
from jcas.model.channel import estimate_variance
from jcas.model.metrics import closed_form_metrics
from jcas.model.params import ConfigError, SystemParams
from jcas.montecarlo import mc_rate
from jcas.montecarlo.sensing import mc_crb, mle_angle
from jcas.parts.arrays.ula import ULA, steering_derivative_norm2
from jcas.parts.precoders.base import CLOSED_FORMS, Covariance, RateTerms
from jcas.parts.precoders.mrt import MRT, mrt_precoder
from jcas.parts.precoders.zf import ZF
from jcas.parts.registry import (
    ARRAYS,
    PRECODERS,
    SCHEMES_REGISTRY,
    Param,
    Part,
    design,
    design_problems,
)

LOW_SNR, HIGH_SNR, REUSED = CASES


# --------------------------------------------------------------------------- wrong precoders
@dataclass(frozen=True)
class WrongRZF(ZF):
    """Regularized ZF ``W = H_hat (H_hat^H H_hat + lambda I)^-1`` with ZF's statistical
    normalisation, ``lambda = Nt mean_k xi_k``, that inherits ZF's closed forms (wrong: they
    hold for ``lambda = 0`` only)."""

    name: str = "wrong_rzf"

    def sample(self, h_hat: Any, xi: Any, gamma: Any, eta: Any, a_t: Any) -> Any:
        h_hat = np.asarray(h_hat)
        nt, k = h_hat.shape[-2:]
        xi = np.asarray(xi, dtype=float)
        h_h = np.conj(np.swapaxes(h_hat, -1, -2))
        reg = nt * np.mean(xi, axis=-1)[..., None, None] * np.eye(k)
        w = np.conj(np.swapaxes(np.linalg.solve(h_h @ h_hat + reg, h_h), -1, -2))
        comm = w * np.sqrt((nt - k) * xi * nt * np.asarray(gamma, dtype=float))[..., None, :]
        return comm + np.asarray(a_t)[:, None] * np.sqrt(np.asarray(eta, dtype=float))[..., None, :]


@dataclass(frozen=True)
class WrongUncertaintyMRT(MRT):
    """MRT whose beamforming uncertainty forgets the user's own sensing part (``eta_k``)."""

    name: str = "wrong_uncertainty"

    def rate_terms(self, gamma: Any, eta: Any, xi: Any, beta: Any, params: SystemParams) -> Any:
        t = super().rate_terms(gamma, eta, xi, beta, params)
        own = params.Nt * np.asarray(beta) * np.asarray(xi) * np.asarray(gamma)
        return RateTerms(t.signal, own, t.interference)


@dataclass(frozen=True)
class WrongCovarianceMRT(MRT):
    """MRT whose expected covariance spreads the sensing power isotropically (``R_s = I``
    instead of ``a_t a_t^H``)."""

    name: str = "wrong_covariance"

    def covariance(self, gamma: Any, eta: Any, xi: Any, params: SystemParams, tx: Any) -> Any:
        x, s = self.power_factors(gamma, eta, xi)
        gram = tx.gram(params.theta_rad)
        return Covariance(np.stack([np.sum(x, axis=-1), s], axis=-1), np.stack([gram, gram]))


@dataclass(frozen=True)
class WrongTotalPowerMRT(MRT):
    """MRT declaring the total-power form with ``B = Nt xi`` (should be ``Nt beta``)."""

    name: str = "wrong_total_power"

    def total_power_sinr(self, beta: Any, xi: Any, params: SystemParams) -> Any:
        a, _ = super().total_power_sinr(beta, xi, params)
        return a, params.Nt * np.asarray(xi, dtype=float)


@dataclass(frozen=True)
class WrongComponentsMRT(MRT):
    """MRT whose covariance components put the sensing power on ``I`` (``R_s = I``)."""

    name: str = "wrong_components"

    def covariance_components(self, params: SystemParams, tx: Any) -> Any:
        gram = np.asarray(tx.gram(params.theta_rad), dtype=complex)
        return np.stack([gram, gram])


@dataclass(frozen=True)
class WrongPowerMapMRT(MRT):
    """MRT whose ``from_power_factors`` forgets to divide by ``xi``."""

    name: str = "wrong_power_map"

    def from_power_factors(self, x: Any, s: Any, xi: Any) -> Any:
        _, eta = super().from_power_factors(x, s, xi)
        return np.array(np.broadcast_to(x, np.shape(xi)), dtype=float), eta


@dataclass(frozen=True)
class BatchNormalisedMRT(MRT):
    """MRT normalised by the mean estimate power *of the batch* (each realization depends
    on the others drawn with it: the results would depend on the chunking)."""

    name: str = "batch_normalised"

    def sample(self, h_hat: Any, xi: Any, gamma: Any, eta: Any, a_t: Any) -> Any:
        h_hat = np.asarray(h_hat)
        scale = np.sqrt(
            np.asarray(xi) / np.mean(np.abs(h_hat) ** 2, axis=tuple(range(h_hat.ndim - 1)))
        )
        return mrt_precoder(h_hat * scale, gamma, eta, a_t)


def _wrong(cls: type, *caps: str, base: str = "mrt") -> Part:
    capabilities = PRECODERS[base].capabilities | frozenset(caps)
    return Part(
        "precoder",
        cls().name,
        cls.__name__,
        cls,
        description=str(cls.__doc__),
        capabilities=capabilities,
        module=__name__,
    )


WRONG_PRECODERS = [
    # (part, the checks that must fail, the cases where they must)
    (_wrong(WrongRZF, base="zf"), [check_rate_terms], [LOW_SNR, HIGH_SNR]),
    (_wrong(WrongUncertaintyMRT), [check_rate_terms], [LOW_SNR, HIGH_SNR, REUSED]),
    (_wrong(WrongCovarianceMRT), [check_covariance, check_crb], [LOW_SNR, HIGH_SNR]),
    (
        _wrong(WrongTotalPowerMRT),
        [check_total_power_rate, check_split_power_rate],
        [LOW_SNR, HIGH_SNR],
    ),
    (_wrong(WrongComponentsMRT), [check_linear_fisher], [LOW_SNR, HIGH_SNR]),
    (_wrong(WrongPowerMapMRT), [check_power_maps], [LOW_SNR, HIGH_SNR]),
    (_wrong(BatchNormalisedMRT), [check_sampler], [LOW_SNR]),
]


@pytest.mark.parametrize(
    ("part", "checks", "cases"), WRONG_PRECODERS, ids=[p.name for p, _, _ in WRONG_PRECODERS]
)
def test_a_wrong_precoder_fails_the_contract(part: Part, checks: list, cases: list) -> None:
    """Each wrong precoder fails the checks that cover its bug, at every listed case, and
    those checks are among what the suite would run for it (its capabilities)."""
    ula = ARRAYS["ula"]
    with PRECODERS.temporary(part):  # a system names its precoder by a registered name
        suite = precoder_checks(part, [ula])
        for case in cases:
            for check in checks:
                assert any(c.function is check and c.args[2] == case for c in suite), check
                with pytest.raises(AssertionError):
                    check(part, ula, case)


def test_the_wrong_rzf_is_far_from_its_own_monte_carlo() -> None:
    """The regularized ZF with ZF's closed forms: the closed-form signal term is many
    standard errors from the sampler's, and ZF itself passes the same check."""
    wrong = _wrong(WrongRZF, base="zf")
    with (
        PRECODERS.temporary(wrong),
        pytest.raises(AssertionError, match=r"z-scores") as err,
    ):
        check_rate_terms(wrong, ARRAYS["ula"], LOW_SNR)
    scores = np.fromstring(str(err.value).split("z-scores [")[1].split("]")[0], sep=" ")
    assert np.max(np.abs(scores)) > 20
    check_rate_terms(PRECODERS["zf"], ARRAYS["ula"], LOW_SNR)


# --------------------------------------------------------------------------- wrong arrays
@dataclass(frozen=True)
class WrongDerivativeULA(ULA):
    """The ULA with the derivative's sign flipped."""

    def derivative(self, theta_rad: Any) -> Any:
        return -super().derivative(theta_rad)


@dataclass(frozen=True)
class WrongGramULA(ULA):
    """The ULA whose Gram matrix uses ``sum m^2 = N^3 / 12`` (forgetting ``- N / 12``)."""

    def gram(self, theta_rad: Any) -> Any:
        g = np.array(super().gram(theta_rad))
        n = self.n_elements
        g[..., 1, 1] *= n * n / (n * n - 1.0)
        return g


@dataclass(frozen=True)
class OffsetULA(ULA):
    """A ULA with positions ``0, ..., N - 1`` (not centred) that claims to be centred."""

    def steering(self, theta_rad: Any) -> Any:
        m = np.arange(self.n_elements, dtype=float)
        return np.exp(1j * np.pi * np.sin(np.asarray(theta_rad, float))[..., None] * m)

    def derivative(self, theta_rad: Any) -> Any:
        m = np.arange(self.n_elements, dtype=float)
        theta = np.asarray(theta_rad, dtype=float)
        return 1j * np.pi * np.cos(theta)[..., None] * m * self.steering(theta)

    def gram(self, theta_rad: Any) -> Any:
        from jcas.parts.arrays.base import gram_of

        return gram_of(self.steering(theta_rad), self.derivative(theta_rad))


def _wrong_array(cls: type) -> Part:
    def factory(params: SystemParams, side: str) -> ULA:
        if side not in ("tx", "rx"):
            raise ValueError(f"side = {side!r}: must be 'tx' or 'rx'")
        return cls(params.Nt if side == "tx" else params.Nr)

    return Part(
        "array",
        cls.__name__.lower(),
        cls.__name__,
        factory,
        description=str(cls.__doc__),
        capabilities=frozenset({"centred"}),
        module=__name__,
    )


@pytest.mark.parametrize(
    ("cls", "check"),
    [
        (WrongDerivativeULA, check_array_derivative),
        (WrongGramULA, check_array_gram),
        (OffsetULA, check_array_centred),
    ],
)
def test_a_wrong_array_fails_the_contract(cls: type, check: Any) -> None:
    part = _wrong_array(cls)
    with ARRAYS.temporary(part):
        for case in CASES:
            with pytest.raises(AssertionError):
                check(part, case)


def test_a_wrong_gram_fails_the_numerical_crb() -> None:
    """The closed-form CRB with the wrong Gram matrix as the receive array, against the
    Fisher information from finite differences of the (right) steering vectors."""
    part = _wrong_array(WrongGramULA)
    with ARRAYS.temporary(part), pytest.raises(AssertionError, match="CRB"):
        check_crb(PRECODERS["mrt"], part, LOW_SNR)


# --------------------------------------------------------------------------- wrong descriptions
def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


def _scheme(beta: Any, xi: Any, params: SystemParams, *, step: float = 0.1) -> None:
    return None


def _fake(kind: str, description: str, **fields: Any) -> Part:
    build = _scheme if kind == "scheme" else _nothing
    return Part(kind, "fake", "Fake", build, description=description, module=__name__, **fields)


WRONG_DESCRIPTIONS = [
    ("label", Part("precoder", "p", "", _nothing, description="no label", module=__name__)),
    ("no description", _fake("precoder", "")),
    ("module not set", Part("precoder", "p", "P", _nothing, description="no module at all")),
    ("teleport", _fake("precoder", "an unknown capability", capabilities=frozenset({"teleport"}))),
    (
        "violates maximum",
        _fake(
            "array",
            "a default out of its bounds",
            params=(Param("spacing_wl", float, 0.7, "spacing", maximum=0.5),),
        ),
    ),
    (
        "parameter of the system",
        _fake(
            "array",
            "a key that is a parameter of the system",
            params=(Param("Nt", int, 15, "elements", minimum=1),),
        ),
    ),
    (
        "is not a int",
        _fake(
            "array",
            "a default not of its type",
            params=(Param("rows", int, 1.5, "rows", minimum=1),),
        ),
    ),
    (
        "also declared by",
        _fake(
            "array",
            "a SystemParams field another part owns",
            params=(Param("tx_rows", int, 1, "rows", minimum=1),),
        ),
    ),
    (
        "differs from the SystemParams field",
        _fake(
            "array",
            "a SystemParams field with another default",
            params=(Param("elevation_deg", float, 5.0, "elevation", units="degree"),),
        ),
    ),
]


@pytest.mark.parametrize(
    ("match", "part"), WRONG_DESCRIPTIONS, ids=[m.split()[-1] for m, _ in WRONG_DESCRIPTIONS]
)
def test_a_wrong_description_fails_the_contract(match: str, part: Part) -> None:
    with pytest.raises(AssertionError, match=match):
        check_description(part)


@pytest.mark.parametrize(
    ("match", "part"),
    [
        (
            "default 0.2 != the solver's 0.1",
            _fake(
                "scheme",
                "an option default unlike the function's",
                params=(Param("s_step", float, 0.2, "step", option="step"),),
            ),
        ),
        ("unknown requirements", _fake("scheme", "an unknown requirement", requires=("psi",))),
    ],
    ids=["default", "requirement"],
)
def test_a_wrong_scheme_fails_the_contract(match: str, part: Part) -> None:
    with pytest.raises(AssertionError, match=match):
        check_scheme(part)
    good = Part(
        "scheme",
        "s",
        "S",
        _scheme,
        description="the same scheme, right",
        params=(Param("s_step", float, 0.1, "step", option="step"),),
        module=__name__,
    )
    check_scheme(good)


# --------------------------------------------------------------------------- the toys pass
TOY_ARRAY = load_toy("compact_ula.py")
TOY_PRECODER = load_toy("normalised_mrt.py")


@contextlib.contextmanager
def toys_registered() -> Iterator[None]:
    with ARRAYS.temporary(TOY_ARRAY), PRECODERS.temporary(TOY_PRECODER):
        yield


with toys_registered():
    TOY_CHECKS = [
        *description_checks(TOY_ARRAY),
        *array_checks(TOY_ARRAY),
        *description_checks(TOY_PRECODER),
        *precoder_checks(TOY_PRECODER),
        *precoder_checks(PRECODERS["mrt"], [TOY_ARRAY]),
    ]


@pytest.fixture
def toys() -> Iterator[None]:
    with toys_registered():
        yield


@pytest.mark.parametrize("check", TOY_CHECKS, ids=[c.id for c in TOY_CHECKS])
def test_the_toys_pass_the_contract(check: Check, toys: None) -> None:
    check.run()


def test_the_toy_checks_cover_closed_forms_and_geometry() -> None:
    ids = " ".join(c.id for c in TOY_CHECKS)
    for expected in (
        "nmrt-compact_ula-k4-nt6-snr0-closed_forms-rate_terms",
        "nmrt-upa-k3-nt16-snr30-planar_crb",
        "nmrt-ula-k3-nt16-snr30-closed_forms-crb",
        "compact_ula-k4-nt6-snr0-derivative",
        "mrt-compact_ula-k3-nt16-snr30-closed_forms-crb",
    ):
        assert expected in ids


def test_the_toy_array_is_not_the_ula(toys: None) -> None:
    """The toy array's angle information is ``(2 d)^2 = 0.64`` of the ULA's (its Gram),
    so a run that selects it is not the ULA's by accident."""
    p = SystemParams(Nt=8, Nr=8, theta_deg=20.0, array="compact_ula")
    g = design(p).tx.gram(p.theta_rad)
    assert g[1, 1].real == pytest.approx(0.64 * steering_derivative_norm2(8, p.theta_rad))


# --------------------------------------------------------------------------- no closed forms
@dataclass(frozen=True)
class SamplerOnly:
    """A precoder with a sampler and nothing else (MRT's (12))."""

    name: str = "sampler_only"

    def unsupported(self, requirement: str, params: SystemParams) -> str | None:
        return None

    def sample(self, h_hat: Any, xi: Any, gamma: Any, eta: Any, a_t: Any) -> Any:
        return mrt_precoder(h_hat, gamma, eta, a_t)


SAMPLER_ONLY = Part(
    "precoder",
    "sampler_only",
    "sampler only",
    SamplerOnly,
    description="MRT's sampler without closed forms (a Monte-Carlo-only precoder)",
    capabilities=frozenset({"monte_carlo"}),
    module=__name__,
)


def test_a_precoder_without_closed_forms_runs_in_the_monte_carlo_paths() -> None:
    with PRECODERS.temporary(SAMPLER_ONLY):
        checks = precoder_checks(SAMPLER_ONLY)
        assert checks
        assert all("closed_forms" not in c.id for c in checks)
        assert any(c.id.endswith("monte_carlo") for c in checks)
        for check in checks:
            check.run()
        p = SystemParams(K=3, Nt=8, Nr=8, precoder="sampler_only")
        beta = np.array([[0.5, 0.1, 0.02]])
        gamma, eta = np.full((1, 3), 2.0), np.full((1, 3), 0.05)
        rate = mc_rate(p, beta, gamma, eta, seed=1, drops=[0], n_realizations=300)
        ref = mc_rate(
            p.replace(precoder="mrt"), beta, gamma, eta, seed=1, drops=[0], n_realizations=300
        )
        np.testing.assert_array_equal(rate.rate, ref.rate)  # the same sampler, the same numbers
        assert np.all(
            np.isfinite(mc_crb(p, beta, gamma, eta, seed=1, drops=[0], n_realizations=4).crb)
        )
        mle = mle_angle(p, beta, gamma, eta, seed=1, drops=[0], n_trials=4)
        assert np.all(np.isfinite(mle.mse))


def test_a_precoder_without_closed_forms_is_refused_by_the_schemes_that_need_them() -> None:
    """``design_problems``, ``allocate`` and ``load_config`` refuse every scheme that needs
    closed forms, naming the key (``system.precoder``), the part and the capability."""
    needing = [
        s for s in SCHEMES_REGISTRY.values() if CLOSED_FORMS in s.requires and s.solve is None
    ]
    assert needing  # the exact optima and the benchmark equal run on closed forms only
    with PRECODERS.temporary(SAMPLER_ONLY):
        p = SystemParams(K=3, Nt=8, Nr=8, precoder="sampler_only")
        beta = np.array([[0.5, 0.1, 0.02]])
        xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
        for scheme in needing:
            problems = design_problems(scheme.name, p)
            text = " ".join(problems)
            for word in ("system.precoder", "'sampler_only'", "'closed_forms'", scheme.name):
                assert word in text, (word, problems)
            with pytest.raises(ConfigError, match="closed_forms") as err:
                allocate(scheme.name, beta, xi, p)
            assert "system.precoder" in str(err.value)
        cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
        cfg["experiments"]["toy"] = {
            "sweep": {"snr_com_db": [10]},
            "precoders": ["sampler_only"],
            "schemes": [needing[0].name],
        }
        with pytest.raises(ConfigError, match="closed_forms") as err:
            load_config(cfg)
        assert "sampler_only" in str(err.value)


# --------------------------------------------------------------------------- a sweep
@pytest.mark.pipeline
@pytest.mark.slow
def test_the_toys_run_through_a_sweep(tmp_path: Path) -> None:
    """The two toy modules dropped into a workflow copy and selected by a small config
    (``system.array: compact_ula``, the experiment's ``precoders: [mrt, nmrt]``) run through
    Snakemake; the stored closed forms are the toys' (recomputed here with them) and the
    Monte-Carlo sum rates agree with them within 3 standard errors."""
    work = copy_workflow(tmp_path / "toys")
    shutil.copy(TOYS / "compact_ula.py", work / "jcas" / "parts" / "arrays" / "compact_ula.py")
    shutil.copy(
        TOYS / "normalised_mrt.py", work / "jcas" / "parts" / "precoders" / "normalised_mrt.py"
    )
    config = toy_config({"array": "compact_ula"}, ["equal_full"], 2000)
    config["experiments"]["precoders"] = {"enabled": False}
    config["experiments"]["toy"]["precoders"] = ["mrt", "nmrt"]
    (work / "toys.yaml").write_text(yaml.safe_dump(config))
    snakemake(work, "results/toy.nc", "--cores", "2", "--configfile", "toys.yaml")
    from jcas.io.results import read_netcdf

    ds = read_netcdf(work / "results" / "toy.nc")
    assert list(ds["precoder"].values) == ["mrt", "nmrt"]
    beta = ds["beta"].values
    with toys_registered():
        for i, name in enumerate(ds["precoder"].values):
            p = SystemParams(Nt=8, Nr=8, snr_com_db=10.0, array="compact_ula", precoder=str(name))
            xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
            sel = {"snr_com_db": 0, "precoder": i, "scheme": 0}
            gamma, eta = (ds[v].isel(sel).values for v in ("gamma", "eta"))
            ref = closed_form_metrics(gamma, eta, xi, beta, p, design(p))
            np.testing.assert_allclose(ds["rate"].isel(sel).values, ref["rate"], rtol=1e-12)
            np.testing.assert_allclose(ds["crb"].isel(sel).values, ref["crb"], rtol=1e-12)
            rate, mc, se = (
                ds[v].isel(sel).values for v in ("sum_rate", "sum_rate_mc", "sum_rate_mc_se")
            )
            assert np.all(se > 0)
            assert np.all(np.abs(mc - rate) <= 3 * se), (mc - rate) / se
    # the CRB is the compact array's (0.64 of the ULA's angle information), not the ULA's
    ula = SystemParams(Nt=8, Nr=8, snr_com_db=10.0)
    sel = {"snr_com_db": 0, "precoder": 0, "scheme": 0}
    gamma, eta = (ds[v].isel(sel).values for v in ("gamma", "eta"))
    xi = estimate_variance(beta, ula.tau_p, ula.pp_w, ula.sigma_u2_w)
    ula_crb = closed_form_metrics(gamma, eta, xi, beta, ula, design(ula))["crb"]
    np.testing.assert_allclose(ds["crb"].isel(sel).values, ula_crb / 0.64, rtol=1e-12)
