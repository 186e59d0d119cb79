"""Monte-Carlo estimates of the rate and CRB coefficients, for any precoder and channel.

For a precoder part with directions (:class:`jcas.parts.precoders.general.DirectionPrecoder`:
MRT, ZF, PZF, RZF, M-MMSE, ...) and a channel model (:mod:`jcas.parts.channels`), this
module estimates, per drop, the coefficients of :class:`jcas.model.coefficients.Coefficients`

- ``a_k = |E h_k^H w_k|^2``, ``b_kj = E|h_k^H w_j|^2`` (``j != k``),
  ``b_kk = Var(h_k^H w_k)``, ``e_k = E|h_k^H b|^2``;
- ``t_i[j]`` (``i = 1, 2, 3``) of (36) for ``E[w_j w_j^H]`` (``j < K``) and ``E[b b^H]``
  (``j = K``), the algebra of :func:`jcas.model.metrics.covariance_crb_terms`,

with ``w_k = v_k sqrt(Nt / E||v_k||^2)``, ``b`` scaled likewise (``E||w_k||^2 = E||b||^2 =
Nt``: the transmit power is ``Nt (sum_k x_k + s)``), each with its standard error.

**Simulation** (per drop, per realization): channels ``h_k = L_k z_k + m_k exp(j phi_k)``
(:meth:`jcas.model.estimation.ChannelStatistics.sample`), the pilot observations
``y_p = sqrt(tau_p p_p) sum_{j: p(j) = p} h_j + sigma_u n_p``, the (L)MMSE estimates
``h_hat_k = A_k y_{p(k)}`` (:mod:`jcas.model.estimation`), the precoder's directions and
the per-realization features ``h_k^H v_j``, ``|h_k^H b|^2``, ``||v_j||^2``, ``||b||^2``
and the (36) terms of ``v_j v_j^H`` and ``b b^H``. Everything is batched: per chunk of
drops and realizations the channels are one matrix product per user (``L_k z_k``), the
estimates one per user (``A_k y``), the precoders batched ``K x K`` (or per-drop ``Nt x
Nt``) algebra; no Python loop runs over realizations (only over the random blocks, to
seed them).

**Estimators.** The coefficients are smooth functions of sample means:
``a_k = Nt (|mean g_kk|^2 - var(g_kk) / n) / nu_k`` (the ``var / n`` removes the bias of
``|mean|^2``), ``b_kk = Nt s^2(g_kk) / nu_k`` (the unbiased sample variance), ``b_kj = Nt
mean|g_kj|^2 / nu_j``, ``e_k = Nt mean|h_k^H b|^2 / nu_b``, ``t_i[j] = Nt mean(t_i(v_j
v_j^H)) / nu_j``, with ``g_kj = h_k^H v_j`` and ``nu_j = E||v_j||^2``, known in closed form
where the precoder says so (:meth:`expected_norms`: MRT ``tr Phi_k``; ZF, PZF under the
i.i.d. channel; ``Nt`` for the precoders normalised per realization) and estimated by
``mean ||v_j||^2`` from the same realizations otherwise (a ratio estimator; its O(1/n)
bias is left: below the standard error by ``sqrt(n)``). Standard errors by the delta
method from the sample covariances of exactly the features each coefficient depends on
(accumulated exactly over blocks by the pairwise update of Chan et al.).

**Randomness.** Realizations come in blocks of :data:`jcas.montecarlo.rate.BLOCK_SIZE`;
block ``b`` of drop ``d`` draws from :func:`jcas.montecarlo.rate.block_rng` with the
stream :data:`jcas.model.drops.STREAM_MC_COEFFICIENTS`: first the ``K x Nt`` channel draws,
then the ``P x Nt`` pilot noise, then (Rician only) the ``K`` line-of-sight phases, each
``(..., block size)``. So a drop's numbers do not depend on the batch, the order or
``chunk_size``, and the channel models share their channel and noise draws (common random
numbers across models).

**Why the cross terms vanish.** The coefficients leave out the cross terms between a user's
stream and the sensing beam in (14) and ``E[F F^H]`` (``E[(h_k^H w_j) conj(h_k^H b)]``,
``E[w_j b^H]``): the joint law of channels, noise and LoS phases is invariant under the
sign flip of all of them, under which every direction here is odd and every beam even, so
those expectations are zero. The whole route is checked against an independent
Monte-Carlo of the rate (14) of the full precoder (``tests/montecarlo/test_mc_coefficients.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.coefficients import Coefficients, FisherCoefficients, RateCoefficients
from jcas.model.drops import STREAM_MC_COEFFICIENTS
from jcas.model.estimation import Estimation, mmse_estimation
from jcas.model.params import SystemParams
from jcas.montecarlo.rate import _fill_complex_normal, block_rng, chunk_plan
from jcas.parts.arrays.base import ArrayPart
from jcas.parts.channels.base import ChannelModel
from jcas.parts.precoders.general import DirectionPrecoder, PrecoderContext, rzf_regularisation

__all__ = ["CoefficientEstimate", "mc_coefficients", "simulate_precoded"]

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]

DEFAULT_CHUNK_BYTES: Final = 64 * 2**20
"""Working-memory target of one chunk (bytes)."""


@dataclass(frozen=True)
class CoefficientEstimate:
    """Monte-Carlo coefficients of a batch of drops.

    Attributes
    ----------
    coefficients : :class:`Coefficients` with standard errors (``source = "monte_carlo"``;
        ``t3_se`` holds the standard errors of the real and imaginary parts as the real
        and imaginary parts of a complex array).
    norms : (D, K + 1) ``E||v_k||^2`` and ``E||b||^2`` used to normalise (known or
        estimated); a precoder's ``sample`` needs them when it is normalised statistically.
    norms_se : (D, K + 1) their standard errors (0 where known).
    n_realizations : realizations per drop.
    failed : (D,) drops whose precoder could not be formed (a singular matrix in some
        realization, e.g. ZF with exactly parallel estimates); their coefficients are NaN.
    """

    coefficients: Coefficients
    norms: Float
    norms_se: Float
    n_realizations: int
    failed: NDArray[np.bool_]


# ------------------------------------------------------------------ feature layout
class _Layout:
    """Offsets of the per-realization features and the covariance pairs needed."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.gr = np.arange(k)
        self.gi = k + np.arange(k)
        self.p = 2 * k + np.arange(k * k).reshape(k, k)
        self.eb = 2 * k + k * k + np.arange(k)
        self.nu = 3 * k + k * k + np.arange(k + 1)  # K streams, then the beam
        base = 4 * k + k * k + 1
        self.t = base + np.arange(4 * (k + 1)).reshape(4, k + 1)  # t1, t2, Re t3, Im t3
        self.dim = base + 4 * (k + 1)
        diag = self.p[np.arange(k), np.arange(k)]
        nu_k = self.nu[:k]
        groups = {
            "var": (np.arange(self.dim), np.arange(self.dim)),
            "gr_gi": (self.gr, self.gi),
            "gr_nu": (self.gr, nu_k),
            "gi_nu": (self.gi, nu_k),
            "gr_p": (self.gr, diag),
            "gi_p": (self.gi, diag),
            "p_nu": (self.p.ravel(), np.tile(nu_k, k)),
            "eb_nu": (self.eb, np.full(k, self.nu[k])),
            "t_nu": (self.t.ravel(), np.tile(self.nu, 4)),
        }
        self.slices: dict[str, slice] = {}
        first, second, start = [], [], 0
        for name, (i, j) in groups.items():
            self.slices[name] = slice(start, start + i.size)
            first.append(i)
            second.append(j)
            start += i.size
        self.first = np.concatenate(first)
        self.second = np.concatenate(second)


