"""Tests of jcas.io.results: NetCDF round trip, CF encoding, damaged files, combining, contract."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time

import netCDF4
import numpy as np
import pytest
import xarray as xr
from conftest import PIECE_SCHEMES, allocation_piece, allocation_pieces

from jcas.io.metadata import annotate
from jcas.io.provenance import source_hash
from jcas.io.results import (
    ContractError,
    ResultFileError,
    cf_coordinates,
    combine_datasets,
    read_netcdf,
    validate_contract,
    write_netcdf,
)

CONFIG = {"seed": 1, "drops": 4, "system": {"K": 3, "crb0": 1e-3}, "schemes": ["equal"]}


# --------------------------------------------------------------------------- write / read
def test_round_trip_preserves_arrays_and_attributes(tmp_path):
    ds = allocation_piece(4, 10.0, "equal", [2, 3])
    ds["sum_rate"].attrs["comment"] = "custom attribute"
    path = write_netcdf(ds, tmp_path / "job.nc", config=CONFIG, title="unit test")
    back = read_netcdf(path)
    expected = annotate(ds)
    xr.testing.assert_identical(back.drop_attrs(deep=False), expected.drop_attrs(deep=False))
    for name in expected.variables:  # exact dtypes; strings keep kind 'U' (width may shrink)
        want = expected[name].dtype
        assert back[name].dtype == want or back[name].dtype.kind == want.kind == "U", name
    assert back["status"].values.tolist() == [[[["optimal", "infeasible"]]]]
    assert np.isnan(back["sum_rate"].values[..., 1]).all()
    assert back["sum_rate"].attrs["comment"] == "custom attribute"
    a = back.attrs
    assert a["Conventions"] == "CF-1.10"
    assert a["title"] == "unit test"
    assert a["source"].startswith("jcas ")
    assert a["config"] == json.dumps(CONFIG, sort_keys=True)
    assert "sha256:" + source_hash() in a["code_revision"]
    assert "written by jcas" in a["history"]
    # a second write appends to the history and keeps the config
    again = read_netcdf(write_netcdf(back, tmp_path / "again.nc"))
    assert len(again.attrs["history"].splitlines()) == 2
    assert again.attrs["config"] == a["config"]


def test_coordinates_attribute_names_only_coordinates_the_variable_can_have(tmp_path):
    """CF-1.10 §5: a data variable's ``coordinates`` lists auxiliary coordinates whose
    dimensions are a subset of its own; xarray would copy the names it read from a file."""
    piece = allocation_piece(4, 0.0, "equal", [0, 1])
    # as remembered from per-job files whose grid parameters were scalar coordinates
    piece["beta"].encoding["coordinates"] = "Nr Nt crb0 snr_com_db"
    piece["xi"].attrs["coordinates"] = "Nr Nt crb0 snr_com_db"
    path = write_netcdf(piece, tmp_path / "b.nc")
    with netCDF4.Dataset(path) as nc:
        attr = {name: getattr(var, "coordinates", "") for name, var in nc.variables.items()}
    assert attr["beta"].split() == attr["xi"].split() == ["crb0"]  # (drop, user): not Nr (Nt)
    # has Nt, so Nr (Nt) applies; has scheme, so its label scheme_name (scheme) too
    assert attr["gamma"].split() == ["Nr", "crb0", "scheme_name"]
    assert attr["Nt"] == attr["drop"] == ""  # coordinate variables carry none
    assert cf_coordinates(piece) == {
        name: ("Nr crb0" if "Nt" in piece[name].dims else "crb0") for name in piece.data_vars
    }
    back = read_netcdf(path)
    assert set(back.coords) == set(piece.coords)
    assert back["Nr"].dims == ("Nt",)


def test_string_dimension_is_a_cf_label_on_disk_and_an_index_in_memory(tmp_path):
    """CF-1.10 coordinate variables are numeric: ``scheme`` is stored without a coordinate
    variable, its names in the label ``scheme_name(scheme)``; read_netcdf restores the
    index, so selecting by name works on what it returns."""
    pieces = [allocation_piece(4, 0.0, s, [0, 1]) for s in ("optimal", "equal")]
    ds = xr.concat(pieces, dim="scheme", data_vars="minimal", coords="minimal", join="exact")
    path = write_netcdf(ds, tmp_path / "two.nc")
    with netCDF4.Dataset(path) as nc:
        assert "scheme" in nc.dimensions
        assert "scheme" not in nc.variables
        assert list(nc.variables["scheme_name"][:]) == ["optimal", "equal"]
        assert nc.variables["scheme_name"].dimensions == ("scheme",)
        assert nc.variables["scheme_name"].long_name == "power allocation scheme"
    back = read_netcdf(path)
    assert "scheme_name" not in back.variables
    assert list(back.indexes["scheme"]) == ["optimal", "equal"]
    # two string dimensions get an index each
    two = ds.expand_dims(precoder=["mrt", "zf"])
    back2 = read_netcdf(write_netcdf(two, tmp_path / "four.nc"))
    assert list(back2.indexes["precoder"]) == ["mrt", "zf"]
    assert list(back2.indexes["scheme"]) == ["optimal", "equal"]
    assert float(back2["gamma"].sel(precoder="zf", scheme="equal").sum()) == float(
        ds["gamma"].sel(scheme="equal").sum()
    )
    xr.testing.assert_identical(
        back["gamma"].sel(scheme="equal").drop_attrs(), ds["gamma"].sel(scheme="equal").drop_attrs()
    )


def test_write_is_atomic_when_the_write_fails_midway(tmp_path, monkeypatch):
    target = tmp_path / "out.nc"
    write_netcdf(allocation_piece(4, 0.0, "equal", [0, 1]), target)
    before = target.read_bytes()
    import jcas.io.fields

    real = jcas.io.fields._create
    written: list[str] = []

    def failing(nc, name, *args, **kwargs):  # the writer of every variable (jcas.io.fields)
        real(nc, name, *args, **kwargs)
        written.append(name)
        if len(written) == 3:  # the temporary file is partly written, and the process "dies"
            raise RuntimeError("injected failure after a partial write")

    monkeypatch.setattr(jcas.io.fields, "_create", failing)
    for name in ("out.nc", "new.nc"):
        written.clear()
        with pytest.raises(RuntimeError, match="injected"):
            write_netcdf(allocation_piece(8, 0.0, "equal", [0, 1]), tmp_path / name)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]
    assert target.read_bytes() == before
    assert int(read_netcdf(target)["Nt"][0]) == 4


@pytest.mark.parametrize("damage", ["missing", "empty", "truncated", "garbage", "flipped"])
def test_damaged_file_raises_result_file_error_naming_it(tmp_path, damage):
    path = tmp_path / "job.nc"
    write_netcdf(allocation_piece(4, 0.0, "equal", [0, 1]), path)
    data = path.read_bytes()
    if damage == "missing":
        path.unlink()
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"this is not a netcdf file\n" * 100)
    elif damage == "flipped":  # a damaged HDF5 superblock
        path.write_bytes(data[:8] + bytes(64) + data[72:])
    with pytest.raises(ResultFileError) as info:
        read_netcdf(path)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)


_CHILD = """
import sys, numpy as np, xarray as xr
from jcas.io.results import write_netcdf
n = int(sys.argv[2])
ds = xr.Dataset({"sum_rate": (("drop", "user"), np.random.default_rng(0).random((n, 64)))},
                coords={"drop": np.arange(n), "user": np.arange(64)})
