"""Failed points in-process: degenerate drops, damaged inputs named by the job that
reads them, failed points through aggregation, figure and claims, and the allocation
stage at the model's numerical edges.

Complements tests/pipeline/test_experiment.py (block-level solver failure, infeasible CRB0, MC
failure), tests/io/test_results.py (read_netcdf on damaged files, atomic writes) and
tests/model/test_edge_cases.py (the model functions at the edges, hypothesis); the pipeline
versions are in tests/pipeline/test_pipeline_recovery.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
import xarray as xr
import yaml

import jcas.allocation
from jcas.config import Point, load_config, plan_experiments, scheme_options
from jcas.io.results import ResultFileError, read_netcdf, write_netcdf
from jcas.pipeline.aggregate import aggregate
from jcas.pipeline.jobs import aggregate as aggregate_job
from jcas.pipeline.jobs import allocation, claims, drops, figure, mle, monte_carlo
from jcas.pipeline.stages.allocation import compute_allocation
from jcas.pipeline.stages.drops import compute_drops
from jcas.pipeline.stages.montecarlo import compute_monte_carlo

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[2]

SUCCESS = set(jcas.allocation.SUCCESS_STATUSES)
METRICS = ("gamma", "eta", "rate", "sum_rate", "crb", "power_total", "power_sensing")
SCHEMES = ("sca", "optimal", "equal", "equal_full")


@pytest.fixture(scope="module")
def cfg() -> dict[str, Any]:
    with open(ROOT / "config.yaml", encoding="utf-8") as fh:
        return load_config(yaml.safe_load(fh))


def _drops(system: dict, seed: int, start: int, stop: int) -> xr.Dataset:
    return compute_drops(system, seed, start, stop).to_xarray()


def _alloc(cfg: dict, drops: xr.Dataset, point: Point, scheme: str, system: dict | None = None):
    opts = scheme_options(scheme, cfg["allocation"])
    return compute_allocation(
        drops, system or cfg["system"], point.as_dict(), scheme, opts
    ).to_xarray()


# ------------------------------------------------------------------ degenerate drops
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -1e-9])
def test_degenerate_drop_recorded_alone(cfg: dict, scheme: str, bad: float) -> None:
    """A drop with a non-finite or negative beta gets status invalid_input and NaN metrics;
    the other drops of the block are what they are without it (sca: to its tolerance,
    the SCA stops on a 1e-4 relative sum-rate change; the closed forms: exactly)."""
    point = Point(8, 8, 20.0, 5.0, 1e-3)
    drops = _drops(cfg["system"], 5, 0, 4)
    clean = _alloc(cfg, drops, point, scheme)
    damaged = drops.copy(deep=True)
    damaged["beta"].values[1, 2] = bad
    ds = _alloc(cfg, damaged, point, scheme)
    status = ds["status"].values[0]
    assert status[1] == "invalid_input"
    assert "degenerate drops [1]" in ds.attrs["errors"]
    for name in METRICS:
        assert np.all(np.isnan(ds[name].isel({"drop": 1}).values)), name
    others = [0, 2, 3]
    np.testing.assert_array_equal(status[others], clean["status"].values[0][others])
    assert set(status[others]) <= SUCCESS
    rtol = 1e-3 if scheme == "sca" else 0.0
    for name in ("sum_rate", "crb", "power_total"):
        np.testing.assert_allclose(
            ds[name].isel({"drop": others}).values,
            clean[name].isel({"drop": others}).values,
            rtol=rtol,
            err_msg=name,
        )


@pytest.mark.parametrize("scheme", SCHEMES)
def test_user_without_channel_is_finite_not_failed(cfg: dict, scheme: str) -> None:
    """beta = 0 (a user with no channel at all) is a valid limit, not a failure: the drop
    succeeds, that user's rate is 0 and every metric is finite."""
    point = Point(8, 8, 20.0, 5.0, 1e-3)
    drops = _drops(cfg["system"], 5, 0, 3)
    drops["beta"].values[1, 0] = 0.0
    ds = _alloc(cfg, drops, point, scheme)
    assert set(ds["status"].values.ravel()) <= SUCCESS
    assert ds["rate"].values[0, 1, 0] == 0.0
    for name in ("sum_rate", "crb", "power_total"):
        assert np.all(np.isfinite(ds[name].values)), name


# ------------------------------------------------------------------ damaged inputs
def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 3])
    elif how == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(os.urandom(len(data)))


