"""The three planar-array studies, outside the pipeline (numbers and figures).

(1) ULA (1 x N) vs square UPA (n x n, N = n^2) with the same element count on both
    sides: mean sum rate of ``optimal`` (K = 4, SNR_com = 20 dB, the azimuth CRB below
    CRB0 = 1e-3, the paper's constraint, and below 3e-5, direction (20, 10) deg, 200
    drops) and both CRBs vs N;
(2) each angle's CRB over a map of target directions for the MRT design at the paper's
    powers (Pt = 30 dBm, SNR_sen = 5 dB, half of Pt on sensing, 8 x 8 arrays);
(3) the 2-D MLE: RMSE of each angle vs sqrt(CRB) over SNR_sen (4 x 4 / 3 x 4 arrays,
    one drop, 500 trials per SNR).

Writes ``benchmarks/out/upa_figures.txt``, ``upa_ula_vs_upa_{paper,tight}_crb0.png``,
``upa_crb_map.png`` and ``upa_mle.png``.
Run: ``python benchmarks/upa_figures.py`` (about a minute).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from jcas.allocation import allocate
from jcas.allocation.planar import crb_pair
from jcas.model.channel import estimate_variance
from jcas.model.drops import large_scale_fading
from jcas.model.metrics import closed_form_metrics
from jcas.model.params import SystemParams
from jcas.montecarlo.planar import mle_planar
from jcas.parts.registry import design

OUT = Path(__file__).parent / "out"


def ula_vs_upa(lines: list[str], crb0: float, tag: str) -> None:
    sides = [4, 6, 8, 10, 12]
    rows: dict[str, list[tuple[int, float, float, float, float]]] = {"ULA": [], "UPA": []}
    for n in sides:
        count = n * n
        for name, r in (("ULA", 1), ("UPA", n)):
            p = SystemParams(
                K=4,
                Nt=count,
                Nr=count,
                array="upa",
                tx_rows=r,
                rx_rows=r,
                theta_deg=20.0,
                elevation_deg=10.0,
                snr_com_db=20.0,
                crb0=crb0,
            )
            beta, _ = large_scale_fading(p, 11, range(200))
            xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
            a = allocate("optimal", beta, xi, p)
            ok = a.success
            rate = np.nan
            if ok.any():
                m = closed_form_metrics(a.gamma[ok], a.eta[ok], xi[ok], beta[ok], p, design(p))
                rate = float(np.mean(m["rate"].sum(axis=-1)))
            c, s = design(p).precoder.power_factors(a.gamma, a.eta, xi)
            crb = crb_pair(c.sum(axis=-1), s, p)[0] if ok.any() else np.full(2, np.nan)
            rows[name].append((count, rate, crb[0], crb[1], float(np.mean(ok))))
    lines.append(
        f"(1) ULA vs UPA, same element count N on both sides (optimal, CRB_az <= {crb0:g}; "
        "sum rate over the feasible drops, NaN: infeasible)"
    )
    lines.append(f"{'N':>5s} {'array':5s} {'sum rate':>9s} {'CRB_az':>10s} {'CRB_el':>10s}")
    for name, vals in rows.items():
        for count, rate, caz, cel, _ in vals:
            lines.append(f"{count:5d} {name:5s} {rate:9.3f} {caz:10.3e} {cel:10.3e}")
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    for name, vals in rows.items():
        v = np.array(vals, dtype=float)
        ax[0].plot(v[:, 0], v[:, 1], "o-", label=name)
        ax[1].semilogy(v[:, 0], v[:, 2], "o-", label=f"{name} azimuth")
        if np.isfinite(v[:, 3]).any():
            ax[1].semilogy(v[:, 0], v[:, 3], "s--", label=f"{name} elevation")
    ax[0].set(xlabel="elements N", ylabel="sum rate (bit/s/Hz)")
    ax[1].set(xlabel="elements N", ylabel="CRB (rad$^2$)")
    for a_ in ax:
        a_.legend()
        a_.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT / f"upa_ula_vs_upa_{tag}.png", dpi=120)


def crb_map(lines: list[str]) -> None:
    p0 = SystemParams(K=4, Nt=64, Nr=64, array="upa", tx_rows=8, rx_rows=8)
    pp = p0.pt_w / p0.Nt
    deg = np.linspace(-80, 80, 81)
    az, el = np.meshgrid(deg, deg, indexing="xy")
    crb = np.full((*az.shape, 2), np.nan)
    for i, j in np.ndindex(az.shape):
        u, v = math.sin(math.radians(az[i, j])), math.sin(math.radians(el[i, j]))
        if u * u + v * v < 1:
            p = p0.replace(theta_deg=float(az[i, j]), elevation_deg=float(el[i, j]))
            crb[i, j] = crb_pair(0.5 * pp, 0.5 * pp, p)
    broadside = crb_pair(0.5 * pp, 0.5 * pp, p0)
    lines.append(
        "(2) CRB map, 8 x 8 arrays, MRT at Pt = 30 dBm, SNR_sen = 5 dB, half power on sensing: "
        f"broadside CRB_az = {broadside[0]:.3e}, CRB_el = {broadside[1]:.3e} rad^2; "
        "CRB_az / broadside = 1 / cos^2(az) (independent of el), CRB_el likewise; "
        f"at (60, 0) deg: CRB_az x {crb[40, 70, 0] / broadside[0]:.2f}"
    )
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.8))
    for k, name in enumerate(("azimuth", "elevation")):
        im = ax[k].pcolormesh(deg, deg, np.log10(crb[..., k]), shading="auto")
        ax[k].set(xlabel="azimuth (deg)", ylabel="elevation (deg)", title=f"log10 CRB {name}")
        fig.colorbar(im, ax=ax[k])
    fig.tight_layout()
    fig.savefig(OUT / "upa_crb_map.png", dpi=120)


def mle(lines: list[str]) -> None:
    p = SystemParams(
        K=4,
        Nt=16,
        Nr=12,
        array="upa",
        tx_rows=4,
        rx_rows=3,
        theta_deg=20.0,
        elevation_deg=-10.0,
        crb_form="sum",
        crb0=1.0,
    )
    beta, _ = large_scale_fading(p, 1, range(1))
    xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
    a = allocate("optimal", beta, xi, p)
    snrs = np.arange(-20.0, 31.0, 5.0)
    res = [
        mle_planar(p, beta, a.gamma, a.eta, seed=5, drops=[0], n_trials=500, snr_sen_db=s)
        for s in snrs
    ]
    rmse = np.array([np.sqrt(r.mse[0]) for r in res])
    root_crb = np.array([np.sqrt(r.crb[0]) for r in res])
    lines.append(
        "(3) 2-D MLE, 4 x 4 / 3 x 4, (20, -10) deg, 500 trials: RMSE / sqrt(CRB) per SNR_sen"
    )
    for s, r, c in zip(snrs, rmse, root_crb, strict=True):
        lines.append(f"  {s:5.0f} dB  az {r[0] / c[0]:6.2f}  el {r[1] / c[1]:6.2f}")
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for k, name in enumerate(("azimuth", "elevation")):
        ax.semilogy(snrs, rmse[:, k], "o-", label=f"RMSE {name}")
        ax.semilogy(snrs, root_crb[:, k], "--", label=f"sqrt(CRB) {name}")
    ax.set(xlabel="SNR_sen (dB)", ylabel="rad")
    ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT / "upa_mle.png", dpi=120)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    lines: list[str] = []
    ula_vs_upa(lines, 1e-3, "paper_crb0")
    ula_vs_upa(lines, 3e-5, "tight_crb0")
    crb_map(lines)
    mle(lines)
    text = "\n".join(lines) + "\n"
    (OUT / "upa_figures.txt").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
