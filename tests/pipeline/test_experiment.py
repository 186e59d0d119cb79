"""jcas.pipeline.stages and jcas.pipeline.aggregate: per-job datasets, failed points recorded
(never raised), batching invariance; what each job entry imports.

Fast unit tests (no Snakemake); the pipeline itself is tested in tests/pipeline/test_pipeline.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from conftest import run_python

import jcas.allocation
from jcas.config import Point, load_config, plan_experiments, scheme_options
from jcas.io.results import read_netcdf, validate_contract
from jcas.pipeline.aggregate import aggregate
from jcas.pipeline.files import write
from jcas.pipeline.stages.allocation import compute_allocation, compute_allocations
from jcas.pipeline.stages.drops import compute_drops
from jcas.pipeline.stages.montecarlo import compute_monte_carlo
from jcas.pipeline.variables import MC_VARIABLES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cfg() -> dict:
    with open(ROOT / "config.yaml", encoding="utf-8") as fh:
        return load_config(yaml.safe_load(fh))


def _drops(system: dict, seed: int, start: int, stop: int) -> xr.Dataset:
    return compute_drops(system, seed, start, stop).to_xarray()


def _alloc(cfg: dict, drops: xr.Dataset, point: Point, scheme: str) -> xr.Dataset:
    opts = scheme_options(scheme, cfg["allocation"])
    return compute_allocation(drops, cfg["system"], point.as_dict(), scheme, opts).to_xarray()


def _mc(cfg: dict, alloc: xr.Dataset, point: Point, mc: dict, seed: int) -> xr.Dataset:
    return compute_monte_carlo(alloc, cfg["system"], point.as_dict(), mc, seed).to_xarray()


def test_drops_do_not_depend_on_blocks(cfg: dict) -> None:
    whole = _drops(cfg["system"], 11, 0, 7)
    parts = [_drops(cfg["system"], 11, a, b) for a, b in ((0, 3), (3, 7))]
    joined = xr.concat(parts, dim="drop")
    np.testing.assert_array_equal(whole["beta"].values, joined["beta"].values)
    np.testing.assert_array_equal(whole["drop"].values, np.arange(7))
    # a different seed gives different drops
    other = _drops(cfg["system"], 12, 0, 7)
    assert not np.array_equal(other["beta"].values, whole["beta"].values)


@pytest.mark.parametrize("scheme", ["optimal", "equal", "equal_full"])
def test_allocation_dataset_per_block_equals_whole(cfg: dict, scheme: str) -> None:
    """Closed-form schemes: allocating drops 0..5 at once or in two blocks is identical."""
    point = Point(15, 15, 10.0, 5.0, 1e-3)
    whole = _alloc(cfg, _drops(cfg["system"], 3, 0, 6), point, scheme)
    parts = [
        _alloc(cfg, _drops(cfg["system"], 3, a, b), point, scheme) for a, b in ((0, 2), (2, 6))
    ]
    joined = xr.concat(parts, dim="drop", data_vars="minimal", coords="minimal")
    for name in ("gamma", "eta", "rate", "sum_rate", "crb", "power_total"):
        np.testing.assert_array_equal(whole[name].values, joined[name].values, err_msg=name)
    assert set(whole["status"].values.ravel()) <= set(jcas.allocation.SUCCESS_STATUSES)


def test_sca_does_not_depend_on_blocks(cfg: dict) -> None:
    """sca solves groups of global drop indices: blocks of 4 or 8 drops give identical
    arrays with sca_group = 4 (drops_per_job a multiple of it)."""
    point = Point(15, 15, 10.0, 5.0, 1e-3)
    opts = {**scheme_options("sca", cfg["allocation"]), "batch_size": 4}

    def run(a: int, b: int) -> xr.Dataset:
        drops = compute_drops(cfg["system"], 3, a, b)
        return compute_allocation(drops, cfg["system"], point.as_dict(), "sca", opts).to_xarray()

    whole = run(0, 8)
    joined = xr.concat([run(0, 4), run(4, 8)], dim="drop", data_vars="minimal", coords="minimal")
    for name in ("gamma", "eta", "sum_rate", "crb", "status", "iterations"):
        np.testing.assert_array_equal(whole[name].values, joined[name].values, err_msg=name)


def test_allocation_metrics_match_definitions(cfg: dict) -> None:
    """sum_rate is the sum of rate; power_total is (18); power within the budget Pt."""
    point = Point(35, 35, 20.0, 5.0, 1e-3)
    ds = _alloc(cfg, _drops(cfg["system"], 5, 0, 8), point, "optimal")
    np.testing.assert_allclose(ds["sum_rate"].values, ds["rate"].sum("user").values, rtol=1e-12)
    p = ds["power_total"].values
    assert np.all(p <= 1.0 * (1 + 1e-9))  # Pt = 30 dBm = 1 W
    xi = ds["xi"].values
    expect = 35 * ((xi * ds["gamma"].values[0]).sum(-1) + ds["eta"].values[0].sum(-1))
    np.testing.assert_allclose(p[0], expect, rtol=1e-12)


def test_infeasible_point_is_recorded_with_nan(cfg: dict) -> None:
    """CRB0 below what all power on sensing reaches: status infeasible, NaN metrics."""
    point = Point(4, 4, 20.0, 5.0, 1e-9)
    ds = _alloc(cfg, _drops(cfg["system"], 1, 0, 3), point, "optimal")
    assert set(ds["status"].values.ravel()) == {"infeasible"}
    for name in ("gamma", "eta", "rate", "sum_rate", "crb", "power_total", "power_sensing"):
        assert np.all(np.isnan(ds[name].values)), name


def test_solver_exception_is_recorded_not_raised(
    cfg: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception inside a scheme gives status solver_error and NaN, and the job goes on."""

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("injected solver failure")

    monkeypatch.setattr(jcas.allocation, "allocate", boom)
    point = Point(15, 15, 20.0, 5.0, 1e-3)
    ds = _alloc(cfg, _drops(cfg["system"], 1, 0, 4), point, "sca")
    assert set(ds["status"].values.ravel()) == {"solver_error"}
    assert np.all(np.isnan(ds["sum_rate"].values))
    assert "injected solver failure" in ds.attrs["errors"]


