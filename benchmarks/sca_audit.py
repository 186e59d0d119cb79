"""Algorithm 1 as printed against the project's SCA, for each precoder part.

The variants of ``jcas.allocation.sca`` (``docs/theory.md`` §3), those of the pipeline's
``sca_audit`` experiment (:data:`jcas.allocation.schemes.sca.SCA_VARIANTS`):

- ``printed``: Algorithm 1 as printed (``stopping="change"``, ``active_set=False``,
  ``accelerate=False``, ``polish=False``);
- ``aitken``, ``active_set``, ``accelerate``, ``polish``: one robustness fix alone on
  top of ``printed``;
- ``default``: every fix on (the pipeline's ``sca``).

For each precoder (``mrt``, ``zf``, ``pzf``), K = 4, Nt = Nr = 35, SNR_com in {-10, 0, 10,
20, 30} dB and two CRB0 (the paper's 1e-3, which does not bind, and the geometric middle
of the binding range), ``--drops`` held-out drops a point (seed 4242, not the pipeline's):
the gap ``(optimal - sca) / optimal`` of the sum rate (closed forms of the part;
``optimal`` is the exact optimum, ``docs/theory.md`` §2, §6.6) and the iteration counts.
Writes ``benchmarks/out/sca_audit.txt`` and ``.png`` (gap distribution and iterations over
SNR_com per variant, one column per precoder). Run: ``python benchmarks/sca_audit.py``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from jcas.allocation import allocate
from jcas.allocation._types import closed_form_crb_coefficients
from jcas.allocation.sca import sca
from jcas.allocation.schemes.sca import SCA_VARIANTS
from jcas.model.channel import estimate_variance
from jcas.model.drops import large_scale_fading
from jcas.model.metrics import closed_form_metrics
from jcas.model.params import SystemParams
from jcas.parts.registry import design

OUT = Path(__file__).parent / "out" / "sca_audit.txt"
PRECODERS = ("mrt", "zf", "pzf")
SNRS = (-10.0, 0.0, 10.0, 20.0, 30.0)
# the variants of the pipeline's sca_audit experiment (one list: jcas.parts.registry)
VARIANTS: dict[str, dict[str, Any]] = {v.name: dict(v.options) for v in SCA_VARIANTS}
LABELS: dict[str, str] = {v.name: v.label for v in SCA_VARIANTS}


def _binding(p: SystemParams) -> float:
    a, b, _ = closed_form_crb_coefficients(p)
    pw = p.pt_w / p.Nt
    return float(np.sqrt(p.sigma_r_bar2 / (a * pw) * p.sigma_r_bar2 / (b * pw)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drops", type=int, default=20, help="held-out drops per point")
    args = ap.parse_args()
    t0 = time.perf_counter()
    lines = [
        f"# sca variants vs the exact optimum: K = 4, Nt = Nr = 35, {args.drops} held-out "
        "drops a point; gap = (optimal - sca) / optimal (sum rate); it = iterations",
        f"{'precoder':>8} {'CRB0':>8} {'SNR':>4} {'variant':>12} | {'gap med':>8} "
        f"{'gap p95':>8} {'gap max':>8} | {'it med':>6} {'it max':>6} | {'ms/drop':>7} {'fail':>4}",
    ]
    results: dict[tuple[str, str, str, float], tuple[np.ndarray, np.ndarray]] = {}
    for name in PRECODERS:
        for regime in ("paper", "binding"):
            for snr in SNRS:
                p = SystemParams(K=4, Nt=35, Nr=35, snr_com_db=snr, precoder=name)
                if regime == "binding":
                    p = p.replace(crb0=_binding(p))
                beta, _ = large_scale_fading(p, 4242, range(args.drops))
                xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
                opt = allocate("optimal", beta, xi, p)
                ref = closed_form_metrics(opt.gamma, opt.eta, xi, beta, p, design(p))
                ref_rate = ref["rate"].sum(axis=1)
                for variant, options in VARIANTS.items():
                    got = sca(beta, xi, p, **options)
                    m = closed_form_metrics(got.gamma, got.eta, xi, beta, p, design(p))
                    gap = (ref_rate - m["rate"].sum(axis=1)) / ref_rate
                    fail = int(np.sum(~np.isin(got.status, ("converged", "max_iterations"))))
                    results[(name, regime, variant, snr)] = (gap, got.iterations)
                    lines.append(
                        f"{name:>8} {p.crb0:8.1e} {snr:4.0f} {variant:>12} | "
                        f"{np.nanmedian(gap):8.1e} {np.nanpercentile(gap, 95):8.1e} "
                        f"{np.nanmax(gap):8.1e} | {np.median(got.iterations):6.0f} "
                        f"{np.max(got.iterations):6d} | "
                        f"{1e3 * np.median(got.solve_time_s):7.2f} {fail:4d}"
                    )
                    print(lines[-1], flush=True)
    lines.append("# largest gap over SNR_com and both CRB0, per precoder and variant:")
    for name in PRECODERS:
        worst = {
            v: max(
                float(np.nanmax(results[(name, r, v, s)][0]))
                for r in ("paper", "binding")
                for s in SNRS
            )
            for v in VARIANTS
        }
        lines.append(f"#   {name}: " + ", ".join(f"{v} {g:.1e}" for v, g in worst.items()))
    lines.append(f"# wall time {time.perf_counter() - t0:.0f} s")
    text = "\n".join(lines) + "\n"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print("\n".join(lines[-5:]))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5), sharex=True)
    for col, name in enumerate(PRECODERS):
        for variant in VARIANTS:
            gaps = [results[(name, "binding", variant, s)][0] for s in SNRS]
            its = [results[(name, "binding", variant, s)][1] for s in SNRS]
            label = LABELS[variant]
            axes[0, col].semilogy(
                SNRS, [max(float(np.nanmax(g)), 1e-16) for g in gaps], "o-", label=label
            )
            axes[1, col].plot(SNRS, [np.median(i) for i in its], "o-", label=label)
        axes[0, col].set(title=f"{name}: largest gap (binding CRB0)", ylabel="gap to optimum")
        axes[1, col].set(xlabel="SNR_com (dB)", ylabel="median iterations")
    axes[0, 0].legend(fontsize=7)
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT.with_suffix(".png"), dpi=110)


if __name__ == "__main__":
    main()
