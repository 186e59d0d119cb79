"""Recovery of the Snakemake sweep: interrupted runs, damaged inputs, failed
points, determinism under job order and interruption.

Snakemake runs as a subprocess (the plain ``python -m snakemake`` users type, which picks
up the default workflow profile) in temporary copies of the workflow, on
``tests/data/reliability_tiny.yaml`` (Nt = 8, 4 drops in 2 blocks, sca/optimal/equal,
fig1 at SNR_com 0 and 20 dB with Monte-Carlo, pareto with an infeasible CRB0 = 1e-9).
Every copy's jcas gets two injections (appended wrappers, so the real code runs
underneath): ``allocate`` raises for ``sca`` at SNR_com = 0 dB (a solver failure) and
``large_scale_fading`` returns NaN for beta of drop 2, user 0 (a degenerate drop). So one
run exercises all three kinds of failed points.

Runs (module-scoped, each used by several tests): ``reference`` (uninterrupted,
``--cores 2``), ``resumed`` (SIGKILL of the whole process group mid-run, then the
documented recovery command), ``reordered`` (``--scheduler greedy`` and the targets in
reverse order). The damaged-input test copies the reference tree.
"""

from __future__ import annotations

import base64
import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import copy_workflow
from conftest import snakemake as run_snakemake

from jcas.io.results import read_netcdf

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "data" / "reliability_tiny.yaml"
# wall-clock timings are the only variable allowed to differ between runs
TIMING_VARIABLES = ("solve_time",)
# (fig1 0 dB, fig1/pareto 20 dB, pareto 1e-9) x (closed_form, sca) x 2 blocks
N_ALLOC_FILES = 3 * 2 * 2
TARGETS = [
    "results/fig1.nc",
    "results/pareto.nc",
    "results/figures/fig1.pdf",
    "results/figures/fig1.png",
    "results/figures/pareto.pdf",
    "results/figures/pareto.png",
    "results/claims.csv",
]

INJECT_ALLOCATION = """

# --- injected by tests/pipeline/test_pipeline_recovery.py: a solver failure -------------------
_allocate_untouched = allocate


def allocate(scheme, beta, xi, params, **options):  # noqa: D103
    if scheme == "sca" and float(params.snr_com_db) == 0.0:
        raise RuntimeError("injected solver failure")
    return _allocate_untouched(scheme, beta, xi, params, **options)
"""

INJECT_DROPS = """

# --- injected by tests/pipeline/test_pipeline_recovery.py: a degenerate drop ------------------
_large_scale_fading_untouched = large_scale_fading


def large_scale_fading(params, seed, drops):  # noqa: D103
    beta, distance = _large_scale_fading_untouched(params, seed, drops)
    beta = np.array(beta, dtype=float)
    beta[np.asarray(list(drops)) == 2, 0] = np.nan
    return beta, distance
"""


# ------------------------------------------------------------------ helpers
def copy_injected(dst: Path) -> Path:
    """A runnable copy of the workflow with the two injections, and the test config."""
    copy_workflow(dst)
    shutil.copy2(CONFIG, dst / "reliability.yaml")
    alloc = dst / "jcas" / "allocation" / "__init__.py"
    assert "\ndef allocate(" in alloc.read_text()
    alloc.write_text(alloc.read_text() + INJECT_ALLOCATION)
    drops = dst / "jcas" / "model" / "drops.py"
    assert "\ndef large_scale_fading(" in drops.read_text()
    drops.write_text(drops.read_text() + INJECT_DROPS)
    return dst


def command(*args: str) -> list[str]:
    """The documented command (docs/pipeline.md) on the test config."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "2",
        "--configfile",
        "reliability.yaml",
        *args,
    ]


def snakemake(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The documented command on the test config (:func:`conftest.snakemake`)."""
    return run_snakemake(cwd, *command(*args)[3:], check=check)


def nc_files(cwd: Path) -> list[str]:
    """Every NetCDF output under results/ (relative paths, sorted)."""
    return sorted(str(p.relative_to(cwd)) for p in (cwd / "results").rglob("*.nc"))