def test_monte_carlo_failure_is_recorded(cfg: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import jcas.montecarlo

    def boom(*_a: object, **_k: object) -> None:
        raise FloatingPointError("injected MC failure")

    monkeypatch.setattr(jcas.montecarlo, "mc_rate", boom)
    point = Point(15, 15, 20.0, 5.0, 1e-3)
    alloc = _alloc(cfg, _drops(cfg["system"], 1, 0, 3), point, "optimal")
    mc = {"realizations": 4, "frames": 2}
    ds = _mc(cfg, alloc, point, mc, 1)
    assert set(ds["mc_status"].values.ravel()) == {"error"}
    assert np.all(np.isnan(ds["sum_rate_mc"].values))
    assert "injected MC failure" in ds.attrs["errors"]


def test_monte_carlo_close_to_closed_form(cfg: dict) -> None:
    """MC sum rate (14) agrees with (15) within 5 standard errors of the drop mean."""
    point = Point(15, 15, 20.0, 5.0, 1e-3)
    alloc = _alloc(cfg, _drops(cfg["system"], 2, 0, 20), point, "optimal")
    mc = {"realizations": 200, "frames": 4}
    ds = _mc(cfg, alloc, point, mc, 9)
    diff = ds["sum_rate_mc"].values[0] - alloc["sum_rate"].values[0]
    se = np.sqrt(np.sum(ds["sum_rate_mc_se"].values[0] ** 2)) / diff.size
    assert abs(diff.mean()) < 5 * se + 1e-12


def test_aggregate_builds_contract_dataset(cfg: dict, tmp_path: Path) -> None:
    """Two points x two schemes x two blocks -> one experiment dataset per docs/data.md."""
    small = dict(cfg)
    small["experiments"] = {
        "fig1": {**cfg["experiments"]["fig1"], "sweep": {"Nt": [8], "snr_com_db": [0, 20]}}
    }
    small["schemes"] = ["optimal", "equal"]
    small["experiments"]["fig1"]["schemes"] = ["optimal", "equal"]
    plan = plan_experiments(small)["fig1"]
    mc = {"realizations": 4, "frames": 2}
    pieces = []
    for values, point in plan.points:
        dss = []
        for a, b in ((0, 2), (2, 5)):
            drops = _drops(cfg["system"], 4, a, b)
            for scheme in plan.schemes:
                alloc = _alloc(cfg, drops, point, scheme)
                dss += [alloc, _mc(cfg, alloc, point, mc, 4)]
        pieces.append((values, dss))
    ds = aggregate(plan, pieces)
    assert dict(ds.sizes) == {"Nt": 1, "snr_com_db": 2, "scheme": 2, "drop": 5, "user": 4}
    assert ds["Nr"].dims == ("Nt",)
    assert list(ds["scheme"].values) == ["optimal", "equal"]
    path = tmp_path / "fig1.nc"
    write(ds, path, config=small, title="fig1")
    validate_contract(read_netcdf(path), kind="allocation")


def test_scheme_vocabulary_matches_allocation() -> None:
    from jcas.config import SCHEMES

    assert tuple(SCHEMES) == tuple(jcas.allocation.SCHEMES)


def test_closed_forms_in_one_dataset_equal_one_scheme_each(cfg: dict) -> None:
    """compute_allocations (one job of the closed forms; equal reuses optimal's allocation)
    gives exactly the arrays of one compute_allocation per scheme, with a degenerate drop."""
    point = Point(15, 15, 0.0, 5.0, 1e-3)
    drops = _drops(cfg["system"], 6, 0, 5)
    drops["beta"].values[2, 1] = np.nan
    schemes = ["optimal", "equal", "equal_full"]
    opts = {s: scheme_options(s, cfg["allocation"]) for s in schemes}
    both = compute_allocations(drops, cfg["system"], point.as_dict(), schemes, opts).to_xarray()
    assert list(both["scheme"].values) == schemes
    assert both["beta"].dims == ("drop", "user")
    for scheme in schemes:
        one = _alloc(cfg, drops, point, scheme)
        part = both.sel(scheme=[scheme])
        for name in one.variables:
            if name == "solve_time":
                continue
            np.testing.assert_array_equal(part[name].values, one[name].values, err_msg=name)
    assert set(both["status"].values[:, 2]) == {"invalid_input"}


def test_monte_carlo_of_several_schemes_equals_one_each(cfg: dict) -> None:
    """One Monte-Carlo job for several schemes: each scheme's arrays are those of its own
    job (the streams are keyed by drop, not by the other schemes)."""
    point = Point(8, 8, 10.0, 5.0, 1e-3)
    drops = _drops(cfg["system"], 4, 0, 3)
    schemes = ["optimal", "equal_full"]
    opts = {s: scheme_options(s, cfg["allocation"]) for s in schemes}
    alloc = compute_allocations(drops, cfg["system"], point.as_dict(), schemes, opts).to_xarray()
    mc = {"realizations": 6, "frames": 3}
    both = _mc(cfg, alloc, point, mc, 5)
    for scheme in schemes:
        one = _mc(cfg, alloc.sel(scheme=[scheme]), point, mc, 5)
        for name in (*MC_VARIABLES, "mc_status"):
            np.testing.assert_array_equal(
                both[name].sel(scheme=[scheme]).values, one[name].values, err_msg=name
            )
    assert np.all(np.isfinite(both["sum_rate_mc"].values))


PER_POINT_HEAVY = ("xarray", "pandas", "matplotlib", "cvxpy")
"""What no per-point job imports (about 0.3 s a process for xarray and pandas)."""


@pytest.mark.parametrize(
    ("code", "absent"),
    [
        ("import jcas.pipeline.jobs.drops", (*PER_POINT_HEAVY, "jcas.allocation", "scipy")),
        (
            "import jcas.pipeline.jobs.allocation",
            (*PER_POINT_HEAVY, "clarabel", "jcas.allocation.sca", "jcas.montecarlo"),
        ),
        ("import jcas.pipeline.jobs.sca", (*PER_POINT_HEAVY, "jcas.montecarlo")),
        ("import jcas.pipeline.jobs.monte_carlo", (*PER_POINT_HEAVY, "jcas.allocation.sca")),
        ("import jcas.pipeline.jobs.mle", (*PER_POINT_HEAVY, "jcas.allocation.sca")),
        ("import jcas.pipeline.jobs.sca_audit", (*PER_POINT_HEAVY, "jcas.montecarlo")),
        (
            "import jcas.pipeline.jobs.aggregate",
            ("matplotlib", "cvxpy", "jcas.allocation.sca", "jcas.montecarlo", "jcas.report"),
        ),
        (
            "from jcas.pipeline.stages import allocation, drops, montecarlo; "
            "d = drops.compute_drops(S, 1, 0, 2); "
            "a = allocation.compute_allocations(d, S, P, ['optimal', 'equal', 'equal_full'], {}); "
            "montecarlo.compute_monte_carlo(a, S, P, {'realizations': 2, 'frames': 1}, 1)",
            (*PER_POINT_HEAVY, "clarabel", "jcas.allocation.sca"),
        ),
    ],
)
def test_jobs_import_only_what_they_need(cfg: dict, code: str, absent: tuple[str, ...]) -> None:
    """Each job entry imports only what its rule runs: no xarray, pandas, matplotlib or
    cvxpy in a per-point job, the solver only in `sca` and audit jobs, no Monte-Carlo
    outside its stages; the closed-form stages run without the solver."""
    setup = f"S = {dict(cfg['system'])!r}; P = {Point(8, 8, 20.0, 5.0, 1e-3).as_dict()!r}; "
    check = f"import sys; bad = [m for m in {absent!r} if m in sys.modules]; assert not bad, bad"
    run_python(f"{setup}{code}\n{check}")


def test_without_attrs_equals_drop_attrs_and_leaves_the_input_alone():
    """The aggregation's cheap attribute drop gives what ``Dataset.drop_attrs`` gives, and
    the dataset it was given keeps its attributes (the copy is shallow, the attrs are not
    shared)."""
    import xarray as xr

    from jcas.pipeline.aggregate import _without_attrs

    ds = xr.Dataset(
        {"rate": (("drop", "user"), np.ones((3, 2)), {"units": "bit/s/Hz"})},
        coords={"drop": ("drop", np.arange(3), {"long_name": "drop index"})},
        attrs={"title": "t"},
    )
    out = _without_attrs(ds)
    xr.testing.assert_identical(out, ds.drop_attrs())
    assert ds.attrs == {"title": "t"}
    assert ds["rate"].attrs == {"units": "bit/s/Hz"}
    assert ds["drop"].attrs == {"long_name": "drop index"}