class _PairMoments:
    """Running means of the features and centred cross-products of the listed pairs."""

    def __init__(self, n_drops: int, layout: _Layout) -> None:
        self.layout = layout
        self.n = np.zeros(n_drops)
        self.mean = np.zeros((n_drops, layout.dim))
        self.m2 = np.zeros((n_drops, layout.first.size))

    def add(self, rows: slice, z_block: Float) -> None:
        """Merge one block per drop, ``z_block`` (drops in ``rows``, size, dim)."""
        nb = z_block.shape[-2]
        mb = z_block.mean(axis=-2)
        dz = z_block - mb[..., None, :]
        m2b = np.einsum("dsp,dsp->dp", dz[..., self.layout.first], dz[..., self.layout.second])
        na = self.n[rows][:, None]
        n = na + nb
        delta = mb - self.mean[rows]
        self.mean[rows] += delta * (nb / n)
        d1, d2 = delta[:, self.layout.first], delta[:, self.layout.second]
        self.m2[rows] += m2b + (na * nb / n) * d1 * d2
        self.n[rows] = n[:, 0]


# ------------------------------------------------------------------ simulation
def _draw(
    seed: int,
    stream: int,
    drops: list[int],
    blocks: list[int],
    size: int,
    k: int,
    nt: int,
    n_pilots: int,
    rician: bool,
) -> tuple[Complex, Complex, Float | None]:
    """Channel draws (n, K, Nt, S), pilot noise (n, P, Nt, S) and LoS phases (n, K, S)."""
    s = len(blocks) * size
    z = np.empty((len(drops), k, nt, s), dtype=complex)
    noise = np.empty((len(drops), n_pilots, nt, s), dtype=complex)
    phase = np.empty((len(drops), k, s)) if rician else None
    zb = np.empty((k, nt, size), dtype=complex)
    nb = np.empty((n_pilots, nt, size), dtype=complex)
    for i, d in enumerate(drops):  # random streams only; the math is vectorised
        for j, b in enumerate(blocks):
            rng = block_rng(seed, stream, d, b)
            _fill_complex_normal(rng, zb)
            _fill_complex_normal(rng, nb)
            cols = slice(j * size, (j + 1) * size)
            z[i, :, :, cols] = zb
            noise[i, :, :, cols] = nb
            if phase is not None:
                phase[i, :, cols] = 2.0 * math.pi * rng.random((k, size))
    return z, noise, phase


