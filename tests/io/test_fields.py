"""The writer of every jcas file and the per-job datasets without xarray (``jcas.io.fields``).

The per-point jobs hold their data as ``Fields`` and write them with netCDF4 directly;
``jcas.io.results.write_netcdf`` writes xarray datasets through the same writer. Checked
here against xarray, which is independent of it (``xarray_write``: ``Dataset.to_netcdf``
with the data contract's encodings; :func:`jcas.io.results.read_netcdf`):

- every per-point computation's file (from Fields and from its xarray dataset), every
  results file of the tiny pipeline, and a boolean variable: the same dimensions,
  variables, data types, fill values, attributes, storage and global attributes as
  xarray's file, and read back identical by xarray;
- reading a file as ``Fields`` gives what xarray reads;
- a job computed from ``Fields`` inputs equals the one computed from xarray inputs;
- a job process imports neither xarray nor pandas;
- the container's own rules (sizes, selection, concatenation, damaged files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pytest
import xarray as xr
import yaml
from conftest import ROOT, run_python

from jcas.config import Point, load_config, scheme_options
from jcas.io.fields import Fields, ResultFileError, Variable, concat, read_fields, write_fields
from jcas.io.results import combine_datasets, read_netcdf, write_netcdf
from jcas.pipeline.files import read_job, read_job_blocks, write
from jcas.pipeline.stages.allocation import compute_allocations
from jcas.pipeline.stages.audit import compute_sca_audit
from jcas.pipeline.stages.drops import compute_drops
from jcas.pipeline.stages.mle import compute_mle, compute_mle_planar
from jcas.pipeline.stages.montecarlo import compute_monte_carlo

POINT = Point(8, 8, 10.0, 5.0, 1e-3)
SCHEMES = ["optimal", "equal", "equal_full"]


@pytest.fixture(scope="module")
def cfg() -> dict:
    with open(ROOT / "config.yaml", encoding="utf-8") as fh:
        return load_config(yaml.safe_load(fh))


def _options(cfg: dict, schemes: list[str]) -> dict[str, Any]:
    return {s: scheme_options(s, cfg["allocation"]) for s in schemes}


def _planar_system(cfg: dict) -> dict:
    system = dict(cfg["system"])
    system.update(array="upa", tx_rows=2, rx_rows=2)
    return system


@pytest.fixture(scope="module")
def job_outputs(cfg: dict) -> dict[str, Fields]:
    """One output of every per-point computation (small sizes)."""
    system, point = cfg["system"], POINT.as_dict()
    drops = compute_drops(system, 7, 0, 6)
    alloc = compute_allocations(drops, system, point, SCHEMES, _options(cfg, SCHEMES))
    sca = compute_allocations(drops, system, point, ["sca"], _options(cfg, ["sca"]))
    mc = compute_monte_carlo(alloc, system, point, {"realizations": 4, "frames": 2}, 3)
    mle = compute_mle(alloc.sel("scheme", ["optimal"]), system, point, {"mle_trials": 3}, 3)
    planar = _planar_system(cfg)
    ppoint = Point(8, 8, 10.0, 5.0, 1e-3, azimuth_deg=10.0, elevation_deg=-5.0).as_dict()
    palloc = compute_allocations(drops, planar, ppoint, ["optimal"], {})
    pmc = compute_monte_carlo(palloc, planar, ppoint, {"realizations": 2, "frames": 2}, 3)
    pmle = compute_mle_planar(palloc, planar, ppoint, {"planar_mle_trials": 2}, 3)
    audit = compute_sca_audit(
        system,
        point,
        7,
        1000,
        1004,
        scheme_options("sca", cfg["allocation"]),
        ["printed", "default"],
    )
    return {
        "drops": drops,
        "closed_form": alloc,
        "sca": sca,
        "monte_carlo": mc,
        "mle": mle,
        "planar_allocation": palloc,
        "planar_monte_carlo": pmc,
        "mle_planar": pmle,
        "sca_audit": audit,
    }


def _structure(path: Path) -> dict[str, Any]:
    """Everything of a file but the data and the history line's time stamp."""
    with netCDF4.Dataset(path) as nc:
        variables = {
            name: (
                str(var.dtype),
                var.dimensions,
                {a: str(var.getncattr(a)) for a in var.ncattrs()},
                var.chunking(),
            )
            for name, var in nc.variables.items()
        }
        gattrs = {a: str(nc.getncattr(a)) for a in nc.ncattrs() if a != "history"}
        return {
            "dims": {k: len(v) for k, v in nc.dimensions.items()},
            "variables": variables,
            "global": list(gattrs.items()),
            "format": nc.data_model,
        }


