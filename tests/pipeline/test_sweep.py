"""The precoder axis of the sweep: config keys, per-precoder jobs and caching,
``power_user``, and the ``precoders`` experiment through the tiny pipeline.

Pipeline tests start from the session's ``tiny_run`` (MRT only: the ``precoders``
experiment is disabled in ``tests/data/config_tiny.yaml``) and add
``tests/data/config_precoders.yaml`` (one block of 3 drops, Nt = 6 and 8).
"""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import ROOT, copy_run, snakemake

from jcas.config import Point, job_key, load_config, plan_experiments
from jcas.io.results import read_netcdf
from jcas.model.params import ConfigError
from jcas.pipeline.stages.allocation import compute_allocations
from jcas.pipeline.stages.drops import compute_drops

PRECODERS_CONFIG = ROOT / "tests" / "data" / "config_precoders.yaml"


@pytest.fixture
def base() -> dict[str, Any]:
    """config.yaml with one small experiment (K = 4)."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["experiments"] = {"x": {"tie": "Nr=Nt", "sweep": {"Nt": [6, 8]}}}
    return cfg


def rejection(cfg: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    return str(err.value)


# --------------------------------------------------------------------------- config
def test_precoders_default_to_the_system_precoder(base: dict[str, Any]) -> None:
    assert load_config(base)["precoders"] == ["mrt"]
    cfg = copy.deepcopy(base)
    cfg["system"]["precoder"] = "zf"
    resolved = load_config(cfg)
    assert resolved["precoders"] == ["zf"]
    assert plan_experiments(resolved)["x"].precoders == ("zf",)


def test_experiment_precoders_replace_the_top_level_list(base: dict[str, Any]) -> None:
    cfg = copy.deepcopy(base)
    cfg["experiments"]["y"] = {"tie": "Nr=Nt", "sweep": {"Nt": [8]}, "precoders": ["zf", "mrt"]}
    plans = plan_experiments(load_config(cfg))
    assert plans["x"].precoders == ("mrt",)
    assert plans["y"].precoders == ("zf", "mrt")


@pytest.mark.parametrize("where", ["top", "experiment"])
def test_unknown_precoder_is_rejected_naming_the_key(base: dict[str, Any], where: str) -> None:
    cfg = copy.deepcopy(base)
    if where == "top":
        cfg["precoders"] = ["mrt", "zff"]
        key = "precoders[1] = 'zff'"
    else:
        cfg["experiments"]["x"]["precoders"] = ["zff"]
        key = "experiments.x.precoders[0] = 'zff'"
    msg = rejection(cfg)
    assert key in msg, msg
    assert "'zf'" in msg, msg
    assert "'pzf'" in msg, msg


def test_repeated_or_empty_precoders_are_rejected(base: dict[str, Any]) -> None:
    assert "must not repeat" in rejection({**base, "precoders": ["mrt", "mrt"]})
    assert "at least 1" in rejection({**base, "precoders": []})


@pytest.mark.parametrize("precoder", ["zf", "pzf"])
def test_zero_forcing_with_nt_le_k_in_a_sweep_is_rejected(
    base: dict[str, Any], precoder: str
) -> None:
    """Nt = 4 = K at one grid point of the sweep: rejected before any job, the experiment,
    the precoder and the antenna count named; MRT alone at the same grid is fine."""
    cfg = copy.deepcopy(base)
    cfg["experiments"]["x"]["sweep"]["Nt"] = [4, 8]
    load_config(cfg)  # MRT: fine
    cfg["precoders"] = ["mrt", precoder]
    msg = rejection(cfg)
    assert f"experiments.x (precoder {precoder!r} of precoders ['mrt', {precoder!r}])" in msg
    assert "Nt = 4 <= system.K = 4" in msg, msg
    # the experiment's own list: the same check
    cfg = copy.deepcopy(base)
    cfg["experiments"]["x"]["sweep"]["Nt"] = [4, 8]
    cfg["experiments"]["x"]["precoders"] = [precoder]
    assert "experiments.x: system.precoder" in rejection(cfg)


def test_job_key_keeps_mrt_paths_and_suffixes_the_others() -> None:
    pt = Point(8, 8, 20.0, 5.0, 1e-3)
    assert job_key(pt, "mrt") == pt.key == "Nt8_Nr8_com20_sen5_crb0.001"
    assert job_key(pt, "zf") == "Nt8_Nr8_com20_sen5_crb0.001_zf"
    assert len({job_key(pt, p) for p in ("mrt", "phase_mrt", "zf", "pzf")}) == 4


# --------------------------------------------------------------------------- power_user
@pytest.mark.parametrize("precoder", ["mrt", "zf", "pzf"])
def test_power_user_is_the_physical_power_of_each_stream(precoder: str) -> None:
    """MRT: Nt xi_k gamma_k (the expected ||sqrt(gamma_k) h_hat_k||^2, (18)); ZF/PZF:
    Nt gamma_k (docs/theory.md §6: the stream power is the allocation variable); and
    sum_k power_user + power_sensing = power_total for every scheme."""
    system = {"K": 4, "precoder": precoder}
    drops = compute_drops(system, 3, 0, 20)
    point = {"Nt": 10, "Nr": 10, "snr_com_db": 10.0, "snr_sen_db": 5.0, "crb0": 1e-3}
    schemes = ["optimal", "equal", "equal_full"]
    ds = compute_allocations(drops, system, point, schemes, {}).to_xarray()
    assert str(ds["precoder"].values) == precoder
    pu = ds["power_user"].values
    assert pu.shape == ds["gamma"].shape
    gamma, xi = ds["gamma"].values, ds["xi"].values[None]
    expect = 10 * xi * gamma if precoder == "mrt" else 10 * gamma
    ok = np.isfinite(gamma)
    assert ok.sum() > 0.9 * ok.size
    np.testing.assert_allclose(pu[ok], expect[ok], rtol=1e-12)
    total = pu.sum(-1) + ds["power_sensing"].values
    np.testing.assert_allclose(total, ds["power_total"].values, rtol=1e-10)
    # every physical power is within Pt = 1 W (30 dBm)
    assert np.nanmax(ds["power_total"].values) <= 1.0 + 1e-9


# --------------------------------------------------------------------------- pipeline
def planned(cwd: Path, *args: str) -> list[tuple[str, str]]:
    """``(rule, first output)`` of every job a dry run schedules."""
    out = snakemake(
        cwd, "--dry-run", "--cores", "2", "--configfile", "config_tiny.yaml", *args
    ).stdout
    jobs: list[tuple[str, str]] = []
    rule = None
    for line in out.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):$", line)
        if m:
            rule = m.group(1)
            jobs.append((rule, ""))
        m = re.match(r"^\s+output: (.+)$", line)
        if m and rule is not None:
            jobs[-1] = (rule, m.group(1).split(",")[0].strip())
            rule = None
    return jobs


POINT_JOBS = ("closed_form", "sca", "monte_carlo", "mle")


def _job_key(output: str) -> str:
    return Path(output).parts[3]  # results/cache/<stage>/<job key>/...


@pytest.mark.pipeline
@pytest.mark.slow
def test_adding_a_precoder_computes_only_its_jobs(tiny_run: Path, tmp_path: Path) -> None:
    cwd = copy_run(tiny_run, tmp_path / "copy")
    jobs = planned(cwd, "--config", "precoders=[mrt,zf]")
    point_jobs = [(r, o) for r, o in jobs if r in POINT_JOBS]
    assert point_jobs
    assert all(_job_key(o).endswith("_zf") for _, o in point_jobs), point_jobs
    # the same job families as MRT's: 7 closed_form, 6 sca, 8 monte_carlo, 2 mle
    counts = {r: sum(1 for q, _ in point_jobs if q == r) for r in POINT_JOBS}
    assert counts == {"closed_form": 7, "sca": 6, "monte_carlo": 8, "mle": 2}
    assert not any(r == "drops" for r, _ in jobs)
    # the ZF jobs' source sets are new (closed_form with MRT's two scheme sets, sca,
    # monte_carlo, mle): five new checksum files, no existing one
    sources = [o for r, o in jobs if r == "sources"]
    assert len(sources) == 5
    assert not any((cwd / o).exists() for o in sources)


@pytest.mark.pipeline
@pytest.mark.slow
def test_editing_a_precoder_module_reruns_only_its_jobs(tiny_run: Path, tmp_path: Path) -> None:
    cwd = copy_run(tiny_run, tmp_path / "copy")
    zf = cwd / "jcas" / "parts" / "precoders" / "zf.py"
    zf.write_text(zf.read_text() + "\n# edited by test_sweep\n")
    assert planned(cwd) == []  # no MRT job (and no ZF job in this config)
    mrt = cwd / "jcas" / "parts" / "precoders" / "mrt.py"
    mrt.write_text(mrt.read_text() + "\n# edited by test_sweep\n")
    jobs = planned(cwd)
    counts = {r: sum(1 for q, _ in jobs if q == r) for r in POINT_JOBS}
    assert counts == {"closed_form": 7, "sca": 6, "monte_carlo": 8, "mle": 2}


@pytest.fixture(scope="module")
def precoders_run(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``tiny_run`` on which the ``precoders`` experiment has been computed."""
    cwd = copy_run(tiny_run, tmp_path_factory.mktemp("precoders") / "run")
    shutil.copy2(PRECODERS_CONFIG, cwd / "config_precoders.yaml")
    args = ("--cores", "2", "--configfile", "config_tiny.yaml", "config_precoders.yaml")
    targets = ("results/precoders.nc", "results/figures/precoders.png")
    dry = planned(cwd, "config_precoders.yaml", "--", *targets)
    # MRT at Nt = 8 is the tiny run's (cached): only Nt = 6 for MRT, both for ZF and PZF
    keys = {_job_key(o) for r, o in dry if r in POINT_JOBS}
    assert "Nt8_Nr8_com0_sen5_crb0.001" not in keys
    assert {"Nt8_Nr8_com0_sen5_crb0.001_zf", "Nt6_Nr6_com0_sen5_crb0.001"} <= keys
    assert sum(1 for r, _ in dry if r in ("closed_form", "sca")) == 2 * (4 * 3 - 2)
    snakemake(cwd, *args, "--", *targets)
    return cwd


