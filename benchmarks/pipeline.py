"""Wall time of the default pipeline, no-op dry run, and job overhead outside jcas.

Runs the workflow in a temporary copy of the repository (Snakefile, config.yaml,
workflow/, jcas/) with the plain command ``python -m snakemake --cores N`` and reports:

- wall time of the full run (target: <= 600 s on 2 cores with the default config);
- time of a no-op dry run on the full grid afterwards (target: <= 5 s), with and
  without the default-profile re-exec (``--workflow-profile none``);
- per rule: jobs, summed job wall time (the rules' ``benchmark:`` files), summed
  compute time recorded in the datasets (``compute_time_s``: time inside the jcas
  computations), and the share of job time spent outside them (start-up, imports, I/O).

Usage::

    python benchmarks/pipeline.py [--cores 2] [--config drops=200 ...] [--keep DIR]

The table is printed and written to ``benchmarks/out/pipeline.txt``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "pipeline.txt"
STAGES = {  # benchmark directory -> rule
    "drops": "drops",
    "alloc": "allocate",
    "mc": "monte_carlo",
    "mle": "mle",
    "aggregate": "aggregate",
    "figures": "figure",
    "claims.tsv": "claims",
}


def copy_tree(dst: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("Snakefile", "config.yaml"):
        shutil.copy2(ROOT / name, dst / name)
    for name in ("workflow", "jcas"):
        shutil.copytree(ROOT / name, dst / name, ignore=ignore)


def snakemake(cwd: Path, args: list[str]) -> float:
    env = {k: v for k, v in os.environ.items() if k != "JCAS_DEFAULT_PROFILE"}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"snakemake {' '.join(args)} failed ({proc.returncode})")
    return elapsed


def job_seconds(tsv: Path) -> float:
    """Wall-clock seconds of a job from its Snakemake benchmark file (column ``s``)."""
    lines = tsv.read_text().splitlines()
    return float(lines[1].split("\t")[0])


def compute_seconds(nc: Path) -> float:
    """``compute_time_s`` attribute of a per-job dataset (0 when absent)."""
    import netCDF4

    with netCDF4.Dataset(nc) as ds:
        return float(getattr(ds, "compute_time_s", 0.0))


def output_of(bench: Path, results: Path) -> Path | None:
    """The per-job dataset matching a benchmark file (same relative path)."""
    rel = bench.relative_to(results / "benchmarks")
    stage = rel.parts[0]
    cache = {"drops": "drops", "alloc": "alloc", "mc": "mc", "mle": "mle"}.get(stage)
    if cache is None:
        return None
    return results / "cache" / cache / Path(*rel.parts[1:]).with_suffix(".nc")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--config", nargs="*", default=[], help="snakemake --config overrides")
    ap.add_argument("--keep", type=Path, default=None, help="run in this directory, keep it")
    args = ap.parse_args()

    tmp = None
    if args.keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="jcas-pipeline-bench-")
        cwd = Path(tmp.name)
    else:
        cwd = args.keep
        cwd.mkdir(parents=True, exist_ok=True)
    copy_tree(cwd)
    extra = ["--config", *args.config] if args.config else []

    full = snakemake(cwd, ["--cores", str(args.cores), *extra])
    noop = snakemake(cwd, ["--cores", str(args.cores), "--dry-run", *extra])
    noop_direct = snakemake(
        cwd, ["--cores", str(args.cores), "--dry-run", "--workflow-profile", "none", *extra]
    )

    results = cwd / "results"
    jobs: dict[str, int] = defaultdict(int)
    wall: dict[str, float] = defaultdict(float)
    comp: dict[str, float] = defaultdict(float)
    for bench in sorted((results / "benchmarks").rglob("*.tsv")):
        rel = bench.relative_to(results / "benchmarks")
        rule = STAGES.get(rel.parts[0], rel.parts[0])
        jobs[rule] += 1
        wall[rule] += job_seconds(bench)
        nc = output_of(bench, results)
        if nc is not None and nc.exists():
            comp[rule] += compute_seconds(nc)

    lines = [
        "jcas pipeline benchmark (benchmarks/pipeline.py)",
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average at end {os.getloadavg()[0]:.1f}; python {platform.python_version()}",
        f"command: python -m snakemake --cores {args.cores} {' '.join(extra)}".rstrip(),
        "",
        f"{'measure':<44}{'value':>12}{'target':>10}{'ratio':>8}",
        f"{'full run wall time (s)':<44}{full:>12.1f}{600:>10}{full / 600:>8.2f}",
        f"{'no-op dry run, plain command (s)':<44}{noop:>12.2f}{5:>10}{noop / 5:>8.2f}",
        f"{'no-op dry run, --workflow-profile none (s)':<44}{noop_direct:>12.2f}{5:>10}"
        f"{noop_direct / 5:>8.2f}",
        "",
        f"{'rule':<14}{'jobs':>6}{'job time (s)':>14}{'jcas compute (s)':>18}"
        f"{'outside jcas':>14}{'per job (s)':>13}",
    ]
    total_wall = total_comp = 0.0
    for rule in ("drops", "allocate", "monte_carlo", "mle", "aggregate", "figure", "claims"):
        if not jobs.get(rule):
            continue
        w, c = wall[rule], comp[rule]
        has_compute = rule in ("drops", "allocate", "monte_carlo", "mle")
        share = f"{100 * (1 - c / w):>13.0f}%" if has_compute and w > 0 else f"{'-':>14}"
        overhead = f"{(w - c) / jobs[rule]:>13.2f}" if has_compute else f"{'-':>13}"
        lines.append(
            f"{rule:<14}{jobs[rule]:>6}{w:>14.1f}{(c if has_compute else float('nan')):>18.1f}"
            f"{share}{overhead}"
        )
        if has_compute:
            total_wall += w
            total_comp += c
    lines += [
        "",
        f"compute jobs (drops, allocate, monte_carlo, mle): {total_wall:.1f} s of job time, "
        f"{total_comp:.1f} s inside jcas -> {100 * (1 - total_comp / total_wall):.0f}% "
        "outside jcas (start-up, imports, I/O)",
        f"all jobs: {sum(wall.values()):.1f} s of job time over {args.cores} cores "
        f"(ideal wall {sum(wall.values()) / args.cores:.1f} s) vs {full:.1f} s wall",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