print("writing", flush=True)
write_netcdf(ds, sys.argv[1])
print("done", flush=True)
"""


def test_sigkill_during_write_never_leaves_a_partial_file_under_the_final_name(tmp_path):
    target = tmp_path / "big.nc"
    n = 400_000  # 200 MB of float64: the write takes a noticeable time
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(target), str(n)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "writing"
        deadline = time.monotonic() + 20
        # kill as soon as the temporary file has started to grow (mid-write)
        while time.monotonic() < deadline and proc.poll() is None:
            tmp = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
            if tmp and tmp[0].stat().st_size > 1_000_000:
                break
            time.sleep(0.005)
        killed_mid_write = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    assert killed_mid_write, "the child finished before it could be killed: make n larger"
    assert not target.exists()  # never a partial file under the final name
    # the killed process cannot remove its temporary file; it never has the final name
    assert all(p.name.startswith(".big.nc.") for p in tmp_path.iterdir())


def test_io_modules_import_no_plotting_library_or_solver():
    code = (
        "import sys, jcas.io.results, jcas.io.stats, jcas.io.metadata\n"
        "import jcas.io.provenance, jcas.io.atomic\n"
        "print(sorted(m for m in ('matplotlib', 'seaborn', 'cvxpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- combine
def _concat(pieces: list[xr.Dataset], dim: str) -> xr.Dataset:
    return xr.concat(
        pieces, dim=dim, data_vars="minimal", coords="minimal", compat="equals", join="exact"
    )


def test_combine_of_shuffled_pieces_equals_the_whole(tmp_path):
    pieces = allocation_pieces()
    reference = combine_datasets(pieces)
    assert dict(reference.sizes) == {"Nt": 2, "snr_com_db": 2, "scheme": 2, "drop": 4, "user": 3}
    # the whole, built independently of combine_by_coords: whole drop range per piece
    direct = _concat(
        [
            _concat(
                [
                    _concat(
                        [allocation_piece(nt, snr, sc, [0, 1, 2, 3]) for sc in PIECE_SCHEMES],
                        "scheme",
                    )
                    for snr in (0.0, 10.0)
                ],
                "snr_com_db",
            )
            for nt in (4, 8)
        ],
        "Nt",
    )
    xr.testing.assert_identical(reference.drop_attrs(), direct.drop_attrs())
    # from files, in three random orders
    paths = [write_netcdf(p, tmp_path / f"piece{i}.nc") for i, p in enumerate(pieces)]
    for seed in range(3):
        order = paths[:]
        random.Random(seed).shuffle(order)
        got = combine_datasets(order)
        xr.testing.assert_identical(got.drop_attrs(), annotate(reference).drop_attrs())
        where = {"Nt": 4, "snr_com_db": 10.0, "scheme": "equal", "drop": 3}
        assert got["status"].sel(where) == "infeasible"
        assert len(json.loads(got.attrs["input_code_revisions"])) == 1


def test_combine_rejects_duplicate_entries():
    dup = allocation_piece(4, 0.0, "equal", [1, 2])  # drops 1 and 2 are in other blocks
    with pytest.raises(ValueError, match=r"duplicate entry .*drop=[12]"):
        combine_datasets([*allocation_pieces(), dup])


def test_combine_rejects_missing_block_and_inconsistent_shared_variables():
    with pytest.raises(ValueError, match="cannot combine"):
        combine_datasets(allocation_pieces()[1:])
    bad = allocation_pieces()
    bad[1] = bad[1].assign(beta=bad[1]["beta"] * 1.01)  # breaks common random numbers
    with pytest.raises(ValueError, match="cannot combine"):
        combine_datasets(bad)


# --------------------------------------------------------------------------- contract
def test_combined_file_passes_the_contract(tmp_path):
    combined = combine_datasets(allocation_pieces())
    path = write_netcdf(combined, tmp_path / "exp.nc", config=CONFIG, title="exp")
    validate_contract(read_netcdf(path))
    with pytest.raises(ContractError, match="Conventions"):  # not written by write_netcdf
        validate_contract(annotate(combined))


def test_validate_contract_reports_every_problem():
    ds = annotate(allocation_piece(4, 10.0, "equal", [2, 3])).drop_vars("crb")
    ds["sum_rate"].attrs.pop("units")
    ds["sum_rate"].loc[{"drop": 3}] = 1.0  # a failed entry with a metric
    ds.attrs["config"] = "{not json"
    with pytest.raises(ContractError) as info:
        validate_contract(ds)
    msg = str(info.value)
    for text in (
        "missing variable 'crb'",
        "'sum_rate' has no 'units'",
        "missing global attribute 'Conventions'",
        "'config' is not valid JSON",
        "'sum_rate' is not NaN where the status",
    ):
        assert text in msg
    with pytest.raises(ValueError, match="kind"):
        validate_contract(ds, kind="other")


def test_crb_mc_contract_needs_its_own_variables(tmp_path):
    ds = xr.Dataset(
        {name: ("drop", [1e-4, 2e-4]) for name in ("mle_mse", "mle_mse_se", "crb")},
        coords={"drop": [0, 1]},
    )
    path = write_netcdf(ds, tmp_path / "crb_mc.nc")
    with pytest.raises(ContractError, match="missing variable 'crb_mc'"):
        validate_contract(read_netcdf(path))
