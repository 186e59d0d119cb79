"""CF-1.10 compliance of the result files, judged by the IOOS compliance checker.

Runs ``compliance-checker --test=cf:1.10`` (the command a user of CF tools would run) on
every ``results/*.nc`` of the tiny pipeline run and on one per-job cache file of each
stage, and asserts zero errors and zero warnings; the checker's report is printed on
failure. See ``docs/data.md`` ("CF conventions").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_cf_clean, failures, run_checker, sample_files

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]


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
