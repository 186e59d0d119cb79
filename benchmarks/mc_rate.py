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

Usage: ``python benchmarks/mc_rate.py [--realizations 20000] [--baseline 400]
[--memory-realizations 100000] [--precoders-only]``. Writes the table to
``benchmarks/out/mc_rate.txt``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np

from jcas.arrays import steering_vector
from jcas.channel import estimate_variance, pilot_assignment, pilot_gram
from jcas.metrics import closed_form_metrics
from jcas.metrics import rate as closed_rate
from jcas.montecarlo import mc_rate
from jcas.params import SystemParams
from jcas.registry import design

OUT = Path(__file__).resolve().parent / "out" / "mc_rate.txt"
OUT_PRECODERS = OUT.with_name("mc_rate_precoders.txt")
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--precoders-only", action="store_true", help="only the per-precoder table")
    ap.add_argument("--realizations", type=int, default=20_000)
    ap.add_argument("--baseline", type=int, default=2000, help="realizations of the loop baseline")
    ap.add_argument("--repeats", type=int, default=3, help="timings are the best of this many")
    ap.add_argument("--memory-realizations", type=int, default=100_000)
    args = ap.parse_args()

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
