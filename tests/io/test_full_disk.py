"""A results folder that fills up: a clear failure, nothing a rerun trusts, a clean resume.

The results folder of a workflow copy is a small tmpfs (mounting needs root; the tests
skip otherwise). The tiny pipeline runs until the file system is full and must fail
saying "No space left on device", leave no partial file under a final name, no temporary
file and no output Snakemake would take as complete; after the file system is enlarged,
the same command completes with results identical to an uninterrupted run (``tiny_run``)
for every variable except the wall-clock ``solve_time``. The same guarantee is checked
for each writer (NetCDF, claims CSV, figures) on its own.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import assert_same_results, copy_workflow, snakemake

from jcas.io.atomic import DiskFullError
from jcas.io.results import read_netcdf

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]

COMMAND = ("--cores", "2", "--configfile", "config_tiny.yaml")
FULL_SIZE = "700k"
"""Smaller than the tiny run's results (about 2.2 MB): the run fills it part-way."""


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@contextlib.contextmanager
def tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` bytes (mount's syntax, e.g. ``700k``) on ``mountpoint``;
    skips the test without root or when mounting fails; unmounts at the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs as the results folder needs root")
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    mountpoint.mkdir(parents=True, exist_ok=True)
    proc = _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint))
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        if subprocess.run(["umount", str(mountpoint)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def resize(mountpoint: Path, size: str) -> None:
    proc = _mount("-o", f"remount,size={size}", str(mountpoint))
    assert proc.returncode == 0, proc.stderr


def incomplete_outputs(cwd: Path) -> list[str]:
    """Outputs Snakemake marks incomplete (``.snakemake/incomplete/<base64 path>``)."""
    folder = cwd / ".snakemake" / "incomplete"
    names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    return sorted(base64.b64decode(n).decode() for n in names if n != "migration_underway")


def unreadable_netcdf(results: Path) -> list[str]:
    bad = []
    for path in sorted(results.rglob("*.nc")):
        try:
            read_netcdf(path)
        except OSError as err:
            bad.append(f"{path}: {err}")
    return bad


# --------------------------------------------------------------------------- the pipeline
def test_full_results_folder_fails_clearly_and_the_same_command_resumes(
    tmp_path: Path, tiny_run: Path
) -> None:
    work = copy_workflow(tmp_path / "work")
    results = work / "results"
    with tmpfs(results, FULL_SIZE):
        first = snakemake(work, *COMMAND, check=False)
        output = first.stdout + first.stderr
        assert first.returncode != 0, output[-3000:]
        assert "No space left on device" in output, output[-5000:]
        finals = {p.name for p in results.glob("*.nc")}
        assert finals < {p.name for p in (tiny_run / "results").glob("*.nc")}  # stopped early
        # nothing a rerun would trust: every file under its final name is complete, no
        # temporary file is left, and Snakemake holds no output as incomplete
        assert unreadable_netcdf(results) == []
        assert sorted(str(p) for p in results.rglob(".*.tmp")) == []
        assert incomplete_outputs(work) == []
        assert len(list(results.rglob("*.nc"))) > 0  # it failed part-way, not at once

        resize(results, "64m")
        second = snakemake(work, *COMMAND, check=False)
        assert second.returncode == 0, (second.stdout + second.stderr)[-5000:]
        assert_same_results(tiny_run, work)
        assert unreadable_netcdf(results) == []


# --------------------------------------------------------------------------- each writer
def _write_netcdf(path: Path) -> None:
    from jcas.io.results import write_netcdf

    big = np.random.default_rng(0).random((40_000, 8))  # 2.5 MB
    write_netcdf(
        xr.Dataset(
            {"sum_rate": (("drop", "user"), big)},
            coords={"drop": np.arange(40_000), "user": np.arange(8)},
        ),
        path,
    )


def _write_csv(path: Path) -> None:
    from jcas.report.claims import write_claims_csv

    rows = np.random.default_rng(1).random((100_000, 3))
    write_claims_csv(pd.DataFrame(rows, columns=["a", "b", "c"]), path)


def _write_figure(path: Path) -> None:
    from matplotlib.figure import Figure

    from jcas.report.plots import save_figure

    fig = Figure()
    fig.subplots().plot(*np.random.default_rng(2).random((2, 50_000)), ".")
    save_figure(fig, path, path.with_suffix(".png"), dpi=300)


@pytest.mark.parametrize("write", [_write_netcdf, _write_csv, _write_figure])
def test_each_writer_reports_a_full_disk_and_leaves_nothing(tmp_path: Path, write) -> None:
    with tmpfs(tmp_path / "small", "256k") as small:
        target = small / "sub" / "out.pdf"
        with pytest.raises(DiskFullError, match="No space left on device: cannot write"):
            write(target)
        assert [p for p in small.rglob("*") if p.is_file()] == []
