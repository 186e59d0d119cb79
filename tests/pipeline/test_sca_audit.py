"""The ``sca_audit`` experiment kind, the per-precoder frontier and MLE experiments.

- config validation of the new kind (bad values named by key path);
- the audit computation against independent calls of the allocation layer: the exact
  optimum, Algorithm 1 as printed called directly with its options on the same drops, the
  sum rates recomputed from the allocations, the default within 1e-8 of the optimum;
- a small pipeline run (``tests/data/config_audit.yaml``) of ``sca_audit``,
  ``precoder_frontier`` and ``crb_mc_precoders``, with their datasets and figures;
- the bad input of the default config's precoder experiments (``tau_p < K``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from jcas.allocation.schemes.sca import SCA_VARIANTS
from jcas.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
AUDIT_CONFIG = ROOT / "tests" / "data" / "config_audit.yaml"


def _base() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def _with_experiment(**exp: Any) -> dict[str, Any]:
    cfg = _base()
    cfg["experiments"]["audit"] = {
        "kind": "sca_audit",
        "sweep": {"snr_com_db": [0, 20]},
        "fixed": {"Nt": 8},
        "tie": "Nr=Nt",
        **exp,
    }
    return cfg


def _error(cfg: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    return str(info.value)


# --------------------------------------------------------------------------- config
def test_sca_audit_config_resolves_its_schemes_and_drops() -> None:
    cfg = load_config(_with_experiment())
    exp = cfg["experiments"]["audit"]
    assert exp["schemes"] == ["sca", "optimal"]
    assert exp["audit_drops"] == 40
    cfg = load_config(_with_experiment(audit_drops=7, schemes=["optimal", "sca"]))
    assert cfg["experiments"]["audit"]["audit_drops"] == 7


@pytest.mark.parametrize(
    ("exp", "expected"),
    [
        ({"audit_drops": 0}, "experiments.audit.audit_drops = 0: must be >= 1"),
        ({"audit_drops": 2.0}, "experiments.audit.audit_drops = 2.0: must be an integer"),
        ({"schemes": ["equal"]}, "experiments.audit.schemes = ['equal']: an sca_audit"),
        ({"monte_carlo": True}, "experiments.audit.monte_carlo = True: an sca_audit"),
        ({"kind": "audit"}, "experiments.audit.kind = 'audit': must be one of"),
        ({"kind": "sweep", "audit_drops": 5}, "experiments.audit.audit_drops = 5: only an"),
        ({"plot": "sca_audits"}, "experiments.audit.plot = 'sca_audits': must be one of"),
    ],
)
def test_bad_sca_audit_values_are_named(exp: dict[str, Any], expected: str) -> None:
    assert expected in _error(_with_experiment(**exp))


def test_the_new_plots_are_accepted() -> None:
    for plot in ("sca_audit", "precoder_frontier", "crb_mc_precoders", "precoders"):
        load_config(_with_experiment(plot=plot))


def test_reused_pilots_name_the_key_the_value_and_the_way_out() -> None:
    """The default config runs ZF and PZF: tau_p < K names system.tau_p, its value, and
    how to keep the rest (the precoders that can run, or the experiment off)."""
    cfg = _base()
    cfg["system"]["tau_p"] = 3
    cfg["schemes"] = ["equal_full"]  # MRT's split-power schemes also need tau_p >= K
    cfg["experiments"]["precoder_frontier"]["enabled"] = False
    for exp in cfg["experiments"].values():  # naming their own schemes, without equal_full
        if "equal_full" not in exp.get("schemes", ["equal_full"]) and exp is not cfg[
            "experiments"
        ].get("sca_audit"):
            exp["enabled"] = False
    cfg["experiments"]["sca_audit"]["precoders"] = ["zf"]
    text = _error(cfg)
    assert "system.tau_p = 3 < system.K = 4" in text
    assert "use system.tau_p >= 4" in text
    assert "experiments.precoders.precoders: ['mrt']" in text
    assert "experiments.precoders.enabled: false" in text
    # an experiment with no precoder that can run: only switching it off is offered
    line = next(x for x in text.splitlines() if x.strip().startswith("experiments.sca_audit"))
    assert "experiments.sca_audit.enabled: false" in line
    assert "precoders:" not in line
    # each way out works: the precoders that can run, or the experiment switched off
    cfg["experiments"]["precoders"]["precoders"] = ["mrt"]
    cfg["experiments"]["crb_mc_precoders"]["enabled"] = False
    cfg["experiments"]["sca_audit"]["enabled"] = False
    load_config(cfg)


# --------------------------------------------------------------------------- computation
SYSTEM = {"K": 4, "Nt": 8, "Nr": 8}


def _point(snr: float, crb0: float) -> dict[str, Any]:
    return {"Nt": 8, "Nr": 8, "snr_com_db": snr, "snr_sen_db": 5.0, "crb0": crb0}


@pytest.mark.parametrize("precoder", ["mrt", "zf", "pzf"])
def test_audit_matches_direct_calls_of_the_allocation_layer(precoder: str) -> None:
    """Per drop: the optimum is allocate('optimal'); 'printed' is jcas.allocation.sca.sca
    called with Algorithm 1's options as printed; the sum rates and gaps are recomputed
    from those allocations with the closed forms; 'default' is within 1e-8 of the
    optimum and no variant beats it (beyond rounding)."""
    from jcas.allocation import allocate
    from jcas.allocation.sca import sca
    from jcas.model import metrics
    from jcas.model.channel import estimate_variance
    from jcas.model.drops import large_scale_fading
    from jcas.parts.registry import design
    from jcas.pipeline.stages.audit import compute_sca_audit

    system = {**SYSTEM, "precoder": precoder}
    point = _point(0.0, 2.0e-4)  # binding: 9.5e-5 (1.5e-4 PZF) .. 3.8e-4 at Nt = 8
    options = {"tol": 1e-4, "max_iterations": 100, "batch_size": 3}
    ds = compute_sca_audit(system, point, seed=7, start=3, stop=9, options=options).to_xarray()
    assert ds["variant"].values.tolist() == [v.name for v in SCA_VARIANTS]
    assert ds["drop"].values.tolist() == list(range(3, 9))
    assert not ds.attrs["errors"]

    from jcas.config import Point

    params = Point(**point).system(system)
    beta, _ = large_scale_fading(params, 7, range(3, 9))
    xi = estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)
    np.testing.assert_array_equal(ds["beta"].values, beta)
    parts = design(params)

    def sum_rate(alloc: Any, rows: slice = slice(None)) -> np.ndarray:
        b, x = beta[rows], xi[rows]
        rate = metrics.closed_form_metrics(alloc.gamma, alloc.eta, x, b, params, parts)
        return np.asarray(rate["rate"].sum(axis=-1))

    ref = sum_rate(allocate("optimal", beta, xi, params))
    np.testing.assert_allclose(ds["sum_rate_optimal"].values, ref, rtol=1e-12)
    assert (ds["status_optimal"].values == "optimal").all()
    # Algorithm 1 as printed, called directly: two groups of 3 global drop indices
    printed = {"stopping": "change", "active_set": False, "accelerate": False, "polish": False}
    groups = [sca(beta[i : i + 3], xi[i : i + 3], params, **options, **printed) for i in (0, 3)]
    direct = np.concatenate(
        [sum_rate(g, slice(i, i + 3)) for g, i in zip(groups, (0, 3), strict=True)]
    )
    got = ds.sel(variant="printed")
    np.testing.assert_allclose(got["sum_rate"].values, direct, rtol=1e-12)
    np.testing.assert_array_equal(
        got["iterations"].values, np.concatenate([g.iterations for g in groups])
    )
    np.testing.assert_allclose(got["gap"].values, (ref - direct) / ref, rtol=1e-9, atol=1e-15)
    # every variant: gap = (optimal - sca) / optimal, never (beyond rounding) negative
    for v in ds["variant"].values:
        sub = ds.sel(variant=v)
        assert set(sub["status"].values) <= {"converged", "max_iterations"}, v
        gap = (ref - sub["sum_rate"].values) / ref
        np.testing.assert_allclose(sub["gap"].values, gap, rtol=1e-9, atol=1e-15)
        assert (sub["gap"].values >= -1e-9).all(), v
        assert (sub["crb"].values <= point["crb0"] * (1 + 1e-6)).all(), v
    assert float(ds["gap"].sel(variant="default").max()) <= 1e-8


def test_a_variant_that_raises_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing solve gives status solver_error and NaN gaps, never an exception."""
    from jcas.pipeline.stages.audit import compute_sca_audit

    ds = compute_sca_audit(
        SYSTEM,
        _point(10.0, 2.0e-4),
        seed=7,
        start=0,
        stop=2,
        options={"tol": 1e-4, "max_iterations": 100, "batch_size": 2, "bogus": 1},
    ).to_xarray()
    assert (ds["status"].values == "solver_error").all()
    assert np.isnan(ds["gap"].values).all()
    assert "bogus" in ds.attrs["errors"]
    assert np.isfinite(ds["sum_rate_optimal"].values).all()


