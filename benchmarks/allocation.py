"""Allocation speed and accuracy: straightforward SCA baseline vs the project's SCA vs optimal.

For K = 4, Nt = Nr = 35, SNR_com in {0, 20} dB and 200 drops (CRB0 = 1e-3, the paper's,
and a CRB0 at which the constraint binds), measures per drop:

(a) baseline: the paper's Algorithm 1 written plainly, one cvxpy Problem per drop
    (DPP parameters, reused over that drop's iterations), cvxpy's default solver,
    powers as fractions of the budget and gains normalised by the noise (without
    this the solvers fail outright), the paper's stopping rule (relative sum-rate
    change < 1e-4);
(b) ``jcas.allocation.sca`` with its defaults (tol = 1e-4); its compiled programs are
    warmed up on other drops first (the one-time compile is reported separately);
(c) ``jcas.allocation.optimal`` (closed form, vectorised), also timed on 10^5 drops.

Prints a table (median and p95 time per drop, speed-up b/a, failures, optimality gaps)
and writes it to ``benchmarks/out/allocation.txt``. Run: ``python benchmarks/allocation.py``.

Then, per precoder part (``mrt``, ``zf``, ``pzf``; same drops, SNR_com and CRB0 regimes):
``optimal`` in ms per drop, and ``sca`` (wherever the scheme accepts the part) in ms per
drop with its failures and gaps to ``optimal``, the rates from each
part's own closed form; written to ``benchmarks/out/allocation_precoders.txt``
(``--precoders-only`` runs this part alone; the certification of the zero-forcing
optimum against a global search is ``benchmarks/certify_precoders.py``).
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings
from pathlib import Path

import cvxpy as cp
import numpy as np

from jcas.allocation import Allocation, allocate
from jcas.allocation.sca import crb_model, start_point
from jcas.model.channel import estimate_variance
from jcas.model.drops import large_scale_fading
from jcas.model.metrics import closed_form_metrics, sum_rate
from jcas.model.params import SystemParams
from jcas.parts.registry import design, design_problems

N_DROPS = 200
REPEATS = 3
OUT = Path(__file__).parent / "out" / "allocation.txt"
OUT_PRECODERS = OUT.with_name("allocation_precoders.txt")


def baseline(
    beta: np.ndarray, xi: np.ndarray, p: SystemParams, tol: float = 1e-4, max_iterations: int = 300
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Straightforward Algorithm 1: one DPP Problem per drop, default solver.

    Returns gamma, eta (NaN on failure), time per drop (s), failure flags.
    """
    n_drops, k = beta.shape
    pw = p.pt_w / p.Nt
    model = crb_model(p)  # T1', T2', T3' = 0 coefficients of (23)-(25), normalised
    start = start_point(model)
    if start is None:
        raise ValueError("CRB0 infeasible for every allocation")
    c0, v0 = start
    gamma = np.full((n_drops, k), np.nan)
    eta = np.full((n_drops, k), np.nan)
    seconds = np.zeros(n_drops)
    failed = np.zeros(n_drops, bool)
    for d in range(n_drops):
        t0 = time.perf_counter()
        g = p.Nt**2 * xi[d] * pw / p.sigma_u2_w
        h = p.Nt * beta[d] * pw / p.sigma_u2_w
        u_var = cp.Variable(k, pos=True)
        e_var = cp.Variable(k, nonneg=True)
        phi = cp.Variable(nonneg=True)
        b_par = cp.Parameter(k, nonneg=True)
        c_par = cp.Parameter(k, nonneg=True)
        phi0 = cp.Parameter(nonneg=True)
        phi0sq = cp.Parameter(nonneg=True)
        total = cp.sum(u_var) + cp.sum(e_var)
        t1 = model.t1[0] * cp.sum(u_var) + model.t1[1] * cp.sum(e_var)
        t2 = model.t2[0] * cp.sum(u_var) + model.t2[1] * cp.sum(e_var)
        objective = -cp.sum(cp.multiply(b_par, cp.inv_pos(u_var))) - (c_par @ h) * total
        problem = cp.Problem(
            cp.Maximize(objective),
            [
                total <= 1.0,
                t1 + phi0sq <= 2 * phi0 * phi,
                cp.SOC(0.5 * (t1 + t2), cp.hstack([phi, 0.5 * (t1 - t2)])),
            ],
        )
        u = np.full(k, c0 / k)
        e = np.full(k, v0 / k)

        def rate(uu: np.ndarray, ee: np.ndarray, g: np.ndarray = g, h: np.ndarray = h) -> float:
            x = g * uu
            y = h * (uu.sum() + ee.sum()) + 1.0
            return float(np.sum(np.log1p(x / y)))

        r_old = rate(u, e)
        t1v = model.t1[0] * u.sum() + model.t1[1] * e.sum()
        t2v = model.t2[0] * u.sum() + model.t2[1] * e.sum()
        phi_i = float(np.sqrt(t1v * t2v))  # feasible initial phi: (23b) with equality
        for _ in range(max_iterations):
            x0 = g * u
            y0 = h * (u.sum() + e.sum()) + 1.0
            b_par.value = x0**2 / (x0 + y0) / g  # B_k / (g_k u_k) with x = g u
            c_par.value = x0 / ((x0 + y0) * y0)  # C_k of (22), numerator as corrected
            phi0.value = phi_i  # Algorithm 1: phi^(i+1) := phi* of the last solve
            phi0sq.value = phi_i**2
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    problem.solve()
            except cp.SolverError:
                failed[d] = True
                break
            if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or u_var.value is None:
                failed[d] = True
                break
            u = np.maximum(np.asarray(u_var.value), 0.0)
            e = np.maximum(np.asarray(e_var.value), 0.0)
            phi_i = float(np.asarray(phi.value))
            r_new = rate(u, e)
            done = abs(r_new - r_old) / r_new < tol
            r_old = r_new
            if done:
                break
        else:
            failed[d] = True
        if not failed[d]:
            gamma[d] = u * pw / xi[d]
            eta[d] = e * pw
        seconds[d] = time.perf_counter() - t0
    return gamma, eta, seconds, failed