def simulate_precoded(
    est: Estimation,
    factor: Float | Complex,
    z: Complex,
    noise: Complex,
    phase: Float | None,
    precoder: DirectionPrecoder,
    context: PrecoderContext,
) -> tuple[Complex, Complex, Complex, Complex]:
    """True and estimated channels and the precoder's directions of a chunk.

    ``z`` (n, K, Nt, S), ``noise`` (n, P, Nt, S) ``CN(0, 1)``, ``phase`` (n, K, S) or None.
    Returns ``H``, ``H_hat``, ``V`` (each (n, S, Nt, K)) and ``b`` (n, S, Nt).
    """
    h = est.stats.sample(z, phase, factor)  # (n, K, Nt, S)
    y = math.sqrt(est.sigma_u2_w) * noise
    amp = math.sqrt(est.tau_p * est.pp_w)
    for user, slot in enumerate(est.slots):  # K additions, vectorised over the batch
        y[:, slot] += amp * h[:, user]
    h_hat = est.estimate(y)
    big_h = np.ascontiguousarray(np.transpose(h, (0, 3, 2, 1)))
    big_h_hat = np.ascontiguousarray(np.transpose(h_hat, (0, 3, 2, 1)))
    del h, h_hat, y
    v, b = precoder.directions(big_h_hat, context)
    return big_h, big_h_hat, v, b


def _chunk_features(
    est: Estimation,
    factor: Float | Complex,
    z: Complex,
    noise: Complex,
    phase: Float | None,
    precoder: DirectionPrecoder,
    context: PrecoderContext,
    extra: tuple[Complex, Complex, _Layout],
) -> Float:
    """The features (n, S, dim) of one chunk (:func:`simulate_precoded`, :func:`_features`)."""
    big_h, _, v, b = simulate_precoded(est, factor, z, noise, phase, precoder, context)
    return _features(big_h, v, b, *extra)


def _features(
    big_h: Complex, v: Complex, b: Complex, basis: Complex, rx_gram: Complex, layout: _Layout
) -> Float:
    """Per-realization features (n, S, dim) of :class:`_Layout`."""
    k = layout.k
    cols = np.concatenate([v, np.asarray(b)[..., None]], axis=-1)  # (n, S, Nt, K + 1)
    g = np.conj(np.swapaxes(big_h, -1, -2)) @ cols  # (n, S, K, K + 1)
    out = np.empty((*g.shape[:-2], layout.dim))
    diag = np.diagonal(g[..., :k], axis1=-2, axis2=-1)
    out[..., layout.gr] = diag.real
    out[..., layout.gi] = diag.imag
    power = g.real**2 + g.imag**2
    out[..., layout.p.ravel()] = power[..., :k].reshape(*power.shape[:-2], k * k)
    out[..., layout.eb] = power[..., k]
    out[..., layout.nu] = np.sum(cols.real**2 + cols.imag**2, axis=-2)
    u = np.conj(basis.T) @ cols  # (n, S, 2, K + 1): [a_t, a_t_dot]^H col
    q00 = u[..., 0, :].real ** 2 + u[..., 0, :].imag ** 2
    q11 = u[..., 1, :].real ** 2 + u[..., 1, :].imag ** 2
    q01 = u[..., 0, :] * np.conj(u[..., 1, :])
    nr2, nr_dot2, c = rx_gram[0, 0].real, rx_gram[1, 1].real, rx_gram[1, 0]
    t3 = c * q00 + nr2 * q01
    out[..., layout.t[0]] = nr2 * q00
    out[..., layout.t[1]] = nr_dot2 * q00 + 2.0 * (c * np.conj(q01)).real + nr2 * q11
    out[..., layout.t[2]] = t3.real
    out[..., layout.t[3]] = t3.imag
    return out