# --------------------------------------------------------------------------- pipeline
@pytest.fixture(scope="module")
def audit_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workflow run on tests/data/config_audit.yaml (the three new experiments)."""
    from conftest import finished_run

    return finished_run(tmp_path_factory.mktemp("audit_run"), AUDIT_CONFIG)


@pytest.mark.slow
@pytest.mark.pipeline
def test_pipeline_sca_audit(audit_run: Path) -> None:
    from jcas.io.results import read_netcdf
    from jcas.report import plots

    ds = read_netcdf(audit_run / "results" / "sca_audit.nc")
    assert dict(ds.sizes) == {"snr_com_db": 2, "precoder": 3, "variant": 6, "drop": 4, "user": 4}
    assert ds["variant"].values.tolist() == [v.name for v in SCA_VARIANTS]
    # held out: the drops after the config's 3 (global indices 3 .. 6)
    assert ds["drop"].values.tolist() == [3, 4, 5, 6]
    assert ds.attrs["failed_entries"] == 0
    assert float(ds["gap"].sel(variant="default").max()) <= 1e-8
    assert ds["gap"].attrs["units"] == "1"
    # the per-job file of one point and precoder agrees with the aggregate
    key = "Nt8_Nr8_com20_sen5_crb0.0002_zf"
    piece = read_netcdf(audit_run / "results" / "cache" / "audit" / key / "d3-7.nc")
    np.testing.assert_array_equal(
        piece["gap"].values, ds["gap"].sel(snr_com_db=20.0, precoder="zf").values
    )
    for ext in ("pdf", "png"):
        assert (audit_run / "results" / "figures" / f"sca_audit.{ext}").stat().st_size > 0
    fig = plots.sca_audit(ds)
    gids = {line.get_gid() for ax in fig.axes for line in ax.get_lines()}
    for p in ("mrt", "zf", "pzf"):
        for v in SCA_VARIANTS:
            assert {f"gap_median:{p}:{v.name}", f"iterations_max:{p}:{v.name}"} <= gids
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [v.label for v in SCA_VARIANTS]
    assert legend[0].startswith("Alg. 1 as printed")
    assert legend[-1].startswith("default:")


@pytest.mark.slow
@pytest.mark.pipeline
def test_pipeline_precoder_frontier(audit_run: Path) -> None:
    """The frontier per precoder: optimal's sum rate grows with CRB0 and its CRB meets it
    (binds inside the range); ZF = PZF where CRB0 is free; the figure draws each."""
    from jcas.io.results import read_netcdf
    from jcas.report import plots

    ds = read_netcdf(audit_run / "results" / "precoder_frontier.nc")
    assert ds["precoder"].values.tolist() == ["mrt", "zf", "pzf"]
    assert ds["scheme"].values.tolist() == ["sca", "optimal"]
    opt = ds.sel(scheme="optimal")
    rate = opt["sum_rate"]
    for p in ("mrt", "zf", "pzf"):
        r = rate.sel(precoder=p).values  # (crb0, drop), NaN where infeasible
        feasible = np.isfinite(r).all(axis=-1)
        assert feasible[-1]
        assert (np.diff(r[feasible], axis=0) >= -1e-9).all(), p
    crb = opt["crb"].sel(crb0=2.0e-4)
    np.testing.assert_allclose(crb.values, 2.0e-4, rtol=1e-6)  # binds for every precoder
    free = rate.sel(crb0=5.0e-4)
    np.testing.assert_allclose(free.sel(precoder="zf"), free.sel(precoder="pzf"), rtol=1e-12)
    # PZF's beam keeps less of its power towards the target: infeasible first
    assert np.isnan(rate.sel(precoder="pzf", crb0=1.2e-4)).all()
    assert np.isfinite(rate.sel(precoder="zf", crb0=1.2e-4)).all()
    gap = (ds["sum_rate"].sel(scheme="optimal") - ds["sum_rate"].sel(scheme="sca")) / rate
    assert float(gap.max()) <= 1e-8
    fig = plots.precoder_frontier(ds)
    gids = {line.get_gid() for ax in fig.axes for line in ax.get_lines()}
    assert {f"frontier:{p}:None" for p in ("mrt", "zf", "pzf")} <= gids
    assert (audit_run / "results" / "figures" / "precoder_frontier.png").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.pipeline
def test_pipeline_crb_mc_precoders(audit_run: Path) -> None:
    """The MLE experiment runs for each precoder; at a high SNR_sen the ML estimate's
    median RMSE is within a factor 2 of sqrt(CRB) for each (few trials: loose)."""
    from jcas.io.results import read_netcdf
    from jcas.report import plots

    ds = read_netcdf(audit_run / "results" / "crb_mc_precoders.nc")
    assert ds["precoder"].values.tolist() == ["mrt", "zf", "pzf"]
    assert np.isfinite(ds["mle_mse"].values).all()
    ratio = np.sqrt(ds["mle_mse"] / ds["crb"]).median("drop")
    assert ((ratio > 0.3) & (ratio < 2.0)).all()
    fig = plots.crb_mc_precoders(ds)
    gids = {line.get_gid() for ax in fig.axes for line in ax.get_lines()}
    assert {f"ratio:{p}" for p in ("mrt", "zf", "pzf")} <= gids
    assert (audit_run / "results" / "figures" / "crb_mc_precoders.png").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.pipeline
def test_pipeline_files_have_no_cf_errors_or_warnings(audit_run: Path, tmp_path: Path) -> None:
    """The new experiments' files and their per-job files pass the CF-1.10 checker."""
    from conftest import assert_cf_clean, sample_files

    files = sample_files(audit_run / "results")
    assert audit_run / "results" / "sca_audit.nc" in files
    assert_cf_clean(files, tmp_path / "cf")


def test_the_plot_enum_of_the_schema_is_the_plot_registry() -> None:
    from jcas.config import PLOTS, config_schema
    from jcas.report import plots

    schema = config_schema()["$defs"]["Experiment"]
    assert set(schema["properties"]["plot"]["enum"]) == {*PLOTS, "none"}
    assert all(callable(getattr(plots, name)) for name in PLOTS)
