"""Tests of jcas.results: metadata, atomic NetCDF I/O, error handling, combining, contract."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from jcas import results
from jcas.results import (
    ContractError,
    ResultFileError,
    annotate,
    combine_datasets,
    read_netcdf,
    validate_contract,
    write_netcdf,
)

SCHEMES = ("equal", "optimal")
STATUS = {"equal": "optimal", "optimal": "optimal"}


def job_piece(nt: int, snr: float, scheme: str, drops: list[int], k: int = 3) -> xr.Dataset:
    """One per-job dataset as in docs/data.md (length-1 grid dims, scheme, drop block).

    Values are deterministic functions of (Nt, snr, scheme, drop, user) so that pieces
    made separately agree on shared variables (beta, xi depend on the drop only).
    """
    d = np.asarray(drops, dtype=np.int64)
    u = np.arange(k)
    beta = 1.0 / (1.0 + d[:, None] + 0.1 * u[None, :])  # (D, K), drop-only
    xi = beta**2 / (beta + 0.1)
    s = SCHEMES.index(scheme) + 1
    gamma = (s * 0.01 + 1e-3 * nt + 1e-4 * snr) * np.ones((1, 1, 1, len(d), k))
    eta = 1e-3 * s * np.ones_like(gamma)
    rate = np.log2(1 + gamma * nt * xi[None, None, None] * 10 ** (snr / 10))
    sum_rate = rate.sum(-1)
    status = np.full((1, 1, 1, len(d)), STATUS[scheme], dtype="U32")
    # one failed entry: drop 3 of scheme 'equal' at Nt=4, snr=10
    if scheme == "equal" and nt == 4 and snr == 10.0 and 3 in drops:
        i = drops.index(3)
        status[..., i] = "infeasible"
        for a in (gamma, eta, rate):
            a[..., i, :] = np.nan
        sum_rate[..., i] = np.nan
    dims5 = ("Nt", "snr_com_db", "scheme", "drop", "user")
    dims4 = dims5[:-1]
    ds = xr.Dataset(
        {
            "beta": (("drop", "user"), beta),
            "xi": (("drop", "user"), xi),
            "gamma": (dims5, gamma),
            "eta": (dims5, eta),
            "rate": (dims5, rate),
            "sum_rate": (dims4, sum_rate),
            "sum_rate_mc": (dims4, sum_rate * (1 + 1e-3)),
            "sum_rate_mc_se": (dims4, 1e-3 * np.ones_like(sum_rate)),
            "crb": (dims4, 1e-6 / (nt * (1 + gamma.sum(-1)))),
            "power_total": (dims4, nt * (gamma + eta).sum(-1)),
            "power_sensing": (dims4, nt * eta.sum(-1)),
            "status": (dims4, status),
            "iterations": (dims4, np.full(sum_rate.shape, s, dtype=np.int64)),
            "solve_time": (dims4, 1e-3 * np.ones_like(sum_rate)),
        },
        coords={
            "Nt": [nt],
            "Nr": ("Nt", [nt]),
            "snr_com_db": [float(snr)],
            "scheme": [scheme],
            "drop": d,
            "user": u,
        },
    )
    return ds


def whole(nts=(4, 8), snrs=(0.0, 10.0), blocks=((0, 1), (2, 3))) -> list[xr.Dataset]:
    return [
        job_piece(nt, snr, sc, list(b))
        for nt in nts
        for snr in snrs
        for sc in SCHEMES
        for b in blocks
    ]


CONFIG = {"seed": 1, "drops": 4, "system": {"K": 3, "crb0": 1e-3}, "schemes": list(SCHEMES)}


def test_annotate_puts_units_and_long_name_on_every_variable():
    ds = annotate(job_piece(4, 0.0, "equal", [0, 1]))
    for name, var in ds.variables.items():
        assert "units" in var.attrs, name
        assert "long_name" in var.attrs, name
    assert ds["sum_rate"].attrs["units"] == "bit/s/Hz"
    assert ds["crb"].attrs["units"] == "rad2"
    assert ds["solve_time"].attrs["units"] == "s"
    assert ds["snr_com_db"].attrs["units"] == "dB"


def test_annotate_raises_for_unknown_variable_without_units():
    ds = job_piece(4, 0.0, "equal", [0, 1]).assign(mystery=("drop", [1.0, 2.0]))
    with pytest.raises(ValueError, match="mystery"):
        annotate(ds)
    ok = ds.assign(mystery=("drop", [1.0, 2.0], {"units": "m"}))
    assert annotate(ok)["mystery"].attrs["units"] == "m"


def test_annotate_rejects_conflicting_units():
    ds = job_piece(4, 0.0, "equal", [0, 1])
    ds["crb"].attrs["units"] = "deg2"
    with pytest.raises(ValueError, match="crb"):
        annotate(ds)


def test_every_data_md_variable_is_registered():
    text = (Path(__file__).parents[1] / "docs" / "data.md").read_text()
    import re

    names = set(re.findall(r"^\| `(\w+)` \|", text, flags=re.M))
    names |= {"mle_mse", "mle_mse_se"}
    assert names, "no variable table found in docs/data.md"
    assert names <= set(results.VARIABLES), names - set(results.VARIABLES)


def test_round_trip_preserves_arrays_and_attributes(tmp_path):
    ds = job_piece(4, 10.0, "equal", [2, 3])
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
    assert json.loads(a["config"]) == CONFIG
    assert a["config"] == json.dumps(CONFIG, sort_keys=True)
    versions = json.loads(a["package_versions"])
    assert {
        "numpy",
        "scipy",
        "cvxpy",
        "clarabel",
        "xarray",
        "netCDF4",
        "snakemake",
        "python",
    } <= set(versions)
    assert "sha256:" + results.source_hash() in a["code_revision"]
    assert "written by jcas" in a["history"]
    # a second write appends to the history instead of replacing it
    path2 = write_netcdf(back, tmp_path / "again.nc")
    assert len(read_netcdf(path2).attrs["history"].splitlines()) == 2
    assert read_netcdf(path2).attrs["config"] == a["config"]
    validate_contract(back)


def test_write_is_atomic_when_the_write_fails_midway(tmp_path, monkeypatch):
    target = tmp_path / "out.nc"
    old = job_piece(4, 0.0, "equal", [0, 1])
    write_netcdf(old, target)
    before = target.read_bytes()

    real = xr.Dataset.to_netcdf

    def failing(self, path, *args, **kwargs):
        real(self, path, *args, **kwargs)  # the temporary file is fully written ...
        with open(path, "r+b") as f:  # ... then damaged, and the process "dies"
            f.truncate(100)
        raise RuntimeError("injected failure after a partial write")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", failing)
    with pytest.raises(RuntimeError, match="injected"):
        write_netcdf(job_piece(8, 0.0, "equal", [0, 1]), target)
    with pytest.raises(RuntimeError, match="injected"):
        write_netcdf(job_piece(8, 0.0, "equal", [0, 1]), tmp_path / "new.nc")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]  # no temp file left
    assert target.read_bytes() == before  # the old result is untouched
    assert int(read_netcdf(target)["Nt"][0]) == 4


def test_write_interrupted_before_rename_leaves_no_file(tmp_path, monkeypatch):
    def boom(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(results.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        write_netcdf(job_piece(4, 0.0, "equal", [0, 1]), tmp_path / "x.nc")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "damage",
    ["missing", "empty", "truncated", "garbage", "flipped"],
)
def test_damaged_file_raises_result_file_error_naming_it(tmp_path, damage):
    path = tmp_path / "job.nc"
    write_netcdf(job_piece(4, 0.0, "equal", [0, 1]), path)
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


def test_combine_of_shuffled_pieces_equals_the_whole(tmp_path):
    pieces = whole()
    reference = combine_datasets(pieces)
    assert dict(reference.sizes) == {"Nt": 2, "snr_com_db": 2, "scheme": 2, "drop": 4, "user": 3}
    # the whole, built independently of combine_by_coords
    direct = xr.concat(
        [
            xr.concat(
                [
                    xr.concat(
                        [
                            xr.concat([job_piece(nt, snr, sc, [0, 1, 2, 3])], dim="drop")
                            for sc in SCHEMES
                        ],
                        dim="scheme",
                        data_vars="minimal",
                        coords="minimal",
                        compat="equals",
                        join="exact",
                    )
                    for snr in (0.0, 10.0)
                ],
                dim="snr_com_db",
                data_vars="minimal",
                coords="minimal",
                compat="equals",
                join="exact",
            )
            for nt in (4, 8)
        ],
        dim="Nt",
        data_vars="minimal",
        coords="minimal",
        compat="equals",
        join="exact",
    )
    xr.testing.assert_identical(reference.drop_attrs(), direct.drop_attrs())
    # from files, in three random orders
    paths = [write_netcdf(p, tmp_path / f"piece{i}.nc") for i, p in enumerate(pieces)]
    for seed in range(3):
        order = paths[:]
        random.Random(seed).shuffle(order)
        got = combine_datasets(order)
        xr.testing.assert_identical(got.drop_attrs(), annotate(reference).drop_attrs())
        assert (
            got["status"].sel({"Nt": 4, "snr_com_db": 10.0, "scheme": "equal", "drop": 3})
            == "infeasible"
        )
        assert "input_code_revisions" in got.attrs


def test_combine_rejects_duplicate_entries():
    pieces = whole()
    dup = job_piece(4, 0.0, "equal", [1, 2])  # drop 1 and 2 already in other blocks
    with pytest.raises(ValueError, match=r"duplicate entry .*drop=[12]"):
        combine_datasets([*pieces, dup])


def test_combine_rejects_missing_block_and_inconsistent_shared_variables():
    pieces = whole()
    with pytest.raises(ValueError, match="cannot combine"):
        combine_datasets(pieces[1:])
    bad = whole()
    bad[1] = bad[1].assign(beta=bad[1]["beta"] * 1.01)  # breaks common random numbers
    with pytest.raises(ValueError, match="cannot combine"):
        combine_datasets(bad)


def test_combined_file_passes_the_contract(tmp_path):
    path = write_netcdf(combine_datasets(whole()), tmp_path / "exp.nc", config=CONFIG, title="exp")
    validate_contract(read_netcdf(path))


def test_validate_contract_reports_every_problem():
    ds = annotate(job_piece(4, 10.0, "equal", [2, 3])).drop_vars("crb")
    ds["sum_rate"].attrs.pop("units")
    ds["sum_rate"].loc[{"drop": 3}] = 1.0  # a failed entry with a metric
    with pytest.raises(ContractError) as info:
        validate_contract(ds)
    msg = str(info.value)
    for text in ("'crb'", "'sum_rate' has no 'units'", "Conventions", "not NaN where the status"):
        assert text in msg


def test_failure_count_and_success_mask():
    ds = combine_datasets(whole())
    failed, total = results.failure_count(ds)
    assert (failed, total) == (1, 2 * 2 * 2 * 4)
    ok = results.success_mask(ds)
    assert not bool(ok.sel({"Nt": 4, "snr_com_db": 10.0, "scheme": "equal", "drop": 3}))
    assert int(ok.sum()) == total - 1


def test_code_revision_has_git_and_content_hash():
    rev = results.code_revision()
    assert rev.startswith("git:")
    assert len(results.source_hash()) == 64
    assert rev.endswith(results.source_hash())


def test_success_statuses_match_the_allocation_package():
    from jcas.allocation import STATUSES, SUCCESS_STATUSES

    assert set(SUCCESS_STATUSES) == results.SUCCESS_STATUSES
    assert set(STATUSES) >= results.SUCCESS_STATUSES


def test_drop_mean_skips_failed_entries_and_gives_the_standard_error():
    ds = combine_datasets(whole())
    mean, se, n = results.drop_mean(ds, "sum_rate")
    v = ds["sum_rate"].sel({"Nt": 4, "snr_com_db": 10.0, "scheme": "equal"}).values[:3]
    sel = {"Nt": 4, "snr_com_db": 10.0, "scheme": "equal"}
    assert int(n.sel(sel)) == 3
    np.testing.assert_allclose(float(mean.sel(sel)), v.mean(), rtol=1e-14)
    np.testing.assert_allclose(float(se.sel(sel)), v.std(ddof=1) / np.sqrt(3), rtol=1e-12)
    assert results.dataset_config(ds) == {}


_CHILD = """
import sys, numpy as np, xarray as xr
from jcas.results import write_netcdf
n = int(sys.argv[2])
ds = xr.Dataset({"sum_rate": (("drop", "user"), np.random.default_rng(0).random((n, 64)))},
                coords={"drop": np.arange(n), "user": np.arange(64)})
print("writing", flush=True)
write_netcdf(ds, sys.argv[1])
print("done", flush=True)
"""


def test_sigkill_during_write_never_leaves_a_partial_file_under_the_final_name(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    target = tmp_path / "big.nc"
    n = 400_000  # 200 MB of float64: the write takes a noticeable time
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(target), str(n)],
        stdout=subprocess.PIPE,
        text=True,
    )
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
