"""The default pipeline at a reference commit and in the working tree, side by side.

Both trees are run in one invocation, one after the other, each in its own clean
temporary checkout (the commit through ``git archive``, the working tree as the files git
tracks or would track, uncommitted edits included) with a fresh ``results/``, by the plain
command ``python -m snakemake --cores N`` (each tree's own default profile), both on the
reference commit's ``config.yaml`` (the same sweep; ``--own-config`` runs the working tree
on its own, larger, default config instead). Reported:

- wall time of each full run and the ratio new / old, and the CPU time of all its
  processes (Snakemake and the jobs: less sensitive than wall time to other load);
- summed job time (the rules' ``benchmark:`` files) and the share of it inside the jcas
  computations: ``compute_time_s`` logged by each job or, where a job does not log it
  (older trees), the per-job dataset's ``compute_time_s`` attribute;
- per rule: jobs, summed job time, mean job time, summed compute time;
- a no-op dry run (``--cores 32 -n``) after the run, and a dry run of a 10x grid (fig1 and
  fig2 at 90 SNR values) on the finished run: DAG build + dry run time and jobs/s;
- the no-op dry run of a one-rule Snakefile (Snakemake's own start-up: the floor), and of
  the same rule with one ``params:`` value (Snakemake imports pandas to compare params);
- identity: every ``results/*.nc`` variable and coordinate of the two runs compared
  exactly (NaN == NaN), except the wall-clock ``solve_time``.

Usage::

    python benchmarks/pipeline.py [--commit 3002102] [--cores 2] [--drops N] [--keep DIR]

``--drops N`` shortens the run (a test of this script, not a benchmark). The table is
printed and written to ``benchmarks/out/pipeline.txt``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "pipeline.txt"
TIMING_VARIABLES = ("solve_time",)
GRID10 = [round(-10.0 + 40.0 * i / 89, 4) for i in range(90)]
COMPUTE_LOG = re.compile(r"compute_time_s = ([0-9.eE+-]+)")


@dataclass
class Run:
    """One tree's measurements."""

    label: str
    cwd: Path
    wall: float = 0.0
    cpu: float = 0.0
    noop: float = 0.0
    grid10: float = 0.0
    grid10_jobs: int = 0
    jobs: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    job_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    compute_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))


def checkout_commit(commit: str, dst: Path) -> None:
    """The files of ``commit`` (git archive) in ``dst``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=ROOT, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(dst)], input=archive.stdout, check=True)


def checkout_worktree(dst: Path) -> None:
    """The working tree's tracked and untracked, not ignored, files in ``dst``."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        src = ROOT / name
        if src.is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / name)


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process tree so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


PYTHON = [sys.executable]
"""The interpreter that runs Snakemake (and so every job): ``--python``, default this one."""


def snakemake(cwd: Path, args: list[str]) -> tuple[float, str]:
    """Run ``<python> -m snakemake <args>`` in ``cwd``; (seconds, stdout + stderr)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [PYTHON[0], "-m", "snakemake", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"snakemake {' '.join(args)} failed in {cwd} ({proc.returncode})")
    return elapsed, proc.stdout + proc.stderr


def job_records(cwd: Path) -> list[dict[str, str]]:
    """Rule, benchmark, log and first output of every job in the run's Snakemake log."""
    logs = sorted((cwd / ".snakemake" / "log").glob("*.snakemake.log"))
    records: list[dict[str, str]] = []
    for path in logs:
        current: dict[str, str] | None = None
        for line in path.read_text(errors="replace").splitlines():
            m = re.match(r"^(?:local)?rule (\w+):$", line)
            if m:
                current = {"rule": m.group(1)}
                records.append(current)
                continue
            m = re.match(r"^\s+(benchmark|log|output): (.+)$", line)
            if m and current is not None:
                current[m.group(1)] = m.group(2).split(",")[0].strip()
    return [r for r in records if "benchmark" in r]


