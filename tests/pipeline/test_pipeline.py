"""The Snakemake sweep end to end on tests/data/config_tiny.yaml.

Snakemake runs as a subprocess (``tests/conftest.py``: the session's ``tiny_run``, or a
copy of the workflow or of that run), so touching a module in a copy works and every
result lands under a temporary directory. The tiny grid: Nt = Nr = 8, SNR_com in
{0, 20} dB, 6 drops in blocks of 3, the four schemes; the experiments' grids overlap (see
the config file), so the allocation runs at 3 points x 2 blocks (one `closed_form` job
for optimal, equal and equal_full, one `sca` job) plus crb_mc's extra point (equal_full,
first block only): 7 `closed_form` and 6 `sca` jobs.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import ROOT, copy_run, copy_workflow, snakemake

from jcas.io.results import read_netcdf, validate_contract

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]

EXPERIMENTS = ("fig1", "fig2", "fig3", "pareto", "crb_mc")
# solve_time is a wall-clock measurement: the only variable allowed to differ between runs
TIMING_VARIABLES = ("solve_time",)
ALLOCATION_RULES = ("closed_form", "sca")


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


def open_result(cwd: Path, name: str) -> xr.Dataset:
    return read_netcdf(cwd / "results" / f"{name}.nc")


def config_file(tmp_path: Path, name: str, text: str) -> str:
    """An extra config file outside the run's tree (absolute path for --configfile)."""
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# ------------------------------------------------------------------ one ordinary run
def test_end_to_end_outputs(tiny_run: Path) -> None:
    for name in EXPERIMENTS:
        ds = open_result(tiny_run, name)
        validate_contract(ds)
        for ext in ("pdf", "png"):
            fig = tiny_run / "results" / "figures" / f"{name}.{ext}"
            assert fig.stat().st_size > 1000, fig
    fig1 = open_result(tiny_run, "fig1")
    assert dict(fig1.sizes) == {"Nt": 1, "snr_com_db": 2, "scheme": 4, "drop": 6, "user": 4}
    assert list(fig1["scheme"].values) == ["sca", "optimal", "equal", "equal_full"]
    ok = fig1["status"].isin(["optimal", "converged", "max_iterations", "feasible"])
    assert bool(ok.any())
    assert bool(fig1["sum_rate_mc"].where(ok).notnull().sum() == ok.sum())
    fig3 = open_result(tiny_run, "fig3")
    assert fig3["Nt"].dims == ("N",)
    assert int(fig3["Nt"].values[0]) == 8
    crb_mc = open_result(tiny_run, "crb_mc")
    assert crb_mc.sizes["drop"] == 2  # mc.mle_drops
    assert (tiny_run / "results" / "claims.csv").read_text().startswith("claim,")
    # a grid point is computed once: 3 points x 2 blocks per family, + crb_mc's extra point
    alloc = tiny_run / "results" / "cache" / "alloc"
    assert len(list(alloc.glob("*/closed_form/*.nc"))) == 3 * 2 + 1
    assert len(list(alloc.glob("*/sca/*.nc"))) == 3 * 2
    # one closed-form file holds every closed-form scheme its point needs
    ds = read_netcdf(alloc / "Nt8_Nr8_com0_sen5_crb0.001" / "closed_form" / "d0-3.nc")
    assert list(ds["scheme"].values) == ["optimal", "equal", "equal_full"]
    # every rule leaves a log and a benchmark file
    for stage in ("drops", "alloc", "mc", "mle", "aggregate", "figures"):
        assert any((tiny_run / "results" / "logs" / stage).rglob("*.log")), stage
        assert any((tiny_run / "results" / "benchmarks" / stage).rglob("*.tsv")), stage


def test_plain_command_loads_the_default_profile_without_reexec(tiny_run: Path) -> None:
    """Snakemake itself finds profiles/default (no re-execution, no extra option)."""
    text = (tiny_run / "tiny_run.log").read_text()
    assert "Using workflow specific profile profiles/default" in text
    assert "rerunning" not in text


