"""configs/quick.yaml: the quick look covers every experiment of config.yaml, and one run
produces every figure, the claims table and a report without warnings, with a quiet
console (no "Shell command: None") that counts its progress.

The config checks are fast; the run is a pipeline test (slow: about a minute of wall time
on 2 cores, the report and a dry run a few seconds more; benchmarks/quick.py measures it).
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, copy_workflow, snakemake
from snakemake.utils import update_config

import jcas
from jcas.config import load_config

QUICK = ROOT / "configs" / "quick.yaml"
CONF = ("--configfile", "configs/quick.yaml")


def merged() -> dict:
    """config.yaml with configs/quick.yaml merged over it, as Snakemake merges them."""
    base = yaml.safe_load((ROOT / "config.yaml").read_text())
    update_config(base, yaml.safe_load(QUICK.read_text()))
    return load_config(base)


def test_quick_config_keeps_every_experiment_and_is_small() -> None:
    full = load_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    quick = merged()
    assert set(quick["experiments"]) == set(full["experiments"])
    for name, exp in quick["experiments"].items():
        assert exp["enabled"] == full["experiments"][name]["enabled"], name
        assert exp["plot"] == full["experiments"][name]["plot"], name
        points = 1
        for values in exp["sweep"].values():
            points *= len(values)
        assert points <= 8, (name, exp["sweep"])
    assert quick["drops_per_job"] >= quick["drops"]  # one block: one job per point
    assert quick["drops"] <= 32
    assert quick["mc"]["realizations"] <= 32


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """The quick config run, then ``--report`` with the same overrides: the tree and the
    two outputs (stdout + stderr)."""
    work = copy_workflow(tmp_path_factory.mktemp("quick"))
    (work / "configs").mkdir()
    shutil.copy2(QUICK, work / "configs" / "quick.yaml")
    run = snakemake(work, "--cores", "2", *CONF)
    report = snakemake(work, "--report", "report.html", *CONF)
    return work, run.stdout + run.stderr, report.stdout + report.stderr


@pytest.mark.pipeline
@pytest.mark.slow
def test_quick_run_makes_every_figure_and_the_claims(quick_run: tuple[Path, str, str]) -> None:
    work, out, _ = quick_run
    for name, exp in merged()["experiments"].items():
        assert (work / "results" / f"{name}.nc").stat().st_size > 0, name
        if exp["plot"] != "none":
            for ext in ("pdf", "png"):
                assert (work / "results" / "figures" / f"{name}.{ext}").stat().st_size > 1000
    with (work / "results" / "claims.csv").open(newline="") as fh:
        rows = {r["claim"]: r for r in csv.DictReader(fh)}
    gain = rows["gain_over_equal_default_crb0"]
    assert int(gain["drops"]) == 16
    assert float(gain["se"]) > 0
    # the pipeline's files open with their names as indexes
    fig1 = jcas.open_results(work / "results" / "fig1.nc")
    assert fig1["sum_rate"].sel(scheme="sca", Nt=35).sizes["drop"] == 16
    zf = jcas.open_results(work / "results" / "precoders.nc")["sum_rate"].sel(precoder="zf")
    assert float(zf.sel(scheme="optimal").mean()) > 0
    # a quiet console that counts: no empty shell commands, progress with counts
    assert "Shell command" not in out
    steps = re.findall(r"^(\d+) of (\d+) steps \(\d+%\) done$", out, re.MULTILINE)
    assert steps
    assert steps[-1][0] == steps[-1][1]


@pytest.mark.pipeline
@pytest.mark.slow
def test_report_with_the_same_overrides_has_no_warning(quick_run: tuple[Path, str, str]) -> None:
    """``--report`` given the run's ``--configfile`` finds every output's metadata: no
    Snakemake WARNING line (without the overrides it would plan other jobs and warn
    "Missing metadata" for each); the dry run with them has nothing to do."""
    work, _, report = quick_run
    assert (work / "report.html").stat().st_size > 10_000
    assert [ln for ln in report.splitlines() if "WARNING" in ln] == []
    assert "Missing metadata" not in report
    dry = snakemake(work, "-n", *CONF)
    assert "Nothing to be done" in dry.stdout + dry.stderr


@pytest.mark.pipeline
@pytest.mark.slow
def test_report_prints_no_python_warning(quick_run: tuple[Path, str, str]) -> None:
    """No Python warning during ``--report`` (the resource functions read the input sizes
    from the files, not through ``input.size_mb``, a coroutine the report cannot run)."""
    _, _, report = quick_run
    assert [ln for ln in report.splitlines() if "Warning" in ln] == []