def compute_seconds(cwd: Path, record: dict[str, str]) -> float:
    """Seconds inside jcas: the job log's ``compute_time_s``, else the dataset attribute."""
    log = cwd / record.get("log", "/nonexistent")
    if log.is_file():
        m = COMPUTE_LOG.search(log.read_text(errors="replace"))
        if m:
            return float(m.group(1))
    out = cwd / record.get("output", "/nonexistent")
    if out.suffix == ".nc" and out.is_file():
        import netCDF4

        with netCDF4.Dataset(out) as ds:
            return float(getattr(ds, "compute_time_s", 0.0))
    return 0.0


def measure(run: Run, cores: int, extra: list[str]) -> None:
    """Full run, no-op dry run, 10x-grid dry run, per-rule job and compute times."""
    cpu0 = children_cpu()
    run.wall, _ = snakemake(run.cwd, ["--cores", str(cores), *extra])
    run.cpu = children_cpu() - cpu0
    records = job_records(run.cwd)  # the full run's jobs (before the dry runs below)
    run.noop, _ = snakemake(run.cwd, ["--cores", "32", "-n", *extra])
    grid = run.cwd / "grid10.yaml"
    grid.write_text(
        "experiments:\n"
        + "".join(f"  {e}:\n    sweep:\n      snr_com_db: {GRID10}\n" for e in ("fig1", "fig2"))
    )
    run.grid10, text = snakemake(
        run.cwd, ["--cores", "32", "-n", *extra, "--configfile", "config.yaml", grid.name]
    )
    m = re.search(r"^total\s+(\d+)$", text, re.MULTILINE)
    run.grid10_jobs = int(m.group(1)) if m else 0
    for record in records:
        bench = run.cwd / record["benchmark"]
        if not bench.is_file():
            continue
        rule = record["rule"]
        run.jobs[rule] += 1
        run.job_s[rule] += float(bench.read_text().splitlines()[1].split("\t")[0])
        run.compute_s[rule] += compute_seconds(run.cwd, record)


def _deviation(x: Any, y: Any) -> float:
    """``max |x - y| / max |x|`` over the finite entries (0 for equal arrays, inf when the
    NaN patterns differ): the deviation relative to the variable's scale, so that values
    near zero (a sensing power of 1e-12 W) do not read as large relative changes."""
    import numpy as np

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if not np.array_equal(np.isnan(x), np.isnan(y)):
        return float("inf")
    finite = np.isfinite(x) & np.isfinite(y)
    if not np.array_equal(x[~finite], y[~finite], equal_nan=True):
        return float("inf")
    if not finite.any():
        return 0.0
    diff = float(np.max(np.abs(x[finite] - y[finite])))
    scale = float(np.max(np.abs(x[finite])))
    return diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))


def _indexed(ds: Any) -> Any:
    """String dimensions as indexes: newer files store ``scheme`` as a CF label
    ``scheme_name(scheme)``, older ones as a string coordinate variable."""
    for name in list(ds.coords):
        dim = str(name).removesuffix("_name")
        if dim != name and ds[name].dims == (dim,) and dim not in ds.coords:
            ds = ds.rename_vars({name: dim}).set_xindex(dim)
    return ds