# ------------------------------------------------------------------ estimators
def _finish(
    acc: _PairMoments, known: Float, nt: int, n: int
) -> tuple[dict[str, Float], dict[str, Float], Float, Float]:
    """Coefficients and standard errors from the moments (module docstring)."""
    lay = acc.layout
    k = lay.k
    m = acc.mean
    cov = acc.m2 / (n - 1.0)
    sl = lay.slices

    def pair(name: str) -> Float:
        return np.asarray(cov[:, sl[name]])

    var = pair("var")
    is_known = np.isfinite(known)
    nu = np.where(is_known, known, m[:, lay.nu])
    v_nu = np.where(is_known, 0.0, var[:, lay.nu])
    zero_k = is_known[:, :k]
    c_nu = nu / nt  # E||v||^2 / Nt
    mgr, mgi = m[:, lay.gr], m[:, lay.gi]
    vgr, vgi = var[:, lay.gr], var[:, lay.gi]
    c_grgi = pair("gr_gi")
    c_grnu = np.where(zero_k, 0.0, pair("gr_nu"))
    c_ginu = np.where(zero_k, 0.0, pair("gi_nu"))
    nuk, cnk, vnuk = nu[:, :k], c_nu[:, :k], v_nu[:, :k]
    # signal a_k
    num = mgr**2 + mgi**2 - (vgr + vgi) / n
    a = np.maximum(num, 0.0) / cnk
    dgr, dgi, dnu = 2 * mgr / cnk, 2 * mgi / cnk, -a / nuk
    var_a = (
        dgr**2 * vgr
        + dgi**2 * vgi
        + dnu**2 * vnuk
        + 2 * (dgr * dgi * c_grgi + dgr * dnu * c_grnu + dgi * dnu * c_ginu)
    ) / n
    # interference b_kj (j != k) and uncertainty b_kk
    mp = m[:, lay.p]  # (D, K, K)
    vp = var[:, lay.p]
    c_pnu = np.where(zero_k[:, None, :], 0.0, pair("p_nu").reshape(-1, k, k))
    b = mp / cnk[:, None, :]
    dp, dn = 1.0 / cnk[:, None, :], -b / nuk[:, None, :]
    var_b = (dp**2 * vp + dn**2 * vnuk[:, None, :] + 2 * dp * dn * c_pnu) / n
    idx = np.arange(k)
    mpd = mp[:, idx, idx]
    bkk = (mpd - mgr**2 - mgi**2) * (n / (n - 1.0)) / cnk
    d_p, d_gr, d_gi, d_nu = 1.0 / cnk, -2 * mgr / cnk, -2 * mgi / cnk, -bkk / nuk
    vpd = vp[:, idx, idx]
    var_bkk = (
        d_p**2 * vpd
        + d_gr**2 * vgr
        + d_gi**2 * vgi
        + d_nu**2 * vnuk
        + 2
        * (
            d_p * d_gr * pair("gr_p")
            + d_p * d_gi * pair("gi_p")
            + d_p * d_nu * c_pnu[:, idx, idx]
            + d_gr * d_gi * c_grgi
            + d_gr * d_nu * c_grnu
            + d_gi * d_nu * c_ginu
        )
    ) / n
    b[:, idx, idx] = np.maximum(bkk, 0.0)
    var_b[:, idx, idx] = var_bkk
    # sensing e_k
    nub, cnb, vnub = nu[:, k : k + 1], c_nu[:, k : k + 1], v_nu[:, k : k + 1]
    c_ebnu = np.where(is_known[:, k : k + 1], 0.0, pair("eb_nu"))
    e = m[:, lay.eb] / cnb
    de, dnb = 1.0 / cnb, -e / nub
    var_e = (de**2 * var[:, lay.eb] + dnb**2 * vnub + 2 * de * dnb * c_ebnu) / n
    # Fisher terms t (per column j: its own normaliser)
    mt = m[:, lay.t]  # (D, 4, K + 1)
    c_tnu = np.where(is_known[:, None, :], 0.0, pair("t_nu").reshape(-1, 4, k + 1))
    t = mt / c_nu[:, None, :]
    dt, dtn = 1.0 / c_nu[:, None, :], -t / nu[:, None, :]
    var_t = (dt**2 * var[:, lay.t] + dtn**2 * v_nu[:, None, :] + 2 * dt * dtn * c_tnu) / n
    values = {"a": a, "b": b, "e": e, "t": t}
    ses = {
        "a": np.sqrt(np.maximum(var_a, 0.0)),
        "b": np.sqrt(np.maximum(var_b, 0.0)),
        "e": np.sqrt(np.maximum(var_e, 0.0)),
        "t": np.sqrt(np.maximum(var_t, 0.0)),
    }
    return values, ses, nu, np.sqrt(v_nu / n)