@pytest.fixture(scope="module")
def job_files(cfg: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Valid per-job files of one tiny point, written as the jobs write them."""
    base = tmp_path_factory.mktemp("jobs")
    point = Point(8, 8, 20.0, 5.0, 1e-3)
    drops_path = base / "drops.nc"
    drops.run(str(drops_path), system=cfg["system"], seed=3, start=0, stop=2)
    alloc = base / "alloc.nc"
    allocation.run(
        str(drops_path),
        str(alloc),
        system=cfg["system"],
        point=point.as_dict(),
        schemes=["optimal"],
        options={"optimal": {}},
    )
    return {"base": base, "drops": drops_path, "alloc": alloc, "point": point}


@pytest.mark.parametrize("how", ["truncated", "empty", "garbage"])
@pytest.mark.parametrize("job", ["allocate", "monte_carlo", "mle", "figure", "claims"])
def test_damaged_input_named_by_the_job_that_reads_it(
    cfg: dict, job_files: dict, tmp_path: Path, job: str, how: str
) -> None:
    """Each job entry point (what workflow/scripts/* call) raises ResultFileError naming
    the damaged file and saying what to do, with the netCDF4 error chained."""
    point = job_files["point"].as_dict()
    src = job_files["drops"] if job == "allocate" else job_files["alloc"]
    bad = tmp_path / f"bad_{src.name}"
    bad.write_bytes(src.read_bytes())
    _damage(bad, how)
    out = tmp_path / "out.nc"
    calls = {
        "allocate": lambda: allocation.run(
            str(bad),
            str(out),
            system=cfg["system"],
            point=point,
            schemes=["equal"],
            options={"equal": {}},
        ),
        "monte_carlo": lambda: monte_carlo.run(
            str(bad),
            str(out),
            system=cfg["system"],
            point=point,
            schemes=["optimal"],
            mc=cfg["mc"],
            seed=3,
        ),
        "mle": lambda: mle.run(
            [str(job_files["alloc"]), str(bad)],
            str(out),
            system=cfg["system"],
            point=point,
            scheme="optimal",
            mc=cfg["mc"],
            seed=3,
            n_drops=2,
        ),
        "figure": lambda: figure.run(
            str(bad), str(tmp_path / "f.pdf"), str(tmp_path / "f.png"), plot="fig1"
        ),
        "claims": lambda: claims.run({"fig1": str(bad)}, str(tmp_path / "c.csv")),
    }
    with pytest.raises(ResultFileError) as info:
        calls[job]()
    assert info.value.path == str(bad)
    msg = str(info.value)
    assert str(bad) in msg
    if how == "empty":
        assert "empty file" in msg
    else:
        assert "truncated or corrupt" in msg
        assert info.value.__cause__ is not None
    assert not out.exists()


def test_damaged_input_of_aggregate_is_named(cfg: dict, job_files: dict, tmp_path: Path) -> None:
    bad = tmp_path / "Nt8_Nr8_com20_sen5_crb0.001" / "closed_form" / "d0-2.nc"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(job_files["alloc"].read_bytes())
    _damage(bad, "truncated")
    with pytest.raises(ResultFileError, match="truncated or corrupt") as info:
        aggregate_job.run(
            [str(bad)],
            str(tmp_path / "fig1.nc"),
            name="fig1",
            config=cfg,
            point_keys=["Nt8_Nr8_com20_sen5_crb0.001"],
        )
    assert info.value.path == str(bad)


# ------------------------------------------------------------------ failed points downstream
@pytest.fixture(scope="module")
def failed_sweep(cfg: dict, tmp_path_factory: pytest.TempPathFactory) -> xr.Dataset:
    """fig1 at Nt = 8, SNR_com in {0, 20} dB, sca/optimal/equal, 4 drops, built from
    per-job datasets as the pipeline does, with a solver failure injected through
    jcas.allocation.allocate (sca at 0 dB) and a degenerate drop 3."""
    raw = yaml.safe_load((ROOT / "config.yaml").read_text())
    raw.update(drops=4, drops_per_job=4, schemes=["sca", "optimal", "equal"])
    raw["experiments"]["fig1"]["sweep"] = {"Nt": [8], "snr_com_db": [0, 20]}
    raw["experiments"]["crb_mc"]["enabled"] = False
    conf = load_config(raw)
    plan = plan_experiments(conf)["fig1"]
    drops = _drops(conf["system"], 9, 0, 4)
    drops["beta"].values[3, 1] = np.nan
    real = jcas.allocation.allocate

    def flaky(scheme: str, beta: Any, xi: Any, params: Any, **options: Any) -> Any:
        if scheme == "sca" and params.snr_com_db == 0.0:
            raise ArithmeticError("injected solver failure")
        return real(scheme, beta, xi, params, **options)

    pieces = []
    mp = pytest.MonkeyPatch()
    mp.setattr(jcas.allocation, "allocate", flaky)
    try:
        for values, point in plan.points:
            datasets = []
            for scheme in plan.schemes:
                alloc = compute_allocation(
                    drops,
                    conf["system"],
                    point.as_dict(),
                    scheme,
                    scheme_options(scheme, conf["allocation"]),
                ).to_xarray()
                mc = compute_monte_carlo(
                    alloc, conf["system"], point.as_dict(), conf["mc"] | {"realizations": 4}, 9
                ).to_xarray()
                datasets += [alloc, mc]
            pieces.append((values, datasets))
    finally:
        mp.undo()
    ds = aggregate(plan, pieces)
    path = tmp_path_factory.mktemp("failed") / "fig1.nc"
    write_netcdf(ds, path, config=conf)
    return read_netcdf(path)


def test_failed_points_keep_their_place_and_are_counted(failed_sweep: xr.Dataset) -> None:
    status = failed_sweep["status"]
    assert set(
        status.sel({"scheme": "sca", "snr_com_db": 0.0, "drop": [0, 1, 2]}).values.ravel()
    ) == {"solver_error"}
    assert set(status.sel({"drop": 3}).values.ravel()) == {"invalid_input"}
    failed = ~status.isin(sorted(SUCCESS))
    assert int(failed.sum()) == 3 + 6
    assert (failed_sweep.attrs["failed_entries"], failed_sweep.attrs["total_entries"]) == (9, 24)
    for name in ("sum_rate", "crb", "sum_rate_mc", "crb_mc"):
        assert bool(failed_sweep[name].where(failed).isnull().all()), name
        assert int(failed_sweep[name].notnull().sum()) == 24 - 9, name


def test_figure_shows_the_gap_and_the_count(failed_sweep: xr.Dataset) -> None:
    from jcas.report import plots

    fig = plots.fig1(failed_sweep)
    assert "9 of 24" in fig.get_suptitle().replace("\n", " ")
    gaps = 0
    for ax in fig.axes:
        for line in ax.get_lines():
            x = np.asarray(line.get_xdata(), dtype=float)
            y = np.asarray(line.get_ydata(), dtype=float)
            if x.size == 2 and np.isnan(y[x == 0.0]).all() and np.isfinite(y[x == 20.0]).all():
                gaps += 1
    assert gaps >= 1  # the sca curve has no value at 0 dB


def test_claims_table_counts_failed_points(failed_sweep: xr.Dataset) -> None:
    from jcas.report.claims import paper_claims

    table = paper_claims(fig1=failed_sweep, nt=8)
    row = table.set_index("claim").loc["failed_entries_fig1"]
    assert int(row["ours"]) == 9
    assert row["note"].startswith("9 of 24")
    assert "solver_error 3" in row["note"]
    assert "invalid_input 6" in row["note"]


# ------------------------------------------------------------------ allocation at the edges
EDGE_SYSTEMS = {
    "default": {},
    "K=1": {"K": 1},
    "theta=+89.9": {"theta_deg": 89.9},
    "theta=-89.9": {"theta_deg": -89.9},
    "shadowing=0": {"shadowing_db": 0.0},
    "users at r_min": {"r_min_m": 100.0, "r_max_m": 100.001},
    "users at r_max": {"r_min_m": 499.999, "r_max_m": 500.0},
}


@pytest.mark.parametrize("nt", [1, 2, 512])
@pytest.mark.parametrize("snr_db", [-30.0, 60.0])
@pytest.mark.parametrize("edge", list(EDGE_SYSTEMS))
def test_allocation_at_numerical_edges(cfg: dict, edge: str, snr_db: float, nt: int) -> None:
    """The allocation stage (every scheme, closed forms (15), (16), (18)) at the edges of
    a success status carries finite metrics (CRB = inf only for Nt = Nr = 1,
    where the Fisher information is 0: documented in docs/model.md), a failure status
    carries NaN, and sca succeeds wherever the exact optimum exists."""
    system = dict(cfg["system"], **EDGE_SYSTEMS[edge])
    drops = _drops(system, 2, 0, 2)
    point = Point(nt, nt, snr_db, snr_db, 1e-3)
    out = {s: _alloc(cfg, drops, point, s, system) for s in SCHEMES}
    for scheme, ds in out.items():
        ok = np.isin(ds["status"].values[0], sorted(SUCCESS))
        for name in ("sum_rate", "power_total", "power_sensing"):
            values = ds[name].values[0]
            assert np.all(np.isfinite(values[ok])), (scheme, name)
            assert np.all(np.isnan(values[~ok])), (scheme, name)
        crb = ds["crb"].values[0]
        if nt == 1:
            assert np.all(crb[ok] == np.inf), scheme
        else:
            assert np.all(np.isfinite(crb[ok]) & (crb[ok] > 0)), scheme
        assert np.all(np.isnan(crb[~ok])), scheme
        assert np.all(ds["sum_rate"].values[0][ok] >= 0), scheme
    optimal_ok = np.isin(out["optimal"]["status"].values[0], sorted(SUCCESS))
    sca_ok = np.isin(out["sca"]["status"].values[0], sorted(SUCCESS))
    np.testing.assert_array_equal(sca_ok, optimal_ok)
    # sca never beats the exact optimum (sum-rate tolerance 1e-6 relative)
    both = sca_ok & optimal_ok
    assert np.all(
        out["sca"]["sum_rate"].values[0][both]
        <= out["optimal"]["sum_rate"].values[0][both] * (1 + 1e-6)
    )
