"""Closed-form coefficients of MRT under correlated Rayleigh and Rician fading.

MRT with (L)MMSE estimates under any channel of :mod:`jcas.parts.channels`,
``w_k = h_hat_k / sqrt(tr(Phi_k) / Nt)`` (``E||w_k||^2 = Nt``) and the sensing beam ``a_t``
(derivation in ``docs/theory.md`` §9). With ``Q_k = R_k + m_k m_k^H`` the total
covariance, ``Psi`` of user ``k``'s pilot, ``P(k)`` the users sharing it:

- ``a_k = Nt tr(Phi_k)``;
- ``b_kj = Nt S_kj / tr(Phi_j)`` (``j != k``), ``b_kk = Nt (S_kk - tr(Phi_k)^2) / tr(Phi_k)``
  with ``S_kj = E|h_k^H h_hat_j|^2``:

  - ``j not in P(k)``: ``S_kj = tr(Q_k Phi_j)``;
  - ``j in P(k)`` (``k`` itself included), ``G = tau_p p_p Q_j Psi^{-1}``,
    ``Psi_{-k} = Psi - tau_p p_p Q_k``:
    ``S_kj = |m_k^H G m_k + tr(G R_k)|^2 + tr(G R_k G^H R_k) + m_k^H G R_k G^H m_k
    + m_k^H G^H R_k G m_k + tr(G Psi_{-k} G^H Q_k) / (tau_p p_p)``; for Rayleigh fading
    (``m_k = 0``) this is ``tr(R_k Phi_j) + |tr(Phi_kj)|^2``, ``Phi_kj = tau_p p_p R_k
    Psi^{-1} R_j`` (the pilot-contamination term);

- ``e_k = a_t^H Q_k a_t``;
- ``R_x = sum_k x_k Nt Phi_k / tr(Phi_k) + s a_t a_t^H``, so ``t_i[k]`` are the (36) terms of
  ``Nt Phi_k / tr(Phi_k)`` and ``t_i[K]`` those of ``a_t a_t^H``.

For ``R_k = beta_k I`` these are (15) and (37) (and §3 of ``docs/model.md`` with shared
pilots): ``a_k = Nt^2 xi_k``, ``b_kj = Nt beta_k (+ Nt^2 xi_k shared)``, ``e_k = Nt beta_k``,
``R_x = c I + s a_t a_t^H``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from jcas.model.coefficients import Coefficients, FisherCoefficients, RateCoefficients
from jcas.model.estimation import Estimation, mmse_estimation
from jcas.model.metrics import covariance_crb_terms
from jcas.model.params import SystemParams
from jcas.parts.arrays.base import ArrayPart
from jcas.parts.precoders.base import Covariance

__all__ = ["mrt_coefficients"]

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]


def _tr(a: Complex, b: Complex) -> Complex:
    """``tr(A B)`` over the last two axes (batched)."""
    return np.einsum("...ab,...ba->...", a, b)


def _quad(m: Complex, a: Complex, n: Complex) -> Complex:
    """``m^H A n`` (batched vectors ``(..., N)``)."""
    return np.einsum("...a,...ab,...b->...", np.conj(m), a, n)


def mrt_coefficients(
    params: SystemParams,
    estimation: Estimation,
    tx: ArrayPart | None = None,
    rx: ArrayPart | None = None,
) -> Coefficients:
    """The closed-form coefficients of MRT for the channel statistics of ``estimation``.

    Parameters
    ----------
    params : the system (Nt, Nr, theta, tau_p, p_p, noise, Pt, CRB0).
    estimation : :func:`jcas.model.estimation.mmse_estimation` of the drops (its dense
        form is used; the i.i.d. channel is converted).
    tx, rx : array parts (default: ULAs of ``Nt`` and ``Nr`` elements).

    Returns
    -------
    :class:`Coefficients` (``source = "closed_form"``), shapes as there.
    """
    from jcas.parts.arrays.ula import ULA

    tx = ULA(params.Nt) if tx is None else tx
    rx = ULA(params.Nr) if rx is None else rx
    est = estimation
    if est.estimate_cov is None:
        est = mmse_estimation(est.stats.dense(), est.tau_p, est.pp_w, est.sigma_u2_w)
    assert est.estimate_cov is not None
    assert est.psi_inv is not None
    stats = est.stats
    assert stats.covariance is not None
    nt = stats.n_tx
    k = stats.n_users
    q = stats.total_covariance()
    r = stats.covariance
    los = stats.los
    phi = est.estimate_cov
    tr_phi = np.trace(phi, axis1=-2, axis2=-1).real  # (D, K)
    amp2 = est.tau_p * est.pp_w
    # S_kj = E|h_k^H h_hat_j|^2: first users on other pilots, then the shared ones
    # tr(Q_k Phi_j) = vec(Q_k) . vec(Phi_j^T): one matrix product per drop
    d_, n2 = q.shape[0], nt * nt
    s = (q.reshape(d_, k, n2) @ np.swapaxes(phi, -1, -2).reshape(d_, k, n2).swapaxes(1, 2)).real
    shared = [(kk, j) for kk in range(k) for j in range(k) if est.slots[kk] == est.slots[j]]
    if los is None:
        # Rayleigh: S_kj = tr(R_k Phi_j) + |tr(Phi_kj)|^2, tr(Phi_kj) = tau_p p_p
        # tr(R_k Psi^{-1} R_j) = sqrt(tau_p p_p) tr(R_k A_j^H): traces of products, O(Nt^2)
        gain = np.asarray(est.gain)  # A_j = sqrt(tau_p p_p) Q_j Psi^{-1}
        for kk, j in shared:
            cross = math.sqrt(amp2) * np.einsum("dab,dab->d", q[:, kk], np.conj(gain[:, j]))
            s[:, kk, j] += np.abs(cross) ** 2
    for kk, j in shared if los is not None else []:
        assert los is not None
        slot = est.slots[kk]
        g = amp2 * (q[:, j] @ est.psi_inv[:, slot])  # G = tau_p p_p Q_j Psi^{-1}
        g_h = np.conj(np.swapaxes(g, -1, -2))
        rk, qk, m = r[:, kk], q[:, kk], los[:, kk]
        users = est.slots == slot
        psi_minus = amp2 * (np.sum(q[:, users], axis=1) - qk) + est.sigma_u2_w * np.eye(nt)
        g_r_gh = g @ rk @ g_h
        mean = _tr(g, rk) + _quad(m, g, m)
        value = (
            np.abs(mean) ** 2
            + _tr(g_r_gh, rk)
            + _quad(m, g_r_gh, m)
            + _quad(m, g_h @ rk @ g, m)
            + _tr(g @ psi_minus @ g_h, qk) / amp2
        )
        s[:, kk, j] = np.real(value)
    signal = nt * tr_phi
    interference = nt * s / tr_phi[:, None, :]
    idx = np.arange(k)
    interference[:, idx, idx] = nt * (s[:, idx, idx] - tr_phi**2) / tr_phi
    a_t = np.asarray(tx.steering(params.theta_rad), dtype=complex)
    sensing = _quad(a_t, q, a_t).real
    basis = np.stack([a_t, np.asarray(tx.derivative(params.theta_rad), dtype=complex)], axis=-1)
    comm = nt * phi / tr_phi[..., None, None]  # E[w_k w_k^H]
    forms_k = np.conj(basis.T) @ comm @ basis  # (D, K, 2, 2)
    forms_s = np.conj(basis.T) @ (a_t[:, None] * np.conj(a_t)[None, :]) @ basis
    forms = np.concatenate(
        [forms_k, np.broadcast_to(forms_s, (forms_k.shape[0], 1, 2, 2))], axis=1
    )  # (D, K + 1, 2, 2)
    cov = Covariance(np.ones((*forms.shape[:2], 1)), forms[:, :, None])
    t1, t2, t3 = covariance_crb_terms(cov, rx.gram(params.theta_rad))
    rate = RateCoefficients(signal, interference, sensing, params.sigma_u2_w, params.tau_bar)
    fisher = FisherCoefficients(t1, t2, t3, params.sigma_r_bar2)
    return Coefficients(rate, fisher, params.Nt, params.pt_w, params.crb0)
