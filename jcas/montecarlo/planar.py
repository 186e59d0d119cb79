"""Monte-Carlo sensing with two angles: the finite-L CRBs and a 2-D maximum-likelihood estimator.

(a) :func:`mc_crb_planar`: the CRBs of (azimuth, elevation) (:mod:`jcas.model.fisher`) with the
*sample* covariance ``X X^H / L`` of real frames ``X = F S`` (precoder drawn by the
precoder part from simulated MMSE estimates, Gaussian symbols), averaged over channel
and symbol realizations, as :func:`jcas.montecarlo.sensing.mc_crb` does for one angle
(the same random streams: a ``1 x N`` array gives its azimuth CRB). Only the 3 x 3 forms
``[a_t, d_t]^H X X^H [a_t, d_t] / L`` are formed (``B^H F`` with ``B = [a_t, d_t]``), never
an ``Nt x Nt`` matrix.

(b) :func:`ml_estimate_2d` / :func:`mle_planar`: the echo (9) ``Y = alpha a_r a_t^H X + N``
with ``alpha`` unknown; concentrating ``alpha`` out leaves

    J(u, v) = |a_r^H Y X^H a_t|^2 / (||a_r||^2 a_t^H X X^H a_t),  u = sin(az), v = sin(el),

maximised over the disc ``u^2 + v^2 < 1``. The steering vectors of the centred UPA are
two-dimensional Fourier kernels, so ``a_t^H x_l`` and ``a_r^H y_l`` on the uniform grid
``u = 2 k / N_u``, ``v = 2 k' / N_v`` are zero-padded 2-D FFTs of the frame columns
(the centring only multiplies both by the same phase per grid point, which ``|.|``
removes): ``J = |sum_l S_l conj(T_l)|^2 / (||a_r||^2 sum_l |T_l|^2)``. Grid sizes: the
powers of two ``>= grid_oversampling (cols_t + cols_r)`` and ``... (rows_t + rows_r)``
(a fraction of the two-way main lobe). The best grid point is refined by a batched
pattern search in ``(u, v)`` (the 8 neighbours at the current step, the step halved
when the centre wins) to a step below ``1e-12``; then ``az = asin(u)``, ``el = asin(v)``.

Memory: the FFTs are computed for a block of trials and a block of frame columns at a
time, each block at most :data:`GRID_BYTES` bytes, and accumulated; the refinement holds
``9`` steering vectors per trial. Neither grows with ``Nt Nr`` or ``Nt^2``: a 64 x 64
transmit and receive array runs in about 100 MiB (``tests/montecarlo/test_upa_mc.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.drops import STREAM_MC_CRB, STREAM_MLE
from jcas.model.fisher import angle_fisher, crb_angles, planar_terms
from jcas.model.params import SystemParams
from jcas.montecarlo.rate import drop_batch, sample_moments, standard_errors
from jcas.montecarlo.sensing import echo, mle_params, mle_summary
from jcas.parts.arrays.upa import UPA, as_planar
from jcas.parts.registry import design

__all__ = [
    "GRID_BYTES",
    "PlanarCrbEstimate",
    "PlanarMleEstimate",
    "frame_crb_planar",
    "mc_crb_planar",
    "ml_estimate_2d",
    "mle_planar",
]

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]

GRID_BYTES = 16 * 2**20
"""Bytes of one block of FFT grid values (trials x frame columns x grid points)."""


@dataclass(frozen=True)
class PlanarCrbEstimate:
    """Mean CRBs of (az, el) over realizations and their standard errors, ``(D, 2)`` (rad^2)."""

    crb: Float
    crb_se: Float


@dataclass(frozen=True)
class PlanarMleEstimate:
    """2-D ML estimation over trials, per drop and angle (arrays ``(D, 2)``: az, el).

    Attributes
    ----------
    mse, mse_se : mean squared error and its SE (rad^2).
    bias, bias_se : mean error and its SE (rad).
    crb, crb_se : mean over trials of the CRBs with each trial's ``X X^H / L`` (rad^2).
    n_trials : trials per drop.
    """

    mse: Float
    mse_se: Float
    bias: Float
    bias_se: Float
    crb: Float
    crb_se: Float
    n_trials: int


def _arrays(params: SystemParams) -> tuple[UPA, UPA]:
    parts = design(params)
    return as_planar(parts.tx), as_planar(parts.rx)


def frame_crb_planar(params: SystemParams, x: Complex, sigma_r_bar2: float | None = None) -> Float:
    """CRBs of (az, el) (rad^2), ``(..., 2)``, for frames ``x`` ``(..., Nt, L)`` (sample
    covariance ``x x^H / L``), at the direction of ``params``."""
    tx, rx = _arrays(params)
    az, el = params.theta_rad, params.elevation_rad
    basis = np.concatenate([tx.steering2(az, el)[None], tx.derivatives2(az, el)]).T  # (Nt, 3)
    p = np.conj(basis.T) @ x  # (..., 3, L)
    n_frame = x.shape[-1]
    ph = np.conj(np.swapaxes(p, -1, -2))
    q = p @ ph / n_frame
    q_abs = np.abs(p) @ np.abs(ph) / n_frame
    g = rx.gram3(az, el)
    t1, t2, t3 = planar_terms(q, g)

    _, m2, _ = planar_terms(q_abs, np.abs(g))
    scale = 2.0 * np.stack([m2[..., 0, 0], m2[..., 1, 1]], axis=-1)
    s2 = params.sigma_r_bar2 if sigma_r_bar2 is None else sigma_r_bar2
    return crb_angles(angle_fisher(t1, t2, t3), s2, scale)


def mc_crb_planar(
    params: SystemParams,
    beta: ArrayLike,
    gamma: ArrayLike,
    eta: ArrayLike,
    *,
    seed: int,
    drops: Sequence[int],
    n_realizations: int,
    frame_length: int | None = None,
    chunk_size: int | None = None,
) -> PlanarCrbEstimate:
    """Mean CRBs of (az, el) with the sample covariance of real frames (module docstring).

    Same arguments and random streams (``rng_for(seed, STREAM_MC_CRB, d)``, channel
    first, then the symbols) as :func:`jcas.montecarlo.sensing.mc_crb` with
    ``method="sample"``; ``frame_length`` >= 1 (default ``params.L``). Returns
    :class:`PlanarCrbEstimate` (``(D, 2)`` each; NaN rows for invalid drops).
    """
    if n_realizations < 2:
        raise ValueError(f"n_realizations = {n_realizations!r}: must be >= 2")
    n_frame = params.L if frame_length is None else int(frame_length)
    if n_frame < 1:
        raise ValueError(f"frame_length = {frame_length!r}: must be >= 1")
    batch = drop_batch(params, beta, gamma, eta, drops)
    idx, n_pilots = batch.idx, batch.n_pilots
    k, nt = params.K, params.Nt
    crb = np.full((batch.n_drops, 2), np.nan)
    crb_se = np.full((batch.n_drops, 2), np.nan)
    if idx.size:
        per_sample = 16 * (nt * (3 * k + params.tau_p + n_pilots + n_frame) + k * n_frame)
        with np.errstate(invalid="ignore"):  # an angle without information: inf
            acc = sample_moments(
                params,
                batch,
                lambda _h, f, s: frame_crb_planar(params, f @ s),
                2,
                seed,
                STREAM_MC_CRB,
                n_realizations,
                per_sample,
                chunk_size,
                [(k, n_frame)],
            )
        crb[idx] = acc.mean
        crb_se[idx] = standard_errors(acc, n_realizations)
    return PlanarCrbEstimate(crb, crb_se)


# --------------------------------------------------------------------------- MLE
def _grid_size(n: int, oversampling: int) -> int:
    return max(8, 1 << math.ceil(math.log2(max(1, oversampling * n))))


def _fft_objective(y: Complex, x: Complex, tx: UPA, rx: UPA, n_v: int, n_u: int) -> Float:
    """``J`` of the module docstring on the ``(n_v, n_u)`` grid, ``(T, n_v, n_u)``, for
    frames ``x (T, Nt, L)`` and echoes ``y (T, Nr, L)``, in blocks of ``GRID_BYTES``."""
    n_trials, _, n_frame = x.shape
    z = np.zeros((n_trials, n_v, n_u), dtype=complex)
    den = np.zeros((n_trials, n_v, n_u))
    per_column = 16 * 2 * n_v * n_u
    block_l = max(1, min(n_frame, GRID_BYTES // per_column))
    block_t = max(1, GRID_BYTES // (per_column * block_l))
    for t0 in range(0, n_trials, block_t):
        ts = slice(t0, min(t0 + block_t, n_trials))
        for l0 in range(0, n_frame, block_l):
            ls = slice(l0, min(l0 + block_l, n_frame))
            xt = np.swapaxes(x[ts, :, ls], -1, -2).reshape(-1, ls.stop - l0, tx.rows, tx.cols)
            yt = np.swapaxes(y[ts, :, ls], -1, -2).reshape(-1, ls.stop - l0, rx.rows, rx.cols)
            big_t = np.fft.fft2(xt, s=(n_v, n_u))
            big_s = np.fft.fft2(yt, s=(n_v, n_u))
            z[ts] += np.sum(big_s * np.conj(big_t), axis=1)
            den[ts] += np.sum(np.abs(big_t) ** 2, axis=1)
    out = np.full(den.shape, -np.inf)
    np.divide(np.abs(z) ** 2, den, out=out, where=den > 0)
    return out


def _direct_objective(
    y: Complex, x: Complex, tx: UPA, rx: UPA, u: ArrayLike, v: ArrayLike
) -> Float:
    """``J(u, v)`` at points ``(T, P)`` from the vectors; ``-inf`` outside the disc."""
    u = np.asarray(u, dtype=float)
    v = np.asarray(v, dtype=float)
    inside = u * u + v * v < 1.0
    uu, vv = np.where(inside, u, 0.0), np.where(inside, v, 0.0)
    az, el = np.arcsin(uu), np.arcsin(vv)
    a_t = tx.steering2(az, el)  # (T, P, Nt)
    a_r = rx.steering2(az, el)
    w_t = np.einsum("tpn,tnl->tpl", np.conj(a_t), x)
    w_r = np.einsum("tpn,tnl->tpl", np.conj(a_r), y)
    z = np.sum(w_r * np.conj(w_t), axis=-1)
    den = np.sum(np.abs(w_t) ** 2, axis=-1)
    out = np.full(den.shape, -np.inf)
    np.divide(np.abs(z) ** 2, den, out=out, where=den > 0)
    return np.where(inside, out, -np.inf)


_MOVES = np.array([(du, dv) for du in (-1, 0, 1) for dv in (-1, 0, 1)], dtype=float)


def ml_estimate_2d(
    y: ArrayLike,
    x: ArrayLike,
    tx: UPA,
    rx: UPA,
    grid_oversampling: int = 2,
    step_tolerance: float = 1e-12,
) -> tuple[Float, Float]:
    """ML estimates ``(az, el)`` (rad), each shape ``(T,)``, for echoes ``y (T, Nr, L)``
    and frames ``x (T, Nt, L)`` (module docstring: FFT grid, pattern-search refinement).

    Both angles must be resolvable (``cols > 1`` and ``rows > 1`` on at least one side).
    """
    y = np.asarray(y, dtype=complex)
    x = np.asarray(x, dtype=complex)
    if max(tx.rows, rx.rows) == 1 or max(tx.cols, rx.cols) == 1:
        raise ValueError(
            f"arrays {tx.rows} x {tx.cols} (transmit) and {rx.rows} x {rx.cols} (receive) "
            "cannot resolve both angles: a 2-D estimate needs rows > 1 and cols > 1 on a side"
        )
    n_u = _grid_size(tx.cols + rx.cols, grid_oversampling)
    n_v = _grid_size(tx.rows + rx.rows, grid_oversampling)
    grid = _fft_objective(y, x, tx, rx, n_v, n_u)
    # grid frequency k <-> 2 k / n in [-1, 1); mask the points outside the disc
    fu = 2.0 * np.fft.fftfreq(n_u)
    fv = 2.0 * np.fft.fftfreq(n_v)
    outside = fv[:, None] ** 2 + fu[None, :] ** 2 >= 1.0
    grid[:, outside] = -np.inf
    best = np.argmax(grid.reshape(len(grid), -1), axis=-1)
    iv, iu = np.unravel_index(best, (n_v, n_u))
    u, v = fu[iu], fv[iv]
    step = np.array([2.0 / n_u, 2.0 / n_v])
    steps = np.tile(step, (len(u), 1))
    value = _direct_objective(y, x, tx, rx, u[:, None], v[:, None])[:, 0]
    for _ in range(200):
        if np.all(steps < step_tolerance):
            break
        cu = u[:, None] + _MOVES[None, :, 0] * steps[:, :1]
        cv = v[:, None] + _MOVES[None, :, 1] * steps[:, 1:]
        vals = _direct_objective(y, x, tx, rx, cu, cv)
        k = np.argmax(vals, axis=-1)
        improved = vals[np.arange(len(k)), k] > value
        u = np.where(improved, cu[np.arange(len(k)), k], u)
        v = np.where(improved, cv[np.arange(len(k)), k], v)
        value = np.where(improved, vals[np.arange(len(k)), k], value)
        steps = np.where(improved[:, None], steps, steps / 2.0)
    return np.arcsin(u), np.arcsin(v)


def mle_planar(
    params: SystemParams,
    beta: ArrayLike,
    gamma: ArrayLike,
    eta: ArrayLike,
    *,
    seed: int,
    drops: Sequence[int],
    n_trials: int,
    snr_sen_db: float | None = None,
    grid_oversampling: int = 2,
    chunk_size: int | None = None,
) -> PlanarMleEstimate:
    """2-D ML estimation of (az, el) with unknown complex ``alpha``, over trials.

    Each trial draws a channel realization (pilots, MMSE estimate, precoder), a frame
    ``X = F S`` and the echo ``Y = a_r a_t^H X + N`` (``alpha = 1``, ``N`` entries
    ``CN(0, 2 L sigma_r_bar^2)``, so ``SNR_sen = Pt / sigma_r_bar^2``), as
    :func:`jcas.montecarlo.sensing.mle_angle` (streams ``rng_for(seed, STREAM_MLE, d)``;
    common random numbers across ``snr_sen_db``), and estimates both angles by
    :func:`ml_estimate_2d`. Returns :class:`PlanarMleEstimate` (``(D, 2)`` arrays).
    """
    params = mle_params(params, n_trials, snr_sen_db)
    batch = drop_batch(params, beta, gamma, eta, drops)
    idx, n_pilots = batch.idx, batch.n_pilots
    k, nt, nr, n_frame = params.K, params.Nt, params.Nr, params.L
    tx, rx = _arrays(params)
    az0, el0 = params.theta_rad, params.elevation_rad
    a_t = tx.steering2(az0, el0)
    a_r = rx.steering2(az0, el0)
    sigma_r = math.sqrt(2.0 * n_frame * params.sigma_r_bar2)
    out = np.full((6, batch.n_drops, 2), np.nan)
    if idx.size:
        # draws, precoder, frame and echo; 9 steering vectors per side in the refinement;
        # the grid values (the FFT blocks themselves are bounded by GRID_BYTES)
        grid = _grid_size(tx.cols + rx.cols, grid_oversampling) * _grid_size(
            tx.rows + rx.rows, grid_oversampling
        )
        per_sample = 16 * (
            nt * (3 * k + params.tau_p + n_pilots + 2 * n_frame + 30)
            + 2 * nr * (n_frame + 10)
            + 2 * grid
        )

        def statistic(_h: Complex, f: Complex, s: Complex, n_echo: Complex) -> Float:
            xf = f @ s  # (n, B, size, Nt, L)
            y = echo(xf, a_t, a_r, sigma_r * n_echo)  # (9)
            lead = xf.shape[:-2]
            az, el = ml_estimate_2d(
                y.reshape(-1, nr, n_frame), xf.reshape(-1, nt, n_frame), tx, rx, grid_oversampling
            )
            err = np.stack([az - az0, el - el0], axis=-1).reshape(*lead, 2)
            return np.concatenate([err, err**2, frame_crb_planar(params, xf)], axis=-1)

        acc = sample_moments(
            params,
            batch,
            statistic,
            6,
            seed,
            STREAM_MLE,
            n_trials,
            per_sample,
            chunk_size,
            [(k, n_frame), (nr, n_frame)],
        )
        out[:, idx] = mle_summary(acc, n_trials, 2)
    mse, mse_se, bias, bias_se, crb, crb_se = out
    return PlanarMleEstimate(mse, mse_se, bias, bias_se, crb, crb_se, n_trials=int(n_trials))
