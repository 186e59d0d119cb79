"""The Snakemake sweep end to end on tests/data/config_tiny.yaml (issue 4).

Snakemake runs as a subprocess in a temporary copy of the workflow (Snakefile,
config.yaml, workflow/, jcas/, README.md), so touching a module in the copy works
and every result lands under the temporary directory. The tiny grid: Nt = Nr = 8,
SNR_com in {0, 20} dB, 6 drops in blocks of 3, the four schemes; the experiments'
grids overlap (see the config file), so the allocation runs at 3 points x 4
schemes x 2 blocks plus one crb_mc point x optimal x 1 block = 25 jobs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from jcas.results import validate_contract

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "config_tiny.yaml"
EXPERIMENTS = ("fig1", "fig2", "fig3", "pareto", "crb_mc")
# solve_time is a wall-clock measurement: the only variable allowed to differ between runs
TIMING_VARIABLES = ("solve_time",)


def copy_workflow(dst: Path) -> Path:
    """A runnable copy of the workflow (no results) in ``dst``."""
    dst.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("Snakefile", "config.yaml", "README.md"):
        shutil.copy2(ROOT / name, dst / name)
    for name in ("workflow", "jcas"):
        shutil.copytree(ROOT / name, dst / name, ignore=ignore)
    shutil.copy2(TINY, dst / "config_tiny.yaml")
    return dst


def snakemake(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``python -m snakemake <args>`` in ``cwd`` (the plain command users type)."""
    env = {k: v for k, v in os.environ.items() if k != "JCAS_DEFAULT_PROFILE"}
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def run(
    cwd: Path, *args: str, cores: int = 2, targets: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """The tiny config; targets go first (``--configfile`` takes several values)."""
    return snakemake(
        cwd, *targets, "--cores", str(cores), "--configfile", "config_tiny.yaml", *args
    )


def planned_jobs(cwd: Path, *args: str) -> list[tuple[str, str]]:
    """``(rule, output)`` of every job a dry run schedules (``rule all`` has no output)."""
    out = run(cwd, "--dry-run", *args).stdout
    jobs: list[tuple[str, str]] = []
    rule = None
    for line in out.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):$", line)
        if m:
            rule = m.group(1)
            jobs.append((rule, ""))
            continue
        m = re.match(r"^\s+output: (.+)$", line)
        if m and rule is not None:
            jobs[-1] = (rule, m.group(1).split(",")[0].strip())
            rule = None
    return jobs


def rule_counts(jobs: list[tuple[str, str]]) -> Counter[str]:
    return Counter(rule for rule, _ in jobs)