# ------------------------------------------------------------------ driver
def _arrays(params: SystemParams, tx: ArrayPart | None, rx: ArrayPart | None) -> Any:
    from jcas.parts.registry import ARRAYS

    factory = ARRAYS[params.array]
    return (factory(params, "tx") if tx is None else tx), (
        factory(params, "rx") if rx is None else rx
    )


def mc_coefficients(
    params: SystemParams,
    channel: ChannelModel,
    beta: ArrayLike,
    angles_rad: ArrayLike,
    precoder: DirectionPrecoder,
    *,
    seed: int,
    drops: ArrayLike,
    n_realizations: int,
    norms: ArrayLike | None = None,
    chunk_size: int | None = None,
    tx: ArrayPart | None = None,
    rx: ArrayPart | None = None,
) -> CoefficientEstimate:
    """Monte-Carlo coefficients of ``precoder`` under ``channel`` for a batch of drops.

    Parameters
    ----------
    params : the system (K, Nt, Nr, tau_p, tau_c, pp_w, sigma_u2_w, theta, Pt, CRB0, arrays).
    channel : the channel model part.
    beta : (D, K) large-scale fading.
    angles_rad : (D, K) the angles at which the ULA sees the users (rad;
        :func:`jcas.model.drops.user_angles`), unused by the i.i.d. channel.
    precoder : a part with ``directions`` and ``expected_norms``.
    seed, drops : base seed and the D global drop indices (the random streams).
    n_realizations : realizations per drop (>= 2).
    norms : (D, K + 1) ``E||v_k||^2``, ``E||b||^2`` to normalise with (NaN entries: the
        precoder's or estimated); default: the precoder's known ones, else estimated.
    chunk_size : drop-realizations per chunk (default about 64 MiB of working arrays);
        does not change the random numbers.
    tx, rx : array parts (default: those of ``params.array``).

    Returns
    -------
    :class:`CoefficientEstimate`.

    Raises
    ------
    ValueError : the precoder or the channel cannot run at ``params`` (the message names
        the keys and values), or bad shapes. A drop whose precoder cannot be formed (a
        singular matrix) does not raise: it is flagged in ``failed`` with NaN coefficients.
    """
    if n_realizations < 2:
        raise ValueError(f"n_realizations = {n_realizations!r}: must be >= 2")
    for why in (precoder.unsupported("", params), channel.unsupported(params)):
        if why:
            raise ValueError(why)
    beta = np.atleast_2d(np.asarray(beta, dtype=float))
    angles = np.broadcast_to(np.asarray(angles_rad, dtype=float), beta.shape)
    drops_list = [int(d) for d in np.atleast_1d(np.asarray(drops, dtype=np.int64))]
    k, nt = params.K, params.Nt
    if beta.shape[1] != k or len(drops_list) != beta.shape[0]:
        raise ValueError(
            f"beta has shape {beta.shape}, drops length {len(drops_list)}: expected (D, {k}), D"
        )
    n_drops = beta.shape[0]
    override = np.full((n_drops, k + 1), np.nan)
    if norms is not None:
        override[...] = np.asarray(norms, dtype=float)
    tx, rx = _arrays(params, tx, rx)
    basis = np.stack(
        [np.asarray(tx.steering(params.theta_rad)), np.asarray(tx.derivative(params.theta_rad))],
        axis=-1,
    ).astype(complex)  # (Nt, 2)
    rx_gram = np.asarray(rx.gram(params.theta_rad), dtype=complex)
    a_t = basis[:, 0].copy()
    layout = _Layout(k)
    acc = _PairMoments(n_drops, layout)
    failed = np.zeros(n_drops, dtype=bool)
    extra = (basis, rx_gram, layout)
    known = np.full((n_drops, k + 1), np.nan)
    n_pilots = int(np.unique(np.arange(k) % params.tau_p).size)
    per_sample = 16 * nt * (12 * k + 3 * n_pilots) + 8 * 3 * (layout.dim + layout.first.size)
    dense = not channel.statistics(beta[:1], angles[:1], nt).iid
    per_drop = 16 * nt * nt * (4 * k + n_pilots + 2) if dense else 64 * k
    budget = DEFAULT_CHUNK_BYTES if chunk_size is None else chunk_size * per_sample
    group = max(1, budget // max(per_drop, 1))
    for g0 in range(0, n_drops, group):
        sel = slice(g0, min(n_drops, g0 + group))
        stats = channel.statistics(beta[sel], angles[sel], nt)
        est = mmse_estimation(stats, params.tau_p, params.pp_w, params.sigma_u2_w)
        factor = stats.factor()
        context = PrecoderContext(est, a_t, rzf_regularisation(params), batch_axes=1)
        nu, nub = precoder.expected_norms(context)
        if nu is not None:
            known[sel, :k] = nu
        if nub is not None:
            known[sel, k] = nub
        own = override[sel]
        known[sel] = np.where(np.isfinite(own), own, known[sel])
        rician = stats.los is not None
        n_group = sel.stop - sel.start
        for rows, blocks, size in chunk_plan(n_group, n_realizations, per_sample, chunk_size):
            sub = np.arange(rows.start, rows.stop)
            est_c = est.select(sub)
            fac_c = factor[sub]
            ctx_c = PrecoderContext(est_c, a_t, context.regularisation, batch_axes=1)
            z, noise, phase = _draw(
                seed,
                STREAM_MC_COEFFICIENTS,
                drops_list[sel.start + rows.start : sel.start + rows.stop],
                blocks,
                size,
                k,
                nt,
                n_pilots,
                rician,
            )
            try:
                feats = _chunk_features(est_c, fac_c, z, noise, phase, precoder, ctx_c, extra)
            except np.linalg.LinAlgError:  # find the drops whose precoder fails; NaN them
                feats = np.full((len(sub), z.shape[-1], layout.dim), np.nan)
                for i in range(len(sub)):
                    one = slice(i, i + 1)
                    ctx_1 = PrecoderContext(est_c.select(one), a_t, context.regularisation, 1)
                    args = (z[one], noise[one], None if phase is None else phase[one])
                    try:
                        feats[i] = _chunk_features(
                            est_c.select(one), fac_c[one], *args, precoder, ctx_1, extra
                        )[0]
                    except np.linalg.LinAlgError:
                        failed[sel.start + rows.start + i] = True
            del z, noise, phase
            feats = feats.reshape(feats.shape[0], len(blocks), size, layout.dim)
            global_rows = slice(sel.start + rows.start, sel.start + rows.stop)
            for j in range(len(blocks)):  # merge in block order
                acc.add(global_rows, feats[:, j])
    values, ses, nu_used, nu_se = _finish(acc, known, nt, n_realizations)
    for arrays in (values, ses):
        for key in arrays:
            arrays[key][failed] = np.nan
    t, t_se = values["t"], ses["t"]
    rate = RateCoefficients(
        values["a"],
        values["b"],
        values["e"],
        params.sigma_u2_w,
        params.tau_bar,
        ses["a"],
        ses["b"],
        ses["e"],
    )
    fisher = FisherCoefficients(
        t[:, 0],
        t[:, 1],
        t[:, 2] + 1j * t[:, 3],
        params.sigma_r_bar2,
        t_se[:, 0],
        t_se[:, 1],
        t_se[:, 2] + 1j * t_se[:, 3],
    )
    coef = Coefficients(rate, fisher, nt, params.pt_w, params.crb0, source="monte_carlo")
    nu_used[failed] = np.nan
    nu_se[failed] = np.nan
    return CoefficientEstimate(coef, nu_used, nu_se, int(n_realizations), failed)
