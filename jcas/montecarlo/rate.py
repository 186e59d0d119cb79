"""Monte-Carlo achievable rate, eq. (14), with its standard error.

For each drop (large-scale fading ``beta``, allocation ``gamma``, ``eta``)
this module simulates small-scale Rayleigh fading ``h_k = sqrt(beta_k) hbar_k``
(4), noisy uplink pilots ``Y_p = sqrt(tau_p p_p) sum_k h_k psi_k^T + N_p``
(``N_p`` entries ``CN(0, sigma_u^2)``, the same ``sigma_u^2`` as (7)), the MMSE
estimate (6) (:func:`jcas.model.channel.mmse_estimate`), the precoder drawn by the
precoder part of ``params`` (:meth:`jcas.parts.precoders.Precoder.sample`; the paper's MRT
(12) ``f_i = sqrt(gamma_i) h_hat_i + sqrt(eta_i) a_t`` by default) and the gains
``g_ki = h_k^H f_i``. The expectations of (13)-(14),

- ``DS_k = E g_kk``,
- ``E|BU_k|^2 = E|g_kk - DS_k|^2``,
- ``sum_{j != k} E|UI_kj|^2 = E sum_{j != k} |g_kj|^2``,

are replaced by sample means over ``n`` independent realizations and plugged
into (14). The plug-in estimate carries an O(1/n) bias (mostly from
``|mean g|^2``) that does not average out over drops; it is removed to second
order (:func:`rate_from_moments`), leaving O(1/n^2).

Standard error: the per-realization vector
``z_k = (Re g_kk, Im g_kk, |g_kk|^2, sum_{j != k} |g_kj|^2)`` of all users is
i.i.d. over realizations, the rate is a smooth function of its mean, and the
delta method gives ``Var(R_hat) ~= grad^T Cov(z) grad / n`` with the sample
covariance of ``z`` (accumulated exactly over chunks by the pairwise update of
Chan et al.). The sum-rate SE uses the full ``4K x 4K`` covariance, so the
correlation between users is accounted for.

Randomness and reproducibility: realizations are generated in fixed blocks of
:data:`BLOCK_SIZE`; block ``b`` of drop ``d`` draws from the child ``b`` of the
``SeedSequence`` behind ``jcas.model.drops.rng_for(seed, STREAM_MC_RATE, d)`` (see
:func:`block_rng`). The random numbers of a drop therefore do not depend on
which other drops are in the batch, on their order, or on ``chunk_size`` (the
number of drop-realizations held in memory at once); blocks are merged in
block order, so only floating-point rounding could differ. Several allocations
(schemes) of the same drops, ``gamma``, ``eta`` of shape ``(S, D, K)``, share these
draws: they are made once per drop and every scheme is evaluated on them
(:func:`sample_moments_schemes`), with the numbers of one call per scheme.

Pilot noise is drawn only on the pilot columns that some user occupies: (6)
projects ``Y_p`` on the users' pilots ``psi_k`` (columns of the identity), so
the noise on unused columns never reaches an estimate; leaving it out is exact
in distribution and saves random numbers when ``tau_p > K``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.channel import estimate_variance, mmse_estimate, pilot_assignment
from jcas.model.drops import STREAM_MC_RATE, rng_for
from jcas.model.params import SystemParams
from jcas.parts.precoders.mrt import mrt_precoder
from jcas.parts.registry import Design, design, route

__all__ = [
    "BLOCK_SIZE",
    "DropBatch",
    "RateEstimate",
    "RouteInputs",
    "block_rng",
    "complex_normal",
    "drop_batch",
    "drop_batches",
    "estimated_channels",
    "gains",
    "mc_rate",
    "precoder",
    "rate_from_moments",
    "sample_moments",
    "sample_moments_schemes",
    "sample_precoder",
    "standard_errors",
]

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]

BLOCK_SIZE: Final = 256
"""Realizations per random block (fixed: it defines the random streams)."""

DEFAULT_CHUNK_BYTES: Final = 32 * 2**20
"""Working-memory target of one chunk when ``chunk_size`` is not given (bytes)."""


@dataclass(frozen=True)
class RateEstimate:
    """Monte-Carlo estimate of the achievable rate (14), in bit/s/Hz.

    Attributes
    ----------
    rate, rate_se : per-user rate and its standard error, shape ``(D, K)``.
    sum_rate, sum_rate_se : sum over users and its standard error, shape ``(D,)``.
        (``(S, D, K)`` and ``(S, D)`` when :func:`mc_rate` got ``S`` schemes.)
    n_realizations : realizations per drop.
    units : ``"bit/s/Hz"``.

    Drops whose allocation is not finite (a failed allocation) are NaN.
    """

    rate: Float
    rate_se: Float
    sum_rate: Float
    sum_rate_se: Float
    n_realizations: int
    units: str = "bit/s/Hz"


# ---------------------------------------------------------------- randomness
def block_rng(seed: int, stream: int, drop: int, block: int) -> np.random.Generator:
    """Generator of realization block ``block`` of drop ``drop``.

    Child ``block`` of the ``SeedSequence`` of ``rng_for(seed, stream, drop)``
    (identical to ``seed_seq.spawn(block + 1)[block]``), so blocks are
    independent of each other and of every other drop and stream.
    """
    parent = rng_for(seed, stream, drop).bit_generator.seed_seq
    assert isinstance(parent, np.random.SeedSequence)
    child = np.random.SeedSequence(
        parent.entropy, spawn_key=(*parent.spawn_key, int(block)), pool_size=parent.pool_size
    )
    return np.random.Generator(np.random.PCG64(child))


def complex_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> Complex:
    """Samples of ``CN(0, 1)`` (unit variance), shape ``shape``.

    Consecutive standard normals form (real, imaginary) pairs, times ``sqrt(1/2)``.
    """
    out = np.empty(shape, dtype=complex)
    _fill_complex_normal(rng, out)
    return out


def _fill_complex_normal(rng: np.random.Generator, out: Complex) -> None:
    """Fill a C-contiguous complex array with ``CN(0, 1)`` (as :func:`complex_normal`)."""
    flat = out.reshape(-1).view(np.float64)
    rng.standard_normal(out=flat)
    flat *= math.sqrt(0.5)


def _blocks(n: int) -> list[tuple[int, int]]:
    """``(block index, size)`` of the blocks covering ``n`` realizations."""
    full, rest = divmod(n, BLOCK_SIZE)
    out = [(b, BLOCK_SIZE) for b in range(full)]
    if rest:
        out.append((full, rest))
    return out


def chunk_plan(
    n_drops: int, n_realizations: int, per_sample_bytes: int, chunk_size: int | None
) -> Iterator[tuple[slice, list[int], int]]:
    """Memory chunks: ``(drop slice, block indices, block size)``.

    A chunk holds at most ``max(chunk_size, block size)`` drop-realizations
    (``chunk_size`` default: :data:`DEFAULT_CHUNK_BYTES` / ``per_sample_bytes``).
    Blocks of one drop come in increasing order; equal-size blocks share a chunk.
    """
    if chunk_size is None:
        chunk_size = max(1, DEFAULT_CHUNK_BYTES // max(1, per_sample_bytes))
    if chunk_size < 1:
        raise ValueError(f"chunk_size = {chunk_size!r}: must be >= 1")
    blocks = _blocks(n_realizations)
    groups: list[tuple[list[int], int]] = []
    for size in sorted({s for _, s in blocks}, reverse=True):
        groups.append(([b for b, s in blocks if s == size], size))
    for idx, size in groups:
        n_drop = max(1, min(n_drops, chunk_size // size))
        n_blk = max(1, chunk_size // (n_drop * size))
        for d0 in range(0, n_drops, n_drop):
            for b0 in range(0, len(idx), n_blk):
                yield slice(d0, min(n_drops, d0 + n_drop)), idx[b0 : b0 + n_blk], size


def draw_blocks(
    seed: int,
    stream: int,
    drops: Sequence[int],
    blocks: Sequence[int],
    size: int,
    shapes: Sequence[tuple[int, ...]],
) -> list[Complex]:
    """``CN(0, 1)`` arrays of shape ``(len(drops), len(blocks), size) + shape``.

    Each ``(drop, block)`` unit draws the arrays in the order of ``shapes`` from
    :func:`block_rng`, so the numbers do not depend on how units are grouped.
    """
    out = [np.empty((len(drops), len(blocks), size, *s), dtype=complex) for s in shapes]
    for i, d in enumerate(drops):  # random streams only; the math below is vectorised
        for j, b in enumerate(blocks):
            rng = block_rng(seed, stream, int(d), int(b))
            for arr in out:
                _fill_complex_normal(rng, arr[i, j])
    return out


# --------------------------------------------------------------------- model
def estimated_channels(
    params: SystemParams, beta: ArrayLike, hbar: Complex, pilot_noise: Complex
) -> tuple[Complex, Complex]:
    """True and MMSE-estimated channels from simulated uplink pilots, eq. (4), (6).

    Parameters
    ----------
    params : uses Nt, K, tau_p, pp_w, sigma_u2_w.
    beta : large-scale fading, shape ``(..., K)`` broadcastable against the batch.
    hbar : small-scale fading ``CN(0, 1)``, shape ``(..., Nt, K)`` (any memory
        layout; ``mc_rate`` passes a transposed view of a ``(..., K, Nt)`` array).
    pilot_noise : ``CN(0, 1)`` noise on the used pilot columns, shape
        ``(..., Nt, P)`` with ``P`` = number of distinct pilots in use; scaled
        by ``sigma_u`` here.

    Returns
    -------
    h : ``sqrt(beta_k) hbar_k``, shape ``(..., Nt, K)``.
    h_hat : MMSE estimate (6), shape ``(..., Nt, K)``.
    """
    beta = np.asarray(beta, dtype=float)
    k = params.K
    h = np.sqrt(beta)[..., None, :] * hbar
    # Y_p = sqrt(tau_p p_p) H Psi^T + N_p: Psi's columns select pilots, so H Psi^T adds
    # each user's channel into the column of its pilot (a scatter, no matmul needed)
    assign = pilot_assignment(k, params.tau_p)
    used = np.unique(assign)
    # column-major per realization, (..., tau_p, Nt) in memory: pilot columns are contiguous
    y_pilot = np.swapaxes(np.zeros((*h.shape[:-2], params.tau_p, h.shape[-2]), complex), -1, -2)
    y_pilot[..., used] = math.sqrt(params.sigma_u2_w) * pilot_noise
    amp = math.sqrt(params.tau_p * params.pp_w)
    for user, pilot in enumerate(assign):  # K column additions, vectorised over the batch
        y_pilot[..., pilot] += amp * h[..., user]
    h_hat = mmse_estimate(y_pilot, beta, params.tau_p, params.pp_w, params.sigma_u2_w)
    return h, h_hat


def precoder(h_hat: Complex, gamma: ArrayLike, eta: ArrayLike, a_t: ArrayLike) -> Complex:
    """MRT dual-function precoder, eq. (12) (:func:`jcas.parts.precoders.mrt_precoder`).

    Shapes: ``h_hat (..., Nt, K)``, ``gamma, eta (..., K)`` broadcastable,
    ``a_t (Nt,)``. Returns ``F`` of shape ``(..., Nt, K)`` (``sqrt(W)`` units).
    """
    return mrt_precoder(h_hat, gamma, eta, a_t)


def sample_precoder(
    parts: Design,
    params: SystemParams,
    beta: Float,
    h_hat: Complex,
    gamma: Float,
    eta: Float,
) -> Complex:
    """The precoder part's ``F`` from simulated estimates, shape ``(..., Nt, K)``.

    ``beta``, ``gamma``, ``eta`` of shape ``(n, K)`` for the ``n`` drops of a chunk,
    ``h_hat`` of shape ``(n, ..., Nt, K)``; the estimate variance (7) and the transmit
    steering vector are computed here from ``params``. The one entry point of the
    Monte-Carlo rate, CRB and MLE to the precoder.
    """
    xi = estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)
    extra = (None,) * (h_hat.ndim - 3)
    a_t = parts.tx.steering(params.theta_rad)
    return parts.precoder.sample(
        h_hat,
        xi[(slice(None), *extra, slice(None))],
        gamma[(slice(None), *extra, slice(None))],
        eta[(slice(None), *extra, slice(None))],
        a_t,
    )


def gains(h: Complex, f: Complex) -> Complex:
    """Received gains ``g_ki = h_k^H f_i`` (13), shape ``(..., K, K)`` (row k = user)."""
    return np.conj(np.swapaxes(h, -1, -2)) @ f


def _features(g: Complex) -> Float:
    """Per-realization ``z``: ``(Re g_kk, Im g_kk, |g_kk|^2, sum_{j!=k} |g_kj|^2)``.

    Shape ``(..., K, K)`` in, ``(..., 4K)`` out (user-major).
    """
    diag = np.diagonal(g, axis1=-2, axis2=-1)
    p_diag = np.abs(diag) ** 2
    p_all = np.sum(g.real**2 + g.imag**2, axis=-1)
    z = np.stack([diag.real, diag.imag, p_diag, p_all - p_diag], axis=-1)
    return z.reshape(*z.shape[:-2], -1)


class _Moments:
    """Running mean and centred cross-product of ``z`` per drop (Chan et al. update)."""

    def __init__(self, n_drops: int, dim: int) -> None:
        self.n = np.zeros(n_drops)
        self.mean = np.zeros((n_drops, dim))
        self.m2 = np.zeros((n_drops, dim, dim))

    def add(self, rows: slice, z_block: Float) -> None:
        """Merge one block per drop, ``z_block`` of shape ``(drops in rows, size, dim)``."""
        nb = z_block.shape[-2]
        mb = z_block.mean(axis=-2)
        dz = z_block - mb[..., None, :]
        m2b = np.einsum("...ni,...nj->...ij", dz, dz)
        na = self.n[rows][:, None]
        n = na + nb
        delta = mb - self.mean[rows]
        self.mean[rows] = self.mean[rows] + delta * (nb / n)
        w = (na * nb / n)[..., None]
        self.m2[rows] = self.m2[rows] + m2b + w * delta[..., :, None] * delta[..., None, :]
        self.n[rows] = n[:, 0]

    def take(self, rows: NDArray[np.intp]) -> _Moments:
        """The moments of the drops ``rows`` (a copy, in that order)."""
        out = _Moments(0, self.mean.shape[-1])
        out.n, out.mean, out.m2 = self.n[rows], self.mean[rows], self.m2[rows]
        return out


@dataclass(frozen=True)
class DropBatch:
    """A batch of drops for the Monte-Carlo estimators (:func:`drop_batch`).

    Attributes
    ----------
    beta, gamma, eta : the cleaned allocation, shape ``(D, K)`` (:func:`clean_allocation`).
    idx : the rows whose allocation is finite (the others give NaN).
    drops : drop indices, length D (the random streams of each row).
    n_pilots : number of distinct pilots in use.
    """

    beta: Float
    gamma: Float
    eta: Float
    idx: NDArray[np.intp]
    drops: list[int]
    n_pilots: int

    @property
    def n_drops(self) -> int:
        """D, the rows of the batch."""
        return int(self.beta.shape[0])


@dataclass(frozen=True)
class RouteInputs:
    """What the simulation of a design on the coefficient route needs besides ``beta``
    (:func:`jcas.parts.registry.route`: a correlated or Rician channel, or a precoder
    without closed forms; ``docs/theory.md`` §9).

    Attributes
    ----------
    angles : (D, K) the angles (rad) at which the ULA sees the users
        (:func:`jcas.model.drops.user_angles`), or None (the i.i.d. channel ignores them).
    norms : (D, K + 1) ``E||v_k||^2`` and ``E||b||^2`` of the precoder's directions used
        to normalise them (:attr:`jcas.montecarlo.coefficients.CoefficientEstimate.norms`,
        stored by the allocation stage), or None where the precoder knows them (MRT).
    """

    angles: Float | None = None
    norms: Float | None = None

    def rows(self, sel: NDArray[np.intp]) -> RouteInputs:
        """The inputs of the drops ``sel`` (rows)."""
        angles, norms = (
            None if a is None else np.asarray(a, dtype=float)[sel]
            for a in (self.angles, self.norms)
        )
        return RouteInputs(angles, norms)


class _RouteSimulator:
    """Channels, estimates and precoders of the coefficient route for a chunk of drops:
    the channel model's statistics (:meth:`ChannelStatistics.sample`), the (L)MMSE
    estimates of :mod:`jcas.model.estimation` and the precoder's directions normalised as
    on the route (:func:`jcas.parts.precoders.general.directions_sample`), for every
    precoder and channel: the simulation whose expectations the coefficients of
    :mod:`jcas.montecarlo.coefficients` are.

    Random numbers per block of a drop, in this order: the ``K x Nt`` channel draws, the
    ``P x Nt`` pilot noise, for a channel with a line of sight ``K`` draws whose phases
    are the line-of-sight phases (the phase of a ``CN(0, 1)`` draw is uniform), then the
    caller's arrays.
    """

    def __init__(self, params: SystemParams, parts: Design, beta: Float, inputs: RouteInputs):
        self.params = params
        self.parts = parts
        self.beta = beta
        self.inputs = inputs
        model = parts.channel
        self.model = model
        k = params.K
        angles = inputs.angles
        if angles is None:
            probe = model.statistics(beta[:1], np.zeros((min(1, beta.shape[0]), k)), params.Nt)
            if not probe.iid:
                raise ValueError(
                    f"channel {model.name!r} (system.channel) needs the users' angles "
                    "(angles=, from jcas.model.drops.user_angles) to be simulated"
                )
        else:
            angles = np.asarray(angles, dtype=float)
            if angles.shape != beta.shape:
                raise ValueError(f"angles has shape {angles.shape}: must be {beta.shape}")
            probe = model.statistics(beta[:1], angles[:1], params.Nt)
        self.angles = np.zeros(beta.shape) if angles is None else angles
        self.los = probe.los is not None
        if inputs.norms is not None:
            norms = np.asarray(inputs.norms, dtype=float)
            if norms.shape != (beta.shape[0], k + 1):
                raise ValueError(f"norms has shape {norms.shape}: must be {(beta.shape[0], k + 1)}")
        self.a_t = np.asarray(parts.tx.steering(params.theta_rad), dtype=complex)

    def shapes(self, n_pilots: int) -> list[tuple[int, ...]]:
        """The per-realization draws of the channels (before the caller's arrays)."""
        k, nt = self.params.K, self.params.Nt
        return [(k, nt), (n_pilots, nt), *([(k,)] if self.los else [])]

    def channels(self, sel: NDArray[np.intp], draws: Sequence[Complex]) -> tuple[Any, Any, Any]:
        """True and estimated channels ``(n, B, size, Nt, K)`` of the drops ``sel`` from
        their draws (:meth:`shapes`), and the drops' estimation."""
        from jcas.model.estimation import mmse_estimation

        p = self.params
        z, noise = draws[0], draws[1]
        n, n_blocks, size = z.shape[:3]
        s_all = n_blocks * size
        stats = self.model.statistics(self.beta[sel], self.angles[sel], p.Nt)
        est = mmse_estimation(stats, p.tau_p, p.pp_w, p.sigma_u2_w)
        zz = np.moveaxis(z.reshape(n, s_all, *z.shape[3:]), 1, -1)  # (n, K, Nt, S)
        phase = None
        if self.los:
            phase = np.moveaxis(np.angle(draws[2]).reshape(n, s_all, -1), 1, -1)  # (n, K, S)
        h = stats.sample(zz, phase)
        y = math.sqrt(p.sigma_u2_w) * np.moveaxis(noise.reshape(n, s_all, *noise.shape[3:]), 1, -1)
        amp = math.sqrt(p.tau_p * p.pp_w)
        for user, slot in enumerate(est.slots):  # K additions, vectorised over the batch
            y[:, slot] += amp * h[:, user]
        h_hat = est.estimate(y)

        def layout(a: Complex) -> Complex:  # (n, K, Nt, S) -> (n, B, size, Nt, K)
            out = np.transpose(a, (0, 3, 2, 1)).reshape(n, n_blocks, size, p.Nt, p.K)
            return np.ascontiguousarray(out)

        return layout(h), layout(h_hat), est

    def precoder(
        self, sel: NDArray[np.intp], est: Any, h_hat: Complex, gamma: Float, eta: Float
    ) -> Complex:
        """``F`` ``(n, B, size, Nt, K)`` of the allocation ``gamma``, ``eta`` ``(n, K)``."""
        from jcas.parts.precoders.general import (
            PrecoderContext,
            directions_sample,
            rzf_regularisation,
        )

        norms = None if self.inputs.norms is None else np.asarray(self.inputs.norms)[sel]
        ctx = PrecoderContext(est, self.a_t, rzf_regularisation(self.params), 2, norms)
        col = (slice(None), None, None, slice(None))
        precoder: Any = self.parts.precoder  # a DirectionPrecoder (every registered one)
        return directions_sample(precoder, h_hat, gamma[col], eta[col], ctx)


def drop_batch(
    params: SystemParams, beta: ArrayLike, gamma: ArrayLike, eta: ArrayLike, drops: Sequence[int]
) -> DropBatch:
    """:class:`DropBatch` of ``beta``, ``gamma``, ``eta`` ``(D, K)`` and ``drops`` (length D)."""
    beta, gamma, eta, valid = clean_allocation(beta, gamma, eta, params.K)
    drops = [int(d) for d in drops]
    if len(drops) != beta.shape[0]:
        raise ValueError(f"len(drops) = {len(drops)} but beta has {beta.shape[0]} rows")
    n_pilots = np.unique(pilot_assignment(params.K, params.tau_p)).size
    return DropBatch(beta, gamma, eta, np.flatnonzero(valid), drops, int(n_pilots))


def drop_batches(
    params: SystemParams, beta: ArrayLike, gamma: ArrayLike, eta: ArrayLike, drops: Sequence[int]
) -> tuple[list[DropBatch], bool]:
    """One :class:`DropBatch` per scheme: ``gamma``, ``eta`` of shape ``(S, D, K)`` (or
    ``(D, K)``: one scheme), the same ``beta`` ``(D, K)`` and ``drops`` for all.

    Returns the batches and whether the allocation had the leading scheme axis. Each
    scheme is cleaned and checked as by :func:`drop_batch` (a bad scheme raises).
    """
    g = np.asarray(gamma, dtype=float)
    e = np.asarray(eta, dtype=float)
    if g.ndim != 3 and e.ndim != 3:
        return [drop_batch(params, beta, gamma, eta, drops)], False
    if g.shape != e.shape or g.ndim != 3:
        raise ValueError(
            f"gamma has shape {g.shape}, eta {e.shape}: expected both (S, D, K) or (D, K)"
        )
    return [drop_batch(params, beta, g[s], e[s], drops) for s in range(g.shape[0])], True


def sample_moments(
    params: SystemParams,
    batch: DropBatch,
    statistic: Callable[..., Float],
    dim: int,
    seed: int,
    stream: int,
    n_samples: int,
    per_sample_bytes: int,
    chunk_size: int | None,
    extra_shapes: Sequence[tuple[int, ...]] = (),
    user_major: bool = False,
    route_inputs: RouteInputs | None = None,
) -> _Moments:
    """Moments of a statistic of simulated precoded channels, per valid drop.

    The one sampling loop of the Monte-Carlo rate, CRB and MLE: for the valid drops of
    ``batch``, ``n_samples`` each, in the chunks of :func:`chunk_plan` (``per_sample_bytes``,
    ``chunk_size``), draw (:func:`draw_blocks`, ``seed``, ``stream``) the small-scale
    fading, the pilot noise and then the arrays ``extra_shapes``; form the true and
    estimated channels (:func:`estimated_channels`) and the precoder part's ``F``
    (:func:`sample_precoder`); and merge ``statistic(h, f, *extra)``, shape
    ``(n, blocks, size, dim)``, in block order.

    ``user_major`` draws the fading and noise as ``(K, Nt)`` and ``(P, Nt)`` (each
    channel vector contiguous) and passes transposed views, as :func:`mc_rate` does;
    otherwise they are drawn ``(Nt, K)`` and ``(Nt, P)``. Returns the
    :class:`_Moments` per valid drop (row ``i`` for ``batch.idx[i]``). One scheme of
    :func:`sample_moments_schemes`.
    """
    return sample_moments_schemes(
        params,
        [batch],
        statistic,
        dim,
        seed,
        stream,
        n_samples,
        per_sample_bytes,
        chunk_size,
        extra_shapes,
        user_major,
        route_inputs,
    )[0]


_FILL: Final = 1.0
"""Stand-in allocation of a scheme's invalid drops inside a shared chunk (discarded)."""


def sample_moments_schemes(
    params: SystemParams,
    batches: Sequence[DropBatch],
    statistic: Callable[..., Float],
    dim: int,
    seed: int,
    stream: int,
    n_samples: int,
    per_sample_bytes: int,
    chunk_size: int | None,
    extra_shapes: Sequence[tuple[int, ...]] = (),
    user_major: bool = False,
    route_inputs: RouteInputs | None = None,
) -> list[_Moments]:
    """:func:`sample_moments` of several allocations (schemes) of the same drops, with
    each drop's random numbers drawn once for all of them.

    ``batches`` (:func:`drop_batches`) share ``beta`` and ``drops`` and differ in
    ``gamma``, ``eta`` and their valid drops. The chunks of :func:`chunk_plan` cover the
    drops valid in *some* scheme; per chunk the draws, the true and estimated channels
    are formed once and every scheme's precoder and ``statistic`` are evaluated on them,
    one scheme after the other. A scheme's invalid drops inside a chunk get the stand-in
    allocation :data:`_FILL` and their moments are discarded, so the arrays (and each
    drop's arithmetic) of a scheme are those of its own :func:`sample_moments` call when
    the schemes have the same valid drops (bit for bit), and differ only in which other
    drops share the chunk otherwise (each drop's arithmetic is independent of them).

    Memory: the chunk's shared arrays (draws, ``h``, ``h_hat``, sized by
    ``per_sample_bytes`` as for one scheme) plus one scheme's precoder and statistic at
    a time, and the accumulators (``S x drops x (dim + dim^2)`` floats).

    On the coefficient route (:func:`jcas.parts.registry.route`: a correlated or Rician
    channel, or a precoder without closed forms) the channels, estimates and precoders are
    those of the channel model and the route's normalisation (:class:`_RouteSimulator`,
    with ``route_inputs``: the users' angles and the directions' norms); the closed-form
    route keeps the arithmetic above, bit for bit.

    Returns
    -------
    One :class:`_Moments` per batch, row ``i`` for ``batches[s].idx[i]``.
    """
    if not batches:
        return []
    parts = design(params)
    sim = None
    if route(params) == "coefficients":
        if hasattr(parts.precoder, "directions"):
            inputs = RouteInputs() if route_inputs is None else route_inputs
            sim = _RouteSimulator(params, parts, batches[0].beta, inputs)
        elif not parts.channel.statistics(
            batches[0].beta[:1], np.zeros(batches[0].beta[:1].shape), params.Nt
        ).iid:
            raise ValueError(
                f"precoder {params.precoder!r} (system.precoder) has no directions "
                "(jcas.parts.precoders.general.DirectionPrecoder), so it cannot be simulated "
                f"under channel {params.channel!r} (system.channel): use channel 'iid'"
            )
    first = batches[0]
    k, nt, n_pilots = params.K, params.Nt, first.n_pilots
    beta, drops = first.beta, first.drops
    union = first.idx
    for b in batches[1:]:
        union = np.union1d(union, b.idx).astype(np.intp)
    valid = [np.zeros(first.n_drops, dtype=bool) for _ in batches]
    for ok, b in zip(valid, batches, strict=True):
        ok[b.idx] = True
    base = [(k, nt), (n_pilots, nt)] if user_major else [(nt, k), (nt, n_pilots)]
    accs = [_Moments(union.size, dim) for _ in batches]
    if sim is not None:
        per_sample_bytes += 16 * nt * (3 * k + n_pilots)  # the route's reshaped copies
    for rows, blocks, size in chunk_plan(union.size, n_samples, per_sample_bytes, chunk_size):
        sel = union[rows]
        est = None
        if sim is not None:
            own = sim.shapes(n_pilots)
            draws = draw_blocks(
                seed, stream, [drops[i] for i in sel], blocks, size, [*own, *extra_shapes]
            )
            h, h_hat, est = sim.channels(sel, draws)
            extra = draws[len(own) :]
            del draws
        else:
            hbar, noise, *extra = draw_blocks(
                seed, stream, [drops[i] for i in sel], blocks, size, [*base, *extra_shapes]
            )
            if user_major:
                hbar, noise = np.swapaxes(hbar, -1, -2), np.swapaxes(noise, -1, -2)
            h, h_hat = estimated_channels(params, beta[sel][:, None, None, :], hbar, noise)
            del hbar, noise
        for b, ok, acc in zip(batches, valid, accs, strict=True):
            here = ok[sel]
            if not here.any():
                continue
            gamma, eta = b.gamma[sel], b.eta[sel]
            if not here.all():
                gamma[~here] = _FILL
                eta[~here] = _FILL
            if sim is not None:
                f = sim.precoder(sel, est, h_hat, gamma, eta)
            else:
                f = sample_precoder(parts, params, beta[sel], h_hat, gamma, eta)
            z = statistic(h, f, *extra)
            del f
            for j in range(len(blocks)):  # merge in block order
                acc.add(rows, z[:, j])
            del z
    return [acc.take(np.searchsorted(union, b.idx)) for acc, b in zip(accs, batches, strict=True)]


def standard_errors(acc: _Moments, n: int) -> Float:
    """Standard errors ``sqrt(var / n)`` of the means in ``acc``, shape ``(drops, dim)``."""
    return np.sqrt(np.diagonal(acc.m2, axis1=-2, axis2=-1) / (n - 1.0) / n)


def rate_from_moments(
    mean: Float, cov: Float, n: int, sigma_u2_w: float, tau_bar: float
) -> tuple[Float, Float, Float, Float]:
    """Rate (14) from sample moments of ``z``, bias-corrected, with delta-method standard errors.

    With ``z_k = (a, b, c, i) = (Re g_kk, Im g_kk, |g_kk|^2, sum_{j!=k} |g_kj|^2)`` the rate
    (14) is a smooth function of ``E z``:

    ``R_k = tau_bar / ln 2 [ln T - ln w]``, ``T = c + i + sigma_u^2``,
    ``w = c - a^2 - b^2 + i + sigma_u^2``

    (``|DS|^2 = a^2 + b^2``, ``E|BU|^2 = c - a^2 - b^2``). Plugging the sample mean
    ``z_bar`` in gives an O(1/n) bias (mostly ``E|mean g|^2 = |E g|^2 + var(g) / n``),
    which does not shrink when estimates are averaged over many drops. It is removed to
    second order: ``R_hat = R(z_bar) - tr(H Sigma) / (2 n)``, with the Hessian
    ``H = tau_bar / ln 2 [-u u^T / T^2 - diag(-2, -2, 0, 0) / w + v v^T / w^2]``,
    ``u = (0, 0, 1, 1)``, ``v = (-2a, -2b, 1, 1)``, and ``Sigma`` the sample covariance
    of ``z_k``; the remaining bias is O(1/n^2). A single estimate may then fall slightly
    below 0 for a user with (almost) no power, whose true rate is 0.

    Parameters
    ----------
    mean : sample mean of ``z``, shape ``(..., 4K)``.
    cov : sample covariance of ``z``, shape ``(..., 4K, 4K)``.
    n : realizations.
    sigma_u2_w : user noise power (W).
    tau_bar : pre-log factor ``(tau_c - tau_p) / tau_c``.

    Returns
    -------
    rate, rate_se : shape ``(..., K)``; sum_rate, sum_rate_se : shape ``(...)`` (bit/s/Hz).
    """
    m = mean.reshape(*mean.shape[:-1], -1, 4)
    a, b, c, i_int = (m[..., q] for q in range(4))
    scale = tau_bar / math.log(2.0)
    total = c + i_int + sigma_u2_w  # T
    w = total - a**2 - b**2  # E|BU|^2 + interference + noise (> 0)
    plug_in = scale * (np.log(total) - np.log(w))
    one = np.ones_like(a)
    zero = np.zeros_like(a)
    u = np.stack([zero, zero, one, one], axis=-1)  # grad T
    v = np.stack([-2.0 * a, -2.0 * b, one, one], axis=-1)  # grad w
    grad = scale * (u / total[..., None] - v / w[..., None])  # (..., K, 4)
    k = m.shape[-2]
    cov_u = cov.reshape(*cov.shape[:-2], k, 4, k, 4)
    cov_diag = np.einsum("...kakb->...kab", cov_u)  # (..., K, 4, 4)
    quad_u = np.einsum("...ka,...kab,...kb->...k", u, cov_diag, u)
    quad_v = np.einsum("...ka,...kab,...kb->...k", v, cov_diag, v)
    tr_hess = scale * (
        -quad_u / total**2 + 2.0 * (cov_diag[..., 0, 0] + cov_diag[..., 1, 1]) / w + quad_v / w**2
    )
    rate = plug_in - tr_hess / (2.0 * n)
    # Variance to second order: grad^T Sigma grad / n + tr((H Sigma)^2) / (2 n^2). The second
    # term matters for users with (almost) no signal, where the gradient vanishes.
    diag2 = np.zeros(4)
    diag2[:2] = 2.0
    hess = scale * (
        -u[..., :, None] * u[..., None, :] / total[..., None, None] ** 2
        + diag2 * np.eye(4) / w[..., None, None]
        + v[..., :, None] * v[..., None, :] / w[..., None, None] ** 2
    )  # (..., K, 4, 4), rate_k depends on z_k only: H is block diagonal
    h_sigma = np.einsum("...kab,...kblc->...kalc", hess, cov_u)  # (H Sigma) as (K, 4, K, 4)
    hs_user = np.einsum("...kab,...kbc->...kac", hess, cov_diag)  # H_k Sigma_kk
    rate_var = np.einsum("...ka,...kab,...kb->...k", grad, cov_diag, grad) / n + np.einsum(
        "...kab,...kba->...k", hs_user, hs_user
    ) / (2.0 * n**2)
    g_all = grad.reshape(*grad.shape[:-2], -1)
    sum_var = np.einsum("...i,...ij,...j->...", g_all, cov, g_all) / n + np.einsum(
        "...kalc,...lcka->...", h_sigma, h_sigma
    ) / (2.0 * n**2)
    return (
        rate,
        np.sqrt(np.maximum(rate_var, 0.0)),
        rate.sum(axis=-1),
        np.sqrt(np.maximum(sum_var, 0.0)),
    )


# ----------------------------------------------------------------- interface
def _route_inputs(angles: ArrayLike | None, norms: ArrayLike | None) -> RouteInputs | None:
    """:class:`RouteInputs` of the keyword arguments (None when neither is given)."""
    if angles is None and norms is None:
        return None
    return RouteInputs(
        None if angles is None else np.atleast_2d(np.asarray(angles, dtype=float)),
        None if norms is None else np.atleast_2d(np.asarray(norms, dtype=float)),
    )


def clean_allocation(
    beta: ArrayLike, gamma: ArrayLike, eta: ArrayLike, n_users: int
) -> tuple[Float, Float, Float, NDArray[np.bool_]]:
    """Validate shapes ``(D, K)``; flag drops with non-finite entries (failed allocations).

    Negative entries within ``1e-9`` of the row maximum (solver round-off) are
    set to 0; other negative entries raise ``ValueError``. Returns
    ``beta, gamma, eta`` (float, ``(D, K)``) and ``valid`` (``(D,)``).
    """
    arrays = [np.atleast_2d(np.asarray(x, dtype=float)).copy() for x in (beta, gamma, eta)]
    shape = arrays[0].shape
    for name, x in zip(("beta", "gamma", "eta"), arrays, strict=True):
        if x.ndim != 2 or x.shape != shape or x.shape[1] != n_users:
            raise ValueError(f"{name} has shape {x.shape}: expected (D, K) with K = {n_users}")
    valid = np.all(np.isfinite(np.concatenate(arrays, axis=1)), axis=1)
    if np.any(arrays[0][valid] <= 0.0):
        raise ValueError("beta must be > 0")
    for name, x in zip(("gamma", "eta"), arrays[1:], strict=True):
        with np.errstate(invalid="ignore"):
            scale = np.nanmax(np.abs(x), axis=1, keepdims=True, initial=0.0)
            tiny = (x < 0.0) & (x >= -1e-9 * scale)
            x[tiny] = 0.0
            if np.any(x[valid] < 0.0):
                raise ValueError(f"{name} must be >= 0 (power factors)")
    return arrays[0], arrays[1], arrays[2], valid


def mc_rate(
    params: SystemParams,
    beta: ArrayLike,
    gamma: ArrayLike,
    eta: ArrayLike,
    *,
    seed: int,
    drops: Sequence[int],
    n_realizations: int,
    chunk_size: int | None = None,
    angles: ArrayLike | None = None,
    norms: ArrayLike | None = None,
) -> RateEstimate:
    """Monte-Carlo achievable rate (14) of a batch of drops, with standard errors.

    Parameters
    ----------
    params : system parameters (K, Nt, tau_p, tau_c, pp_w, sigma_u2_w, theta_rad, parts).
        Pilots are reused (``jcas.model.channel.pilot_matrix``) when ``tau_p < K``.
    beta : large-scale fading, shape ``(D, K)``, dimensionless.
    gamma, eta : the precoder's allocation, shape ``(D, K)`` (MRT (12):
        ``Nt xi_k gamma_k`` and ``Nt eta_k`` in W), or ``(S, D, K)`` for ``S`` schemes of
        the same drops: each drop's channels, estimates and noise are then drawn once
        and every scheme is evaluated on them (:func:`sample_moments_schemes`; the same
        numbers as ``S`` separate calls). Rows with a non-finite entry give NaN outputs.
    seed : base seed; drop ``d`` uses ``rng_for(seed, STREAM_MC_RATE, d)``.
    drops : drop indices, length D (the random streams of each row).
    n_realizations : small-scale realizations per drop (>= 2).
    chunk_size : drop-realizations held in memory at once (default: about
        32 MiB of working arrays); rounded up to one block. Does not change the
        random numbers.
    angles, norms : on the coefficient route (a correlated or Rician channel, or a
        precoder without closed forms; :class:`RouteInputs`): the users' angles (D, K)
        (rad) and the norms (D, K + 1) of the precoder's directions; ``gamma``, ``eta``
        are then the precoder's variables of the route (``from_power_factors``).

    Returns
    -------
    :class:`RateEstimate` with ``rate (D, K)``, ``rate_se (D, K)``,
    ``sum_rate (D,)``, ``sum_rate_se (D,)`` in bit/s/Hz (with the leading ``S`` axis
    when ``gamma``, ``eta`` have it).
    """
    if n_realizations < 2:
        raise ValueError(f"n_realizations = {n_realizations!r}: must be >= 2")
    k, nt = params.K, params.Nt
    batches, stacked = drop_batches(params, beta, gamma, eta, drops)
    n_schemes = len(batches)
    n_drops = batches[0].n_drops if batches else np.atleast_2d(np.asarray(beta)).shape[0]
    rate = np.full((n_schemes, n_drops, k), np.nan)
    rate_se = np.full((n_schemes, n_drops, k), np.nan)
    sum_rate = np.full((n_schemes, n_drops), np.nan)
    sum_rate_se = np.full((n_schemes, n_drops), np.nan)
    if any(b.idx.size for b in batches):
        n_pilots = batches[0].n_pilots
        per_sample = 16 * nt * (4 * k + params.tau_p + 2 * n_pilots) + 64 * k * k
        accs = sample_moments_schemes(
            params,
            batches,
            lambda h, f: _features(gains(h, f)),  # (drops, blocks, size, 4K)
            4 * k,
            seed,
            STREAM_MC_RATE,
            n_realizations,
            per_sample,
            chunk_size,
            user_major=True,
            route_inputs=_route_inputs(angles, norms),
        )
        for s, (b, acc) in enumerate(zip(batches, accs, strict=True)):
            if not b.idx.size:
                continue
            cov = acc.m2 / (n_realizations - 1.0)
            out = rate_from_moments(
                acc.mean, cov, n_realizations, params.sigma_u2_w, params.tau_bar
            )
            idx = b.idx
            rate[s, idx], rate_se[s, idx], sum_rate[s, idx], sum_rate_se[s, idx] = out
    if not stacked:
        rate, rate_se, sum_rate, sum_rate_se = rate[0], rate_se[0], sum_rate[0], sum_rate_se[0]
    return RateEstimate(rate, rate_se, sum_rate, sum_rate_se, int(n_realizations))
