"""Certification of the SCA against the exact optimum for two angles (planar arrays).

Two geometries (4 x 4 transmit / 3 x 4 receive at azimuth 20, elevation -10 deg; 8 x 8 /
8 x 8 at broadside), five constraint cases (per-angle: both binding, one binding, free;
sum: binding, free), SNR_com in {-10, 0, 10, 20, 30} dB, 20 drops each: 1000 drops, K = 4.
For every drop: the status of ``sca`` and ``optimal`` and the relative sum-rate gap
``(R_opt - R_sca) / R_opt``; infeasible targets (one case per geometry, CRB0 below what
all power on sensing reaches) are recorded as ``infeasible`` by both schemes.

Writes ``benchmarks/out/upa_allocation.txt`` (summary per case) and
``benchmarks/out/upa_allocation.csv`` (one row per drop).
Run: ``python benchmarks/upa_allocation.py`` (about a minute).
"""

from __future__ import annotations

import csv
import itertools
import time
import warnings
from pathlib import Path

import numpy as np

from jcas.allocation import allocate
from jcas.allocation.planar import crb_pair
from jcas.model.channel import estimate_variance
from jcas.model.drops import large_scale_fading
from jcas.model.metrics import closed_form_metrics
from jcas.model.params import SystemParams
from jcas.parts.registry import design

OUT = Path(__file__).parent / "out"
SNRS = (-10.0, 0.0, 10.0, 20.0, 30.0)
DROPS = 20
GEOMETRIES = {
    "4x4/3x4 (20, -10)": SystemParams(
        K=4, Nt=16, Nr=12, array="upa", tx_rows=4, rx_rows=3, theta_deg=20.0, elevation_deg=-10.0
    ),
    "8x8/8x8 (0, 0)": SystemParams(K=4, Nt=64, Nr=64, array="upa", tx_rows=8, rx_rows=8),
}


def cases(base: SystemParams) -> dict[str, SystemParams]:
    p = base.pt_w / base.Nt
    comm, sens = crb_pair(p, 0.0, base), crb_pair(0.0, p, base)
    mid = np.sqrt(comm * sens)
    return {
        "per_angle both binding": base.replace(
            crb_form="per_angle", crb0_azimuth=mid[0], crb0_elevation=mid[1]
        ),
        "per_angle one binding": base.replace(
            crb_form="per_angle", crb0_azimuth=mid[0], crb0_elevation=1.0
        ),
        "per_angle free": base.replace(crb_form="per_angle", crb0_azimuth=1.0, crb0_elevation=1.0),
        "sum binding": base.replace(crb_form="sum", crb0=float(mid.sum())),
        "sum free": base.replace(crb_form="sum", crb0=1.0),
        "sum infeasible": base.replace(crb_form="sum", crb0=0.9 * float(sens.sum())),
    }


def sum_rate(a, xi, beta, p):  # type: ignore[no-untyped-def]
    return closed_form_metrics(a.gamma, a.eta, xi, beta, p, design(p))["rate"].sum(axis=-1)


def main() -> None:
    warnings.simplefilter("ignore")
    OUT.mkdir(exist_ok=True)
    rows = []
    summary = []
    start = time.perf_counter()
    for (geo, base), snr in itertools.product(GEOMETRIES.items(), SNRS):
        for case, p in cases(base.replace(snr_com_db=snr)).items():
            beta, _ = large_scale_fading(p, 2026, range(DROPS))
            xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
            opt, sca = allocate("optimal", beta, xi, p), allocate("sca", beta, xi, p)
            ok = opt.success & sca.success
            gap = np.full(DROPS, np.nan)
            r_opt, r_sca = sum_rate(opt, xi, beta, p), sum_rate(sca, xi, beta, p)
            gap[ok] = (r_opt[ok] - r_sca[ok]) / r_opt[ok]
            for d in range(DROPS):
                rows.append(
                    [geo, case, snr, d, opt.status[d], sca.status[d], sca.iterations[d], gap[d]]
                )
            summary.append((geo, case, snr, opt.status, sca.status, gap))
    elapsed = time.perf_counter() - start
    with (OUT / "upa_allocation.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["geometry", "case", "snr_com_db", "drop", "optimal", "sca", "iterations", "gap"]
        )
        w.writerows(rows)
    lines = [
        f"SCA vs exact optimum, two angles: {len(rows)} drops "
        f"({sum(c != 'sum infeasible' for _, c, *_ in summary) * DROPS} feasible), {elapsed:.0f} s",
        f"{'geometry':20s} {'case':24s} {'SNR':>5s} {'sca status':28s} "
        f"{'max gap':>9s} {'min gap':>9s}",
    ]
    for geo, case, snr, _st_opt, st_sca, gap in summary:
        counts = ", ".join(
            f"{k}: {v}" for k, v in zip(*np.unique(st_sca, return_counts=True), strict=True)
        )
        finite = gap[np.isfinite(gap)]
        hi = f"{finite.max():9.1e}" if finite.size else "        -"
        lo = f"{finite.min():9.1e}" if finite.size else "        -"
        lines.append(f"{geo:20s} {case:24s} {snr:5.0f} {counts:28s} {hi} {lo}")
    feasible_gaps = np.concatenate([g[np.isfinite(g)] for *_, g in summary])
    failures = sum(
        int(np.sum((st_sca != "converged") & (st_opt == "optimal")))
        for *_, st_opt, st_sca, _ in summary
    )
    mismatched = sum(
        int(np.sum((st_opt == "infeasible") != (st_sca == "infeasible")))
        for *_, st_opt, st_sca, _ in summary
    )
    lines.append(
        f"overall: {feasible_gaps.size} certified drops, max gap {feasible_gaps.max():.2e}, "
        f"min gap {feasible_gaps.min():.2e}, SCA not converged on a feasible drop: {failures}, "
        f"infeasibility disagreements: {mismatched}"
    )
    text = "\n".join(lines) + "\n"
    (OUT / "upa_allocation.txt").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