def assert_same_arrays(a: xr.Dataset, b: xr.Dataset, label: str) -> None:
    """Identical coordinates and data (NaN == NaN), except wall-clock timings."""
    assert set(a.data_vars) == set(b.data_vars), label
    assert set(a.coords) == set(b.coords), label
    for name in a.coords:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=f"{label}:{name}")
    for name in a.data_vars:
        if name in TIMING_VARIABLES:
            continue
        va, vb = a[name].values, b[name].values
        assert va.dtype.kind == vb.dtype.kind, f"{label}:{name}"
        np.testing.assert_array_equal(va, vb, err_msg=f"{label}:{name}")


def assert_same_outputs(ref: Path, other: Path) -> None:
    """Same set of NetCDF outputs with identical arrays, same claims table, all figures."""
    files = nc_files(ref)
    assert len(files) > N_ALLOC_FILES
    assert nc_files(other) == files
    for rel in files:
        assert_same_arrays(read_netcdf(ref / rel), read_netcdf(other / rel), rel)
    assert (other / "results/claims.csv").read_text() == (ref / "results/claims.csv").read_text()
    for target in TARGETS:
        assert (other / target).stat().st_size > 0, target


def session_processes(sid: int) -> list[int]:
    """PIDs of live (non-zombie) processes in session ``sid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def incomplete_outputs(cwd: Path) -> list[str]:
    """Outputs Snakemake marks incomplete (.snakemake/incomplete/<base64 path>)."""
    folder = cwd / ".snakemake" / "incomplete"
    if not folder.is_dir():
        return []
    out = []
    for marker in folder.iterdir():
        try:
            out.append(base64.b64decode(marker.name.encode()).decode())
        except ValueError:
            continue
    return out


# ------------------------------------------------------------------ runs
@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = copy_injected(tmp_path_factory.mktemp("reliability") / "reference")
    snakemake(cwd)
    return cwd


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Start the sweep, SIGKILL its whole process group once some (not all) allocation
    files exist and a job is running, then record the state and resume."""
    cwd = copy_injected(tmp_path_factory.mktemp("reliability") / "interrupted")
    proc = subprocess.Popen(
        command(),
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    alloc_dir = cwd / "results" / "cache" / "alloc"
    deadline = time.monotonic() + 600
    n_alloc = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            n_alloc = len(list(alloc_dir.rglob("*.nc"))) if alloc_dir.exists() else 0
            running = [p for p in incomplete_outputs(cwd) if p.endswith(".nc")]
            if n_alloc >= 4 and running:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep finished before it could be interrupted"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for _ in range(100):  # the kill reaches every process of the session
        if not session_processes(proc.pid):
            break
        time.sleep(0.05)
    files = nc_files(cwd)
    unreadable = []
    for rel in files:  # before anything else touches the tree
        try:
            read_netcdf(cwd / rel)
        except OSError as err:
            unreadable.append(f"{rel}: {err}")
    state = {
        "cwd": cwd,
        "n_alloc": n_alloc,
        "leftover": session_processes(proc.pid),
        "files": files,
        "unreadable": unreadable,
        "temporary": sorted(str(p.relative_to(cwd)) for p in cwd.rglob(".*.tmp")),
        "incomplete": sorted(incomplete_outputs(cwd)),
        "lock": any((cwd / ".snakemake" / "locks").glob("*")),
    }
    # the same command alone is refused while the stale lock of the killed run is there
    # (a dry run takes no lock, so this is the real command; it stops before any job)
    state["plain_rerun"] = snakemake(cwd, check=False)
    # a non-atomic writer killed mid-write: a truncated file under an incomplete output
    # (None in the rare case that the running job was registered complete just before
    # the kill landed; the test using it then skips)
    victim = next((p for p in state["incomplete"] if p.endswith(".nc")), None)
    if victim is not None:
        (cwd / victim).parent.mkdir(parents=True, exist_ok=True)
        (cwd / victim).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    state["victim"] = victim
    # documented recovery (docs/reliability.md): unlock, then the same command
    unlock = subprocess.run(
        [sys.executable, "-m", "snakemake", "--unlock"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert unlock.returncode == 0, unlock.stderr[-3000:]
    state["resume"] = snakemake(cwd)
    return state


@pytest.fixture(scope="module")
def reordered(tmp_path_factory: pytest.TempPathFactory, reference: Path) -> Path:
    """Another job order: greedy scheduler, targets requested in reverse order."""
    cwd = copy_injected(tmp_path_factory.mktemp("reliability") / "reordered")
    snakemake(cwd, "--scheduler", "greedy", *reversed(TARGETS))
    return cwd


# ------------------------------------------------------------------ interrupted run
def test_kill_happened_mid_run(interrupted: dict) -> None:
    assert 4 <= interrupted["n_alloc"] < N_ALLOC_FILES
    assert "results/fig1.nc" not in interrupted["files"]
    assert interrupted["leftover"] == [], "processes survived the SIGKILL of the group"


def test_no_truncated_file_under_a_final_name_after_kill(interrupted: dict) -> None:
    """Atomic writes (jcas.io.results.write_netcdf): every NetCDF file under its final name
    right after the kill reads completely; a job killed mid-write leaves at most a hidden
    temporary ``.<name>.<pid>.<hex>.tmp``, which no rule takes as an input."""
    assert interrupted["files"]
    assert interrupted["unreadable"] == []
    assert not any(p.endswith(".nc") for p in interrupted["temporary"])


def test_stale_lock_needs_unlock(interrupted: dict) -> None:
    """What the documented recovery command is for: after a SIGKILL, Snakemake's lock
    stays and the plain command is refused with the hint to unlock."""
    assert interrupted["lock"]
    proc = interrupted["plain_rerun"]
    assert proc.returncode != 0
    assert "--unlock" in proc.stderr


def test_resume_with_documented_command_equals_uninterrupted(
    interrupted: dict, reference: Path
) -> None:
    assert_same_outputs(reference, interrupted["cwd"])


def test_incomplete_output_is_redone_not_trusted(interrupted: dict, reference: Path) -> None:
    """Snakemake's incomplete tracking (rerun-incomplete in the default profile): a
    truncated file planted under the name of an output that was being written at the
    kill is rewritten by the resumed run, and equals the reference."""
    rel = interrupted["victim"]
    if rel is None:
        pytest.skip("the running job was registered complete just before the kill")
    ds = read_netcdf(interrupted["cwd"] / rel)
    assert_same_arrays(read_netcdf(reference / rel), ds, rel)
    assert incomplete_outputs(interrupted["cwd"]) == []


# ------------------------------------------------------------------ job order
def test_job_order_does_not_change_results(reordered: Path, reference: Path) -> None:
    assert_same_outputs(reference, reordered)


# ------------------------------------------------------------------ failed points
def _failed_rows(cwd: Path) -> dict[str, str]:
    with open(cwd / "results" / "claims.csv", newline="", encoding="utf-8") as fh:
        return {row["claim"]: row for row in csv.DictReader(fh) if "failed" in row["claim"]}


def test_failed_points_recorded_with_status_and_nan(reference: Path) -> None:
    """Solver failure, degenerate drop and infeasible CRB0: each entry keeps its status and
    NaN metrics; every other entry of the sweep is complete."""
    success = ["optimal", "converged", "max_iterations", "feasible", "crb_violated"]
    fig1 = read_netcdf(reference / "results/fig1.nc")
    status = fig1["status"]
    # the degenerate drop 2 never reaches a solver: invalid_input everywhere
    assert set(status.sel({"drop": 2}).values.ravel()) == {"invalid_input"}
    # the injected solver failure: every other drop of sca at 0 dB
    sca0 = status.sel({"scheme": "sca", "snr_com_db": 0.0, "drop": [0, 1, 3]}).values
    assert set(sca0.ravel()) == {"solver_error"}
    failed = ~status.isin(success)
    assert int(failed.sum()) == 3 + 6  # sca at 0 dB (drops 0, 1, 3) + drop 2 everywhere
    assert (fig1.attrs["failed_entries"], fig1.attrs["total_entries"]) == (9, 24)
    for name in ("sum_rate", "crb", "power_total", "sum_rate_mc", "crb_mc"):
        values = fig1[name]
        assert bool(values.where(failed).isnull().all()), name  # NaN where failed
        assert int(values.notnull().sum()) == int((~failed).sum()), name  # finite elsewhere

    pareto = read_netcdf(reference / "results/pareto.nc")
    status = pareto["status"]
    assert set(status.sel({"crb0": 1e-9, "drop": [0, 1, 3]}).values.ravel()) == {"infeasible"}
    assert set(status.sel({"crb0": 1e-3, "drop": [0, 1, 3]}).values.ravel()) <= set(success)
    failed = ~status.isin(success)
    assert (pareto.attrs["failed_entries"], pareto.attrs["total_entries"]) == (9 + 6, 24)
    for name in ("sum_rate", "crb", "power_total"):
        assert bool(pareto[name].where(failed).isnull().all()), name
        assert int(pareto[name].notnull().sum()) == int((~failed).sum()), name


def test_report_counts_failed_points(reference: Path) -> None:
    """The claims table (CSV, also in the Snakemake report) counts the failed entries."""
    rows = _failed_rows(reference)
    for name, failed, statuses in (
        ("fig1", 9, ("solver_error 3", "invalid_input 6")),
        ("pareto", 15, ("infeasible 9", "invalid_input 6")),
    ):
        row = rows[f"failed_entries_{name}"]
        assert int(row["ours"]) == failed
        assert row["note"].startswith(f"{failed} of 24 "), row["note"]
        for text in statuses:
            assert text in row["note"], row["note"]


def test_figures_show_the_gap(reference: Path) -> None:
    """The fig1 figure (drawn by the pipeline's figure job code) has no sca value at 0 dB
    and states the failure count."""
    import matplotlib

    matplotlib.use("Agg")
    from jcas.report import plots

    ds = read_netcdf(reference / "results/fig1.nc")
    fig = plots.fig1(ds)
    assert "9 of 24" in fig.get_suptitle().replace("\n", " ")
    gaps = 0
    for ax in fig.axes:
        for line in ax.get_lines():
            x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
            if x.size == 2 and np.isnan(y[x == 0.0]).all() and np.isfinite(y[x == 20.0]).all():
                gaps += 1
    assert gaps >= 1
    for ext in ("pdf", "png"):
        assert (reference / f"results/figures/fig1.{ext}").stat().st_size > 1000


# ------------------------------------------------------------------ damaged inputs
def test_damaged_intermediate_file_named_by_the_job_that_reads_it(
    reference: Path, tmp_path: Path
) -> None:
    """A truncated allocation file and a garbage Monte-Carlo file (mtimes kept, so
    Snakemake trusts them): the aggregate jobs that read them fail with an error naming
    each file; the figure jobs do not run on a missing dataset."""
    cwd = tmp_path / "damaged"
    shutil.copytree(reference, cwd, symlinks=True)
    alloc = cwd / "results/cache/alloc/Nt8_Nr8_com20_sen5_crb1e-09/closed_form/d0-2.nc"
    mc = cwd / "results/cache/mc/Nt8_Nr8_com0_sen5_crb0.001/closed_form/d2-4.nc"
    for path, damage in ((alloc, "truncate"), (mc, "garbage")):
        stat = path.stat()
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] if damage == "truncate" else os.urandom(len(data)))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (cwd / "results/fig1.nc").unlink()
    (cwd / "results/pareto.nc").unlink()
    proc = snakemake(cwd, check=False)
    assert proc.returncode != 0
    for path, experiment in ((alloc, "pareto"), (mc, "fig1")):
        rel = str(path.relative_to(cwd))
        log = (cwd / f"results/logs/aggregate/{experiment}.log").read_text()
        assert f"result file '{rel}'" in log, log[-3000:]
        assert "truncated or corrupt" in log
        assert rel in proc.stderr  # shown by show-failed-logs
        assert not (cwd / f"results/{experiment}.nc").exists()