def assert_same_arrays(a: xr.Dataset, b: xr.Dataset) -> None:
    """Identical coordinates and data (NaN == NaN), except wall-clock timings."""
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.coords:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    for name in a.data_vars:
        if name in TIMING_VARIABLES:
            continue
        va, vb = a[name].values, b[name].values
        if va.dtype.kind == "f":
            np.testing.assert_array_equal(va, vb, err_msg=name)  # NaN positions must agree
        else:
            assert np.array_equal(va, vb), name


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny workflow, run once to completion with the plain command on 2 cores."""
    cwd = copy_workflow(tmp_path_factory.mktemp("tiny"))
    proc = run(cwd)
    assert "--workflow-profile workflow/profiles/default" in proc.stderr
    return cwd


def open_result(cwd: Path, name: str) -> xr.Dataset:
    with xr.open_dataset(cwd / "results" / f"{name}.nc") as ds:
        return ds.load()


def test_end_to_end_outputs(tiny: Path) -> None:
    for name in EXPERIMENTS:
        ds = open_result(tiny, name)
        validate_contract(ds)
        for ext in ("pdf", "png"):
            fig = tiny / "results" / "figures" / f"{name}.{ext}"
            assert fig.stat().st_size > 1000, fig
    fig1 = open_result(tiny, "fig1")
    assert dict(fig1.sizes) == {"Nt": 1, "snr_com_db": 2, "scheme": 4, "drop": 6, "user": 4}
    assert list(fig1["scheme"].values) == ["sca", "optimal", "equal", "equal_full"]
    ok = fig1["status"].isin(["optimal", "converged", "max_iterations", "feasible"])
    assert bool(ok.any())
    assert bool(fig1["sum_rate_mc"].where(ok).notnull().sum() == ok.sum())
    fig3 = open_result(tiny, "fig3")
    assert fig3["Nt"].dims == ("N",)
    assert int(fig3["Nt"].values[0]) == 8
    crb_mc = open_result(tiny, "crb_mc")
    assert crb_mc.sizes["drop"] == 2  # mc.mle_drops
    assert (tiny / "results" / "claims.csv").read_text().startswith("claim,")
    # a grid point is computed once: 3 points x 4 schemes x 2 blocks + 1 x optimal x 1
    allocs = sorted((tiny / "results" / "cache" / "alloc").rglob("*.nc"))
    assert len(allocs) == 25
    # every rule leaves a log and a benchmark file
    for stage in ("drops", "alloc", "mc", "mle", "aggregate", "figures"):
        assert any((tiny / "results" / "logs" / stage).rglob("*.log")), stage
        assert any((tiny / "results" / "benchmarks" / stage).rglob("*.tsv")), stage


def test_second_run_schedules_nothing(tiny: Path) -> None:
    assert planned_jobs(tiny) == []


def test_readme_edit_reruns_nothing(tiny: Path) -> None:
    readme = tiny / "README.md"
    readme.write_text(readme.read_text() + "\nedited by test_pipeline\n")
    assert planned_jobs(tiny) == []


def test_new_snr_schedules_only_new_points(tiny: Path) -> None:
    extra = tiny / "more_snr.yaml"
    extra.write_text("experiments:\n  fig1:\n    sweep:\n      snr_com_db: [0, 10, 20]\n")
    jobs = planned_jobs(tiny, "--configfile", "config_tiny.yaml", str(extra.name))
    counts = rule_counts(jobs)
    assert counts == Counter(
        {"allocate": 8, "monte_carlo": 8, "aggregate": 1, "figure": 1, "claims": 1, "all": 1}
    )
    for rule, output in jobs:
        if rule in ("allocate", "monte_carlo"):
            assert "_com10_" in output, output
        if rule in ("aggregate", "figure"):
            assert output.endswith(("fig1.nc", "fig1.pdf")), output


def test_more_drops_computes_only_new_blocks(tiny: Path) -> None:
    """`--config drops=12`: drops 6..11 form two new blocks; the existing blocks are kept."""
    jobs = planned_jobs(tiny, "--config", "drops=12")
    counts = rule_counts(jobs)
    assert counts["drops"] == 2
    assert counts["allocate"] == 3 * 4 * 2  # 3 points x 4 schemes x 2 new blocks
    assert counts["monte_carlo"] == 2 * 4 * 2  # fig1's 2 points
    assert counts["mle"] == 0  # mc.mle_drops = 2: its drops are unchanged
    for rule, output in jobs:
        if rule in ("drops", "allocate", "monte_carlo"):
            assert output.endswith(("d6-9.nc", "d9-12.nc")), output


def test_mc_realizations_reruns_no_allocation(tiny: Path) -> None:
    extra = tiny / "more_mc.yaml"
    extra.write_text("mc:\n  realizations: 16\n")
    counts = rule_counts(planned_jobs(tiny, "--configfile", "config_tiny.yaml", extra.name))
    assert (counts["allocate"], counts["drops"], counts["mle"]) == (0, 0, 0)
    assert counts["monte_carlo"] == 16  # 2 points x 4 schemes x 2 blocks
    assert counts["aggregate"] == 1  # fig1 only: the other experiments use no MC


def edit_module(path: Path) -> None:
    """Change a module's content (Snakemake 9 ignores a newer mtime when the checksum of a
    small input file is unchanged, so a bare ``touch`` is not an edit)."""
    path.write_text(path.read_text() + "\n# edited by test_pipeline\n")


def test_editing_allocation_module_reruns_allocation(tiny: Path, tmp_path: Path) -> None:
    cwd = tmp_path / "copy"
    shutil.copytree(tiny, cwd, symlinks=True)
    edit_module(cwd / "jcas" / "allocation" / "closed_form.py")
    counts = rule_counts(planned_jobs(cwd))
    assert counts["allocate"] == 25
    assert counts["drops"] == 0
    # a plotting module reruns the figures only
    cwd2 = tmp_path / "copy2"
    shutil.copytree(tiny, cwd2, symlinks=True)
    edit_module(cwd2 / "jcas" / "plots.py")
    counts = rule_counts(planned_jobs(cwd2))
    assert counts == Counter({"figure": 5, "all": 1})


def test_failed_job_does_not_stop_the_others(tiny: Path, tmp_path: Path) -> None:
    """keep-going from the default profile: a crashing figure leaves the others done."""
    cwd = tmp_path / "copy"
    shutil.copytree(tiny, cwd, symlinks=True)
    plots = cwd / "jcas" / "plots.py"
    text = plots.read_text()
    marker = "def fig1(ds: xr.Dataset) -> Figure:\n"
    assert marker in text
    plots.write_text(text.replace(marker, marker + '    raise RuntimeError("injected")\n', 1))
    before = {n: (cwd / "results" / "figures" / f"{n}.png").stat().st_mtime for n in EXPERIMENTS}
    proc = snakemake(cwd, "--cores", "2", "--configfile", "config_tiny.yaml", check=False)
    assert proc.returncode != 0
    assert "injected" in proc.stdout + proc.stderr
    assert not (cwd / "results" / "figures" / "fig1.png").exists()
    for name in EXPERIMENTS[1:]:
        assert (cwd / "results" / "figures" / f"{name}.png").stat().st_mtime > before[name]


def test_cores_and_drops_per_job_do_not_change_results(tiny: Path, tmp_path: Path) -> None:
    """fig1 (allocation incl. sca, MC streams) and crb_mc (MLE) are identical arrays with
    --cores 1 and with drops_per_job = 6 (one block) instead of 3."""
    targets = ("results/fig1.nc", "results/crb_mc.nc")
    one_core = copy_workflow(tmp_path / "cores1")
    run(one_core, cores=1, targets=targets)
    one_block = copy_workflow(tmp_path / "dpj6")
    run(one_block, "--config", "drops_per_job=6", targets=targets)
    assert len(list((one_block / "results" / "cache" / "drops").glob("*.nc"))) == 1
    for name in ("fig1", "crb_mc"):
        ref = open_result(tiny, name)
        assert_same_arrays(ref, open_result(one_core, name))
        assert_same_arrays(ref, open_result(one_block, name))


def test_report(tiny: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    run(tiny, "--report", str(report))
    text = report.read_text(errors="replace")
    assert report.stat().st_size > 10_000
    assert "fig1.png" in text
    assert "claims.csv" in text


def test_lint_and_snakefmt_clean(tmp_path: Path) -> None:
    cwd = copy_workflow(tmp_path / "lint")
    proc = snakemake(cwd, "--lint", "--configfile", "config_tiny.yaml", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr
    fmt = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
