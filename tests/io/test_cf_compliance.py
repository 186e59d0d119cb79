"""CF-1.10 compliance of the result files, judged by the IOOS compliance checker.

Runs ``compliance-checker --test=cf:1.10`` (the command a user of CF tools would run) on
every ``results/*.nc`` of the tiny pipeline run and on one per-job cache file of each
stage, and asserts zero errors and zero warnings; the checker's report is printed on
failure. See ``docs/data.md`` ("CF conventions").
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]

CHECK = "cf:1.10"


def checker() -> list[str]:
    """The checker's command line (its console script, next to this Python)."""
    exe = Path(sys.executable).with_name("compliance-checker")
    found = str(exe) if exe.exists() else shutil.which("compliance-checker")
    assert found, "compliance-checker is not installed: pip install -e '.[test]'"
    return [found]


def failures(report: dict, priority: str) -> list[str]:
    """Messages of the failed checks of one priority (``high``: errors, ``medium``:
    warnings) in the checker's JSON report of one file."""
    results = report[CHECK][f"{priority}_priorities"]
    return [m for r in results if r["value"][0] < r["value"][1] for m in r["msgs"]]


def run_checker(files: list[Path], out: Path) -> tuple[dict[str, dict], str]:
    """Check ``files`` in one call; returns the JSON report per file and the text report."""
    cmd = [*checker(), f"--test={CHECK}", "-f", "json_new", "-f", "text", "-o", str(out)]
    proc = subprocess.run(
        [*cmd, *map(str, files)], capture_output=True, text=True, timeout=600, check=False
    )
    json_out, text_out = out.with_suffix(".json"), out.with_suffix(".txt")
    assert json_out.exists(), f"compliance-checker wrote no report:\n{proc.stdout}\n{proc.stderr}"
    report = json.loads(json_out.read_text())
    return report, text_out.read_text() + proc.stderr


def sample_files(results: Path) -> list[Path]:
    """Every experiment file, and the first per-job file of each cache stage (the job
    layout of the cache is free; its files are written by the same function)."""
    files = sorted(results.glob("*.nc"))
    cache = results / "cache"
    if cache.is_dir():
        for stage in sorted(p for p in cache.iterdir() if p.is_dir()):
            first = next(iter(sorted(stage.rglob("*.nc"))), None)
            if first is not None:
                files.append(first)
    return files


def assert_cf_clean(files: list[Path], out: Path) -> None:
    """The CF-1.10 checker reports no error and no warning on any of ``files``, and none
    of its checks raised (used by the pipeline tests of the other experiments too)."""
    report, text = run_checker(files, out)
    assert len(report) == len(files), text
    problems = {}
    for name, one in report.items():
        errors, warnings = failures(one, "high"), failures(one, "medium")
        if errors or warnings:
            problems[name] = {"errors": errors, "warnings": warnings}
    assert not problems, f"{json.dumps(problems, indent=1)}\n\nfull report:\n{text}"
    # a check that raised (e.g. on a string-valued coordinate variable) is no pass
    assert "exceptions occurred" not in text, text


def test_result_files_have_no_cf_errors_or_warnings(tiny_run: Path, tmp_path: Path) -> None:
    results = tiny_run / "results"
    files = sample_files(results)
    experiments = {p.name for p in results.glob("*.nc")}
    assert {"fig1.nc", "crb_mc.nc"} <= experiments
    assert len(files) > len(experiments), "no per-job cache file found"
    assert_cf_clean(files, tmp_path / "cf")


def test_the_checker_finds_errors_in_a_non_compliant_file(tmp_path: Path) -> None:
    """The check can fail: a file with the units and coordinates xarray writes by default
    (``dB``, a ``coordinates`` attribute naming a coordinate of another dimension)."""
    import numpy as np
    import xarray as xr

    ds = xr.Dataset(
        {"beta": (("drop",), np.ones(2), {"units": "1", "long_name": "beta"})},
        coords={
            "snr_com_db": ("snr_com_db", [0.0, 10.0], {"units": "dB", "long_name": "SNR"}),
            "Nr": ("snr_com_db", [8, 8], {"units": "1", "long_name": "Nr"}),
            "drop": ("drop", [0, 1], {"units": "1", "long_name": "drop"}),
        },
        attrs={"Conventions": "CF-1.10"},
    )
    ds["beta"].encoding["coordinates"] = "Nr"
    path = tmp_path / "bad.nc"
    ds.to_netcdf(path)
    report, text = run_checker([path], tmp_path / "bad")
    errors = failures(next(iter(report.values())), "high")
    assert any('"dB" are not recognized by UDUNITS' in e for e in errors), text
    assert any("not a subset of dimensions for variable beta" in e for e in errors), text