def identity(old: Path, new: Path) -> list[str]:
    """One line per results/*.nc: identical, or per variable and scheme the deviation
    relative to the variable's scale (see :func:`_deviation`); the identity definition of
    docs/pipeline.md ("Performance") asks bit-identity where the arithmetic is unchanged,
    1e-12 for reordered closed forms and Monte-Carlo, and the `sca` tolerance for `sca`."""
    import numpy as np
    import xarray as xr

    lines = []
    names = sorted({p.name for p in (old / "results").glob("*.nc")})
    names += sorted({p.name for p in (new / "results").glob("*.nc")} - set(names))
    for name in names:
        if not (old / "results" / name).is_file() or not (new / "results" / name).is_file():
            lines.append(f"{name}: only in one run")
            continue
        with (
            xr.open_dataset(old / "results" / name) as a,
            xr.open_dataset(new / "results" / name) as b,
        ):
            a, b = _indexed(a.load()), _indexed(b.load())
        diff = [f"{v} (in one run only)" for v in sorted(set(a.variables) ^ set(b.variables))]
        for var in sorted(set(a.variables) & set(b.variables)):
            if var in TIMING_VARIABLES:
                continue
            x, y = a[var], b[var]
            if x.dims != y.dims or x.shape != y.shape:
                diff.append(f"{var} (shape)")
                continue
            if x.dtype.kind not in "fiu":
                if not np.array_equal(x.values, y.values):
                    diff.append(f"{var} (values)")
                continue
            schemes = x["scheme"].values.tolist() if "scheme" in x.dims else [None]
            for scheme in schemes:
                xs = x.sel(scheme=scheme) if scheme is not None else x
                ys = y.sel(scheme=scheme) if scheme is not None else y
                if np.array_equal(xs.values, ys.values, equal_nan=True):
                    continue
                where = f"[{scheme}]" if scheme is not None else ""
                diff.append(f"{var}{where} {_deviation(xs.values, ys.values):.1e}")
        n = len(set(a.variables) - set(TIMING_VARIABLES))
        lines.append(f"{name}: {n} variables compared (timings excluded): bit-identical")
        if diff:
            lines[-1] = (
                f"{name}: {n} variables compared (timings excluded); bit-identical except "
                "(max |new - old| / max |old|): " + ", ".join(diff)
            )
    return lines


def dry_run_floor(base: Path, *, params: bool = False) -> float:
    """No-op dry run of a one-rule Snakefile: Snakemake's own start-up on this machine.

    With ``params`` the rule has one ``params:`` value: Snakemake then compares the params
    with the recorded ones (a rerun trigger), for which it imports pandas whenever pandas
    is installed (xarray requires it), so every workflow with params pays that import.
    """
    cwd = base / ("floor_params" if params else "floor")
    cwd.mkdir(parents=True, exist_ok=True)
    extra = "    params:\n        x=1\n" if params else ""
    (cwd / "Snakefile").write_text(
        f'rule a:\n    output:\n        "a.txt"\n{extra}    shell:\n        "touch {{output}}"\n'
    )
    snakemake(cwd, ["--cores", "1", "--workflow-profile", "none"])
    seconds, _ = snakemake(cwd, ["--cores", "32", "-n", "--workflow-profile", "none"])
    return seconds


