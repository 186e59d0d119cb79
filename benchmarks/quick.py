"""The quick look (``configs/quick.yaml``): wall time of every figure, the claims and the
report on 2 cores, with the machine's load during the run and where the time goes.

In a clean temporary copy of the working tree (tracked and untracked files, no results):

1. ``snakemake --cores 2 --configfile configs/quick.yaml`` (the full quick run);
2. ``snakemake --report report.html --configfile configs/quick.yaml`` (the same overrides);
3. ``snakemake -n --configfile configs/quick.yaml`` (a no-op dry run: Snakemake's floor,
   parsing the Snakefile, validating the config and building the DAG).

The jobs import the copy's ``jcas`` (first on ``PYTHONPATH``), which has no bytecode cache
yet, as a fresh clone; Python writes the caches as it does by default (an environment
that sets ``PYTHONDONTWRITEBYTECODE`` is overridden for the run; ``--no-bytecode`` measures
that case, where every job compiles the jcas modules it imports).

Measured: wall time; CPU time of the whole process tree (``RUSAGE_CHILDREN``), of the
Snakemake process itself (sampled from ``/proc``) and of the jobs (their ``benchmark:``
files), by rule; the load during the run: the mean and largest 1-minute load average and
the busy CPU of the *whole machine* beside ours (``/proc/stat``), since other processes
on a shared machine stretch the wall time; the lower bound of the wall time on two idle
cores, ``our CPU / 2``. Prints a table and writes it to ``benchmarks/out/quick.txt``.

Run: ``python benchmarks/quick.py`` (about a minute on an idle machine). On a shared machine
the wall time stretches with the others' load, which the table records; the CPU times do
not (a lower niceness does not help there: the kernel shares the CPU between sessions
(autogroups) before it looks at niceness).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "quick.txt"
CONFIG = "configs/quick.yaml"
CLK_TCK = os.sysconf("SC_CLK_TCK")


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
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of one process, or None once it is gone."""
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(parts[11]) + int(parts[12])) / CLK_TCK


class Sampler(threading.Thread):
    """Samples the load average and the Snakemake process's CPU once a second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.loads: list[float] = []
        self.main_cpu = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.loads.append(os.getloadavg()[0])
            cpu = process_cpu(self.pid)
            if cpu is not None:
                self.main_cpu = cpu
            self.stop.wait(0.25)


def job_environment(tree: Path, *, bytecode: bool) -> dict[str, str]:
    """The environment of the run: the copy's ``jcas`` first on the path (so that its jobs
    import the copy, with no bytecode cache yet, as in a fresh clone); Python's default of
    writing bytecode caches unless ``bytecode`` is False (``PYTHONDONTWRITEBYTECODE=1``:
    every job then compiles the jcas modules it imports)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(tree), env.get("PYTHONPATH"))))
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def snakemake(
    cwd: Path, args: list[str], env: dict[str, str] | None = None
) -> dict[str, float | str | list[float]]:
    """``python -m snakemake <args>`` in ``cwd``: wall, CPU (tree and Snakemake's own),
    the machine's other CPU and the load average during it, the output."""
    cpu0, (busy0, _) = children_cpu(), machine_busy()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    sampler = Sampler(proc.pid)
    sampler.start()
    out, _ = proc.communicate()
    wall = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    ours = children_cpu() - cpu0
    busy = machine_busy()[0] - busy0
    if proc.returncode != 0:
        sys.stderr.write(out[-4000:])
        raise SystemExit(f"snakemake {' '.join(args)} failed ({proc.returncode})")
    return {
        "wall": wall,
        "cpu": ours,
        "main_cpu": sampler.main_cpu,
        "others_cpu": max(0.0, busy - ours),
        "loads": sampler.loads or [os.getloadavg()[0]],
        "out": out,
    }


