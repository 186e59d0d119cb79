"""Closed-form performance metrics: rate (14)-(15), CRB (16) and (36), covariance (37), power (18).

The pipeline's path, for any precoder and array part (``docs/extending.md``):

- :func:`rate_from_terms`: the rate (14) from a precoder's :class:`jcas.model.terms.RateTerms`;
- :func:`crb_from_covariance`: the CRB (36) from a precoder's expected covariance
  (:class:`jcas.model.terms.Covariance`) and the receive array's Gram matrix;
- :func:`closed_form_metrics`: both, and the powers, for a batch of drops.

The paper's MRT + ULA formulas (15), (16), (18), (37) are kept as independent
references (:func:`rate`, :func:`sinr`, :func:`crb_closed_form`, :func:`transmit_power`,
:func:`transmit_covariance`) and the general CRB (36) of any covariance matrix as
:func:`crb_general` (used by the Monte-Carlo CRB).

All functions are vectorised over leading batch dimensions: per-user arrays
have shape ``(..., K)``; scalars such as ``n_tx`` or ``sigma_u2_w`` broadcast
against the batch shape ``(...)``.

Conventions (``docs/model.md`` §2): the two-way sensing channel is
``A = a_r a_t^H`` (the paper writes ``a_t^T`` in (9), but its beam
``v = a_t``, its ``A_dot`` in (36) and its covariance (37) all use the
Hermitian form), and the precoder is ``f_k = sqrt(gamma_k) h_hat_k + sqrt(eta_k) a_t`` (12).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.geometry import steering_derivative_norm2
from jcas.model.terms import Covariance, RateTerms

if TYPE_CHECKING:
    from jcas.model.params import SystemParams

__all__ = [
    "closed_form_metrics",
    "covariance_crb_terms",
    "crb_closed_form",
    "crb_from_covariance",
    "crb_general",
    "crb_terms",
    "rate",
    "rate_from_terms",
    "sinr",
    "sum_rate",
    "transmit_covariance",
    "transmit_power",
]

Float = NDArray[np.float64]


def _b(x: ArrayLike) -> Float:
    """A batch scalar as an array broadcastable against ``(..., K)``."""
    return np.asarray(x, dtype=float)[..., None]


def sinr(
    gamma: ArrayLike,
    eta: ArrayLike,
    xi: ArrayLike,
    beta: ArrayLike,
    n_tx: ArrayLike,
    sigma_u2_w: ArrayLike,
    pilot_gram: ArrayLike | None = None,
) -> Float:
    """Effective SINR of each user inside the log of (15).

    ``SINR_k = Nt^2 xi_k^2 gamma_k / (Nt beta_k S + C_k + sigma_u^2)`` with
    ``S = sum_j (xi_j gamma_j + eta_j)``. ``C_k = 0`` for orthonormal pilots
    (the paper's Theorem 1). With reused pilots (``pilot_gram`` given, entries
    ``|psi_j^T psi_k|^2`` in {0, 1}) the estimates of users sharing a pilot are
    parallel, and ``E|UI_kj|^2`` gains the coherent term
    ``C_k = Nt^2 xi_k sum_{j != k, shared} xi_j gamma_j`` (pilot contamination;
    an extension of (15), exact for the bound (14), see ``docs/model.md`` §3).

    Parameters
    ----------
    gamma, eta : power factors, shape ``(..., K)`` (gamma dimensionless per unit
        of ``xi``; ``Nt xi_k gamma_k`` and ``Nt eta_k`` are powers in W).
    xi, beta : estimate variance (7) and large-scale fading, shape ``(..., K)``.
    n_tx : Nt, scalar or shape ``(...)``.
    sigma_u2_w : user noise power (W), scalar or shape ``(...)``.
    pilot_gram : optional ``(K, K)`` matrix of ``|psi_j^T psi_k|^2``.

    Returns
    -------
    SINR, shape ``(..., K)``, dimensionless. A user with no signal
    (``xi_k^2 gamma_k = 0``) has SINR 0, also when the denominator is 0.
    NaN inputs (a failed allocation) give NaN.
    """
    gamma, eta, xi, beta = (np.asarray(v, dtype=float) for v in (gamma, eta, xi, beta))
    nt = _b(n_tx)
    total = np.sum(xi * gamma + eta, axis=-1, keepdims=True)
    denom = nt * beta * total + _b(sigma_u2_w)
    if pilot_gram is not None:
        gram = np.asarray(pilot_gram, dtype=float)
        shared = gram - np.diag(np.diag(gram))
        denom = denom + nt**2 * xi * ((xi * gamma) @ shared)
    num = nt**2 * xi**2 * gamma
    num, denom = np.broadcast_arrays(num, denom)
    out = np.zeros(num.shape)
    np.divide(num, denom, out=out, where=num != 0)
    out[np.isnan(denom)] = np.nan
    return out


def rate(
    gamma: ArrayLike,
    eta: ArrayLike,
    xi: ArrayLike,
    beta: ArrayLike,
    n_tx: ArrayLike,
    sigma_u2_w: ArrayLike,
    tau_bar: float,
    pilot_gram: ArrayLike | None = None,
) -> Float:
    """Achievable rate of each user, closed form (15), in bit/s/Hz.

    ``R_k = tau_bar log2(1 + SINR_k)`` with :func:`sinr`; shape ``(..., K)``.
    ``tau_bar = (tau_c - tau_p) / tau_c``. Evaluated as ``log1p(SINR) / ln 2``
    (accurate for the tiny SINRs of very low SNR).
    """
    s = sinr(gamma, eta, xi, beta, n_tx, sigma_u2_w, pilot_gram)
    return tau_bar * np.log1p(s) / np.log(2.0)


def sum_rate(*args: Any, **kwargs: Any) -> Float:
    """Sum over users of :func:`rate` (bit/s/Hz), shape ``(...)``."""
    return np.asarray(np.sum(rate(*args, **kwargs), axis=-1), dtype=float)


def transmit_power(gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, n_tx: ArrayLike) -> Float:
    """Average transmit power, eq. (18): ``P = Nt (xi^T gamma + sum_k eta_k)`` (W).

    Shapes: ``(..., K)`` in, ``(...)`` out.
    """
    gamma, eta, xi = (np.asarray(v, dtype=float) for v in (gamma, eta, xi))
    return np.asarray(n_tx, dtype=float) * np.sum(xi * gamma + eta, axis=-1)


def transmit_covariance(
    gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, a_t: ArrayLike
) -> NDArray[np.complex128]:
    """Transmit covariance for large L, eq. (37): ``R_x = xi^T gamma I + ||eta_bar||^2 a_t a_t^H``.

    Parameters
    ----------
    gamma, eta, xi : shape ``(..., K)``.
    a_t : transmit steering vector, shape ``(Nt,)`` or ``(..., Nt)``.

    Returns
    -------
    R_x (W), shape ``(..., Nt, Nt)``.
    """
    gamma, eta, xi = (np.asarray(v, dtype=float) for v in (gamma, eta, xi))
    a_t = np.asarray(a_t, dtype=complex)
    comm = np.sum(xi * gamma, axis=-1)[..., None, None]
    sens = np.sum(eta, axis=-1)[..., None, None]
    eye = np.eye(a_t.shape[-1])
    return comm * eye + sens * (a_t[..., :, None] * a_t[..., None, :].conj())


def crb_terms(
    rx: ArrayLike,
    a_t: ArrayLike,
    a_r: ArrayLike,
    a_t_dot: ArrayLike,
    a_r_dot: ArrayLike,
) -> tuple[Float, Float, NDArray[np.complex128]]:
    """``T1, T2, T3`` of (36) for ``A = a_r a_t^H`` and any array and covariance.

    ``T1 = tr(A^H A R)``, ``T2 = tr(A_dot^H A_dot R)``, ``T3 = tr(A_dot^H A R)``
    with ``A_dot = a_r_dot a_t^H + a_r a_t_dot^H``. Uses the rank-one
    structure of ``A``; no assumption on the array geometry or on ``R``
    beyond Hermitian.

    Parameters
    ----------
    rx : covariance R_x, shape ``(..., Nt, Nt)``.
    a_t, a_t_dot : shape ``(..., Nt)``; a_r, a_r_dot : shape ``(..., Nr)``.

    Returns
    -------
    T1, T2 (real, shape ``(...)``) and T3 (complex, shape ``(...)``).
    """
    rx = np.asarray(rx, dtype=complex)
    a_t, a_r, a_t_dot, a_r_dot = (
        np.asarray(v, dtype=complex) for v in (a_t, a_r, a_t_dot, a_r_dot)
    )

    def quad(u: NDArray[np.complex128], v: NDArray[np.complex128]) -> NDArray[np.complex128]:
        """``u^H R v`` over the batch."""
        return np.einsum("...i,...ij,...j->...", u.conj(), rx, v)

    nr2 = np.sum(np.abs(a_r) ** 2, axis=-1)
    nr_dot2 = np.sum(np.abs(a_r_dot) ** 2, axis=-1)
    c = np.sum(a_r_dot.conj() * a_r, axis=-1)  # a_r_dot^H a_r
    q_tt = quad(a_t, a_t)
    q_dt = quad(a_t_dot, a_t)  # a_t_dot^H R a_t
    q_td = quad(a_t, a_t_dot)  # a_t^H R a_t_dot
    q_dd = quad(a_t_dot, a_t_dot)
    t1 = nr2 * q_tt.real
    t2 = (nr_dot2 * q_tt + c * q_dt + c.conj() * q_td + nr2 * q_dd).real
    t3 = c * q_tt + nr2 * q_td
    return t1, t2, t3


def crb_general(
    rx: ArrayLike,
    a_t: ArrayLike,
    a_r: ArrayLike,
    a_t_dot: ArrayLike,
    a_r_dot: ArrayLike,
    sigma_r_bar2: ArrayLike,
) -> Float:
    """General CRB of theta, eq. (36): ``sigma_r_bar^2 T1 / (T2 T1 - |T3|^2)`` (rad^2).

    Valid for any array and any transmit covariance (e.g. the sample
    covariance ``X X^H / L`` of a finite frame). Shapes as :func:`crb_terms`;
    ``sigma_r_bar2`` (W) scalar or shape ``(...)``. Returns shape ``(...)``.

    Evaluated as ``sigma_r_bar^2 / J`` with the Fisher information of theta
    after eliminating alpha, ``J = T2 - |T3|^2 / T1`` (the same quantity,
    without forming the product ``T1 T2``). ``J >= 0`` by Cauchy-Schwarz.

    The CRB is ``inf`` (no warning) where there is no angle information:
    ``T1 = 0`` (no power towards the target), or ``J`` at or below the
    rounding level of its own evaluation, ``8 eps M`` with ``M`` the same
    quadratic forms evaluated with ``|R|``, ``|a|`` (a bound on the terms that
    cancel). Such cases are exactly degenerate (``a_dot = 0`` for ``N = 1``;
    ``Nr = 1`` with ``R ~ a_t a_t^H``; ``cos(theta) = 0``), where the computed
    ``J`` would otherwise be rounding noise and the CRB a huge random number.
    NaN inputs give NaN.
    """
    t1, t2, t3 = crb_terms(rx, a_t, a_r, a_t_dot, a_r_dot)
    t1, t2, t3 = np.broadcast_arrays(t1, t2, t3)
    loss = np.zeros(t1.shape)
    np.divide(np.abs(t3) ** 2, t1, out=loss, where=t1 > 0)
    fisher = np.where(t1 > 0, t2 - loss, np.where(np.isnan(t1), np.nan, 0.0))
    rounding = 8.0 * np.finfo(float).eps * _t2_magnitude(rx, a_t, a_r, a_t_dot, a_r_dot)
    fisher = np.where(fisher > rounding, fisher, np.where(np.isnan(fisher), np.nan, 0.0))
    return _inverse(np.asarray(sigma_r_bar2, dtype=float), fisher)


def _t2_magnitude(
    rx: ArrayLike, a_t: ArrayLike, a_r: ArrayLike, a_t_dot: ArrayLike, a_r_dot: ArrayLike
) -> Float:
    """``T2`` of :func:`crb_terms` evaluated with absolute values throughout.

    ``|a_r_dot|^2 |a_t|^T |R| |a_t| + 2 |a_r_dot^H a_r| |a_t_dot|^T |R| |a_t|
    + |a_r|^2 |a_t_dot|^T |R| |a_t_dot|``: bounds the magnitude of the terms
    summed in ``T2`` and ``|T3|^2 / T1``, hence their rounding error / eps.
    """
    r_abs = np.abs(np.asarray(rx, dtype=complex))
    a_t, a_r, a_t_dot, a_r_dot = (
        np.asarray(v, dtype=complex) for v in (a_t, a_r, a_t_dot, a_r_dot)
    )
    u, v = np.abs(a_t), np.abs(a_t_dot)

    def quad(x: Float, y: Float) -> Float:
        return np.einsum("...i,...ij,...j->...", x, r_abs, y)

    nr2 = np.sum(np.abs(a_r) ** 2, axis=-1)
    nr_dot2 = np.sum(np.abs(a_r_dot) ** 2, axis=-1)
    c = np.abs(np.sum(a_r_dot.conj() * a_r, axis=-1))
    return nr_dot2 * quad(u, u) + 2.0 * c * quad(v, u) + nr2 * quad(v, v)


def _inverse(numerator: Float, fisher: Float) -> Float:
    """``numerator / fisher`` where ``fisher > 0``, ``inf`` where ``fisher <= 0``,
    NaN where either is NaN (no warnings)."""
    numerator, fisher = np.broadcast_arrays(numerator, fisher)
    out = np.full(fisher.shape, np.inf)
    np.divide(numerator, fisher, out=out, where=fisher > 0)
    out[np.isnan(fisher) | np.isnan(numerator)] = np.nan
    return out


def crb_closed_form(
    gamma: ArrayLike,
    eta: ArrayLike,
    xi: ArrayLike,
    n_tx: ArrayLike,
    n_rx: ArrayLike,
    theta_rad: ArrayLike,
    sigma_r_bar2: ArrayLike,
) -> Float:
    """Closed-form CRB of theta for the centred ULA and R_x of (37), eq. (16) (rad^2).

    ``CRB = sigma_r_bar^2 / ((Nt ||a_r_dot||^2 + Nr ||a_t_dot||^2) xi^T gamma
    + Nt^2 ||a_r_dot||^2 sum_k eta_k)``.

    Parameters
    ----------
    gamma, eta, xi : shape ``(..., K)``.
    n_tx, n_rx : Nt, Nr, scalars or shape ``(...)``.
    theta_rad : target angle (rad), scalar or shape ``(...)``.
    sigma_r_bar2 : effective radar noise (W), scalar or shape ``(...)``.

    Returns
    -------
    CRB, shape ``(...)``. ``inf`` (no warning) where the Fisher information
    (the denominator) is 0: no power transmitted, ``cos(theta) = 0``,
    ``Nt = Nr = 1`` (``a_dot = 0``), or ``Nr = 1`` with sensing power only.
    NaN inputs (a failed allocation) give NaN.
    """
    gamma, eta, xi = (np.asarray(v, dtype=float) for v in (gamma, eta, xi))
    n_tx, n_rx = np.asarray(n_tx, dtype=float), np.asarray(n_rx, dtype=float)
    dr = steering_derivative_norm2(n_rx, theta_rad)
    dt = steering_derivative_norm2(n_tx, theta_rad)
    comm = np.sum(xi * gamma, axis=-1)
    sens = np.sum(eta, axis=-1)
    fisher = (n_tx * dr + n_rx * dt) * comm + n_tx**2 * dr * sens
    return _inverse(np.asarray(sigma_r_bar2, dtype=float), fisher)


# --------------------------------------------------------------------------- any part
def rate_from_terms(terms: RateTerms, sigma_u2_w: ArrayLike, tau_bar: float) -> Float:
    """Rate (14) of each user from the precoder's closed-form terms (bit/s/Hz).

    ``R_k = tau_bar log2(1 + |DS_k|^2 / (E|BU_k|^2 + sum_j E|UI_kj|^2 + sigma_u^2))``,
    evaluated as ``log1p / ln 2``. Shape ``(..., K)``; ``sigma_u2_w`` (W) scalar or
    ``(...)``. A user with no signal has rate 0 (also when the denominator is 0); NaN
    terms (a failed allocation) give NaN.
    """
    num = np.asarray(terms.signal, dtype=float)
    denom = (
        np.asarray(terms.uncertainty, dtype=float)
        + np.asarray(terms.interference, dtype=float)
        + _b(sigma_u2_w)
    )
    num, denom = np.broadcast_arrays(num, denom)
    sinr_k = np.zeros(num.shape)
    np.divide(num, denom, out=sinr_k, where=num != 0)
    sinr_k[np.isnan(denom) | np.isnan(num)] = np.nan
    return tau_bar * np.log1p(sinr_k) / np.log(2.0)


def covariance_crb_terms(
    cov: Covariance, rx_gram: ArrayLike
) -> tuple[Float, Float, NDArray[np.complex128]]:
    """``T1, T2, T3`` of (36) from the covariance's forms and the receive Gram matrix.

    With ``Q = [a_t, a_t_dot]^H R_x [a_t, a_t_dot]`` and the receive Gram
    ``G = [a_r, a_r_dot]^H [a_r, a_r_dot]``: ``T1 = G_00 Q_00``,
    ``T2 = Re(G_11 Q_00 + G_10 Q_10 + G_01 Q_01 + G_00 Q_11)``, ``T3 = G_10 Q_00 + G_00 Q_01``
    (the same algebra as :func:`crb_terms`). Each term is evaluated per component of the
    covariance and summed with the weights (components in order). Shapes: the batch of
    ``cov.weights`` without its last axis.
    """
    g = np.asarray(rx_gram, dtype=complex)
    nr2, nr_dot2, c = g[..., 0, 0].real, g[..., 1, 1].real, g[..., 1, 0]
    q = np.asarray(cov.forms, dtype=complex)
    w = np.asarray(cov.weights, dtype=float)
    q00, q01, q10, q11 = q[..., 0, 0], q[..., 0, 1], q[..., 1, 0], q[..., 1, 1]
    t1c = nr2 * q00.real
    t2c = (nr_dot2 * q00 + c * q10 + np.conj(c) * q01 + nr2 * q11).real
    t3c = c * q00 + nr2 * q01
    t1 = w[..., 0] * t1c[..., 0]
    t2 = w[..., 0] * t2c[..., 0]
    t3 = w[..., 0] * t3c[..., 0]
    for m in range(1, w.shape[-1]):
        t1 = t1 + w[..., m] * t1c[..., m]
        t2 = t2 + w[..., m] * t2c[..., m]
        t3 = t3 + w[..., m] * t3c[..., m]
    return np.asarray(t1), np.asarray(t2), np.asarray(t3, dtype=complex)


def fisher_from_terms(t1: ArrayLike, t2: ArrayLike, t3: ArrayLike) -> Float:
    """Fisher information of theta times ``sigma_r_bar^2``: ``J = T2 - |T3|^2 / T1`` (W).

    0 where ``T1 = 0`` (no power towards the target) or where ``J`` is at the rounding
    level of its own terms (``8 eps (|T2| + |T3|^2 / T1)``); NaN where a term is NaN.
    """
    t1, t2, t3 = np.broadcast_arrays(
        np.asarray(t1, dtype=float), np.asarray(t2, dtype=float), np.asarray(t3, dtype=complex)
    )
    loss = np.zeros(t1.shape)
    np.divide(np.abs(t3) ** 2, t1, out=loss, where=t1 > 0)
    fisher = np.where(t1 > 0, t2 - loss, np.where(np.isnan(t1), np.nan, 0.0))
    rounding = 8.0 * np.finfo(float).eps * (np.abs(t2) + loss)
    return np.where(fisher > rounding, fisher, np.where(np.isnan(fisher), np.nan, 0.0))


def crb_from_covariance(cov: Covariance, rx_gram: ArrayLike, sigma_r_bar2: ArrayLike) -> Float:
    """CRB (36) of theta (rad^2) for an expected covariance given by its forms.

    ``sigma_r_bar^2 / J`` with :func:`fisher_from_terms` of :func:`covariance_crb_terms`;
    ``inf`` where ``J = 0``, NaN for NaN inputs. For the MRT covariance (37) and the
    centred ULA this is the closed form (16).
    """
    fisher = fisher_from_terms(*covariance_crb_terms(cov, rx_gram))
    return _inverse(np.asarray(sigma_r_bar2, dtype=float), fisher)


def closed_form_metrics(
    gamma: ArrayLike,
    eta: ArrayLike,
    xi: ArrayLike,
    beta: ArrayLike,
    params: SystemParams,
    parts: Any,
) -> dict[str, Float]:
    """Closed-form metrics of an allocation through the precoder and array parts.

    ``parts`` is the system's :class:`jcas.parts.registry.Design` (its ``precoder``, ``tx`` and
    ``rx``; typed ``Any`` here: the model sits below the parts and imports none of them).

    Returns ``rate`` (D, K) bit/s/Hz (14), ``crb`` (D,) rad^2 (36) with the expected
    covariance, ``power_total`` (D,) W (18) and ``power_sensing`` (D,) W (``Nt s``).
    """
    pre = parts.precoder
    terms = pre.rate_terms(gamma, eta, xi, beta, params)
    cov = pre.covariance(gamma, eta, xi, params, parts.tx)
    _, sensing = pre.power_factors(gamma, eta, xi)
    return {
        "rate": rate_from_terms(terms, params.sigma_u2_w, params.tau_bar),
        "crb": crb_from_covariance(cov, parts.rx.gram(params.theta_rad), params.sigma_r_bar2),
        "power_total": pre.transmit_power(gamma, eta, xi, params),
        "power_sensing": params.Nt * np.asarray(sensing, dtype=float),
    }