@pytest.mark.pipeline
@pytest.mark.slow
def test_precoders_experiment_through_the_pipeline(precoders_run: Path, tiny_run: Path) -> None:
    from jcas.io.results import validate_contract

    ds = read_netcdf(precoders_run / "results" / "precoders.nc")
    validate_contract(ds)
    assert dict(ds.sizes) == {
        "N": 2,
        "snr_com_db": 2,
        "precoder": 3,
        "scheme": 4,
        "drop": 3,
        "user": 4,
    }
    assert list(ds["precoder"].values) == ["mrt", "zf", "pzf"]
    assert ds["gamma"].dims == ("N", "snr_com_db", "precoder", "scheme", "drop", "user")
    assert ds.attrs["failed_entries"] == 0
    assert (precoders_run / "results" / "figures" / "precoders.png").stat().st_size > 1000
    # MRT at the shared point equals the tiny run's fig1 (the same cached jobs)
    fig1 = read_netcdf(tiny_run / "results" / "fig1.nc")
    for var in ("gamma", "sum_rate", "crb", "power_user"):
        a = ds[var].sel(N=16, precoder="mrt", scheme="optimal", snr_com_db=20.0)
        b = fig1[var].sel({"Nt": 8, "scheme": "optimal", "snr_com_db": 20.0})
        b = b.sel({"drop": a["drop"].values})  # a mapping: `drop` is a keyword of sel
        np.testing.assert_array_equal(a.values, b.transpose(*a.dims).values, err_msg=var)
    # the closed forms recomputed from power_user / power_sensing (W), independent of the
    # scheme's parameterisation: ZF's stream power is Nt gamma_k; the total is (18)
    zf = ds.sel(precoder="zf")
    np.testing.assert_allclose(
        zf["power_user"].sum("user") + zf["power_sensing"], zf["power_total"], rtol=1e-10
    )
    # SCA reaches the exact optimum for every precoder (docs/theory.md §6.8)
    gap = (ds["sum_rate"].sel(scheme="optimal") - ds["sum_rate"].sel(scheme="sca")).values
    assert np.nanmax(np.abs(gap)) < 1e-4 * np.nanmax(ds["sum_rate"].values)
    # ZF beats MRT at 20 dB with Nt = 8 > K + 2 (docs/reproduction.md)
    rate = ds["sum_rate"].sel(scheme="optimal").mean("drop")
    assert float(rate.sel(N=16, snr_com_db=20.0, precoder="zf")) > float(
        rate.sel(N=16, snr_com_db=20.0, precoder="mrt")
    )
    # the MRT-only experiments keep a scalar precoder coordinate, no new dimension
    assert fig1["precoder"].ndim == 0
    assert str(fig1["precoder"].values) == "mrt"
    # adding the experiment changes no MRT result file of the other experiments
    assert planned(precoders_run) == []
