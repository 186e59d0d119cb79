"""Objectives beyond the sum rate: speed, iterations and certification, and the paper numbers.

Part 1 (the table): for K = 4, 8, 16 users, Nt = Nr = 64, SNR_com = 20 dB, orthonormal
pilots (tau_p = max(10, K)), 200 drops (seed 2024), CRB0 = 1e-3 (the paper's; free) and a
binding CRB0 (the geometric middle of its binding range), per scheme: ms per drop (best
of 3 runs on the batch; ``sca``: the median of its per-drop times after a warm-up), the
time ratio to ``optimal`` measured in the same run, drops ``infeasible`` and drops failed
(any other non-success status), the iterations (``maxmin``: Newton and root-finding
steps; ``energy``: Dinkelbach steps; ``sca``: convex subproblems), and the largest gap of
the certification:

- ``maxmin``: LP (HiGHS) feasibility at ``t*`` and infeasibility at ``t* (1 + 1e-6)`` on 10
  drops (``lp fail``), and ``|t_LP - t*| / t*`` of a bisection on the LP's feasibility
  (to 1e-10) on 5 drops;
- ``sensing_centric`` (rate target 0.1 bit/s/Hz per user): ``|J_LP - J*| / J*`` of the LP
  ``max J`` on 10 drops (and the LP's infeasibility where the scheme says infeasible);
- ``weighted``: with unit weights, the largest relative sum-rate difference to ``optimal``
  on all drops (the weighted run itself uses weights drawn from U(0.5, 2), seed 7);
- ``energy`` (default power model): the certified optimality gap ``EE_bound / EE* - 1`` of
  a branch and bound over the power on all drops (:func:`jcas.allocation.energy.certify_energy`,
  refined to 1e-7; the independent search with ``optimal`` at each power is in
  ``tests/allocation/test_energy.py``);
- ``sca``: the largest relative sum-rate gap to ``optimal`` on all drops.

Part 2 (the paper's default system: K = 4, Nt = Nr = 35, SNR_com = 20 dB, SNR_sen = 5 dB,
CRB0 = 1e-3, MRT; 500 drops): what max-min fairness costs in sum rate against
``optimal`` (mean with its standard error over drops), the smallest user's rate under
each, and the EE-optimal Nt over Nt = Nr in {8, 16, ..., 128} with the default power model
(mean EE over drops, its SE, and the mean transmit power chosen).

Prints both and writes them to ``benchmarks/out/objectives.txt``. Run:
``python benchmarks/objectives.py`` (about 2 min; ``--quick``: 40 drops, no K = 16).
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linprog

from jcas.allocation import Allocation, allocate
from jcas.allocation.energy import certify_energy, energy, power_model, solve_energy
from jcas.allocation.maxmin import maxmin, solve_maxmin
from jcas.allocation.sensing_centric import sensing_centric, sinr_targets, solve_sensing_centric
from jcas.allocation.weighted import weighted
from jcas.model.channel import estimate_variance
from jcas.model.coefficients import Coefficients
from jcas.model.drops import large_scale_fading
from jcas.model.metrics import closed_form_metrics
from jcas.model.params import SystemParams
from jcas.parts.coefficients import closed_form_coefficients
from jcas.parts.registry import design

OUT = Path(__file__).parent / "out" / "objectives.txt"
REPEATS = 3
SEED = 2024


def _drops(p: SystemParams, n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    beta, _ = large_scale_fading(p, seed, range(n))
    return beta, estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)


def _binding_crb0(p: SystemParams) -> float:
    beta, xi = _drops(p, 1)
    coef = closed_form_coefficients(beta, xi, p)
    t2, q, sigma = coef.fisher.t2[0], coef.budget, p.sigma_r_bar2
    return float(math.sqrt(sigma / (np.max(t2) * q) * sigma / (t2[0] * q)))


def _timed(run: Callable[[], Allocation]) -> tuple[Allocation, float]:
    best, out = math.inf, None
    for _ in range(REPEATS):
        t = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - t)
    assert out is not None
    return out, best


def _metrics(alloc: Allocation, beta: np.ndarray, xi: np.ndarray, p: SystemParams) -> Any:
    with np.errstate(all="ignore"):
        return closed_form_metrics(alloc.gamma, alloc.eta, xi, beta, p, design(p))


# ------------------------------------------------------------------------------ references
def _lp(coef: Coefficients, d: int, t: np.ndarray, objective: bool) -> tuple[int, float]:
    """HiGHS on drop d at SINR targets t: feasibility with ``J >= F0`` (objective False) or
    ``max J`` without it (objective True); (status, J)."""
    r, f = coef.rate, coef.fisher
    a, b, e = r.signal[d], r.interference[d], r.sensing[d]
    k, q, s2 = len(a), coef.budget, r.noise
    rows, rhs = [], []
    for i in range(k):
        row = np.concatenate([t[i] * b[i], [t[i] * e[i]]]) * q / s2
        row[i] -= a[i] * q / s2
        scale = np.max(np.abs(row))
        rows.append(row / scale)
        rhs.append(-t[i] / scale)
    rows.append(np.ones(k + 1))
    rhs.append(1.0)
    top = np.max(f.t2[d])
    if not objective:
        row = -f.t2[d] / top
        rows.append(row)
        rhs.append(-coef.fisher0 / (top * q))
    res = linprog(
        -f.t2[d] / top if objective else np.zeros(k + 1),
        A_ub=np.array(rows),
        b_ub=np.array(rhs),
        bounds=[(0, None)] * (k + 1),
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    j = -res.fun * top * q if (objective and res.status == 0) else math.nan
    return int(res.status), j


def _certify_maxmin(coef: Coefficients, value: np.ndarray) -> tuple[int, float]:
    k = coef.rate.n_users
    fails = 0
    n = min(10, len(value))
    for d in range(n):
        ones = np.ones(k)
        fails += _lp(coef, d, value[d] * ones, False)[0] != 0
        fails += _lp(coef, d, value[d] * (1 + 1e-6) * ones, False)[0] != 2
    gap = 0.0
    for d in range(min(5, len(value))):
        lo, hi = 0.0, 2.0 * value[d]
        while hi - lo > 1e-10 * hi:
            mid = 0.5 * (lo + hi)
            feasible = _lp(coef, d, mid * np.ones(k), False)[0] == 0
            lo, hi = (mid, hi) if feasible else (lo, mid)
        gap = max(gap, abs(lo - value[d]) / value[d])
    return fails, gap


def _certify_sensing(coef: Coefficients, sol: Any, target: float, tau_bar: float) -> float:
    t = sinr_targets(target, coef.rate.n_users, tau_bar)
    gap = 0.0
    for d in range(min(10, len(sol.status))):
        status, j = _lp(coef, d, t, True)
        if sol.status[d] == "optimal":
            j_star = coef.fisher.sigma_r_bar2 / sol.value[d]
            gap = max(gap, abs(j - j_star) / j_star if status == 0 else math.inf)
        elif status != 2:
            gap = math.inf
    return gap


# ------------------------------------------------------------------------------ part 1
def table(n_drops: int, users: tuple[int, ...]) -> list[str]:
    lines = [
        f"# objectives: Nt = Nr = 64, SNR_com = 20 dB, {n_drops} drops per row; ms per drop "
        f"(best of {REPEATS} on the batch; sca: median per drop after warm-up); x opt = time "
        "/ optimal's in the same run; infeas / fail = drops infeasible / failed; it = "
        "iterations mean/max; cert = largest certification gap (module docstring)",
        f"{'K':>3} {'CRB0':>8} {'scheme':>15} | {'ms/drop':>8} {'x opt':>7} | {'infeas':>6} "
        f"{'fail':>4} | {'it mean':>7} {'it max':>6} | {'cert':>9} {'lp fail':>7}",
    ]
    print("\n".join(lines), flush=True)
    rng = np.random.default_rng(7)
    for k in users:
        base = SystemParams(K=k, Nt=64, Nr=64, snr_com_db=20.0, tau_p=max(10, k))
        wb, wx = _drops(base, 50, seed=999)
        allocate("sca", wb, wx, base)  # warm-up: compile the programs once
        for crb0 in (1e-3, _binding_crb0(base)):
            p = base.replace(crb0=crb0)
            beta, xi = _drops(p, n_drops)
            coef = closed_form_coefficients(beta, xi, p)
            opt, t_opt = _timed(lambda p=p, beta=beta, xi=xi: allocate("optimal", beta, xi, p))
            r_opt = _metrics(opt, beta, xi, p)["rate"].sum(-1)
            weights = list(rng.uniform(0.5, 2.0, k))
            rows: list[tuple[str, Allocation, float, str, int]] = []
            mm, t_mm = _timed(lambda p=p, beta=beta, xi=xi: maxmin(beta, xi, p))
            fails, gap = _certify_maxmin(coef, solve_maxmin(coef).value)
            rows.append(("maxmin", mm, t_mm, f"{gap:9.1e}", fails))
            sc, t_sc = _timed(lambda p=p, beta=beta, xi=xi: sensing_centric(beta, xi, p))
            gap_sc = _certify_sensing(
                coef, solve_sensing_centric(coef, rate_target=0.1), 0.1, p.tau_bar
            )
            rows.append(("sensing_centric", sc, t_sc, f"{gap_sc:9.1e}", 0))
            wt, t_wt = _timed(
                lambda p=p, beta=beta, xi=xi, w=weights: weighted(beta, xi, p, weights=w)
            )
            unit = weighted(beta, xi, p)
            r_unit = _metrics(unit, beta, xi, p)["rate"].sum(-1)
            ok = np.isfinite(r_opt)
            gap_w = float(np.max(np.abs(r_unit[ok] - r_opt[ok]) / r_opt[ok])) if ok.any() else 0
            rows.append(("weighted", wt, t_wt, f"{gap_w:9.1e}", 0))
            ee, t_ee = _timed(lambda p=p, beta=beta, xi=xi: energy(beta, xi, p))
            model = power_model(p)
            sol_ee = solve_energy(coef, model)
            bound = certify_energy(coef, model, sol_ee.value)
            gap_ee = (
                float(np.nanmax(bound / sol_ee.value - 1.0))
                if np.any(np.isfinite(sol_ee.value))
                else 0
            )
            rows.append(("energy", ee, t_ee, f"{gap_ee:9.1e}", 0))
            sca = allocate("sca", beta, xi, p)
            r_sca = _metrics(sca, beta, xi, p)["rate"].sum(-1)
            both = np.isfinite(r_sca) & np.isfinite(r_opt)
            gap_sca = float(np.max((r_opt[both] - r_sca[both]) / r_opt[both])) if both.any() else 0
            t_sca = float(np.median(sca.solve_time_s)) * n_drops
            rows.append(("sca", sca, t_sca, f"{gap_sca:9.1e}", 0))
            rows.insert(0, ("optimal", opt, t_opt, f"{0.0:9.1e}", 0))
            for name, alloc, seconds, cert, lp_fail in rows:
                success = alloc.success
                infeasible = int(np.sum(alloc.status == "infeasible"))
                failed = int(np.sum(~success & (alloc.status != "infeasible")))
                it = alloc.iterations[success] if success.any() else np.zeros(1)
                row = (
                    f"{k:3d} {crb0:8.1e} {name:>15} | {1e3 * seconds / n_drops:8.4f} "
                    f"{seconds / t_opt:7.1f} | {infeasible:6d} {failed:4d} | "
                    f"{np.mean(it):7.2f} {np.max(it):6d} | {cert} {lp_fail:7d}"
                )
                lines.append(row)
                print(row, flush=True)
    return lines


# ------------------------------------------------------------------------------ part 2
def paper_numbers(n_drops: int) -> list[str]:
    p = SystemParams(K=4, Nt=35, Nr=35, snr_com_db=20.0, snr_sen_db=5.0, crb0=1e-3)
    beta, xi = _drops(p, n_drops)
    opt = allocate("optimal", beta, xi, p)
    mm = maxmin(beta, xi, p)
    r_opt = _metrics(opt, beta, xi, p)["rate"]
    r_mm = _metrics(mm, beta, xi, p)["rate"]
    cost = r_opt.sum(-1) - r_mm.sum(-1)
    rel = cost / r_opt.sum(-1)

    def m(v: np.ndarray) -> str:
        return f"{np.mean(v):.4f} +/- {np.std(v, ddof=1) / math.sqrt(len(v)):.4f}"

    lines = [
        f"# paper's default system: K = 4, Nt = Nr = 35, SNR_com = 20 dB, SNR_sen = 5 dB, "
        f"CRB0 = 1e-3, MRT; {n_drops} drops (seed {SEED}); mean +/- standard error over drops",
        f"sum rate, optimal:            {m(r_opt.sum(-1))} bit/s/Hz",
        f"sum rate, maxmin:             {m(r_mm.sum(-1))} bit/s/Hz",
        f"sum-rate cost of fairness:    {m(cost)} bit/s/Hz  (relative {m(rel)}; median "
        f"{np.median(rel):.4f})",
        f"smallest user's rate, optimal: {m(r_opt.min(-1))} bit/s/Hz (median "
        f"{np.median(r_opt.min(-1)):.2e}; users switched off: "
        f"{np.mean(r_opt.min(-1) < 1e-9):.3f} of drops)",
        f"smallest user's rate, maxmin:  {m(r_mm.min(-1))} bit/s/Hz (median "
        f"{np.median(r_mm.min(-1)):.2e})",
        "# EE-optimal Nt (Nr = Nt), scheme energy with the default power model (mu = 0.4, "
        "P_FIX = 10 W, P_LO = 0.2 W, P_BS = 0.4 W per chain, P_UE = 0.2 W; Nt + Nr chains)",
        f"{'Nt':>4} | {'EE (bit/s/Hz/W)':>22} | {'EE at Pt (optimal)':>22} | {'P_tx / Pt':>9} | "
        f"{'Dinkelbach it':>13}",
    ]
    best_nt, best_ee = 0, -math.inf
    per_nt: dict[int, np.ndarray] = {}
    for nt in range(8, 129, 8):
        pn = p.replace(Nt=nt, Nr=nt)
        bn, xn = _drops(pn, n_drops)
        ee = energy(bn, xn, pn)
        model = power_model(pn)
        got = _metrics(ee, bn, xn, pn)
        value = got["rate"].sum(-1) / (
            got["power_total"] / model.amplifier_efficiency + model.circuit_w
        )
        full = allocate("optimal", bn, xn, pn)
        gf = _metrics(full, bn, xn, pn)
        v_full = gf["rate"].sum(-1) / (
            gf["power_total"] / model.amplifier_efficiency + model.circuit_w
        )
        lines.append(
            f"{nt:4d} | {m(value):>22} | {m(v_full):>22} | "
            f"{np.mean(got['power_total']) / pn.pt_w:9.3f} | {np.mean(ee.iterations):13.2f}"
        )
        print(lines[-1], flush=True)
        per_nt[nt] = value
        if np.mean(value) > best_ee:
            best_nt, best_ee = nt, float(np.mean(value))
    lines.append(f"EE-optimal Nt = Nr = {best_nt} (mean EE {best_ee:.4f} bit/s/Hz/W)")
    for other in (best_nt - 8, best_nt + 8):  # the same drops at every Nt: paired differences
        if other in per_nt:
            lines.append(
                f"  EE(Nt = {best_nt}) - EE(Nt = {other}), paired over drops: "
                f"{m(per_nt[best_nt] - per_nt[other])} bit/s/Hz/W"
            )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="40 drops, K = 4 and 8 only")
    args = ap.parse_args()
    header = [
        f"# jcas objectives benchmark ({platform.processor() or platform.machine()}, "
        f"python {platform.python_version()}, numpy {np.__version__})"
    ]
    print(header[0])
    lines = header + table(40 if args.quick else 200, (4, 8) if args.quick else (4, 8, 16))
    paper = paper_numbers(100 if args.quick else 500)
    print("\n".join(paper[:7]))
    lines += ["", *paper]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