def _without_history(ds: xr.Dataset) -> xr.Dataset:
    ds.attrs.pop("history")
    return ds


JOBS = [
    "drops",
    "closed_form",
    "sca",
    "monte_carlo",
    "mle",
    "planar_allocation",
    "planar_monte_carlo",
    "mle_planar",
    "sca_audit",
]


def xarray_write(ds: xr.Dataset, path: Path, *, config: dict, title: str) -> Path:
    """The reference: xarray's own writer (``Dataset.to_netcdf``) configured as the data
    contract (``docs/data.md``) says, independent of ``jcas.io.fields``: registry metadata
    (``jcas.io.metadata.annotate``), string dimensions as labels ``<dim>_name``, each data
    variable's CF ``coordinates`` (non-dimension coordinates within its dimensions),
    float64 with NaN fill but none on coordinates, integers and booleans (int8) without
    fill, strings as NC_STRING, and the provenance attributes."""
    from jcas.io.metadata import annotate
    from jcas.io.provenance import global_attributes

    out = annotate(ds)
    names = [str(d) for d in out.dims if d in out.coords and out[d].dtype.kind in "USO"]
    if names:
        out = out.reset_index(names).rename_vars({n: n + "_name" for n in names})
    aux = sorted(str(c) for c in out.coords if c not in out.dims)
    encoding: dict[str, dict] = {}
    for name, var in out.variables.items():
        var.encoding = {}
        var.attrs = {k: v for k, v in var.attrs.items() if k != "coordinates"}
        kind = var.dtype.kind
        enc: dict = {"dtype": str} if kind in "USO" else {}
        if kind == "f":
            enc = {"dtype": var.dtype, "_FillValue": None if name in out.coords else np.nan}
        elif kind in "iub":
            enc = {"dtype": np.dtype("int8") if kind == "b" else var.dtype, "_FillValue": None}
        if name in out.data_vars:
            listed = " ".join(c for c in aux if set(out[c].dims) <= set(var.dims))
            if listed:
                var.encoding["coordinates"] = listed  # (xarray takes it from the variable)
        encoding[str(name)] = enc
    out.attrs = global_attributes(out.attrs, default_title=path.stem, config=config, title=title)
    out.to_netcdf(path, mode="w", format="NETCDF4", engine="netcdf4", encoding=encoding)
    return path


def assert_same_file(ours: Path, reference: Path) -> None:
    """Everything but the data and the history time stamp equal; xarray reads both alike."""
    sa, sb = _structure(reference), _structure(ours)
    assert sa["dims"] == sb["dims"]
    assert sa["variables"] == sb["variables"]
    assert sa["global"] == sb["global"]
    assert sa["format"] == sb["format"] == "NETCDF4"
    xr.testing.assert_identical(
        _without_history(read_netcdf(reference)), _without_history(read_netcdf(ours))
    )


@pytest.mark.parametrize("job", JOBS)
def test_fields_file_is_the_xarray_file(job_outputs: dict, job: str, tmp_path: Path) -> None:
    """Each job's output written from Fields (the jobs' path) and from its xarray dataset
    (``write_netcdf``, the API's path) is the file xarray's own writer makes."""
    fields = job_outputs[job]
    params = {"job": job}
    ref = xarray_write(fields.to_xarray(), tmp_path / "xarray.nc", config=params, title=job)
    a = write_netcdf(fields.to_xarray(), tmp_path / "api.nc", config=params, title=job)
    b = write_fields(fields, tmp_path / "fields.nc", config=params, title=job)
    assert_same_file(a, ref)
    assert_same_file(b, ref)
    # what the jobs read back is what xarray reads
    xr.testing.assert_identical(read_fields(b).to_xarray(), read_netcdf(b))


@pytest.mark.slow
@pytest.mark.pipeline
def test_results_files_are_the_xarray_files(tiny_run: Path, tmp_path: Path) -> None:
    """Every experiment file of the tiny pipeline, written again by ``write_netcdf``, is
    the file xarray's own writer makes of the same dataset."""
    files = sorted((tiny_run / "results").glob("*.nc"))
    assert files
    for path in files:
        ds = read_netcdf(path)
        cfg = {"from": path.name}
        ref = xarray_write(ds, tmp_path / f"ref_{path.name}", config=cfg, title=path.stem)
        ours = write_netcdf(ds, tmp_path / f"ours_{path.name}", config=cfg, title=path.stem)
        assert_same_file(ours, ref)