def table(
    old: Run, new: Run, cores: int, extra: list[str], commit: str, floor: tuple[float, float]
) -> str:
    def total(run: Run, d: str) -> float:
        return sum(getattr(run, d).values())

    lines = [
        "jcas pipeline benchmark (benchmarks/pipeline.py)",
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average at end {os.getloadavg()[0]:.1f}; python {platform.python_version()}",
        f"command: python -m snakemake --cores {cores} {' '.join(extra)}".rstrip(),
        f"python: {PYTHON[0]}"
        + ("" if PYTHON[0] == sys.executable else " (not the benchmark's own interpreter)"),
        f"old = commit {commit}, new = working tree; each in a clean temporary checkout",
        "",
        f"{'measure':<46}{'old':>10}{'new':>10}{'new/old':>9}",
    ]

    def row(label: str, a: float, b: float, fmt: str = ".1f") -> None:
        ratio = f"{b / a:>9.2f}" if a else f"{'-':>9}"
        lines.append(f"{label:<46}{a:>10{fmt}}{b:>10{fmt}}{ratio}")

    row("full run wall time (s)", old.wall, new.wall)
    row("full run CPU time, all processes (s)", old.cpu, new.cpu)
    row("jobs", sum(old.jobs.values()), sum(new.jobs.values()), ".0f")
    row("summed job time (s)", total(old, "job_s"), total(new, "job_s"))
    row(
        "summed time inside jcas computations (s)", total(old, "compute_s"), total(new, "compute_s")
    )
    for run in (old, new):
        share = 100 * total(run, "compute_s") / max(total(run, "job_s"), 1e-9)
        lines.append(f"  {run.label}: {share:.0f}% of the job time inside jcas computations")
    row("no-op dry run, --cores 32 -n (s)", old.noop, new.noop, ".2f")
    row("10x grid (90 SNR values): DAG + dry run (s)", old.grid10, new.grid10, ".2f")
    row("10x grid: jobs scheduled", old.grid10_jobs, new.grid10_jobs, ".0f")
    row(
        "10x grid: jobs scheduled per second",
        old.grid10_jobs / max(old.grid10, 1e-9),
        new.grid10_jobs / max(new.grid10, 1e-9),
        ".0f",
    )
    for run in (old, new):
        lines += [
            "",
            f"{run.label}: {'rule':<14}{'jobs':>6}{'job time (s)':>14}{'mean (s)':>10}"
            f"{'jcas (s)':>10}{'jcas share':>12}",
        ]
        for rule in sorted(run.jobs, key=lambda r: -run.job_s[r]):
            n, s, c = run.jobs[rule], run.job_s[rule], run.compute_s[rule]
            lines.append(
                f"{'':<{len(run.label) + 2}}{rule:<14}{n:>6}{s:>14.1f}{s / n:>10.2f}{c:>10.1f}"
                f"{100 * c / max(s, 1e-9):>11.0f}%"
            )
    lines += [
        f"floor: no-op dry run of a one-rule Snakefile here: {floor[0]:.2f} s; "
        f"with one params value: {floor[1]:.2f} s",
        "",
        "identity of results/*.nc (old vs new):",
        *identity(old.cwd, new.cwd),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commit", default="3002102", help="reference commit (default 3002102)")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--drops", type=int, default=None, help="shortened run: --config drops=N")
    ap.add_argument("--config", nargs="*", default=[], help="more snakemake --config overrides")
    ap.add_argument("--keep", type=Path, default=None, help="run in this directory, keep it")
    ap.add_argument(
        "--own-config",
        action="store_true",
        help="run the working tree with its own config.yaml (default: the reference "
        "commit's config.yaml in both trees, the like-for-like comparison)",
    )
    ap.add_argument("--out", type=Path, default=OUT, help=f"table file (default {OUT})")
    ap.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter that runs Snakemake and the jobs, e.g. a virtual environment made "
        "by the README's set-up command 1 alone (default: this one)",
    )
    args = ap.parse_args()
    PYTHON[0] = args.python

    overrides = ([f"drops={args.drops}"] if args.drops else []) + list(args.config)
    extra = ["--config", *overrides] if overrides else []
    tmp = None
    if args.keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="jcas-pipeline-bench-")
        base = Path(tmp.name)
    else:
        base = args.keep
    old = Run("old", base / "old")
    new = Run("new", base / "new")
    for run in (old, new):
        if run.cwd.exists():
            shutil.rmtree(run.cwd)
        run.cwd.mkdir(parents=True)
    checkout_commit(args.commit, old.cwd)
    checkout_worktree(new.cwd)
    if not args.own_config:  # both trees run the reference commit's config.yaml
        shutil.copy(old.cwd / "config.yaml", new.cwd / "config.yaml")
    for run in (old, new):
        measure(run, args.cores, extra)
    floor = (dry_run_floor(base), dry_run_floor(base, params=True))
    text = table(old, new, args.cores, extra, args.commit, floor)
    which = "its own" if args.own_config else f"commit {args.commit}'s"
    text = text.replace("\n\n", f"\nconfig: each tree runs {which} config.yaml\n\n", 1)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