def _gap(got: np.ndarray, opt: np.ndarray) -> np.ndarray:
    return (opt - got) / opt


def _part_sum_rate(alloc: object, beta: np.ndarray, xi: np.ndarray, p: SystemParams) -> np.ndarray:
    gamma, eta = alloc.gamma, alloc.eta  # type: ignore[attr-defined]
    return closed_form_metrics(gamma, eta, xi, beta, p, design(p))["rate"].sum(axis=1)


def _timed_optimal(p: SystemParams) -> tuple[np.ndarray, np.ndarray, Allocation, float]:
    """``(beta, xi)`` of the ``N_DROPS`` benchmark drops (seed 2024), their ``optimal``
    allocation and its best wall time over ``REPEATS`` runs (s, all drops)."""
    beta, _ = large_scale_fading(p, 2024, range(N_DROPS))
    xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
    opt_s = np.inf
    for _ in range(REPEATS):
        t = time.perf_counter()
        opt = allocate("optimal", beta, xi, p)
        opt_s = min(opt_s, time.perf_counter() - t)
    return beta, xi, opt, opt_s


def precoder_table() -> list[str]:
    """``optimal`` and ``sca`` per precoder part (see the module docstring)."""
    lines = [
        f"# allocation per precoder: K = 4, Nt = Nr = 35, {N_DROPS} drops per row; ms per "
        "drop (optimal: best of 3 on the batch; sca: median of its per-drop times, programs "
        "warmed up first); gap = (optimal - sca) / optimal",
        f"{'precoder':>8} {'SNR dB':>6} {'CRB0':>8} | {'opt ms':>8} | {'sca med':>7} "
        f"{'sca p95':>7} {'fail':>4} {'gap max':>8} {'gap med':>8}",
    ]
    for name in ("mrt", "zf", "pzf"):
        base = SystemParams(K=4, Nt=35, Nr=35, precoder=name)
        has_sca = not design_problems("sca", base)
        if has_sca:
            wb, _ = large_scale_fading(base, 999, range(64))
            allocate("sca", wb, estimate_variance(wb, base.tau_p, base.pp_w, base.sigma_u2_w), base)
        for snr in (0.0, 20.0):
            p0 = base.replace(snr_com_db=snr)
            model = crb_model(p0)
            binding = float(np.sqrt(p0.crb0 / model.t2[1] * p0.crb0 / model.t2[0]))
            for crb0 in (p0.crb0, binding):
                p = p0.replace(crb0=crb0)
                beta, xi, opt, opt_s = _timed_optimal(p)
                row = f"{name:>8} {snr:6.0f} {crb0:8.1e} | {1e3 * opt_s / N_DROPS:8.5f} |"
                if has_sca:
                    got = allocate("sca", beta, xi, p)
                    gap = _gap(_part_sum_rate(got, beta, xi, p), _part_sum_rate(opt, beta, xi, p))
                    fail = int(np.sum(~np.isin(got.status, ("converged", "max_iterations"))))
                    row += (
                        f" {1e3 * np.median(got.solve_time_s):7.2f} "
                        f"{1e3 * np.percentile(got.solve_time_s, 95):7.2f} {fail:4d} "
                        f"{np.nanmax(gap):8.1e} {np.nanmedian(gap):8.1e}"
                    )
                else:
                    row += f" {'(sca not offered by this part)':>38}"
                lines.append(row)
                print(row, flush=True)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--precoders-only", action="store_true", help="only the per-precoder table")
    args = ap.parse_args()
    table = precoder_table()
    OUT_PRECODERS.parent.mkdir(parents=True, exist_ok=True)
    OUT_PRECODERS.write_text("\n".join(table) + "\n")
    if args.precoders_only:
        return
    lines = [
        f"# jcas allocation benchmark ({platform.processor() or platform.machine()}, "
        f"python {platform.python_version()}, cvxpy {cp.__version__}, {N_DROPS} drops per row)",
        "# K = 4, Nt = Nr = 35; times per drop in ms (per drop, best of "
        f"{REPEATS} runs); gap = (optimal - scheme) / optimal; it = SCA iterations",
    ]
    header = (
        f"{'SNR dB':>6} {'CRB0':>8} | {'base med':>8} {'base p95':>8} {'fail':>4} {'gap max':>8}"
        f" | {'sca med':>7} {'sca p95':>7} {'fail':>4} {'gap max':>8} {'gap med':>8} {'it med':>6}"
        f" | {'speed-up':>8} | {'opt ms':>8}"
    )
    lines.append(header)
    print("\n".join(lines), flush=True)
    base = SystemParams(K=4, Nt=35, Nr=35)
    # warm-up: compile the SCA programs once (cached across calls), on other drops
    t0 = time.perf_counter()
    wb, _ = large_scale_fading(base, 999, range(64))
    allocate("sca", wb, estimate_variance(wb, base.tau_p, base.pp_w, base.sigma_u2_w), base)
    compile_s = time.perf_counter() - t0
    ratios = []
    for snr in (0.0, 20.0):
        p0 = base.replace(snr_com_db=snr)
        # the paper's CRB0 (does not bind here) and one at which the constraint binds
        model = crb_model(p0)
        tight = p0.crb0 / (model.t2[1])  # CRB with all power on sensing (T3 = 0: CRB0 / T2')
        loose = p0.crb0 / (model.t2[0])  # all power on communications
        binding = float(np.sqrt(tight * loose))
        for crb0 in (p0.crb0, binding):
            p = p0.replace(crb0=crb0)
            beta, xi, opt, opt_s = _timed_optimal(p)
            opt_ms = 1e3 * opt_s / N_DROPS
            r_opt = sum_rate(opt.gamma, opt.eta, xi, beta, p.Nt, p.sigma_u2_w, p.tau_bar)
            # best of REPEATS runs per drop, for both (other processes share the cores)
            runs = [allocate("sca", beta, xi, p) for _ in range(REPEATS)]
            s = runs[0]
            ts = np.min([r.solve_time_s for r in runs], axis=0)
            r_sca = sum_rate(s.gamma, s.eta, xi, beta, p.Nt, p.sigma_u2_w, p.tau_bar)
            base_runs = [baseline(beta, xi, p) for _ in range(REPEATS)]
            gb, eb, _, fb = base_runs[0]
            tb = np.min([r[2] for r in base_runs], axis=0)
            r_b = sum_rate(gb, eb, xi, beta, p.Nt, p.sigma_u2_w, p.tau_bar)
            ratio = np.median(tb) / np.median(ts)
            ratios.append(ratio)
            gap_s = _gap(r_sca, r_opt)
            gap_b = _gap(r_b, r_opt)
            row = (
                f"{snr:6.0f} {crb0:8.1e} | {1e3 * np.median(tb):8.2f} "
                f"{1e3 * np.percentile(tb, 95):8.2f} {int(fb.sum()):4d} {np.nanmax(gap_b):8.1e}"
                f" | {1e3 * np.median(ts):7.2f} "
                f"{1e3 * np.percentile(ts, 95):7.2f} "
                f"{int(np.sum(s.status != 'converged')):4d} {np.max(gap_s):8.1e} "
                f"{np.median(gap_s):8.1e} {np.median(s.iterations):6.0f}"
                f" | {ratio:7.1f}x | {opt_ms:8.5f}"
            )
            lines.append(row)
            print(row, flush=True)
    # optimal throughput on 10^5 drops
    beta, _ = large_scale_fading(base, 7, range(1000))
    beta = np.tile(beta, (100, 1))
    xi = estimate_variance(beta, base.tau_p, base.pp_w, base.sigma_u2_w)
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        allocate("optimal", beta, xi, base)
        best = min(best, time.perf_counter() - t)
    tail = [
        f"speed-up sca vs baseline (median time ratio): min {min(ratios):.1f}x over the rows",
        f"sca one-time compile + warm-up (64 drops, cached afterwards): {compile_s:.2f} s",
        f"optimal throughput: {len(beta) / best:,.0f} drops/s (best of 3 on {len(beta):,} drops)",
    ]
    lines += tail
    print("\n".join(tail))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
