"""Uplink pilots and MMSE channel estimation: eq. (6)-(8).

Pilots are the columns of the ``tau_p x tau_p`` identity: user ``k`` sends
pilot ``k mod tau_p``. They are orthonormal when ``tau_p >= K``; with
``tau_p < K`` pilots are reused and users sharing one contaminate each other's
estimates. Everything here is vectorised over a leading batch of drops.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "error_variance",
    "estimate_variance",
    "mmse_estimate",
    "pilot_assignment",
    "pilot_gram",
    "pilot_matrix",
]


def pilot_assignment(n_users: int, tau_p: int) -> NDArray[np.int64]:
    """Pilot index of each user, ``k mod tau_p``; shape ``(K,)``."""
    if n_users < 1 or tau_p < 1:
        raise ValueError(f"n_users = {n_users!r}, tau_p = {tau_p!r}: must be >= 1")
    return np.arange(n_users) % tau_p


def pilot_matrix(n_users: int, tau_p: int) -> NDArray[np.float64]:
    """Unit-norm pilots ``psi_k`` as columns, shape ``(tau_p, K)``."""
    psi = np.zeros((tau_p, n_users))
    psi[pilot_assignment(n_users, tau_p), np.arange(n_users)] = 1.0
    return psi


def pilot_gram(n_users: int, tau_p: int) -> NDArray[np.float64]:
    """``|psi_j^T psi_k|^2``, shape ``(K, K)`` (the identity for orthonormal pilots)."""
    psi = pilot_matrix(n_users, tau_p)
    return np.abs(psi.T @ psi) ** 2


def _denominator(
    beta: NDArray[np.float64], tau_p: int, pp_w: float, sigma_u2_w: ArrayLike
) -> NDArray[np.float64]:
    """``tau_p p_p sum_j beta_j |psi_j^T psi_k|^2 + sigma_u^2``, shape ``(..., K)``."""
    gram = pilot_gram(beta.shape[-1], tau_p)
    sigma = np.asarray(sigma_u2_w, dtype=float)[..., None]
    return tau_p * pp_w * (beta @ gram) + sigma


def estimate_variance(
    beta: ArrayLike, tau_p: int, pp_w: float, sigma_u2_w: ArrayLike
) -> NDArray[np.float64]:
    """Variance ``xi_k`` of the MMSE estimate per antenna, eq. (7).

    Parameters
    ----------
    beta : large-scale fading, shape ``(..., K)``, dimensionless.
    tau_p : pilot length (symbols).
    pp_w : pilot power p_p (W).
    sigma_u2_w : uplink noise power sigma_u^2 (W), scalar or shape ``(...)``.

    Returns
    -------
    xi : shape ``(..., K)``, ``0 <= xi_k <= beta_k``.
    """
    beta = np.asarray(beta, dtype=float)
    # beta * (fraction in [0, 1]): no under/overflow of beta**2 for extreme beta.
    return beta * (tau_p * pp_w * beta / _denominator(beta, tau_p, pp_w, sigma_u2_w))


def error_variance(
    beta: ArrayLike, tau_p: int, pp_w: float, sigma_u2_w: ArrayLike
) -> NDArray[np.float64]:
    """Variance ``eps_k = beta_k - xi_k`` of the estimation error, eq. (8).

    Computed from the right-hand side of (8) (no cancellation when ``xi ~ beta``).
    Shapes as :func:`estimate_variance`.
    """
    beta = np.asarray(beta, dtype=float)
    gram = pilot_gram(beta.shape[-1], tau_p)
    sigma = np.asarray(sigma_u2_w, dtype=float)[..., None]
    others = tau_p * pp_w * (beta @ (gram - np.diag(np.diag(gram))))
    return beta * (others + sigma) / _denominator(beta, tau_p, pp_w, sigma_u2_w)


def mmse_estimate(
    y_pilot: NDArray[np.complexfloating],
    beta: ArrayLike,
    tau_p: int,
    pp_w: float,
    sigma_u2_w: ArrayLike,
) -> NDArray[np.complex128]:
    """MMSE channel estimates ``h_hat_k`` from the received pilot signal, eq. (6).

    Parameters
    ----------
    y_pilot : ``Y_p = sqrt(tau_p p_p) sum_k h_k psi_k^T + N_p``, shape ``(..., Nt, tau_p)``.
    beta : shape ``(..., K)``.
    tau_p, pp_w, sigma_u2_w : as :func:`estimate_variance`.

    Returns
    -------
    h_hat : shape ``(..., Nt, K)``.
    """
    beta = np.asarray(beta, dtype=float)
    psi = pilot_matrix(beta.shape[-1], tau_p)
    scale = np.sqrt(tau_p * pp_w) * beta / _denominator(beta, tau_p, pp_w, sigma_u2_w)
    return (y_pilot @ psi) * scale[..., None, :]
