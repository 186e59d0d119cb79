"""Certify the allocation of the zero-forcing precoders against an independent global search.

For each precoder (``zf``, ``pzf``) and K in {2, 3}, drops spread over SNR_com in
{-10, -5, ..., 30} dB, Nt in {K + 2, 16} (Nr = Nt) and two CRB0 regimes (``free``: twice
the CRB of all power on communications, so it never binds; ``binding``: the geometric
middle of the range where it binds, :func:`regime_crb0`), with
``DROPS_PER_GROUP`` drops per (SNR, Nt, regime) group (1008 drops per precoder and K):

- ``optimal`` (``jcas.allocation.closed_form.optimal``) against a global search that knows
  nothing of its structure: a grid over the whole power simplex ``{(u, v, slack) >= 0,
  sum u + v + slack = 1}`` (fractions of the budget ``p = Pt / Nt``; step 1/60 for K = 2,
  1/24 for K = 3), then a pattern search around the best feasible point (moves of up
  to two steps in every coordinate, the step halved when no move improves, 24 halvings).
  The rate and CRB are written out here from ``docs/theory.md`` §6. A **failure** is a
  search point that beats the optimum by more than 1e-9 relative, an optimum that
  violates CRB0 or the budget, or a status other than ``optimal`` where the search found
  a feasible point. The gap is ``(optimum - search) / optimum``: how close the search
  gets (it cannot exceed the optimum if the optimum is right).
- ``sca`` (``pzf``: total-power form; ``zf``: the split-power denominators in its bound)
  against ``optimal``: gap ``(optimum - sca) / optimum``; a failure is a gap above the SCA
  tolerance 1e-4, a CRB0 violation or a failed status.

Writes the table to ``benchmarks/out/certify_precoders.txt``. Run:
``python benchmarks/certify_precoders.py`` (about a minute on one core);
``--quick`` runs 2 drops per group (the slow test ``tests/allocation/test_allocation_zf.py`` uses
:func:`certify` with a small count).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jcas.allocation import allocate
from jcas.model.channel import estimate_variance
from jcas.model.drops import large_scale_fading
from jcas.model.metrics import closed_form_metrics
from jcas.model.params import SystemParams
from jcas.parts.arrays.ula import steering_derivative_norm2
from jcas.parts.precoders.zf import pzf_beam_moments
from jcas.parts.registry import design

OUT = Path(__file__).parent / "out" / "certify_precoders.txt"
DROPS_PER_GROUP = 28
SNRS = tuple(float(s) for s in range(-10, 31, 5))
BEAT_RTOL = 1e-9
SCA_TOL = 1e-4


def coefficients(p: SystemParams) -> tuple[float, float]:
    """``(a, b)`` of the Fisher information ``a c + b s`` (``docs/theory.md`` §6.3)."""
    dr = steering_derivative_norm2(p.Nr, p.theta_rad)
    dt = steering_derivative_norm2(p.Nt, p.theta_rad)
    a, b = p.Nt * dr + p.Nr * dt, p.Nt**2 * dr
    if p.precoder == "pzf":
        k1, k2 = pzf_beam_moments(p.Nt, p.K)
        b = k1 * b + k2 * a
    return float(a), float(b)


def evaluate(
    u: np.ndarray, v: np.ndarray, beta: np.ndarray, xi: np.ndarray, p: SystemParams
) -> tuple[np.ndarray, np.ndarray]:
    """Sum rate (bit/s/Hz) and CRB / CRB0 of budget fractions ``u (n, K)``, ``v (n,)``."""
    pw = p.pt_w / p.Nt
    x, s = u * pw, v * pw
    c = x.sum(axis=-1, keepdims=True)
    eps = beta - xi
    leak = eps if p.precoder == "pzf" else beta
    sinr = p.Nt * (p.Nt - p.K) * xi * x / (p.Nt * eps * c + p.Nt * leak * s[:, None] + p.sigma_u2_w)
    a, b = coefficients(p)
    fisher = a * c[:, 0] + b * s
    with np.errstate(divide="ignore"):
        ratio = np.where(fisher > 0, p.sigma_r_bar2 / np.where(fisher > 0, fisher, 1.0), np.inf)
    return p.tau_bar * np.log2(1.0 + sinr).sum(axis=-1), ratio / p.crb0


@functools.cache
def _simplex(dim: int, m: int) -> np.ndarray:
    """All points of the simplex in ``dim`` coordinates with step ``1/m``, shape (n, dim)."""
    pts = [
        c
        for c in itertools.product(range(m + 1), repeat=dim - 1)
        if sum(c) <= m  # the last coordinate (slack) takes the rest
    ]
    arr = np.array(pts, dtype=float) / m
    return arr


def global_search(
    beta: np.ndarray, xi: np.ndarray, p: SystemParams, halvings: int = 24
) -> tuple[float, np.ndarray]:
    """Best feasible sum rate found by grid + pattern search over ``(u, v)`` (see module
    docstring) and its point; ``-inf`` when no grid point meets CRB0."""
    k = p.K
    grid = _simplex(k + 2, 60 if k == 2 else 24)  # columns u_1..u_K, v (slack implicit)
    rate, ratio = evaluate(grid[:, :k], grid[:, k], beta, xi, p)
    rate = np.where(ratio <= 1.0, rate, -np.inf)
    i = int(np.argmax(rate))
    best, point = float(rate[i]), grid[i].copy()
    if not np.isfinite(best):
        return best, point
    step = 1.0 / (60 if k == 2 else 24)
    moves = np.array(list(itertools.product((-2, -1, 0, 1, 2), repeat=k + 1)), dtype=float)
    final = step / 2.0**halvings
    for _ in range(20 * halvings):  # each round moves or halves the step
        if step < final:
            break
        cand = np.clip(point + step * moves, 0.0, None)
        cand = cand[cand.sum(axis=1) <= 1.0 + 1e-15]
        rate, ratio = evaluate(cand[:, :k], cand[:, k], beta, xi, p)
        rate = np.where(ratio <= 1.0, rate, -np.inf)
        j = int(np.argmax(rate))
        if rate[j] > best:
            best, point = float(rate[j]), cand[j].copy()
        else:
            step /= 2.0
    return best, point


@dataclass
class Tally:
    """Gaps and failures of one (precoder, K, regime, comparison) cell."""

    gaps: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def row(self, label: str) -> str:
        g = np.array(self.gaps) if self.gaps else np.array([np.nan])
        per = 1e3 * self.seconds / max(len(self.gaps), 1)
        return (
            f"{label:<34} {len(self.gaps):>5} {len(self.failures):>4} "
            f"{np.max(g):>10.2e} {np.median(g):>10.2e} {per:>9.3f}"
        )


def regime_crb0(p: SystemParams, regime: str) -> float:
    """CRB0 of a regime: ``binding`` the geometric middle of the range where CRB0 binds,
    ``[sigma^2 / (b p), sigma^2 / (a p)]``; ``free`` twice its upper end (never binds)."""
    a, b = coefficients(p)
    pw = p.pt_w / p.Nt
    tight, loose = p.sigma_r_bar2 / (b * pw), p.sigma_r_bar2 / (a * pw)
    return float(np.sqrt(tight * loose) if regime == "binding" else 2.0 * loose)


def certify(name: str, k: int, per_group: int, seed: int = 2026) -> dict[str, Tally]:
    """Run the certification for one precoder and K; tallies keyed by cell label."""
    cells: dict[str, Tally] = {}
    group = 0
    for snr, nt, regime in itertools.product(SNRS, (k + 2, 16), ("free", "binding")):
        p = SystemParams(K=k, Nt=nt, Nr=nt, snr_com_db=snr, precoder=name)
        p = p.replace(crb0=regime_crb0(p, regime))
        beta, _ = large_scale_fading(p, seed + group, range(per_group))
        xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
        group += 1
        t0 = time.perf_counter()
        opt = allocate("optimal", beta, xi, p)
        t_opt = time.perf_counter() - t0
        x, s = design(p).precoder.power_factors(opt.gamma, opt.eta, xi)
        pw = p.pt_w / p.Nt
        cell = cells.setdefault(f"{name} K={k} {regime}: optimal vs search", Tally())
        cell.seconds += t_opt
        opt_rate = np.full(per_group, np.nan)
        for d in range(per_group):
            where = f"SNR_com={snr:g} dB Nt={nt} drop={d}"
            found, _ = global_search(beta[d], xi[d], p)
            if opt.status[d] != "optimal":
                if np.isfinite(found):
                    cell.failures.append(f"{where}: status {opt.status[d]} but search feasible")
                continue
            rate, ratio = evaluate(x[d : d + 1] / pw, s[d : d + 1] / pw, beta[d], xi[d], p)
            opt_rate[d] = rate[0]
            if ratio[0] > 1 + 1e-9 or x[d].sum() + s[d] > pw * (1 + 1e-12):
                cell.failures.append(f"{where}: optimum infeasible (CRB/CRB0 = {ratio[0]:.3g})")
            if found > rate[0] * (1 + BEAT_RTOL):
                cell.failures.append(
                    f"{where}: search beats the optimum by {found / rate[0] - 1:.2e}"
                )
            cell.gaps.append(float((rate[0] - found) / rate[0]) if rate[0] > 0 else 0.0)
        sca_cell = cells.setdefault(f"{name} K={k} {regime}: sca vs optimal", Tally())
        t0 = time.perf_counter()
        got = allocate("sca", beta, xi, p)
        sca_cell.seconds += time.perf_counter() - t0
        out = closed_form_metrics(got.gamma, got.eta, xi, beta, p, design(p))
        for d in range(per_group):
            where = f"SNR_com={snr:g} dB Nt={nt} drop={d}"
            if not np.isfinite(opt_rate[d]):
                if got.status[d] != "infeasible":
                    sca_cell.failures.append(f"{where}: sca {got.status[d]}, optimum infeasible")
                continue
            if got.status[d] not in ("converged", "max_iterations"):
                sca_cell.failures.append(f"{where}: sca status {got.status[d]}")
                continue
            total = float(out["rate"][d].sum())
            gap = (opt_rate[d] - total) / opt_rate[d] if opt_rate[d] > 0 else 0.0
            sca_cell.gaps.append(float(gap))
            if gap > SCA_TOL or out["crb"][d] > p.crb0 * (1 + 1e-6):
                sca_cell.failures.append(f"{where}: sca gap {gap:.2e}")
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 drops per group")
    args = parser.parse_args()
    per_group = 2 if args.quick else DROPS_PER_GROUP
    t0 = time.perf_counter()
    lines = [
        "Certification of the zf / pzf allocation (benchmarks/certify_precoders.py)",
        f"{platform.processor() or platform.machine()}, numpy {np.__version__}; "
        f"{per_group} drops x {len(SNRS)} SNR_com x 2 Nt x 2 CRB0 regimes per precoder and K",
        "",
        f"{'cell':<34} {'drops':>5} {'fail':>4} {'max gap':>10} {'median':>10} {'ms/drop':>9}",
    ]
    failures: list[str] = []
    for name, k in itertools.product(("zf", "pzf"), (2, 3)):
        for label, tally in certify(name, k, per_group).items():
            lines.append(tally.row(label))
            failures += [f"{label}: {f}" for f in tally.failures]
    lines += ["", f"failures: {len(failures)}", *failures]
    lines.append(f"wall time {time.perf_counter() - t0:.1f} s")
    text = "\n".join(lines) + "\n"
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)


if __name__ == "__main__":
    main()
