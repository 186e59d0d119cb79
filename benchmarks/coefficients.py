"""Speed of the Monte-Carlo coefficient route (``jcas.montecarlo.coefficients``).

For N = Nt = Nr in {64, 256}, K in {8, 16} and every precoder (mrt, zf, pzf, rzf, mmse) x
channel (iid, local scattering 10 deg, exponential 0.7, Rician 5 dB over i.i.d.): the
coefficient estimation in ms per drop per 1000 realizations (``mc_coefficients``, 2 drops x
1000 realizations, best of 3; it includes the per-drop set-up: covariances, their factors,
the estimator's matrices, reported separately), the useful flop rate it reaches and its
share of the peak complex matrix-product rate of this machine, measured in the same run
(``zgemm`` 1024 x 1024, best of 5). Beside it, in the same run, today's closed-form
evaluation (``closed_form_coefficients``, i.i.d.; 1000 drops) and MRT's correlated closed
form (``mrt_coefficients``, local scattering; per drop, with its estimation).

Flops counted per realization (real flops; a complex multiply-add is 8): channels ``L_k
z_k`` ``8 K N^2`` (correlated; i.i.d. ``2 K N``), estimates ``A_k y`` ``8 K N^2``
(correlated), directions (ZF/RZF: Gram ``8 K^2 N``, solve ``8 K^2 N + 8 K^3 / 3``; PZF: and
the beam ``16 K N``; M-MMSE correlated: ``Z^{-1} H_hat`` ``8 K N^2``, then as RZF), features
(``H^H [V b]`` ``8 K (K + 1) N``, ``[a, a_dot]^H [V b]`` ``16 (K + 1) N``, norms ``4 (K + 1)
N``). Random numbers, copies and the moment updates are not counted (they are the rest).

BLAS runs single-threaded (``OMP_NUM_THREADS=1`` and the OpenBLAS/MKL equivalents, set
before NumPy is imported), as in the pipeline. Usage: ``python benchmarks/coefficients.py
[--quick]``; writes the table to ``benchmarks/out/coefficients.txt``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from jcas.model.channel import estimate_variance  # noqa: E402
from jcas.model.drops import large_scale_fading, user_angles  # noqa: E402
from jcas.model.estimation import mmse_estimation  # noqa: E402
from jcas.model.params import SystemParams  # noqa: E402
from jcas.montecarlo.coefficients import mc_coefficients  # noqa: E402
from jcas.parts.channels import ChannelModel  # noqa: E402
from jcas.parts.channels.exponential import Exponential  # noqa: E402
from jcas.parts.channels.iid import IID  # noqa: E402
from jcas.parts.channels.local_scattering import LocalScattering  # noqa: E402
from jcas.parts.channels.rician import Rician  # noqa: E402
from jcas.parts.coefficients import closed_form_coefficients  # noqa: E402
from jcas.parts.precoders.general import DirectionPrecoder  # noqa: E402
from jcas.parts.precoders.mmse import MMSE  # noqa: E402
from jcas.parts.precoders.mrt import MRT  # noqa: E402
from jcas.parts.precoders.mrt_channels import mrt_coefficients  # noqa: E402
from jcas.parts.precoders.rzf import RZF  # noqa: E402
from jcas.parts.precoders.zf import PZF, ZF  # noqa: E402

OUT = Path(__file__).parent / "out" / "coefficients.txt"
PRECODERS: dict[str, DirectionPrecoder] = {
    "mrt": MRT(),
    "zf": ZF(),
    "pzf": PZF(),
    "rzf": RZF(),
    "mmse": MMSE(),
}
CHANNELS: dict[str, ChannelModel] = {
    "iid": IID(),
    "local_scattering": LocalScattering(10.0),
    "exponential": Exponential(0.7),
    "rician": Rician(5.0),
}


def peak_gflops(n: int = 1024, repeats: int = 5) -> float:
    """Best complex matrix-product rate (GFLOP/s, ``8 n^3`` flops) of ``n x n`` operands."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    b = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 8.0 * n**3 / best / 1e9


def flops_per_realization(name: str, dense: bool, n: int, k: int) -> float:
    """Useful real flops of one realization (module docstring)."""
    f = 8.0 * k * n * n * 2 if dense else 2.0 * k * n
    if name in ("zf", "pzf", "rzf", "mmse"):
        f += 16.0 * k * k * n + 8.0 * k**3 / 3.0
    if name == "pzf":
        f += 16.0 * k * n
    if name == "mmse" and dense:
        f += 8.0 * k * n * n
    f += 8.0 * k * (k + 1) * n + 16.0 * (k + 1) * n + 4.0 * (k + 1) * n
    return f


def timed(fn: Callable[..., object], repeats: int, *args: object, **kwargs: object) -> float:
    """Best wall time (s) of ``fn(*args, **kwargs)`` over ``repeats`` calls."""
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best


