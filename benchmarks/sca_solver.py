"""The SCA step (26) solved by Clarabel directly against the cvxpy path, in the same run.

Part 1, the algorithm: K = 4, Nt = Nr in {15, 35}, SNR_com 20 dB, CRB0 = 1e-3 (the
paper's) and a CRB0 at which the constraint binds, ``--drops`` drops (1000) per row:
``jcas.allocation.sca`` with its defaults, (26) solved by Clarabel directly
(:mod:`jcas.allocation.sca._clarabel`, the default) and through the cvxpy program
(:mod:`jcas.allocation.sca._program`, ``direct=False``: what every solve did before), both
warmed up on other drops first (cached programs). Prints ms per drop (wall time of the
call over the drops, best of ``--repeats``), the cvxpy solves the direct run needed
(fallbacks), failures, and the largest sum-rate difference between the two paths
(bit/s/Hz, absolute and relative).

Part 2, one pipeline ``sca`` job end to end (``--old REV``, e.g. the commit before the
direct path): wall time of a fresh ``python`` process that imports the pipeline's stages,
computes 1000 drops, allocates them with ``sca`` as the pipeline's job does, and writes
the NetCDF file, for this tree and for ``REV`` (checked out with ``git archive`` into a
temporary directory); median of ``--repeats``.

Writes the tables to ``benchmarks/out/sca_solver.txt``. Run:
``python benchmarks/sca_solver.py [--drops 1000] [--old REV]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

from jcas.allocation import Allocation, _clarabel, sca
from jcas.allocation.schemes.sca import SCA_BATCH_SIZE, SCA_MAX_ITERATIONS, SCA_TOLERANCE
from jcas.model.channel import estimate_variance
from jcas.model.drops import large_scale_fading
from jcas.model.metrics import sum_rate
from jcas.model.params import SystemParams

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "sca_solver.txt"

JOB = """
import sys, time, yaml
try:  # the stages, one module each
    import jcas.pipeline.jobs.sca  # the sca job's entry: the solver before the clock
    from jcas.pipeline.files import write
    from jcas.pipeline.stages.allocation import compute_allocations
    from jcas.pipeline.stages.drops import compute_drops
except ImportError:  # older trees: one module
    from jcas.pipeline.experiment import compute_allocations, compute_drops, write