def test_jobs_log_their_compute_time(tiny_run: Path) -> None:
    """Every Python job logs the seconds inside the jcas computations (the benchmark's)."""
    logs = [
        p
        for p in sorted((tiny_run / "results" / "logs").rglob("*.log"))
        if "sources" not in p.parts
    ]
    assert len(logs) > 30
    for path in logs:
        assert re.search(r"compute_time_s = \d+\.\d+", path.read_text()), path


def test_second_run_schedules_nothing(tiny_run: Path) -> None:
    assert planned_jobs(tiny_run) == []


def test_new_snr_schedules_only_new_points(tiny_run: Path, tmp_path: Path) -> None:
    extra = config_file(
        tmp_path,
        "more_snr.yaml",
        "experiments:\n  fig1:\n    sweep:\n      snr_com_db: [0, 10, 20]\n",
    )
    jobs = planned_jobs(tiny_run, "--configfile", "config_tiny.yaml", extra)
    counts = rule_counts(jobs)
    # 1 new point x 2 blocks: one closed_form and one sca job each, MC per family
    assert counts == Counter(
        {
            "closed_form": 2,
            "sca": 2,
            "monte_carlo": 4,
            "aggregate": 1,
            "figure": 1,
            "claims": 1,
            "all": 1,
        }
    )
    for rule, output in jobs:
        if rule in (*ALLOCATION_RULES, "monte_carlo"):
            assert "_com10_" in output, output
        if rule in ("aggregate", "figure"):
            assert output.endswith(("fig1.nc", "fig1.pdf")), output


def test_new_crb0_schedules_only_new_points(tiny_run: Path, tmp_path: Path) -> None:
    """A value added to another swept key (pareto's CRB0): again only the new point."""
    extra = config_file(
        tmp_path,
        "more_crb.yaml",
        "experiments:\n  pareto:\n    sweep:\n      crb0: [1.0e-4, 3.0e-4, 1.0e-3]\n",
    )
    jobs = planned_jobs(tiny_run, "--configfile", "config_tiny.yaml", extra)
    counts = rule_counts(jobs)
    assert counts == Counter(
        {"closed_form": 2, "sca": 2, "aggregate": 1, "figure": 1, "claims": 1, "all": 1}
    )
    for rule, output in jobs:
        if rule in ALLOCATION_RULES:
            assert "_crb0.0003/" in output, output


def test_more_drops_computes_only_new_blocks(tiny_run: Path) -> None:
    """`--config drops=12`: drops 6..11 form two new blocks; the existing blocks are kept."""
    jobs = planned_jobs(tiny_run, "--config", "drops=12")
    counts = rule_counts(jobs)
    assert counts["drops"] == 2
    assert counts["closed_form"] == 3 * 2  # 3 points x 2 new blocks
    assert counts["sca"] == 3 * 2
    assert counts["monte_carlo"] == 2 * 2 * 2  # fig1's 2 points x 2 families x 2 blocks
    assert counts["mle"] == 0  # mc.mle_drops = 2: its drops are unchanged
    for rule, output in jobs:
        if rule in ("drops", *ALLOCATION_RULES, "monte_carlo"):
            assert output.endswith(("d6-9.nc", "d9-12.nc")), output


def test_mc_realizations_reruns_no_allocation(tiny_run: Path, tmp_path: Path) -> None:
    extra = config_file(tmp_path, "more_mc.yaml", "mc:\n  realizations: 16\n")
    counts = rule_counts(planned_jobs(tiny_run, "--configfile", "config_tiny.yaml", extra))
    assert (counts["closed_form"], counts["sca"], counts["drops"], counts["mle"]) == (0, 0, 0, 0)
    assert counts["monte_carlo"] == 2 * 2 * 2  # 2 points x 2 families x 2 blocks
    assert counts["aggregate"] == 1  # fig1 only: the other experiments use no MC