def setup(
    params: SystemParams, channel: ChannelModel, beta: np.ndarray, angles: np.ndarray
) -> None:
    """The per-drop set-up of the route: statistics, estimation, channel factors."""
    stats = channel.statistics(beta, angles, params.Nt)
    mmse_estimation(stats, params.tau_p, params.pp_w, params.sigma_u2_w)
    stats.factor()


def correlated_closed_form(params: SystemParams, beta: np.ndarray, angles: np.ndarray) -> None:
    """MRT's closed form under local scattering, with the estimation it needs."""
    stats = LocalScattering(10.0).statistics(beta, angles, params.Nt)
    est = mmse_estimation(stats, params.tau_p, params.pp_w, params.sigma_u2_w)
    mrt_coefficients(params, est)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 64 only, one repeat")
    args = ap.parse_args()
    sizes = [64] if args.quick else [64, 256]
    repeats = 1 if args.quick else 3
    n_drops, n_real = 2, 1000
    peak = peak_gflops()
    lines = [
        "Monte-Carlo coefficient route: ms per drop per 1000 realizations (2 drops x 1000, "
        f"best of {repeats}; includes the per-drop set-up, also shown alone)",
        f"numpy {np.__version__}, {platform.processor() or platform.machine()}, "
        f"BLAS single-threaded; peak complex matmul (zgemm 1024^2): {peak:.1f} GFLOP/s; "
        f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        "",
        f"{'N':>4} {'K':>3} {'precoder':<8} {'channel':<17} {'ms/drop/1e3':>12} "
        f"{'setup ms':>9} {'GFLOP/s':>8} {'% peak':>7}",
    ]
    print("\n".join(lines), flush=True)
    cells: dict[tuple[int, int, str, str], tuple[float, float]] = {}
    for n in sizes:
        for k in (8, 16):
            params = SystemParams(K=k, Nt=n, Nr=n, tau_p=k, snr_com_db=20.0, theta_deg=10.0)
            beta, _ = large_scale_fading(params, 1, range(n_drops))
            _, angles = user_angles(params, 1, range(n_drops))
            for cname, channel in CHANNELS.items():
                dense = cname != "iid"

                t_setup = timed(setup, repeats, params, channel, beta, angles) / n_drops * 1e3
                for pname, pre in PRECODERS.items():
                    t = timed(
                        mc_coefficients,
                        repeats,
                        params,
                        channel,
                        beta,
                        angles,
                        pre,
                        seed=2,
                        drops=range(n_drops),
                        n_realizations=n_real,
                    )
                    ms = t / n_drops / (n_real / 1000.0) * 1e3
                    rate = flops_per_realization(pname, dense, n, k) * n_real * n_drops / t / 1e9
                    cells[(n, k, pname, cname)] = (ms, 100 * rate / peak)
                    line = (
                        f"{n:>4} {k:>3} {pname:<8} {cname:<17} {ms:>12.1f} {t_setup:>9.1f} "
                        f"{rate:>8.2f} {100 * rate / peak:>6.1f}%"
                    )
                    print(line, flush=True)
                    lines.append(line)
    start = len(lines)
    lines += ["", "Summary: ms per drop per 1000 realizations (% of peak)"]
    lines.append(f"{'N':>4} {'K':>3} {'precoder':<8} " + " ".join(f"{c:>18}" for c in CHANNELS))
    for n in sizes:
        for k in (8, 16):
            for pname in PRECODERS:
                row = " ".join(
                    f"{cells[(n, k, pname, c)][0]:>10.0f} ({cells[(n, k, pname, c)][1]:>4.1f}%)"
                    for c in CHANNELS
                )
                lines.append(f"{n:>4} {k:>3} {pname:<8} {row}")
    print("\n".join(lines[start:]), flush=True)
    lines += ["", "Closed forms in the same run (per drop):"]
    for n in sizes:
        for k in (8, 16):
            params = SystemParams(K=k, Nt=n, Nr=n, tau_p=k, snr_com_db=20.0, theta_deg=10.0)
            beta, _ = large_scale_fading(params, 1, range(1000))
            _, angles = user_angles(params, 1, range(1000))
            xi = estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)
            for pname in ("mrt", "zf", "pzf"):
                p = params.replace(precoder=pname)
                t = timed(closed_form_coefficients, 3, beta, xi, p)
                line = (
                    f"{n:>4} {k:>3} closed_form_coefficients {pname:<4} iid: "
                    f"{t / 1000 * 1e6:8.2f} us/drop"
                )
                print(line, flush=True)
                lines.append(line)
            few = 4
            t = timed(correlated_closed_form, repeats, params, beta[:few], angles[:few])
            line = (
                f"{n:>4} {k:>3} mrt_coefficients (local scattering, with estimation): "
                f"{t / few * 1e3:8.2f} ms/drop"
            )
            print(line, flush=True)
            lines.append(line)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
