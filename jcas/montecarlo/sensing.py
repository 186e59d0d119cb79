"""Monte-Carlo sensing: the CRB (36) with finite frames, and a maximum-likelihood angle estimator.

(a) :func:`mc_crb` evaluates the general CRB (36) (:func:`jcas.model.metrics.crb_general`)
with the *sample* covariance ``R_x = X X^H / L`` of a real frame ``X = F S``:
Gaussian symbols ``S`` (``K x L``, entries ``CN(0, 1)``) and the precoder drawn by the
precoder part (:func:`jcas.montecarlo.rate.sample_precoder`; MRT (12) by default)
from MMSE estimates (6) of simulated noisy pilots (as in
:mod:`jcas.montecarlo.rate`), averaged over channel and symbol realizations.
For a given frame ``X`` this is the exact CRB of theta in (9) with unknown
complex ``alpha`` (Liu et al., the paper's [6]).

Expected relation to the closed form (16): the map ``R -> CRB(R)`` is convex
(``1/CRB = (T2 - |T3|^2 / T1) / sigma_r_bar^2`` is linear minus a
quadratic-over-linear function of ``R``, hence concave, and ``1/x`` is convex
and decreasing), and ``E[X X^H / L] = R_x`` of (37). By Jensen,
``E[CRB(R_hat)] >= CRB(R_x) = (16)`` for every ``L``. As ``L -> inf`` the sample
covariance tends to ``F F^H`` (not to (37)): the channel estimates stay random,
so ``E[CRB(F F^H)] >= (16)`` too, with a gap that vanishes as ``Nt`` grows
(the quadratic forms ``a_t^H F F^H a_t`` etc. concentrate). ``frame_length=0``
in :func:`mc_crb` gives that ``L -> inf`` limit with the same channel draws.

(b) :func:`mle_angle` simulates the echo (9) ``Y = alpha a_r a_t^H X + N`` with
``N`` entries ``CN(0, sigma_r^2)``, ``sigma_r^2 = 2 |alpha|^2 L sigma_r_bar^2``
(so ``SNR_sen = Pt / sigma_r_bar^2``, ``docs/model.md`` §2; ``alpha = 1``, the
estimator is invariant to its phase), and estimates theta by maximum
likelihood with ``alpha`` unknown. Concentrating ``alpha`` out leaves

    J(theta) = |a_r^H Y X^H a_t|^2 / (||a_r||^2 a_t^H X X^H a_t),

maximised over ``u = sin(theta)`` in ``[-1, 1]`` by a grid search (step
``2 / (grid_oversampling (Nt + Nr))``, a fraction of the main-lobe width) and a
golden-section refinement within one grid step of the three best grid peaks;
all trials at once. :func:`mle_snr_sweep` runs it over ``SNR_sen`` with common random
numbers, showing the threshold region (MSE far above the CRB at low SNR) and
efficiency (MSE -> CRB) at high SNR.

Randomness: drop ``d`` uses :func:`jcas.montecarlo.rate.block_rng` blocks of
``rng_for(seed, STREAM_MC_CRB, d)`` for (a) and ``rng_for(seed, STREAM_MLE, d)``
for (b); within a block the channel is drawn first, so ``frame_length`` and
``snr_sen_db`` do not change the channel draws.

CRB evaluation: (36) needs only the quadratic forms ``u^H R_x v`` with
``u, v in span{a_t, a_t_dot}``; with an orthonormal basis ``Q`` (``Nt x 2``) of that
span, ``crb_general`` is called on ``Q^H R_x Q`` and ``Q^H a_t``, ``Q^H a_t_dot``,
which gives the same T1, T2, T3 (hence the same CRB) without forming
``Nt x Nt`` matrices per realization.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.drops import STREAM_MC_CRB, STREAM_MLE
from jcas.model.metrics import crb_general
from jcas.model.params import SystemParams
from jcas.montecarlo.rate import (
    _Moments,
    _route_inputs,
    drop_batch,
    drop_batches,
    sample_moments,
    sample_moments_schemes,
    standard_errors,
)
from jcas.parts.arrays.base import ArrayPart
from jcas.parts.arrays.ula import ULA
from jcas.parts.registry import design

__all__ = [
    "CrbEstimate",
    "MleEstimate",
    "MleSweep",
    "crb_symbol_average",
    "mc_crb",
    "mle_angle",
    "mle_snr_sweep",
    "sample_crb",
]

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]


class CrbEstimate(NamedTuple):
    """Mean CRB (36) over realizations and its standard error, both shape ``(D,)`` (rad^2);
    ``(S, D)`` when :func:`mc_crb` got ``S`` schemes."""

    crb: Float
    crb_se: Float


@dataclass(frozen=True)
class MleEstimate:
    """Maximum-likelihood angle estimation over trials, per drop (shape ``(D,)``).

    Attributes
    ----------
    mse, mse_se : empirical mean squared error of theta_hat and its SE (rad^2).
    bias, bias_se : mean error ``theta_hat - theta`` and its SE (rad).
    crb, crb_se : mean over trials of CRB (36) with each trial's ``X X^H / L`` (rad^2).
    n_trials : trials per drop.
    """

    mse: Float
    mse_se: Float
    bias: Float
    bias_se: Float
    crb: Float
    crb_se: Float
    n_trials: int


@dataclass(frozen=True)
class MleSweep:
    """:func:`mle_angle` over ``SNR_sen``: arrays of shape ``(S, D)`` (``snr_sen_db`` ``(S,)``)."""

    snr_sen_db: Float
    mse: Float
    mse_se: Float
    bias: Float
    bias_se: Float
    crb: Float
    crb_se: Float
    n_trials: int


def _basis(params: SystemParams) -> tuple[Complex, Complex, Complex, Complex, Complex, Complex]:
    """Steering vectors, derivatives (the array part's; (10), (17) for the ULA) and a basis
    ``Q`` of span{a_t, a_t_dot}.

    Returns ``a_t, a_t_dot (Nt,)``, ``a_r, a_r_dot (Nr,)``, ``Q (Nt, 2)``, ``Q^H``.
    """
    th = params.theta_rad
    parts = design(params)
    a_t = parts.tx.steering(th)
    a_t_dot = parts.tx.derivative(th)
    a_r = parts.rx.steering(th)
    a_r_dot = parts.rx.derivative(th)
    q, _ = np.linalg.qr(np.stack([a_t, a_t_dot], axis=1))
    return a_t, a_t_dot, a_r, a_r_dot, q, q.conj().T


def sample_crb(
    params: SystemParams, f: Complex, w: Complex | None, sigma_r_bar2: float | None = None
) -> Float:
    """CRB (36) with ``R_x = F W F^H`` (rad^2), ``W = S S^H / L`` (or ``I`` if ``w`` is None).

    Parameters
    ----------
    params : uses Nt, Nr, theta_rad, sigma_r_bar2 (unless given).
    f : precoder (12), shape ``(..., Nt, K)``.
    w : ``S S^H / L``, shape ``(..., K, K)``; None for the ``L -> inf`` limit ``R_x = F F^H``.
    sigma_r_bar2 : effective radar noise (W); default ``params.sigma_r_bar2``.

    Returns
    -------
    CRB, shape ``(...)``.
    """
    a_t, a_t_dot, a_r, a_r_dot, _q, qh = _basis(params)
    p = qh @ f  # (..., 2, K)
    ph = np.conj(np.swapaxes(p, -1, -2))
    rx = p @ ph if w is None else p @ w @ ph  # Q^H R_x Q, (..., 2, 2)
    s2 = params.sigma_r_bar2 if sigma_r_bar2 is None else sigma_r_bar2
    return crb_general(rx, qh @ a_t, a_r, qh @ a_t_dot, a_r_dot, s2)


@functools.cache
def _gauss_legendre() -> tuple[Float, Float]:
    """160-point Gauss-Legendre nodes and weights on ``[0, 1]`` (computed on first use:
    about 50 ms, which a job that never averages over symbols does not pay at import)."""
    nodes, weights = np.polynomial.legendre.leggauss(160)
    return 0.5 * (nodes + 1.0), 0.5 * weights


def crb_symbol_average(
    params: SystemParams, f: Complex, frame_length: int, sigma_r_bar2: float | None = None
) -> Float:
    """Exact mean over Gaussian symbols of CRB (36) with ``R_x = F S S^H F^H / L``, given F (rad^2).

    With ``b = F^H a_t``, ``d = F^H a_t_dot`` and ``M = [b d]^H W [b d]``
    (``W = S S^H / L``), (36) reduces to ``sigma_r_bar^2 / CRB =
    (||a_r_dot||^2 - |a_r_dot^H a_r|^2 / Nr) M_11 + Nr (M_22 - |M_12|^2 / M_11)``.
    ``L M`` is complex Wishart with ``L`` degrees of freedom and scale
    ``M0 = [b d]^H [b d]``; by the Bartlett decomposition ``L M_11 ~ M0_11 G1`` and
    ``L (M_22 - |M_12|^2 / M_11) ~ schur(M0) G2`` with independent
    ``G1 ~ Gamma(L)``, ``G2 ~ Gamma(L - 1)``. Hence, with ``A, B`` the
    coefficients of ``G1, G2``,

        E[CRB] = sigma_r_bar^2 int_0^inf (1 + A t)^-L (1 + B t)^-(L-1) dt
               = sigma_r_bar^2 / (A (L - 1)) int_0^1 (x / (x + r (1 - x)))^(L-1) dy,

    ``x = y^(1 / (L - 1))``, ``r = B / A``, evaluated by 160-point Gauss-Legendre
    quadrature. Special cases: ``B = 0`` (e.g. pure sensing, ``gamma = 0``)
    gives ``CRB(F F^H) L / (L - 1)`` and ``A = 0`` would give ``L / (L - 2)``; in
    general the factor over ``CRB(F F^H)`` lies between 1 (Jensen) and ``L / (L - 2)``
    (it can fall slightly below ``L / (L - 1)``, e.g. near ``B / A = 1/3``).

    Parameters
    ----------
    params : uses Nt, Nr, theta_rad, sigma_r_bar2 (unless given).
    f : precoder (12), shape ``(..., Nt, K)``.
    frame_length : L >= 3 (the quadrature is accurate to ~1e-8 relative for L >= 3).

    Returns
    -------
    Shape ``(...)``.
    """
    n_frame = int(frame_length)
    if n_frame < 3:
        raise ValueError(f"frame_length = {frame_length!r}: must be >= 3")
    a_t, a_t_dot, a_r, a_r_dot, _q, _qh = _basis(params)
    fh = np.conj(np.swapaxes(f, -1, -2))
    b = fh @ a_t
    d = fh @ a_t_dot
    m11 = np.sum(np.abs(b) ** 2, axis=-1)
    m22 = np.sum(np.abs(d) ** 2, axis=-1)
    m12 = np.sum(np.conj(b) * d, axis=-1)
    nr2 = float(np.sum(np.abs(a_r) ** 2))
    c2 = float(np.abs(np.vdot(a_r_dot, a_r)) ** 2)
    nr_dot2 = float(np.sum(np.abs(a_r_dot) ** 2))
    coef_a = (nr_dot2 - c2 / nr2) * m11 / n_frame
    coef_b = nr2 * np.maximum(m22 - np.abs(m12) ** 2 / m11, 0.0) / n_frame
    s2 = params.sigma_r_bar2 if sigma_r_bar2 is None else sigma_r_bar2
    return s2 * _inverse_gamma_mix(coef_a, coef_b, n_frame)


def _inverse_gamma_mix(coef_a: Float, coef_b: Float, n_frame: int) -> Float:
    """``E[1 / (A G1 + B G2)]``, ``G1 ~ Gamma(L)``, ``G2 ~ Gamma(L - 1)`` independent.

    ``= int_0^inf (1 + A t)^-L (1 + B t)^-(L-1) dt``. Substituting ``1 + A t = 1/x``
    and ``x = y^(1/(L-1))``, ``y = w^2`` (when ``B <= A``; symmetric with the roles
    swapped when ``B > A``; needs ``L >= 3``) leaves a smooth integrand on ``[0, 1]``
    with values in ``[0, 1]``, integrated by 160-point Gauss-Legendre.
    """
    coef_a, coef_b = np.broadcast_arrays(np.asarray(coef_a, float), np.asarray(coef_b, float))
    w, gl_w = _gauss_legendre()
    y = w * w
    wt = 2.0 * w * gl_w
    swap = coef_b > coef_a
    big = np.where(swap, coef_b, coef_a)
    r = (np.where(swap, coef_a, coef_b) / big)[..., None]
    # base Gamma shape of the larger coefficient: L (A) or L - 1 (B); other: L - 1 or L
    k_big = np.where(swap, n_frame - 1, n_frame)[..., None]
    k_small = np.where(swap, n_frame, n_frame - 1)[..., None]
    x = y ** (1.0 / (k_big - 1.0))
    integral = np.sum(wt * (x / (x + r * (1.0 - x))) ** k_small, axis=-1)
    return integral / (big * (k_big[..., 0] - 1.0))


def mc_crb(
    params: SystemParams,
    beta: ArrayLike,
    gamma: ArrayLike,
    eta: ArrayLike,
    *,
    seed: int,
    drops: Sequence[int],
    n_realizations: int,
    frame_length: int | None = None,
    method: Literal["sample", "symbol_average"] = "sample",
    chunk_size: int | None = None,
    angles: ArrayLike | None = None,
    norms: ArrayLike | None = None,
) -> CrbEstimate:
    """Mean of the general CRB (36) with the sample covariance of real frames (rad^2).

    Parameters
    ----------
    params : system parameters (Nt, Nr, K, L, theta, sigma_r_bar2, pilots).
    beta, gamma, eta : shape ``(D, K)``; rows with non-finite entries give NaN.
        ``gamma``, ``eta`` may have a leading scheme axis, ``(S, D, K)``: each drop's
        channels, estimates and symbols are then drawn once for all ``S`` schemes
        (the same numbers as ``S`` separate calls; outputs ``(S, D)``).
    seed, drops : random streams ``rng_for(seed, STREAM_MC_CRB, d)``.
    n_realizations : channel + symbol realizations per drop (>= 2).
    frame_length : L (default ``params.L``); ``0`` gives the ``L -> inf`` limit
        ``R_x = F F^H`` with the same channel draws.
    method : ``"sample"`` draws the symbols ``S`` and averages ``CRB(X X^H / L)``;
        ``"symbol_average"`` averages, over channel draws only, the exact mean
        over symbols :func:`crb_symbol_average` (same expectation, smaller SE;
        a Rao-Blackwellised estimate). Channel draws are the same for both.
    chunk_size : realizations held in memory at once (default ~32 MiB of working arrays).
    angles, norms : the users' angles and the directions' norms on the coefficient route
        (as :func:`jcas.montecarlo.rate.mc_rate`).

    Returns
    -------
    :class:`CrbEstimate` ``(crb, crb_se)``, each shape ``(D,)``: the sample mean
    of ``CRB(X X^H / L)`` and its standard error ``std / sqrt(n)``.
    """
    if n_realizations < 2:
        raise ValueError(f"n_realizations = {n_realizations!r}: must be >= 2")
    n_frame = params.L if frame_length is None else int(frame_length)
    if n_frame < 0:
        raise ValueError(f"frame_length = {frame_length!r}: must be >= 0")
    if method not in ("sample", "symbol_average"):
        raise ValueError(f"method = {method!r}: must be 'sample' or 'symbol_average'")
    draw_symbols = method == "sample" and n_frame > 0
    batches, stacked = drop_batches(params, beta, gamma, eta, drops)
    n_drops = batches[0].n_drops if batches else np.atleast_2d(np.asarray(beta)).shape[0]
    k, nt = params.K, params.Nt
    crb = np.full((len(batches), n_drops), np.nan)
    crb_se = np.full((len(batches), n_drops), np.nan)
    if any(b.idx.size for b in batches):
        n_pilots = batches[0].n_pilots

        def statistic(_h: Complex, f: Complex, *s: Complex) -> Float:
            if draw_symbols:
                w = s[0] @ np.conj(np.swapaxes(s[0], -1, -2)) / n_frame
                return sample_crb(params, f, w)[..., None]
            if n_frame:
                return crb_symbol_average(params, f, n_frame)[..., None]
            return sample_crb(params, f, None)[..., None]

        per_sample = 16 * (nt * (3 * k + params.tau_p + n_pilots) + k * n_frame + 4 * k * k)
        accs = sample_moments_schemes(
            params,
            batches,
            statistic,
            1,
            seed,
            STREAM_MC_CRB,
            n_realizations,
            per_sample,
            chunk_size,
            [(k, n_frame)] if draw_symbols else [],
            route_inputs=_route_inputs(angles, norms),
        )
        for i, (b, acc) in enumerate(zip(batches, accs, strict=True)):
            crb[i, b.idx] = acc.mean[:, 0]
            crb_se[i, b.idx] = standard_errors(acc, n_realizations)[:, 0]
    if not stacked:
        return CrbEstimate(crb[0], crb_se[0])
    return CrbEstimate(crb, crb_se)


# ------------------------------------------------------------------------ MLE
def _objective(u: Float, z: Complex, r: Complex, rx: int | ArrayPart, tx: int | ArrayPart) -> Float:
    """Concentrated log-likelihood at ``u = sin(theta)``.

    ``|a_r^H Z a_t|^2 / (||a_r||^2 a_t^H R a_t)``.

    ``u`` shape ``(..., G)``; ``z = Y X^H`` shape ``(..., Nr, Nt)``; ``r = X X^H``
    shape ``(..., Nt, Nt)``; ``rx``, ``tx`` the array parts (an int N: the ULA of N
    elements). Returns shape ``(..., G)``.
    """
    rx, tx = _array(rx), _array(tx)
    th = np.arcsin(np.clip(u, -1.0, 1.0))
    a_r = rx.steering(th)  # (..., G, Nr)
    a_t = tx.steering(th)  # (..., G, Nt)
    za = a_t @ np.swapaxes(z, -1, -2)  # (..., G, Nr): (Z a_t)^T
    num = np.abs(np.sum(np.conj(a_r) * za, axis=-1)) ** 2
    ra = a_t @ np.swapaxes(r, -1, -2)  # (..., G, Nt): (R a_t)^T
    den = np.sum(np.conj(a_t) * ra, axis=-1).real
    return num / (rx.gram(th)[..., 0, 0].real * den)


def _array(part: int | ArrayPart) -> ArrayPart:
    return ULA(part) if isinstance(part, int | np.integer) else part


def ml_estimate(
    z: Complex,
    r: Complex,
    rx: int | ArrayPart,
    tx: int | ArrayPart,
    grid_oversampling: int = 4,
    n_peaks: int = 3,
) -> Float:
    """ML estimate of theta (rad) from ``Z = Y X^H`` and ``R = X X^H``, all trials at once.

    Grid over ``u = sin(theta)`` with ``grid_oversampling (Nt + Nr)`` steps on
    ``[-1, 1]``; the ``n_peaks`` highest local maxima of the grid are refined by
    golden-section search on ``[u_g - step, u_g + step]`` to ``1e-10`` in ``u``
    and the best refined point is returned (refining several peaks guards
    against near-ties between lobes in the threshold region). Shapes:
    ``z (..., Nr, Nt)``, ``r (..., Nt, Nt)`` -> ``(...)``; ``rx``, ``tx`` array parts
    (or element counts of ULAs).
    """
    rx, tx = _array(rx), _array(tx)
    n_rx, n_tx = rx.n_elements, tx.n_elements
    n_grid = grid_oversampling * (n_tx + n_rx) + 1
    grid = np.linspace(-1.0, 1.0, n_grid)
    step = grid[1] - grid[0]
    n_peaks = max(1, min(n_peaks, n_grid))
    batch = z.shape[:-2]
    # grid search in sub-batches so that the (trials, G, N) arrays stay small
    flat_z = z.reshape(-1, *z.shape[-2:])
    flat_r = r.reshape(-1, *r.shape[-2:])
    start = np.empty((flat_z.shape[0], n_peaks))
    per = max(1, (4 * 2**20) // (n_grid * (n_tx + n_rx)))
    for i0 in range(0, flat_z.shape[0], per):
        j = _objective(grid, flat_z[i0 : i0 + per, None], flat_r[i0 : i0 + per, None], rx, tx)
        j = j.reshape(j.shape[0], -1)
        pad = np.pad(j, ((0, 0), (1, 1)), constant_values=-np.inf)
        peak = (j >= pad[:, :-2]) & (j >= pad[:, 2:])
        score = np.where(peak, j, -np.inf)
        top = np.argsort(-score, axis=-1, kind="stable")[:, :n_peaks]
        ok = np.take_along_axis(peak, top, axis=-1)
        top = np.where(ok, top, top[:, :1])  # fewer peaks than n_peaks: repeat the best
        start[i0 : i0 + per] = grid[top]
    start = start.reshape(*batch, n_peaks)
    lo = np.maximum(start - step, -1.0)
    hi = np.minimum(start + step, 1.0)
    inv_phi = (math.sqrt(5.0) - 1.0) / 2.0
    n_iter = math.ceil(math.log(2.0 * step / 1e-10) / -math.log(inv_phi))

    def obj(u: Float) -> Float:
        return _objective(u, z, r, rx, tx)

    c = hi - inv_phi * (hi - lo)
    d = lo + inv_phi * (hi - lo)
    fc, fd = obj(c), obj(d)
    for _ in range(n_iter):
        left = fc >= fd  # maximum in [lo, d]
        hi = np.where(left, d, hi)
        lo = np.where(left, lo, c)
        new_c = hi - inv_phi * (hi - lo)
        new_d = lo + inv_phi * (hi - lo)
        c, d = np.where(left, new_c, d), np.where(left, c, new_d)
        f_new = obj(np.where(left, c, d))
        fc, fd = np.where(left, f_new, fd), np.where(left, fc, f_new)
    u = 0.5 * (lo + hi)
    best = np.argmax(obj(u), axis=-1)[..., None]
    u_best = np.take_along_axis(u, best, axis=-1)[..., 0]
    return np.arcsin(np.clip(u_best, -1.0, 1.0))


def echo(x: Complex, a_t: Complex, a_r: Complex, noise: Complex) -> Complex:
    """The echo (9) with ``alpha = 1``: ``Y = a_r a_t^H X + N``, shape ``(..., Nr, L)``, for
    frames ``x`` ``(..., Nt, L)``, steering vectors ``a_t`` ``(Nt,)``, ``a_r`` ``(Nr,)`` and
    the noise ``N`` ``(..., Nr, L)`` (``sqrt(W)``)."""
    return a_r[:, None] * (np.conj(a_t) @ x)[..., None, :] + noise


def mle_params(params: SystemParams, n_trials: int, snr_sen_db: float | None) -> SystemParams:
    """``params`` with ``snr_sen_db`` (dB) where given; checks ``n_trials >= 2``."""
    if n_trials < 2:
        raise ValueError(f"n_trials = {n_trials!r}: must be >= 2")
    if snr_sen_db is not None:
        return params.replace(snr_sen_db=float(snr_sen_db))
    return params


def mle_summary(acc: _Moments, n_trials: int, n_angles: int) -> Float:
    """``(mse, mse_se, bias, bias_se, crb, crb_se)``, shape ``(6, drops, n_angles)``, from
    the moments of ``[err, err^2, crb]`` (``n_angles`` each) over ``n_trials`` trials."""
    se = standard_errors(acc, n_trials)
    m = acc.mean
    bias, mse, crb = (slice(i * n_angles, (i + 1) * n_angles) for i in range(3))
    return np.stack([m[:, mse], se[:, mse], m[:, bias], se[:, bias], m[:, crb], se[:, crb]])


def mle_angle(
    params: SystemParams,
    beta: ArrayLike,
    gamma: ArrayLike,
    eta: ArrayLike,
    *,
    seed: int,
    drops: Sequence[int],
    n_trials: int,
    snr_sen_db: float | None = None,
    grid_oversampling: int = 4,
    chunk_size: int | None = None,
    angles: ArrayLike | None = None,
    norms: ArrayLike | None = None,
) -> MleEstimate:
    """ML estimation of theta from the echo (9) with unknown complex alpha, over trials.

    Each trial draws a channel realization (pilots, MMSE estimate, precoder
    (12)), a frame ``X = F S`` (``S`` ``K x L`` ``CN(0, 1)``), the echo
    ``Y = a_r a_t^H X + N`` with ``N`` entries ``CN(0, 2 L sigma_r_bar^2)``
    (``alpha = 1``), and maximises the concentrated likelihood (module docstring).

    Parameters
    ----------
    params : system parameters (Nt, Nr, K, L, theta, snr_sen_db, pilots).
    beta, gamma, eta : shape ``(D, K)``; rows with non-finite entries give NaN.
    seed, drops : random streams ``rng_for(seed, STREAM_MLE, d)``.
    n_trials : trials per drop (>= 2).
    snr_sen_db : overrides ``params.snr_sen_db`` (the random numbers do not
        depend on it: common random numbers across SNRs).
    grid_oversampling : grid points per ``1 / (Nt + Nr)`` of ``u = sin(theta)``.
    chunk_size : trials held in memory at once (default ~32 MiB of working arrays).
    angles, norms : the users' angles and the directions' norms on the coefficient route
        (as :func:`jcas.montecarlo.rate.mc_rate`): the echo of a precoder under a
        correlated or Rician channel.

    Returns
    -------
    :class:`MleEstimate` (arrays of shape ``(D,)``).
    """
    params = mle_params(params, n_trials, snr_sen_db)
    batch = drop_batch(params, beta, gamma, eta, drops)
    idx, n_pilots = batch.idx, batch.n_pilots
    k, nt, nr, n_frame = params.K, params.Nt, params.Nr, params.L
    parts = design(params)
    a_t = parts.tx.steering(params.theta_rad)
    a_r = parts.rx.steering(params.theta_rad)
    sigma_r = math.sqrt(2.0 * n_frame * params.sigma_r_bar2)  # |alpha| = 1
    out = np.full((6, batch.n_drops), np.nan)
    if idx.size:
        per_sample = 16 * (
            nt * (3 * k + params.tau_p + n_pilots + 2 * n_frame + 2 * nt) + (k + 2 * nr) * n_frame
        )

        def statistic(_h: Complex, f: Complex, s: Complex, n_echo: Complex) -> Float:
            x = f @ s  # (..., Nt, L)
            y = echo(x, a_t, a_r, sigma_r * n_echo)
            xh = np.conj(np.swapaxes(x, -1, -2))
            theta_hat = ml_estimate(y @ xh, x @ xh, parts.rx, parts.tx, grid_oversampling)
            err = theta_hat - params.theta_rad
            w = s @ np.conj(np.swapaxes(s, -1, -2)) / n_frame
            return np.stack([err, err**2, sample_crb(params, f, w)], axis=-1)

        acc = sample_moments(
            params,
            batch,
            statistic,
            3,
            seed,
            STREAM_MLE,
            n_trials,
            per_sample,
            chunk_size,
            [(k, n_frame), (nr, n_frame)],
            route_inputs=_route_inputs(angles, norms),
        )
        out[:, idx] = mle_summary(acc, n_trials, 1)[..., 0]
    mse, mse_se, bias, bias_se, crb, crb_se = out
    return MleEstimate(mse, mse_se, bias, bias_se, crb, crb_se, n_trials=int(n_trials))


def mle_snr_sweep(
    params: SystemParams,
    beta: ArrayLike,
    gamma: ArrayLike,
    eta: ArrayLike,
    snr_sen_db: Sequence[float] | ArrayLike,
    *,
    seed: int,
    drops: Sequence[int],
    n_trials: int,
    grid_oversampling: int = 4,
) -> MleSweep:
    """:func:`mle_angle` for each ``SNR_sen`` (dB) with common random numbers.

    Use ``sqrt(mse)`` vs ``sqrt(crb)`` to show the threshold region: at low
    ``SNR_sen`` grid outliers make the MSE far exceed the CRB; at high
    ``SNR_sen`` the MSE approaches the CRB. Arrays of shape ``(S, D)``.
    """
    snrs = np.atleast_1d(np.asarray(snr_sen_db, dtype=float))
    res = [
        mle_angle(
            params,
            beta,
            gamma,
            eta,
            seed=seed,
            drops=drops,
            n_trials=n_trials,
            snr_sen_db=float(s),
            grid_oversampling=grid_oversampling,
        )
        for s in snrs
    ]
    fields = ("mse", "mse_se", "bias", "bias_se", "crb", "crb_se")
    stacked = {name: np.stack([getattr(r, name) for r in res]) for name in fields}
    return MleSweep(snr_sen_db=snrs, n_trials=int(n_trials), **stacked)
