"""MMSE channel estimation under any channel statistics: the matrix form of (6)-(8).

User ``k`` sends pilot ``p(k) = k mod tau_p`` (:func:`jcas.model.channel.pilot_assignment`);
the base station projects the received pilot block on each pilot in use,

    ``y_p = sqrt(tau_p p_p) sum_{j: p(j) = p} h_j + n_p``,   ``n_p ~ CN(0, sigma_u^2 I)``,

and estimates ``h_k`` from ``y_{p(k)}``. With ``Q_k = E h_k h_k^H`` (the total covariance
of :class:`ChannelStatistics`) and

    ``Psi_p = tau_p p_p sum_{j: p(j) = p} Q_j + sigma_u^2 I``,

the (L)MMSE estimate, its covariance and the error covariance are

    ``h_hat_k = A_k y_{p(k)}``,  ``A_k = sqrt(tau_p p_p) Q_k Psi_{p(k)}^{-1}``,
    ``Phi_k = E h_hat_k h_hat_k^H = tau_p p_p Q_k Psi_{p(k)}^{-1} Q_k``,
    ``C_k = E (h_k - h_hat_k)(h_k - h_hat_k)^H = Q_k - Phi_k
          = Q_k Psi_{p(k)}^{-1} (tau_p p_p sum_{j != k, p(j) = p(k)} Q_j + sigma_u^2 I)``

(the last form, the matrix analogue of the right-hand side of (8), is how ``C_k`` is
computed: no cancellation when ``Phi_k ~ Q_k``). For Gaussian channels this is the MMSE
estimator, the error is independent of the estimate, and for ``Q_k = beta_k I`` it is (6)
with ``Phi_k = xi_k I`` (7) and ``C_k = eps_k I`` (8). For the Rician channel, whose
line-of-sight phase the base station does not know, it is the *phase-unaware LMMSE*
estimator (the channel has mean zero over the phase, covariance ``Q_k = R_k + m_k m_k^H``):
the error is uncorrelated with the estimate but not independent of it.

The i.i.d. channel (:attr:`ChannelStatistics.iid`) keeps the scalar path:
``xi``, ``eps`` from :func:`jcas.model.channel.estimate_variance` and
:func:`jcas.model.channel.error_variance`, estimates by the scale of
:func:`jcas.model.channel.mmse_estimate`; so today's numbers are unchanged, bit for bit.

Shapes: ``D`` drops, ``K`` users, ``P`` pilots in use, ``Nt`` antennas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.channel import _denominator, error_variance, estimate_variance, pilot_assignment

__all__ = [
    "ChannelStatistics",
    "Estimation",
    "hermitian",
    "mmse_estimation",
    "psd_factor",
]

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]


def hermitian(a: ArrayLike) -> Complex:
    """``(A + A^H) / 2`` over the last two axes (removes rounding asymmetry)."""
    a = np.asarray(a, dtype=complex)
    return np.asarray(0.5 * (a + np.conj(np.swapaxes(a, -1, -2))), dtype=complex)


def psd_factor(cov: ArrayLike) -> Complex:
    """A factor ``L`` with ``L L^H = R`` of Hermitian PSD matrices ``R`` ``(..., N, N)``.

    The Cholesky factor when the whole batch is positive definite; otherwise, matrix by
    matrix, the pivoted Cholesky factor (LAPACK ``zpstrf``, stopped at its default
    tolerance ``N eps max_i R_ii``), padded with zero columns: ``R = P L L^H P^T`` exists
    for singular ``R`` (a channel with no or a small angular spread has numerical rank
    below ``N``) and is 2-3 times cheaper than an eigendecomposition. Either factor gives
    channels ``L z`` with covariance ``R`` (to rounding) for ``z ~ CN(0, I)``.
    """
    cov = np.asarray(cov, dtype=complex)
    try:
        return np.asarray(np.linalg.cholesky(cov), dtype=complex)
    except np.linalg.LinAlgError:
        pass
    # scipy.linalg only here: importing it costs every job of the sweep about 0.2 s
    from scipy.linalg.lapack import zpstrf  # type: ignore[import-untyped]

    n = cov.shape[-1]
    flat = cov.reshape(-1, n, n)
    out = np.zeros_like(flat)
    for i, r in enumerate(flat):  # per matrix (drops x users), not per realization
        c, piv, rank, info = zpstrf(r, lower=1)
        if info < 0:
            raise ValueError(f"zpstrf: argument {-info} is invalid")
        out[i][piv - 1, :rank] = np.tril(c)[:, :rank]
    return out.reshape(cov.shape)


@dataclass(frozen=True)
class ChannelStatistics:
    """The channel statistics of a batch of ``D`` drops and ``K`` users, ``Nt`` antennas.

    The channel of user ``k`` in a coherence block is ``h_k = m_k exp(j phi_k) + g_k`` with
    ``g_k ~ CN(0, R_k)`` and ``phi_k`` uniform, drawn per block and user (``m_k = 0`` but
    for the Rician model); its total covariance ``Q_k = R_k + m_k m_k^H`` has trace
    ``Nt beta_k``. Built by the channel model parts (:mod:`jcas.parts.channels`).

    Attributes
    ----------
    beta : (D, K) large-scale fading (``tr Q_k = Nt beta_k``).
    n_tx : Nt.
    covariance : (D, K, Nt, Nt) complex, ``R_k``, the covariance of the zero-mean part
        ``g_k``; None for the i.i.d. channel ``R_k = beta_k I`` (the scalar path).
    los : (D, K, Nt) complex, the line-of-sight vector ``m_k`` (its phase is drawn per
        coherence block), or None.
    """

    beta: Float
    n_tx: int
    covariance: Complex | None = None
    los: Complex | None = None

    def __post_init__(self) -> None:
        beta = np.asarray(self.beta, dtype=float)
        if beta.ndim != 2:
            raise ValueError(f"beta has shape {beta.shape}: must be (D, K)")
        object.__setattr__(self, "beta", beta)
        n = int(self.n_tx)
        object.__setattr__(self, "n_tx", n)
        if self.covariance is not None:
            cov = np.asarray(self.covariance, dtype=complex)
            if cov.shape != (*beta.shape, n, n):
                raise ValueError(f"covariance has shape {cov.shape}: must be {(*beta.shape, n, n)}")
            object.__setattr__(self, "covariance", cov)
        if self.los is not None:
            if self.covariance is None:
                raise ValueError("a line-of-sight part needs the dense covariance of the rest")
            los = np.asarray(self.los, dtype=complex)
            if los.shape != (*beta.shape, n):
                raise ValueError(f"los has shape {los.shape}: must be {(*beta.shape, n)}")
            object.__setattr__(self, "los", los)

    @property
    def iid(self) -> bool:
        """Whether this is the i.i.d. channel ``R_k = beta_k I`` (no matrices stored)."""
        return self.covariance is None

    @property
    def n_drops(self) -> int:
        """D."""
        return int(self.beta.shape[0])

    @property
    def n_users(self) -> int:
        """K."""
        return int(self.beta.shape[1])

    def total_covariance(self) -> Complex:
        """``Q_k = R_k + m_k m_k^H``, (D, K, Nt, Nt) (dense also for the i.i.d. channel)."""
        if self.covariance is None:
            return np.asarray(self.beta[..., None, None] * np.eye(self.n_tx), dtype=complex)
        if self.los is None:
            return self.covariance
        m = self.los
        return self.covariance + m[..., :, None] * np.conj(m[..., None, :])

    def dense(self) -> ChannelStatistics:
        """The same statistics with the covariance stored as matrices (the general path of
        every consumer, e.g. to check it against the scalar path on the i.i.d. channel)."""
        if self.covariance is not None:
            return self
        return ChannelStatistics(self.beta, self.n_tx, self.total_covariance())

    def select(self, drops: ArrayLike | slice) -> ChannelStatistics:
        """The statistics of some drops (indices, a mask or a slice along the drop axis)."""
        key = drops if isinstance(drops, slice) else np.asarray(drops)
        cov = None if self.covariance is None else self.covariance[key]
        los = None if self.los is None else self.los[key]
        return ChannelStatistics(self.beta[key], self.n_tx, cov, los)

    def factor(self) -> Float | Complex:
        """``L_k`` with ``L_k L_k^H = R_k``: (D, K, Nt, Nt) (:func:`psd_factor`), or
        ``sqrt(beta)`` (D, K) for the i.i.d. channel."""
        if self.covariance is None:
            return np.sqrt(self.beta)
        return psd_factor(self.covariance)

    def sample(
        self,
        z: ArrayLike,
        phase: ArrayLike | None = None,
        factor: Float | Complex | None = None,
    ) -> Complex:
        """Channel realizations from standard draws, batched over drops and realizations.

        Parameters
        ----------
        z : ``CN(0, 1)`` draws, shape ``(D, K, Nt, S)`` (``S`` realizations last, so each
            user's channels are one matrix product ``L_k z_k``).
        phase : the line-of-sight phases (rad), shape ``(D, K, S)`` (needed when
            :attr:`los` is set, ignored otherwise).
        factor : :meth:`factor`, when already computed.

        Returns
        -------
        h : ``(D, K, Nt, S)``, ``h_k = L_k z_k + m_k exp(j phi_k)``.
        """
        z = np.asarray(z)
        f = self.factor() if factor is None else factor
        if self.covariance is None:
            h = np.asarray(f, dtype=float)[..., None, None] * z
        else:
            h = np.asarray(f) @ z
        if self.los is not None:
            if phase is None:
                raise ValueError("a channel with a line-of-sight part needs its phases")
            rot = np.exp(1j * np.asarray(phase, dtype=float))
            h = h + self.los[..., :, None] * rot[..., None, :]
        return np.asarray(h, dtype=complex)


@dataclass(frozen=True)
class Estimation:
    """The (L)MMSE estimation statistics of a batch of drops (:func:`mmse_estimation`).

    Attributes
    ----------
    stats : the channel statistics.
    tau_p, pp_w, sigma_u2_w : pilot length, pilot power (W), noise power (W).
    pilots : (K,) the pilot of each user; ``slots`` (K,) its position among the pilots
        in use ``used`` (P,).
    xi, eps : (D, K) ``tr(Phi_k) / Nt`` and ``tr(C_k) / Nt`` (the i.i.d. channel's (7), (8)).
    gain : (D, K, Nt, Nt) ``A_k`` (dense path) or (D, K) the scalar ``A_k / I`` (i.i.d.).
    estimate_cov, error_cov : (D, K, Nt, Nt) ``Phi_k``, ``C_k`` (None for the i.i.d. path:
        ``xi_k I``, ``eps_k I``).
    psi_inv : (D, P, Nt, Nt) ``Psi_p^{-1}`` of the pilots in use (None for the i.i.d. path).
    """

    stats: ChannelStatistics
    tau_p: int
    pp_w: float
    sigma_u2_w: float
    pilots: NDArray[np.int64]
    slots: NDArray[np.int64]
    used: NDArray[np.int64]
    xi: Float
    eps: Float
    gain: Float | Complex
    estimate_cov: Complex | None = None
    error_cov: Complex | None = None
    psi_inv: Complex | None = None

    @property
    def iid(self) -> bool:
        return self.stats.iid

    def estimate(self, y: ArrayLike) -> Complex:
        """``h_hat_k = A_k y_{p(k)}`` from the pilot observations ``y`` (D, P, Nt, S)
        (pilot ``used[i]`` at position ``i``); returns (D, K, Nt, S)."""
        y = np.asarray(y)
        per_user = y[:, self.slots]  # (D, K, Nt, S)
        if self.estimate_cov is None:
            return np.asarray(per_user * np.asarray(self.gain)[..., None, None], dtype=complex)
        return np.asarray(np.asarray(self.gain) @ per_user, dtype=complex)

    def select(self, drops: ArrayLike | slice) -> Estimation:
        """The estimation of some drops (indices, a mask or a slice)."""
        key = drops if isinstance(drops, slice) else np.asarray(drops)

        def pick(a: Any) -> Any:
            return None if a is None else a[key]

        return Estimation(
            self.stats.select(key),
            self.tau_p,
            self.pp_w,
            self.sigma_u2_w,
            self.pilots,
            self.slots,
            self.used,
            self.xi[key],
            self.eps[key],
            pick(self.gain),
            pick(self.estimate_cov),
            pick(self.error_cov),
            pick(self.psi_inv),
        )


def mmse_estimation(
    stats: ChannelStatistics, tau_p: int, pp_w: float, sigma_u2_w: float
) -> Estimation:
    """The (L)MMSE estimator's matrices and covariances (module docstring) for ``stats``.

    Parameters
    ----------
    stats : channel statistics of D drops.
    tau_p : pilot length (symbols); users ``k`` and ``k + tau_p`` share a pilot.
    pp_w : pilot power p_p (W).
    sigma_u2_w : uplink noise power sigma_u^2 (W).
    """
    k = stats.n_users
    pilots = pilot_assignment(k, tau_p)
    used, slots = np.unique(pilots, return_inverse=True)
    amp2 = tau_p * pp_w
    if stats.iid:
        beta = stats.beta
        xi = estimate_variance(beta, tau_p, pp_w, sigma_u2_w)
        eps = error_variance(beta, tau_p, pp_w, sigma_u2_w)
        # the scale of jcas.model.channel.mmse_estimate (6), the same arithmetic
        scale = math.sqrt(amp2) * beta / _denominator(beta, tau_p, pp_w, sigma_u2_w)
        return Estimation(stats, tau_p, pp_w, sigma_u2_w, pilots, slots, used, xi, eps, scale)
    q = stats.total_covariance()  # (D, K, Nt, Nt)
    n = stats.n_tx
    eye = np.eye(n)
    psi = np.empty((stats.n_drops, used.size, n, n), dtype=complex)
    for i in range(used.size):  # P sums over the users of each pilot
        psi[:, i] = amp2 * np.sum(q[:, slots == i], axis=1) + sigma_u2_w * eye
    psi_inv = hermitian(np.linalg.inv(psi))
    x_h = q @ psi_inv[:, slots]  # Q_k Psi^{-1} (D, K, Nt, Nt): one product per user
    gain = math.sqrt(amp2) * x_h
    phi = hermitian(amp2 * (x_h @ q))
    # C_k = Q_k Psi^{-1} (tau_p p_p sum_{j != k shared} Q_j + sigma^2 I)
    err = sigma_u2_w * x_h
    for kk in range(k):
        shared = np.flatnonzero((slots == slots[kk]) & (np.arange(k) != kk))
        if shared.size:
            err[:, kk] += amp2 * (x_h[:, kk] @ np.sum(q[:, shared], axis=1))
    err = hermitian(err)
    xi = np.trace(phi, axis1=-2, axis2=-1).real / n
    eps = np.trace(err, axis1=-2, axis2=-1).real / n
    return Estimation(
        stats, tau_p, pp_w, sigma_u2_w, pilots, slots, used, xi, eps, gain, phi, err, psi_inv
    )