def test_sca_option_reruns_no_job_of_another_scheme(tiny_run: Path, tmp_path: Path) -> None:
    """An `sca` option reruns the sca allocations, their Monte-Carlo and what aggregates
    them; no closed-form allocation, no Monte-Carlo of another scheme, no MLE."""
    extra = config_file(tmp_path, "sca.yaml", "allocation:\n  sca_tolerance: 1.0e-5\n")
    jobs = planned_jobs(tiny_run, "--configfile", "config_tiny.yaml", extra)
    counts = rule_counts(jobs)
    assert (counts["closed_form"], counts["drops"], counts["mle"]) == (0, 0, 0)
    assert counts["sca"] == 3 * 2
    assert counts["monte_carlo"] == 2 * 2  # fig1's 2 points x 2 blocks, sca only
    for rule, output in jobs:
        if rule in ("sca", "monte_carlo"):
            assert "/sca/" in output, output
    # crb_mc simulates equal_full only: its dataset is not rebuilt
    assert counts["aggregate"] == 4
    assert ("aggregate", "results/crb_mc.nc") not in jobs


# ------------------------------------------------------------------ edited copies
def edit_module(path: Path) -> None:
    """Change a module's content (Snakemake 9 ignores a newer mtime when the checksum of a
    small input file is unchanged, so a bare ``touch`` is not an edit)."""
    path.write_text(path.read_text() + "\n# edited by test_pipeline\n")


def test_readme_edit_or_touch_reruns_nothing(tiny_run: Path, tmp_path: Path) -> None:
    cwd = copy_run(tiny_run, tmp_path / "copy")
    readme = cwd / "README.md"
    readme.write_text(readme.read_text() + "\nedited by test_pipeline\n")
    (cwd / "jcas" / "model" / "metrics.py").touch()  # a touch is not an edit
    assert planned_jobs(cwd) == []


def test_editing_a_module_reruns_exactly_the_rules_that_use_it(
    tiny_run: Path, tmp_path: Path
) -> None:
    cwd = copy_run(tiny_run, tmp_path / "copy")
    edit_module(cwd / "jcas" / "allocation" / "closed_form.py")
    counts = rule_counts(planned_jobs(cwd))
    assert (counts["closed_form"], counts["sca"]) == (7, 6)  # sca imports its water_fill
    assert counts["drops"] == 0
    # a plotting module reruns the figures only
    cwd2 = copy_run(tiny_run, tmp_path / "copy2")
    edit_module(cwd2 / "jcas" / "report" / "plots.py")
    # (one checksum job per distinct figure source set: the figures' families differ)
    counts = rule_counts(planned_jobs(cwd2))
    assert set(counts) == {"sources", "figure", "all"}
    assert (counts["figure"], counts["all"]) == (5, 1)
    assert 1 <= counts["sources"] <= 5
    # a Monte-Carlo module reruns the Monte-Carlo and MLE jobs, no allocation
    cwd3 = copy_run(tiny_run, tmp_path / "copy3")
    edit_module(cwd3 / "jcas" / "montecarlo" / "rate.py")
    counts = rule_counts(planned_jobs(cwd3))
    assert (counts["monte_carlo"], counts["mle"]) == (8, 2)
    assert counts["closed_form"] + counts["sca"] + counts["drops"] == 0


def test_failed_job_does_not_stop_the_others(tiny_run: Path, tmp_path: Path) -> None:
    """keep-going from the default profile: a crashing figure leaves the others done."""
    cwd = copy_run(tiny_run, tmp_path / "copy")
    plots = cwd / "jcas" / "report" / "plots.py"
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


def test_cores_and_drops_per_job_do_not_change_results(tiny_run: Path, tmp_path: Path) -> None:
    """fig1 (allocation incl. sca, MC streams) and crb_mc (MLE) are identical arrays with
    --cores 1 and with drops_per_job = 6 (one block) instead of 3."""
    targets = ("results/fig1.nc", "results/crb_mc.nc")
    one_core = copy_workflow(tmp_path / "cores1")
    run(one_core, cores=1, targets=targets)
    one_block = copy_workflow(tmp_path / "dpj6")
    run(one_block, "--config", "drops_per_job=6", targets=targets)
    assert len(list((one_block / "results" / "cache" / "drops").glob("*.nc"))) == 1
    for name in ("fig1", "crb_mc"):
        ref = open_result(tiny_run, name)
        assert_same_arrays(ref, open_result(one_core, name))
        assert_same_arrays(ref, open_result(one_block, name))


def test_report(tiny_run: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    run(tiny_run, "--report", str(report))
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
