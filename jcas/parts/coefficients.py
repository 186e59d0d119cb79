"""The coefficients of :mod:`jcas.model.coefficients` from the closed forms of the parts.

Each coefficient is the precoder's own closed-form term at a unit power factor, so that the
rates and the CRB evaluated from the coefficients equal the precoder's closed forms at any
allocation (``tests/model/test_coefficients.py``). The Monte-Carlo route estimates the same
coefficients from sampled channels (:mod:`jcas.montecarlo.coefficients`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from jcas.model.coefficients import Coefficients, FisherCoefficients, RateCoefficients
from jcas.model.metrics import covariance_crb_terms
from jcas.parts.registry import design

if TYPE_CHECKING:
    from jcas.model.params import SystemParams

__all__ = ["closed_form_coefficients"]


def closed_form_coefficients(
    beta: ArrayLike, xi: ArrayLike, params: SystemParams, parts: object | None = None
) -> Coefficients:
    """The coefficients of the precoder and arrays of ``params`` from their closed forms.

    Each coefficient is the precoder's closed-form term (``rate_terms``, ``covariance``) at a
    unit power factor: user ``j`` alone (``x = e_j``, ``s = 0``) gives ``a_j`` and column
    ``j`` of ``b`` and of ``t``; the sensing beam alone (``x = 0``, ``s = 1``) gives ``e``
    and the last entry of ``t``. Valid for every precoder whose closed-form terms are linear
    in its power factors (all of the bound (14) are), so the rates and the CRB evaluated
    from the result equal the precoder's closed forms at any allocation.

    Parameters
    ----------
    beta, xi : (D, K) large-scale fading and MMSE estimate variance (7).
    params : the system (its precoder and arrays are the parts used).
    parts : a :class:`jcas.parts.registry.Design` to use instead of ``params``' parts.
    """
    beta, xi = np.asarray(beta, dtype=float), np.asarray(xi, dtype=float)
    n_drops, k = beta.shape
    parts = design(params) if parts is None else parts
    pre, tx, rx = parts.precoder, parts.tx, parts.rx  # type: ignore[attr-defined]
    rx_gram = rx.gram(params.theta_rad)
    signal = np.zeros((n_drops, k))
    interference = np.zeros((n_drops, k, k))
    t1 = np.zeros((n_drops, k + 1))
    t2 = np.zeros((n_drops, k + 1))
    t3 = np.zeros((n_drops, k + 1), dtype=complex)
    zeros = np.zeros(n_drops)
    units = [(np.eye(k)[j] * np.ones((n_drops, 1)), zeros) for j in range(k)]
    units.append((np.zeros((n_drops, k)), np.ones(n_drops)))
    for j, (x, s) in enumerate(units):
        gamma, eta = pre.from_power_factors(x, s, xi)
        terms = pre.rate_terms(gamma, eta, xi, beta, params)
        received = np.asarray(terms.uncertainty + terms.interference, dtype=float)
        if j < k:
            signal[:, j] = np.asarray(terms.signal, dtype=float)[:, j]
            # user j's stream alone: what reaches user i != j is interference, what
            # reaches user j itself (beyond its mean) its beamforming uncertainty
            interference[:, :, j] = received
        else:
            sensing = received
        a, b, c = covariance_crb_terms(pre.covariance(gamma, eta, xi, params, tx), rx_gram)
        t1[:, j], t2[:, j], t3[:, j] = a, b, c
    rate = RateCoefficients(signal, interference, sensing, params.sigma_u2_w, params.tau_bar)
    fisher = FisherCoefficients(t1, t2, t3, params.sigma_r_bar2)
    return Coefficients(rate, fisher, params.Nt, params.pt_w, params.crb0)
