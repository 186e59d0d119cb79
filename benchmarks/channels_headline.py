"""Headline numbers: sum rate of MRT, ZF, RZF and M-MMSE under three channels.

The paper's setting (K = 4, Nt = Nr = 35, SNR_com = 20 dB, its other defaults), equal
powers with half the budget on sensing (``x_k = Pt / (2 K Nt)``, ``s = Pt / (2 Nt)``),
300 drops (seed 1; users' azimuths from their own stream), the Monte-Carlo coefficient
route with 2000 realizations a drop; channels i.i.d., local scattering (10 deg) and Rician
(K-factor 5 dB, i.i.d. scattering). Mean sum rate over the drops with its standard error
over the drops (which includes the Monte-Carlo noise), and where a closed form exists
(MRT on every channel, ZF on i.i.d.) its mean on the same drops. Also the mean CRB at
these powers. Writes ``benchmarks/out/channels_headline.txt``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from jcas.model.channel import estimate_variance  # noqa: E402
from jcas.model.drops import large_scale_fading, user_angles  # noqa: E402
from jcas.model.estimation import mmse_estimation  # noqa: E402
from jcas.model.params import SystemParams  # noqa: E402
from jcas.montecarlo.coefficients import mc_coefficients  # noqa: E402
from jcas.parts.channels.iid import IID  # noqa: E402
from jcas.parts.channels.local_scattering import LocalScattering  # noqa: E402
from jcas.parts.channels.rician import Rician  # noqa: E402
from jcas.parts.coefficients import closed_form_coefficients  # noqa: E402
from jcas.parts.precoders.mmse import MMSE  # noqa: E402
from jcas.parts.precoders.mrt import MRT  # noqa: E402
from jcas.parts.precoders.mrt_channels import mrt_coefficients  # noqa: E402
from jcas.parts.precoders.rzf import RZF  # noqa: E402
from jcas.parts.precoders.zf import ZF  # noqa: E402

OUT = Path(__file__).parent / "out" / "channels_headline.txt"
N_DROPS, N_REAL = 300, 2000


def main() -> None:
    params = SystemParams(K=4, Nt=35, Nr=35, snr_com_db=20.0)
    beta, _ = large_scale_fading(params, 1, range(N_DROPS))
    _, angles = user_angles(params, 1, range(N_DROPS))
    budget = params.pt_w / params.Nt
    x = np.full((N_DROPS, params.K), budget / (2 * params.K))
    s = np.full(N_DROPS, budget / 2)
    channels = {
        "iid": IID(),
        "local scattering 10 deg": LocalScattering(10.0),
        "Rician 5 dB": Rician(5.0),
    }
    precoders = {"MRT": MRT(), "ZF": ZF(), "RZF": RZF(), "M-MMSE": MMSE()}
    lines = [
        f"Sum rate (bit/s/Hz), K = 4, Nt = Nr = 35, SNR_com = 20 dB, equal powers, half the "
        f"budget on sensing; {N_DROPS} drops, {N_REAL} realizations a drop (Monte-Carlo route)",
        "mean +/- SE over drops; [closed form on the same drops]; mean CRB (rad^2)",
        "",
    ]
    print("\n".join(lines), flush=True)
    for cname, channel in channels.items():
        for pname, pre in precoders.items():
            t0 = time.perf_counter()
            est = mc_coefficients(
                params,
                channel,
                beta,
                angles,
                pre,
                seed=7,
                drops=range(N_DROPS),
                n_realizations=N_REAL,
            )
            coef = est.coefficients
            rate = coef.rate.sum_rate(x, s)
            crb = coef.fisher.crb(x, s)
            se = rate.std(ddof=1) / np.sqrt(N_DROPS)
            line = f"{cname:<24} {pname:<7} {rate.mean():7.3f} +/- {se:.3f}"
            closed = None
            if pname == "MRT":
                stats = channel.statistics(beta, angles, params.Nt)
                e = mmse_estimation(stats, params.tau_p, params.pp_w, params.sigma_u2_w)
                closed = mrt_coefficients(params, e)
            elif pname == "ZF" and cname == "iid":
                xi = estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)
                closed = closed_form_coefficients(beta, xi, params.replace(precoder="zf"))
            if closed is not None:
                line += f"  [{closed.rate.sum_rate(x, s).mean():7.3f}]"
            else:
                line += " " * 11
            line += f"  CRB {np.mean(crb):.3e}  ({time.perf_counter() - t0:.1f} s)"
            print(line, flush=True)
            lines.append(line)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
