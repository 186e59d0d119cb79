"""Throughput of the Monte-Carlo rate estimator (``jcas.montecarlo.mc_rate``).

Measures realizations x antennas x users per second at N = Nt = 16, 64, 256 (K = 4)
for the vectorised, chunked estimator and, in the same run, for a
straightforward per-realization loop (same model: fading, noisy pilots, MMSE
estimate (6), precoder (12), gains, running sums), and prints their ratio.
Also reports the peak memory of 1e5 realizations at N = 256 (tracemalloc peak
of Python/numpy allocations, and the process's maximum resident set size).

Then, per precoder part (``mrt``, ``zf``, ``pzf``) at K = 8 and N = 16, 64, 256 (``Nt > K``
for zero-forcing), the throughput of ``mc_rate``, its ratio to MRT's and the largest
``|MC - closed form| / SE`` of the part's own closed form (written to
``benchmarks/out/mc_rate_precoders.txt``; ``--precoders-only`` runs this part alone).

Then (``--jobs-only`` runs this part alone; ``--no-jobs`` skips it) the Monte-Carlo job of
a grid point: ``jcas.pipeline.stages.montecarlo.compute_monte_carlo`` of the three
``closed_form`` schemes
(``optimal``, ``equal``, ``equal_full``) on 1000 drops of ``config.yaml`` at Nt = 15 and 35
(realizations 100, frames 20, MRT), once with one estimator call per scheme
(``share_draws=False``, each scheme drawing the same channels again: the reference) and
once with the draws shared by the schemes, in the same run: time, ratio, tracemalloc peak,
and whether the two datasets are identical. And the wall time of single job processes
(``closed_form`` and ``monte_carlo`` as the workflow scripts run them, through
``jcas/pipeline/jobs/``; without Snakemake's own preamble) of a reference commit
(``--commit``, through ``git archive``) and of the working tree, alternating, with the
time spent in imports, and the packages a ``closed_form`` job imports (``-X importtime``).
Written to ``benchmarks/out/mc_share.txt``.

Usage: ``python benchmarks/mc_rate.py [--realizations 20000] [--baseline 400]
[--memory-realizations 100000] [--precoders-only] [--jobs-only] [--commit bde8bcf]``.
Writes the table to ``benchmarks/out/mc_rate.txt``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

from jcas.model.channel import estimate_variance, pilot_assignment, pilot_gram
from jcas.model.metrics import closed_form_metrics
from jcas.model.metrics import rate as closed_rate
from jcas.model.params import SystemParams
from jcas.montecarlo import mc_rate
from jcas.parts.arrays.ula import steering_vector
from jcas.parts.registry import design

OUT = Path(__file__).resolve().parent / "out" / "mc_rate.txt"
OUT_PRECODERS = OUT.with_name("mc_rate_precoders.txt")
OUT_SHARE = OUT.with_name("mc_share.txt")
ROOT = Path(__file__).resolve().parents[1]
SCHEMES = ("optimal", "equal", "equal_full")
K_PRECODERS = 8
K = 4
BETA = np.array([[0.9, 0.3, 0.1, 0.5]])


def _alloc(params: SystemParams) -> tuple[np.ndarray, np.ndarray]:
    xi = estimate_variance(BETA, params.tau_p, params.pp_w, params.sigma_u2_w)
    gamma = np.full((1, K), 0.6 * params.pt_w / params.Nt) / xi.sum()
    eta = np.full((1, K), 0.4 * params.pt_w / (params.Nt * K))
    return gamma, eta


def baseline_loop(
    params: SystemParams, gamma: np.ndarray, eta: np.ndarray, n: int, seed: int = 0
) -> np.ndarray:
    """Straightforward estimator: one realization at a time, full pilot matrix, per-user (6).

    Returns the per-user rate (14) from running sums (no standard error).
    """
    rng = np.random.default_rng(seed)
    nt, tau_p = params.Nt, params.tau_p
    beta, g, e = BETA[0], gamma[0], eta[0]
    a_t = steering_vector(nt, params.theta_rad)
    psi = np.zeros((tau_p, K))
    psi[pilot_assignment(K, tau_p), np.arange(K)] = 1.0
    gram = np.abs(psi.T @ psi) ** 2
    s_ds = np.zeros(K, complex)
    s_p = np.zeros(K)
    s_i = np.zeros(K)
    for _ in range(n):
        h = np.sqrt(beta) * (rng.standard_normal((nt, K)) + 1j * rng.standard_normal((nt, K)))
        h /= math.sqrt(2)
        noise = (rng.standard_normal((nt, tau_p)) + 1j * rng.standard_normal((nt, tau_p))) / (
            math.sqrt(2)
        )
        y_p = math.sqrt(tau_p * params.pp_w) * h @ psi.T + math.sqrt(params.sigma_u2_w) * noise
        h_hat = np.empty((nt, K), complex)
        for k in range(K):
            den = tau_p * params.pp_w * np.sum(beta * gram[:, k]) + params.sigma_u2_w
            h_hat[:, k] = math.sqrt(tau_p * params.pp_w) * beta[k] / den * (y_p @ psi[:, k])
        f = h_hat * np.sqrt(g) + np.outer(a_t, np.sqrt(e))
        for k in range(K):
            gk = h[:, k].conj() @ f
            s_ds[k] += gk[k]
            s_p[k] += abs(gk[k]) ** 2
            s_i[k] += np.sum(np.abs(gk) ** 2) - abs(gk[k]) ** 2
    ds = s_ds / n
    bu = s_p / n - np.abs(ds) ** 2
    sinr = np.abs(ds) ** 2 / (bu + s_i / n + params.sigma_u2_w)
    return params.tau_bar * np.log2(1 + sinr)


def precoder_throughput(realizations: int, repeats: int) -> list[str]:
    """Throughput of ``mc_rate`` per precoder part at K = 8 (see the module docstring)."""
    k = K_PRECODERS
    beta = np.linspace(0.1, 0.9, k)[None, :]
    lines = [
        f"# MC rate throughput per precoder (K = {k}, tau_p = 10, one drop, 60 % of Pt on "
        f"communications); numpy {np.__version__}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at start; best of {repeats} runs of {realizations} "
        "realizations",
        f"{'N':>5} {'precoder':>9} {'time s':>8} {'real/s':>10} {'vs mrt':>7} {'|MC-CF|/SE':>10}",
    ]
    for nt in (16, 64, 256):
        ref = math.nan
        for name in ("mrt", "zf", "pzf"):
            params = SystemParams(Nt=nt, Nr=nt, K=k, snr_com_db=10.0, precoder=name)
            xi = estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)
            pre = design(params).precoder
            gamma, eta = pre.equal_split(
                np.array([0.6 * params.pt_w / nt]), np.array([0.4 * params.pt_w / nt]), xi
            )
            mc_rate(params, beta, gamma, eta, seed=0, drops=[0], n_realizations=512)  # warm-up
            best = math.inf
            for _ in range(repeats):
                t0 = time.perf_counter()
                est = mc_rate(
                    params, beta, gamma, eta, seed=1, drops=[0], n_realizations=realizations
                )
                best = min(best, time.perf_counter() - t0)
            cf = closed_form_metrics(gamma, eta, xi, beta, params, design(params))["rate"]
            z = float(np.max(np.abs(est.rate - cf) / est.rate_se))
            rate = realizations / best
            ref = rate if name == "mrt" else ref
            lines.append(
                f"{nt:>5} {name:>9} {best:>8.2f} {rate:>10.3g} {rate / ref:>7.2f} {z:>10.2f}"
            )
    return lines


def _job_inputs(nt: int, n_drops: int) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The ``closed_form`` allocation of ``config.yaml``'s drops 0 .. n_drops-1 at ``Nt = Nr =
    nt`` (default SNRs and CRB0), with the system block and the point."""
    import yaml

    from jcas.config import scheme_options
    from jcas.pipeline.stages.allocation import compute_allocations
    from jcas.pipeline.stages.drops import compute_drops

    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    system = dict(cfg["system"])
    point = {
        "Nt": nt,
        "Nr": nt,
        "snr_com_db": float(system["snr_com_db"]),
        "snr_sen_db": float(system["snr_sen_db"]),
        "crb0": float(system["crb0"]),
    }
    drops = compute_drops(system, int(cfg["seed"]), 0, n_drops)
    options = {s: scheme_options(s, cfg["allocation"]) for s in SCHEMES}
    alloc = compute_allocations(drops, system, point, list(SCHEMES), options).to_xarray()
    return alloc, system, point