from jcas.config import Point, load_config, scheme_options
cfg = load_config(yaml.safe_load(open("config.yaml")))
S = cfg["system"]
P = Point({nt}, {nt}, 20.0, 5.0, 1e-3).as_dict()
d = compute_drops(S, 2024, 0, 1000)
o = {{"sca": scheme_options("sca", cfg["allocation"])}}
a = compute_allocations(d, S, P, ["sca"], o)
write(a, sys.argv[1], config={{}}, title="benchmark")
print("cvxpy" in sys.modules, a.attrs.get("compute_time_s", float("nan")))
"""


def _options(direct: bool) -> sca.SCAOptions:
    return sca.SCAOptions(
        tol=SCA_TOLERANCE,
        max_iterations=SCA_MAX_ITERATIONS,
        solvers=sca.DEFAULT_SOLVERS,
        batch_size=SCA_BATCH_SIZE,
        active_set=True,
        accelerate=True,
        off_threshold=1e-5,
        stopping="aitken",
        polish=True,
        direct=direct,
    )


def _drops(p: SystemParams, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    beta, _ = large_scale_fading(p, seed, range(n))
    return beta, estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)


def _run(p: SystemParams, beta: np.ndarray, xi: np.ndarray, direct: bool) -> Allocation:
    return sca._solve(
        beta, xi, p, _options(direct), arrays=None, programs=_clarabel.PROGRAMS, trace=None
    )


def algorithm_table(n_drops: int, repeats: int) -> list[str]:
    """Part 1 (module docstring)."""
    from jcas.allocation.sca import _program  # the cvxpy path, measured here too

    lines = [
        f"# sca, (26) by Clarabel directly vs through cvxpy: K = 4, SNR_com 20 dB, {n_drops} "
        f"drops per row; ms per drop = wall time / drops, best of {repeats}",
        f"{'Nt':>4} {'CRB0':>8} | {'direct':>7} {'cvxpy':>7} {'ratio':>6} | {'fallback':>8} "
        f"{'fail':>4} | {'max |dR|':>9} {'max rel':>8} {'it med':>6}",
    ]
    calls = {"n": 0}
    original = _program.Program.solve_step

    def counted(self: _program.Program, d: _clarabel.StepData, solver: str) -> object:
        calls["n"] += 1
        return original(self, d, solver)

    _program.Program.solve_step = counted  # type: ignore[method-assign,assignment]
    try:
        for nt in (15, 35):
            base = SystemParams(K=4, Nt=nt, Nr=nt, snr_com_db=20.0)
            model = sca.crb_model(base)
            binding = float(np.sqrt(base.crb0 / model.t2[1] * base.crb0 / model.t2[0]))
            warm_b, warm_x = _drops(base, 999, 2 * SCA_BATCH_SIZE)
            for direct in (True, False):
                _run(base, warm_b, warm_x, direct)
            for crb0 in (base.crb0, binding):
                p = base.replace(crb0=crb0)
                beta, xi = _drops(p, 2024, n_drops)
                best: dict[bool, float] = {}
                result: dict[bool, Allocation] = {}
                fallback = 0
                for direct in (True, False):
                    for _ in range(repeats):
                        calls["n"] = 0
                        t0 = time.perf_counter()
                        result[direct] = _run(p, beta, xi, direct)
                        dt = time.perf_counter() - t0
                        best[direct] = min(best.get(direct, np.inf), dt)
                        if direct:
                            fallback = max(fallback, calls["n"])
                rates = {
                    d: sum_rate(a.gamma, a.eta, xi, beta, p.Nt, p.sigma_u2_w, p.tau_bar)
                    for d, a in result.items()
                }
                diff = np.abs(rates[True] - rates[False])
                fail = sum(
                    int(np.sum(~np.isin(a.status, ("converged", "max_iterations"))))
                    for a in result.values()
                )
                ms = {d: 1e3 * t / n_drops for d, t in best.items()}
                row = (
                    f"{nt:4d} {crb0:8.1e} | {ms[True]:7.2f} {ms[False]:7.2f} "
                    f"{ms[False] / ms[True]:5.2f}x | {fallback:8d} {fail:4d} | "
                    f"{np.nanmax(diff):9.1e} {np.nanmax(diff / rates[False]):8.1e} "
                    f"{np.median(result[True].iterations):6.0f}"
                )
                lines.append(row)
                print(row, flush=True)
    finally:
        _program.Program.solve_step = original  # type: ignore[method-assign]
    return lines


def _job_seconds(tree: Path, nt: int, repeats: int) -> tuple[float, float, bool]:
    """Median wall time (s) of the job process in ``tree``, its compute time, cvxpy loaded."""
    walls, computes, loaded = [], [], False
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", JOB.format(nt=nt), str(Path(tmp) / "out.nc")],
                cwd=tree,
                env={**os.environ, "PYTHONPATH": str(tree)},
                capture_output=True,
                text=True,
                check=True,
            )
            walls.append(time.perf_counter() - t0)
            flag, compute = proc.stdout.split()[-2:]
            computes.append(float(compute))
            loaded = flag == "True"
    return statistics.median(walls), statistics.median(computes), loaded


def job_table(old: str | None, repeats: int) -> list[str]:
    """Part 2 (module docstring)."""
    lines = [
        f"# one sca job end to end (1000 drops, import to NetCDF written): wall s, median "
        f"of {repeats}; compute = the job's compute_time_s",
        f"{'tree':>12} {'Nt':>4} | {'wall s':>7} {'compute s':>9} {'cvxpy':>6}",
    ]
    trees: list[tuple[str, Path]] = [("this tree", ROOT)]
    with tempfile.TemporaryDirectory() as tmp:
        if old is not None:
            archive = Path(tmp) / "old.tar"
            subprocess.run(["git", "archive", "-o", str(archive), old], cwd=ROOT, check=True)
            with tarfile.open(archive) as tar:
                tar.extractall(Path(tmp) / "old", filter="data")
            trees.append((old[:12], Path(tmp) / "old"))
        for nt in (15, 35):
            for name, tree in trees:
                wall, compute, loaded = _job_seconds(tree, nt, repeats)
                row = f"{name:>12} {nt:4d} | {wall:7.2f} {compute:9.2f} {loaded!s:>6}"
                lines.append(row)
                print(row, flush=True)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drops", type=int, default=1000, help="drops per row of part 1")
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement")
    ap.add_argument("--old", default=None, help="git revision for the job comparison")
    ap.add_argument("--no-job", action="store_true", help="skip part 2")
    args = ap.parse_args()
    lines = [
        f"# jcas sca solver benchmark ({platform.processor() or platform.machine()}, "
        f"python {platform.python_version()})"
    ]
    print(lines[0], flush=True)
    lines += algorithm_table(args.drops, args.repeats)
    if not args.no_job:
        lines += job_table(args.old, args.repeats)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
