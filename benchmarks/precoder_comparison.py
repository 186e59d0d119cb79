"""MRT, ZF and PZF compared under the exact optimum (and the SCA): sum rate and CRB vs
SNR_com and vs N, the rate-CRB frontier per precoder, and the crossovers.

Closed forms of each precoder part (``docs/theory.md`` §6; MRT: the paper's (15)-(16)),
K = 4, the paper's defaults otherwise (``jcas.model.params.SystemParams``: SNR_sen = 5 dB,
tau_p = 10), Nt = Nr = N, ``N_DROPS`` drops (seed 1, the same drops for every precoder).
Two CRB0 regimes: the paper's CRB0 = 1e-3 (does not bind: all power on communications,
so ZF and PZF coincide) and a binding one, CRB0 = the CRB of MRT with 30 % of the power
on sensing (each precoder then spends its own least sensing power meeting it).

Crossovers: the SNR_com (1 dB grid, linear interpolation) above which ZF's mean sum rate
exceeds MRT's, per N; and the N above which it does, per SNR_com. ``sca`` is run on the
first ``N_SCA`` drops of each point as a check (largest relative gap to ``optimal``).

Writes ``benchmarks/out/precoder_comparison.txt`` and ``.png``. Run:
``python benchmarks/precoder_comparison.py`` (about a minute).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from jcas.allocation import allocate
from jcas.allocation._types import closed_form_crb_coefficients
from jcas.allocation.closed_form import rate_crb_frontier
from jcas.model.channel import estimate_variance
from jcas.model.drops import large_scale_fading
from jcas.model.metrics import closed_form_metrics
from jcas.model.params import SystemParams
from jcas.parts.registry import design

OUT = Path(__file__).parent / "out" / "precoder_comparison.txt"
PRECODERS = ("mrt", "zf", "pzf")
N_DROPS = 200
N_SCA = 20
SNRS = np.arange(-10.0, 31.0, 1.0)
NS = (8, 10, 15, 25, 35, 50, 100)


def _binding_crb0(p: SystemParams) -> float:
    """CRB of MRT with 30 % of the budget on sensing (binding for every precoder here)."""
    a, b, _ = closed_form_crb_coefficients(p.replace(precoder="mrt"))
    pw = p.pt_w / p.Nt
    return float(p.sigma_r_bar2 / (a * 0.7 * pw + b * 0.3 * pw))


def point(p: SystemParams, sca: bool = False) -> dict[str, float]:
    """Mean sum rate (bit/s/Hz), mean CRB (rad^2), sensing share, and the SCA gap."""
    beta, _ = large_scale_fading(p, 1, range(N_DROPS))
    xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
    opt = allocate("optimal", beta, xi, p)
    m = closed_form_metrics(opt.gamma, opt.eta, xi, beta, p, design(p))
    out = {
        "rate": float(np.mean(m["rate"].sum(axis=1))),
        "crb": float(np.mean(m["crb"])),
        "sensing": float(np.mean(m["power_sensing"] / m["power_total"])),
        "sca_gap": float("nan"),
    }
    if sca:
        got = allocate("sca", beta[:N_SCA], xi[:N_SCA], p)
        ms = closed_form_metrics(got.gamma, got.eta, xi[:N_SCA], beta[:N_SCA], p, design(p))
        ref = m["rate"][:N_SCA].sum(axis=1)
        out["sca_gap"] = float(np.max((ref - ms["rate"].sum(axis=1)) / ref))
    return out


def crossover(x: np.ndarray, diff: np.ndarray) -> str:
    """First ``x`` where ``diff`` changes sign from <= 0 to > 0 (linear interpolation), as
    text: ``"<= x[0]"`` when positive from the start, ``"none"`` when never positive."""
    if diff[0] > 0:
        return f"<= {x[0]:g}"
    for i in range(1, len(x)):
        if diff[i - 1] <= 0 < diff[i]:
            at = x[i - 1] + (x[i] - x[i - 1]) * -diff[i - 1] / (diff[i] - diff[i - 1])
            return f"{at:.1f}"
    return "none"


def main() -> None:
    t0 = time.perf_counter()
    lines = [
        "# MRT vs ZF vs PZF under the exact optimum (closed forms, K = 4, "
        f"{N_DROPS} drops, Nt = Nr = N); sca gap = largest (optimal - sca) / optimal on "
        f"{N_SCA} drops",
    ]
    curves: dict[tuple[str, str, int], np.ndarray] = {}
    for regime in ("free", "binding"):
        lines += ["", f"## sum rate (bit/s/Hz) and CRB (rad^2) vs SNR_com, CRB0 {regime}"]
        lines.append(
            f"{'N':>4} {'SNR':>4} | "
            + " | ".join(f"{n:>4} rate {'CRB':>8} {'sens':>5} {'sca gap':>8}" for n in PRECODERS)
        )
        for n in (15, 35, 100):
            for name in PRECODERS:
                rates = []
                for snr in SNRS:
                    p = SystemParams(Nt=n, Nr=n, snr_com_db=float(snr), precoder=name)
                    if regime == "binding":
                        p = p.replace(crb0=_binding_crb0(p))
                    rates.append(point(p)["rate"])
                curves[(regime, name, n)] = np.array(rates)
            for snr in (-10.0, 0.0, 10.0, 20.0, 30.0):
                cells = []
                for name in PRECODERS:
                    p = SystemParams(Nt=n, Nr=n, snr_com_db=snr, precoder=name)
                    if regime == "binding":
                        p = p.replace(crb0=_binding_crb0(p))
                    r = point(p, sca=True)
                    cells.append(
                        f"{r['rate']:9.3f} {r['crb']:8.2e} {r['sensing']:5.2f} {r['sca_gap']:8.1e}"
                    )
                lines.append(f"{n:>4} {snr:>4.0f} | " + " | ".join(cells))
        lines.append(f"crossover SNR_com (dB) above which ZF beats MRT, CRB0 {regime}:")
        for n in (15, 35, 100):
            zf = crossover(SNRS, curves[(regime, "zf", n)] - curves[(regime, "mrt", n)])
            pzf = crossover(SNRS, curves[(regime, "pzf", n)] - curves[(regime, "mrt", n)])
            pz = crossover(SNRS, curves[(regime, "pzf", n)] - curves[(regime, "zf", n)])
            lines.append(
                f"  N = {n:>3}: ZF > MRT above {zf} dB; PZF > MRT above {pzf} dB; "
                f"PZF > ZF above {pz} dB"
            )
    lines += ["", "## sum rate vs N (CRB0 binding)"]
    for snr in (0.0, 20.0):
        by_n: dict[str, np.ndarray] = {}
        for name in PRECODERS:
            vals = []
            for n in NS:
                p = SystemParams(Nt=n, Nr=n, snr_com_db=snr, precoder=name)
                vals.append(point(p.replace(crb0=_binding_crb0(p)))["rate"])
            by_n[name] = np.array(vals)
        lines.append(
            f"SNR_com = {snr:.0f} dB: N = {list(NS)}; "
            + "; ".join(f"{k}: {np.round(v, 3).tolist()}" for k, v in by_n.items())
        )
        x = np.array(NS, dtype=float)
        lines.append(
            f"  ZF > MRT from N = {crossover(x, by_n['zf'] - by_n['mrt'])}; "
            f"PZF > ZF from N = {crossover(x, by_n['pzf'] - by_n['zf'])}"
        )
    lines += ["", "## rate-CRB frontier (N = 35, SNR_com = 20 dB): CRB0 -> mean sum rate"]
    fronts = {}
    for name in PRECODERS:
        p = SystemParams(Nt=35, Nr=35, snr_com_db=20.0, precoder=name)
        beta, _ = large_scale_fading(p, 1, range(N_DROPS))
        xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
        f = rate_crb_frontier(beta, xi, p, n_points=8)
        fronts[name] = f
        pts = ", ".join(
            f"{c:.2e}: {r:.3f}" for c, r in zip(f.crb0, f.sum_rate.mean(axis=0), strict=True)
        )
        lines.append(f"{name:>4}: {pts}")
    lines.append(f"wall time {time.perf_counter() - t0:.0f} s")
    text = "\n".join(lines) + "\n"
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for name, style in zip(PRECODERS, ("-", "--", ":"), strict=True):
        for n in (15, 100):
            axes[0].plot(SNRS, curves[("binding", name, n)], style, label=f"{name}, N = {n}")
        f = fronts[name]
        axes[2].semilogx(f.crb0, f.sum_rate.mean(axis=0), style, label=name)
    for n in (15, 100):
        axes[1].plot(SNRS, curves[("free", "zf", n)] - curves[("free", "mrt", n)], label=f"N = {n}")
    axes[0].set(xlabel="SNR_com (dB)", ylabel="sum rate (bit/s/Hz)", title="binding CRB0")
    axes[1].axhline(0.0, color="k", lw=0.5)
    axes[1].set(xlabel="SNR_com (dB)", ylabel="ZF - MRT (bit/s/Hz)", title="free CRB0")
    axes[2].set(xlabel="CRB0 (rad^2)", ylabel="sum rate (bit/s/Hz)", title="frontier, N = 35")
    for ax in axes:
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT.with_suffix(".png"), dpi=120)


if __name__ == "__main__":
    main()