def job_times(cwd: Path) -> dict[str, list[float]]:
    """Per rule: [jobs, wall s, CPU s] from the ``benchmark:`` files (results/benchmarks)."""
    out: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    base = cwd / "results" / "benchmarks"
    for path in base.rglob("*.tsv"):
        rel = path.relative_to(base).parts
        if len(rel) == 1:  # claims.tsv
            rule = path.stem
        elif rel[0] == "alloc":
            rule = rel[-2]  # alloc/<point>/<family>/<block>.tsv: closed_form or sca
        else:
            rule = {"mc": "monte_carlo", "figures": "figure"}.get(rel[0], rel[0])
        with path.open() as fh:
            row = list(csv.DictReader(fh, delimiter="\t"))[-1]
        cpu = float(row["cpu_time"]) if row["cpu_time"] not in ("NA", "-", "") else 0.0
        acc = out[rule]
        acc[0] += 1
        acc[1] += float(row["s"])
        acc[2] += cpu
    return dict(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the temporary tree")
    ap.add_argument(
        "--no-bytecode",
        action="store_true",
        help="run with PYTHONDONTWRITEBYTECODE=1 (no bytecode caches: each job compiles jcas)",
    )
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="jcas-quick-"))
    checkout_worktree(tmp)
    conf = ["--configfile", CONFIG]
    env = job_environment(tmp, bytecode=not args.no_bytecode)
    run = snakemake(tmp, ["--cores", str(args.cores), *conf], env)
    report = snakemake(tmp, ["--report", "report.html", *conf], env)
    noop = snakemake(tmp, ["-n", *conf], env)
    outside = os.environ.get("PYTHONDONTWRITEBYTECODE")
    bytecode = (
        "no (PYTHONDONTWRITEBYTECODE=1)"
        if args.no_bytecode
        else "yes" + (" (PYTHONDONTWRITEBYTECODE unset)" if outside else "")
    )

    out = str(run["out"])
    jobs = int(m.group(1)) if (m := re.search(r"(\d+) of \d+ steps \(100%\) done", out)) else 0
    figures = sorted(p.stem for p in (tmp / "results" / "figures").glob("*.png"))
    experiments = sorted(p.stem for p in (tmp / "results").glob("*.nc"))
    rules = job_times(tmp)
    job_cpu = sum(v[2] for v in rules.values())
    report_out = str(report["out"])
    warnings = [ln for ln in report_out.splitlines() if re.search(r"warning", ln, re.I)]
    shell_none = out.count("Shell command: None")
    loads = list(run["loads"])  # type: ignore[arg-type]

    lines = [
        f"Quick look ({CONFIG}), --cores {args.cores}, {platform.node()} "
        f"({os.cpu_count()} CPUs), {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"{'measure':58s} {'value':>12s}",
        f"{'full run: wall (s)':58s} {run['wall']:12.1f}",
        f"{'full run: CPU of the process tree (s)':58s} {run['cpu']:12.1f}",
        f"{'  of it the Snakemake process itself (s)':58s} {run['main_cpu']:12.1f}",
        f"{'  of it the jobs, from their benchmark files (s)':58s} {job_cpu:12.1f}",
        f"{'lower bound on 2 idle cores: tree CPU / 2 (s)':58s} {float(run['cpu']) / 2:12.1f}",
        f"{'bytecode caches written (a fresh copy: the first jobs compile)':58s} {bytecode:>12s}",
        f"{'jobs':58s} {jobs:12d}",
        f"{'figures (PNG and PDF)':58s} {len(figures):12d}",
        f"{'experiment datasets':58s} {len(experiments):12d}",
        f"{'claims.csv written':58s} {(tmp / 'results/claims.csv').is_file()!s:>12s}",
        f"{'load average during the run: mean / largest':58s} "
        f"{sum(loads) / len(loads):5.1f} / {max(loads):4.1f}",
        f"{'CPU used by other processes during the run (s)':58s} {run['others_cpu']:12.1f}",
        f"{'  as cores busy beside ours (mean)':58s} "
        f"{float(run['others_cpu']) / float(run['wall']):12.2f}",
        f"{'--report with the same --configfile: wall (s)':58s} {report['wall']:12.1f}",
        f"{'  warning lines (WARNING, RuntimeWarning, ...)':58s} {len(warnings):12d}",
        f"{'no-op dry run (-n): wall (s)':58s} {noop['wall']:12.1f}",
        f"{'  its CPU (s) (Snakemake floor: parse, config, DAG)':58s} {noop['cpu']:12.1f}",
        f"{'Shell command: None lines in the run':58s} {shell_none:12d}",
        "",
        f"{'rule':14s} {'jobs':>5s} {'job CPU s':>10s} {'CPU s/job':>10s} {'job wall s':>11s}",
    ]
    for rule, (n, wall, cpu) in sorted(rules.items(), key=lambda kv: -kv[1][2]):
        lines.append(f"{rule:14s} {int(n):5d} {cpu:10.1f} {cpu / n:10.2f} {wall:11.1f}")
    if warnings:
        lines += ["", "report warnings (first 5 distinct):"]
        lines += [f"  {w.strip()[:150]}" for w in dict.fromkeys(warnings)][:5]
    text = "\n".join(lines) + "\n"
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    if args.keep:
        print(f"tree kept: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