def test_booleans_are_written_as_xarray_writes_them(tmp_path: Path) -> None:
    """A boolean variable: int8 without fill, as xarray's writer makes it with the data
    contract's encodings, read back alike (as int8) by xarray and by ``read_fields``."""
    flags = Fields.build(
        {"ok": ("drop", np.array([True, False, True]), {"units": "1"})},
        coords={"drop": np.arange(3)},
    )
    ref = xarray_write(flags.to_xarray(), tmp_path / "ref.nc", config={}, title="t")
    ours = write_fields(flags, tmp_path / "ours.nc", config={}, title="t")
    assert_same_file(ours, ref)
    with netCDF4.Dataset(ours) as nc:
        assert nc["ok"].dtype == np.int8
    back = read_fields(ours)
    np.testing.assert_array_equal(back["ok"], [1, 0, 1])
    xr.testing.assert_identical(back.to_xarray(), read_netcdf(ours))


def test_jobs_from_files_read_as_fields_equal_jobs_from_xarray(cfg: dict, tmp_path: Path) -> None:
    """The job path (files read as Fields) gives the API path's datasets (files read by
    xarray), for each stage that reads a file."""
    system, point = cfg["system"], POINT.as_dict()
    d = tmp_path / "drops.nc"
    write(compute_drops(system, 7, 0, 5), d, config={}, title="drops")
    opts = _options(cfg, SCHEMES)
    via_fields = compute_allocations(read_job(d), system, point, SCHEMES, opts)
    via_xarray = compute_allocations(read_netcdf(d), system, point, SCHEMES, opts).to_xarray()
    timings = ["solve_time"]  # seconds: differ between any two runs
    xr.testing.assert_identical(
        via_fields.to_xarray().drop_vars(timings).drop_attrs(deep=False),
        via_xarray.drop_vars(timings).drop_attrs(deep=False),
    )
    a = tmp_path / "alloc.nc"
    write(via_fields, a, config={}, title="alloc")
    mc = {"realizations": 4, "frames": 2}
    m1 = compute_monte_carlo(
        read_job(a).sel("scheme", ["equal_full", "optimal"]), system, point, mc, 3
    ).to_xarray()
    m2 = compute_monte_carlo(
        read_netcdf(a).sel(scheme=["equal_full", "optimal"]), system, point, mc, 3
    ).to_xarray()
    for ds in (m1, m2):
        ds.attrs.pop("compute_time_s")
    xr.testing.assert_identical(m1, m2)


def test_mle_blocks_read_as_fields_equal_the_xarray_combination(cfg: dict, tmp_path: Path) -> None:
    """``read_job_blocks`` joins a point's blocks along ``drop`` in drop order (given in any
    order) as :func:`jcas.io.results.combine_datasets` combines them; the MLE of both agrees."""
    system, point = cfg["system"], POINT.as_dict()
    paths = []
    for start, stop in ((4, 8), (0, 4)):  # out of order on purpose
        drops = compute_drops(system, 7, start, stop)
        alloc = compute_allocations(drops, system, point, ["optimal"], {})
        paths.append(tmp_path / f"d{start}-{stop}.nc")
        write(alloc, paths[-1], config={}, title="alloc")
    fields = read_job_blocks(paths)
    np.testing.assert_array_equal(fields["drop"], np.arange(8))
    combined = combine_datasets([read_netcdf(p) for p in paths])
    for name in ("gamma", "eta", "beta", "status", "sum_rate"):
        np.testing.assert_array_equal(fields[name], combined[name].values, err_msg=name)
    mc = {"mle_trials": 3}
    m1 = compute_mle(fields.isel("drop", fields["drop"] < 6), system, point, mc, 2)
    first = combined.isel({"drop": slice(0, 6)})  # (isel(drop=...) would be its flag)
    m2 = compute_mle(first, system, point, mc, 2)
    m1.attrs.pop("compute_time_s")
    m2.attrs.pop("compute_time_s")
    xr.testing.assert_identical(m1.to_xarray(), m2.to_xarray())


def test_read_job_blocks_refuses_repeated_drops(cfg: dict, tmp_path: Path) -> None:
    system, point = cfg["system"], POINT.as_dict()
    drops = compute_drops(system, 7, 0, 3)
    alloc = compute_allocations(drops, system, point, ["equal_full"], {})
    for name in ("a.nc", "b.nc"):
        write(alloc, tmp_path / name, config={}, title="alloc")
    with pytest.raises(ValueError, match="repeat drop"):
        read_job_blocks([tmp_path / "a.nc", tmp_path / "b.nc"])