def _identical(a: Any, b: Any) -> bool:
    return all(
        np.array_equal(a[v].values, b[v].values, equal_nan=a[v].dtype.kind == "f")
        for v in a.data_vars
    )


def mc_job_sharing(repeats: int, n_drops: int = 1000) -> list[str]:
    """``compute_monte_carlo`` of 3 schemes: one call per scheme vs shared draws."""
    from jcas.pipeline.stages.montecarlo import compute_monte_carlo

    mc = {"realizations": 100, "frames": 20}
    lines = [
        f"# Monte-Carlo job of {len(SCHEMES)} schemes ({', '.join(SCHEMES)}): "
        f"compute_monte_carlo on {n_drops} drops, realizations {mc['realizations']}, frames "
        f"{mc['frames']}, MRT, config.yaml's point; best of {repeats} alternating runs; "
        f"numpy {np.__version__}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at start",
        f"{'Nt':>4} {'per-scheme s':>12} {'shared s':>9} {'ratio':>6} {'peak MiB':>15} "
        f"{'identical':>9}",
    ]
    for nt in (15, 35):
        alloc, system, point = _job_inputs(nt, n_drops)
        times: dict[bool, float] = {False: math.inf, True: math.inf}
        out: dict[bool, Any] = {}
        for _ in range(repeats):
            for share in (False, True):
                t0 = time.perf_counter()
                out[share] = compute_monte_carlo(
                    alloc, system, point, mc, 1, share_draws=share
                ).to_xarray()
                times[share] = min(times[share], time.perf_counter() - t0)
        peaks = {}
        for share in (False, True):
            tracemalloc.start()
            compute_monte_carlo(alloc, system, point, mc, 1, share_draws=share)
            peaks[share] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        same = _identical(out[False], out[True])
        lines.append(
            f"{nt:>4} {times[False]:>12.2f} {times[True]:>9.2f} "
            f"{times[False] / times[True]:>6.2f} {peaks[False]:>7.1f} {peaks[True]:>7.1f} "
            f"{'yes' if same else 'NO':>9}"
        )
    lines.append(
        "# ratio = per-scheme time / shared time; peak = tracemalloc peak, per-scheme shared"
    )
    return lines


_JOB = r"""
import json, sys, time
t0 = time.perf_counter()
kind, args = sys.argv[1], json.loads(sys.argv[2])
try:  # one entry module per rule
    if kind == "closed_form":
        from jcas.pipeline.jobs.allocation import run
    else:
        from jcas.pipeline.jobs.monte_carlo import run
except ImportError:  # older trees: one module of job functions
    try:
        from jcas.pipeline import jobs as j
    except ImportError:
        sys.path.insert(0, "workflow/scripts")
        import jcas_job as j
    run = j.run_allocation if kind == "closed_form" else j.run_monte_carlo
t1 = time.perf_counter()
if kind == "closed_form":
    run(args.pop("drops"), args.pop("output"), **args)
else:
    run(args.pop("alloc"), args.pop("output"), **args)
print(json.dumps({"imports": t1 - t0, "script": time.perf_counter() - t0}))
"""


def _run_job(tree: Path, kind: str, args: dict[str, Any], env: dict[str, str]) -> dict[str, float]:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _JOB, kind, json.dumps(args)],
        cwd=tree,
        env={**env, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - t0
    return {"wall": wall, **json.loads(done.stdout.strip().splitlines()[-1])}


def _import_table(tree: Path, args: dict[str, Any], env: dict[str, str]) -> list[str]:
    """Cumulative import time of the top-level packages of a ``closed_form`` job."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _JOB, "closed_form", json.dumps(args)],
        cwd=tree,
        env={**env, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
    )
    top: dict[str, float] = {}
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if m:
            name = m.group(4).split(".")[0]
            top[name] = top.get(name, 0.0) + int(m.group(1)) / 1000.0
    wanted = ["xarray", "pandas", "numpy", "netCDF4", "cftime", "jcas"]
    absent = ["scipy", "matplotlib", "cvxpy", "yaml", "jsonschema", "snakemake"]
    lines = ["# closed_form job imports (-X importtime, self times summed per top package, ms):"]
    lines.append(
        "#   "
        + ", ".join(f"{k} {top.get(k, 0.0):.0f}" for k in wanted)
        + f"; total {sum(top.values()):.0f}"
    )
    lines.append(
        "#   not imported: "
        + ", ".join(k for k in absent if k not in top)
        + "; imported of these: "
        + (", ".join(k for k in absent if k in top) or "none")
    )
    return lines


def job_processes(commit: str, repeats: int) -> list[str]:
    """Wall time of one ``closed_form`` and one ``monte_carlo`` job process, per tree."""
    import yaml

    from jcas.config import scheme_options
    from jcas.pipeline.files import write
    from jcas.pipeline.stages.drops import compute_drops

    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    system = dict(cfg["system"])
    point = {
        "Nt": 15,
        "Nr": 15,
        "snr_com_db": float(system["snr_com_db"]),
        "snr_sen_db": float(system["snr_sen_db"]),
        "crb0": float(system["crb0"]),
    }
    with tempfile.TemporaryDirectory(prefix="jcas-jobs-") as tmp_dir:
        tmp = Path(tmp_dir)
        old = tmp / "old"
        old.mkdir()
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
        drops = tmp / "drops.nc"
        write(
            compute_drops(system, int(cfg["seed"]), 0, 1000),
            drops,
            config={"system": system},
            title="drops",
        )
        # byte-code caches on (as on a user's machine), in a private prefix
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        options = {s: scheme_options(s, cfg["allocation"]) for s in SCHEMES}
        mc = {"realizations": int(cfg["mc"]["realizations"]), "frames": int(cfg["mc"]["frames"])}
        results: dict[tuple[str, str], list[dict[str, float]]] = {}
        trees = {"old": old, "new": ROOT}
        for i in range(repeats + 1):  # the first round writes the byte-code caches
            for label, tree in trees.items():
                alloc = tmp / f"alloc_{label}.nc"
                cf = {
                    "drops": str(drops),
                    "output": str(alloc),
                    "system": system,
                    "point": point,
                    "schemes": list(SCHEMES),
                    "options": options,
                }
                job = {
                    "alloc": str(alloc),
                    "output": str(tmp / f"mc_{label}.nc"),
                    "system": system,
                    "point": point,
                    "schemes": list(SCHEMES),
                    "mc": mc,
                    "seed": int(cfg["seed"]),
                }
                for kind, args in (("closed_form", cf), ("monte_carlo", job)):
                    rec = _run_job(tree, kind, args, env)
                    if i:
                        results.setdefault((kind, label), []).append(rec)
        from jcas.io.results import read_netcdf

        same = _identical(read_netcdf(tmp / "mc_old.nc"), read_netcdf(tmp / "mc_new.nc"))
        imports = _import_table(ROOT, cf, env)
    lines = [
        f"# job processes (python -c, the workflow script's calls; no Snakemake preamble): "
        f"reference {commit} (old) vs working tree (new), Nt = 15, 1000 drops, {repeats} "
        f"alternating runs each; seconds, median (min)",
        f"{'job':>12} {'tree':>4} {'wall':>14} {'imports':>14} {'in script':>14}",
    ]
    for kind in ("closed_form", "monte_carlo"):
        for label in trees:
            recs = results[(kind, label)]

            def cell(key: str, recs: list[dict[str, float]] = recs) -> str:
                vals = [r[key] for r in recs]
                return f"{statistics.median(vals):.3f} ({min(vals):.3f})"

            lines.append(
                f"{kind:>12} {label:>4} {cell('wall'):>14} {cell('imports'):>14} "
                f"{cell('script'):>14}"
            )
        old_w = statistics.median(r["wall"] for r in results[(kind, "old")])
        new_w = statistics.median(r["wall"] for r in results[(kind, "new")])
        lines.append(f"{kind:>12} new/old wall {new_w / old_w:.2f}")
    lines.append(f"# monte_carlo results of the two trees identical: {'yes' if same else 'NO'}")
    return lines + imports


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--precoders-only", action="store_true", help="only the per-precoder table")
    ap.add_argument("--jobs-only", action="store_true", help="only the Monte-Carlo job tables")
    ap.add_argument("--no-jobs", action="store_true", help="skip the Monte-Carlo job tables")
    ap.add_argument("--commit", default="bde8bcf", help="reference commit of the job processes")
    ap.add_argument("--job-repeats", type=int, default=5, help="runs of each job process")
    ap.add_argument("--realizations", type=int, default=20_000)
    ap.add_argument("--baseline", type=int, default=2000, help="realizations of the loop baseline")
    ap.add_argument("--repeats", type=int, default=3, help="timings are the best of this many")
    ap.add_argument("--memory-realizations", type=int, default=100_000)
    args = ap.parse_args()

    if not args.no_jobs:
        share = "\n".join(
            mc_job_sharing(args.repeats) + job_processes(args.commit, args.job_repeats)
        )
        print(share)
        OUT_SHARE.parent.mkdir(parents=True, exist_ok=True)
        OUT_SHARE.write_text(share + "\n")
        if args.jobs_only:
            return
    table = "\n".join(precoder_throughput(args.realizations, args.repeats))
    print(table)
    OUT_PRECODERS.parent.mkdir(parents=True, exist_ok=True)
    OUT_PRECODERS.write_text(table + "\n")
    if args.precoders_only:
        return

    lines = [
        f"# MC rate estimator throughput (K = {K}, tau_p = 10, one drop); "
        f"numpy {np.__version__}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; "
        f"times are the best of {args.repeats} runs",
        f"{'N':>5} {'mode':>10} {'realiz.':>9} {'time s':>8} {'real/s':>10} "
        f"{'real*N*K/s':>12} {'speed-up':>9} {'|MC-CF|/SE':>10}",
    ]
    for nt in (16, 64, 256):
        params = SystemParams(Nt=nt, Nr=nt, K=K, snr_com_db=10.0)
        gamma, eta = _alloc(params)
        xi = estimate_variance(BETA, params.tau_p, params.pp_w, params.sigma_u2_w)
        cf = closed_rate(
            gamma,
            eta,
            xi,
            BETA,
            nt,
            params.sigma_u2_w,
            params.tau_bar,
            pilot_gram=pilot_gram(K, params.tau_p),
        )
        mc_rate(params, BETA, gamma, eta, seed=0, drops=[0], n_realizations=512)  # warm-up
        t_vec = t_loop = math.inf
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            est = mc_rate(
                params, BETA, gamma, eta, seed=1, drops=[0], n_realizations=args.realizations
            )
            t_vec = min(t_vec, time.perf_counter() - t0)
            t0 = time.perf_counter()
            baseline_loop(params, gamma, eta, args.baseline)
            t_loop = min(t_loop, time.perf_counter() - t0)
        z = float(np.max(np.abs(est.rate - cf) / est.rate_se))
        r_vec = args.realizations / t_vec
        r_loop = args.baseline / t_loop
        lines.append(
            f"{nt:>5} {'vectorised':>10} {args.realizations:>9} {t_vec:>8.2f} {r_vec:>10.3g} "
            f"{r_vec * nt * K:>12.3g} {r_vec / r_loop:>9.1f} {z:>10.2f}"
        )
        lines.append(
            f"{nt:>5} {'loop':>10} {args.baseline:>9} {t_loop:>8.2f} {r_loop:>10.3g} "
            f"{r_loop * nt * K:>12.3g} {1.0:>9.1f} {'-':>10}"
        )

    params = SystemParams(Nt=256, Nr=256, K=K, snr_com_db=10.0)
    gamma, eta = _alloc(params)
    n_mem = args.memory_realizations
    tracemalloc.start()
    t0 = time.perf_counter()
    mc_rate(params, BETA, gamma, eta, seed=2, drops=[0], n_realizations=n_mem)
    t_mem = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
    lines.append("# speed-up = vectorised realizations/s over loop realizations/s (same run)")
    lines.append(
        f"# memory: {n_mem} realizations at N = 256: tracemalloc peak {peak / 2**20:.1f} MiB, "
        f"max RSS of the process {rss:.0f} MiB, time {t_mem:.1f} s "
        f"(a single array of all realizations' channels alone would need "
        f"{n_mem * 256 * K * 16 / 2**20:.0f} MiB)"
    )
    text = "\n".join(lines)
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text + "\n")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