def test_per_point_jobs_import_neither_xarray_nor_pandas(cfg: dict, tmp_path: Path) -> None:
    """Each per-point job of the workflow (its entry in ``jcas/pipeline/jobs/``), run in a fresh
    interpreter on real files, leaves xarray and pandas out of ``sys.modules``; the output
    files are complete (xarray reads them afterwards, in this process)."""
    system = dict(cfg["system"])
    point = POINT.as_dict()
    opts = _options(cfg, SCHEMES)
    d, a, m, e = (tmp_path / f"{n}.nc" for n in ("drops", "alloc", "mc", "mle"))
    code = f"""
import sys
sys.path.insert(0, {str(ROOT / "workflow" / "scripts")!r})
from jcas.pipeline.jobs import allocation, drops, mle, monte_carlo
S, P = {system!r}, {point!r}
drops.run({str(d)!r}, system=S, seed=7, start=0, stop=4)
allocation.run({str(d)!r}, {str(a)!r}, system=S, point=P, schemes={SCHEMES!r}, options={opts!r})
monte_carlo.run({str(a)!r}, {str(m)!r}, system=S, point=P, schemes=["equal"],
                mc={{"realizations": 2, "frames": 1}}, seed=1)
mle.run([{str(a)!r}], {str(e)!r}, system=S, point=P, scheme="optimal",
        mc={{"mle_trials": 2}}, seed=1, n_drops=3)
bad = [m for m in ("xarray", "pandas", "matplotlib", "cvxpy") if m in sys.modules]
assert not bad, bad
"""
    run_python(code)
    assert read_netcdf(a).sizes == {"scheme": 3, "drop": 4, "user": cfg["system"]["K"]}
    assert read_netcdf(m)["sum_rate_mc"].shape == (1, 4)
    assert read_netcdf(e)["mle_mse"].shape == (1, 3)


# --------------------------------------------------------------------------- the container
def _toy() -> Fields:
    return Fields.build(
        {
            "rate": (("scheme", "drop"), np.arange(6.0).reshape(2, 3), {"units": "bit/s/Hz"}),
            "beta": (("drop",), np.ones(3)),
        },
        coords={"scheme": np.asarray(["a", "b"]), "drop": np.arange(3), "Nt": np.int64(4)},
        attrs={"title": "toy"},
    )


def test_build_refuses_inconsistent_lengths() -> None:
    with pytest.raises(ValueError, match="dimension 'drop'"):
        Fields.build({"x": ("drop", np.ones(3)), "y": ("drop", np.ones(4))})
    with pytest.raises(ValueError, match="dimensions"):
        Variable(("drop",), np.ones((2, 2)))


def test_selection_by_label_and_position() -> None:
    toy = _toy()
    picked = toy.sel("scheme", ["b"])
    np.testing.assert_array_equal(picked["rate"], [[3.0, 4.0, 5.0]])
    np.testing.assert_array_equal(picked["beta"], np.ones(3))  # no scheme dimension
    with pytest.raises(KeyError, match="'c'"):
        toy.sel("scheme", ["c"])
    masked = toy.isel("drop", np.array([True, False, True]))
    np.testing.assert_array_equal(masked["rate"], [[0.0, 2.0], [3.0, 5.0]])
    np.testing.assert_array_equal(masked["drop"], [0, 2])
    xr.testing.assert_identical(masked.to_xarray(), toy.to_xarray().isel({"drop": [0, 2]}))


def test_concat_joins_along_one_dimension_and_checks_the_rest() -> None:
    toy = _toy()
    a, b = toy.sel("scheme", ["a"]), toy.sel("scheme", ["b"])
    joined = concat([a, b], "scheme")
    xr.testing.assert_identical(joined.to_xarray(), toy.to_xarray().drop_attrs(deep=False))
    other = b.assign(beta=("drop", np.zeros(3)))
    with pytest.raises(ValueError, match="'beta' differs"):
        concat([a, other], "scheme")
    with pytest.raises(ValueError, match="different variables"):
        concat([a, b.assign(extra=("drop", np.zeros(3), {"units": "1"}))], "scheme")


@pytest.mark.parametrize("damage", ["missing", "empty", "truncated", "directory"])
def test_read_fields_names_a_damaged_file(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "x.nc"
    if damage != "missing":
        write_fields(_toy(), path, config={}, title="toy")
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "directory":
        path.unlink()
        path.mkdir()
    with pytest.raises(ResultFileError, match=r"x\.nc"):
        read_fields(path)


def test_write_fields_refuses_a_type_it_does_not_write(tmp_path: Path) -> None:
    bad = Fields.build(
        {"when": ("drop", np.array(["2026-12-01"], dtype="datetime64[D]"), {"units": "1"})}
    )
    with pytest.raises(TypeError, match="'when'"):
        write_fields(bad, tmp_path / "x.nc", config={}, title="x")
    assert not (tmp_path / "x.nc").exists()
