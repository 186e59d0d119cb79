"""A toy precoder part: MRT normalised per realization (one module and its registration).

``f_k = sqrt(Nt gamma_k) h_hat_k / ||h_hat_k|| + sqrt(eta_k) a_t``: every user's stream has
the power ``Nt gamma_k`` whatever the estimate, so ``gamma_k`` is its power factor (W per
antenna) and ``eta_k`` the sensing one. Closed forms for orthonormal pilots, with
``h_k = h_hat_k + e_k``, ``h_hat_k ~ CN(0, xi_k I)`` independent of ``e_k ~ CN(0, eps_k I)``,
``eps_k = beta_k - xi_k``, and ``||h_hat_k||^2 = xi_k G``, ``G ~ Gamma(Nt, 1)``:

- ``DS_k = sqrt(Nt gamma_k) E||h_hat_k|| = sqrt(Nt gamma_k xi_k) kappa``,
  ``kappa = Gamma(Nt + 1/2) / Gamma(Nt)``, so ``|DS_k|^2 = Nt kappa^2 xi_k gamma_k``;
- ``E|h_k^H f_k|^2 = Nt gamma_k (Nt xi_k + eps_k) + Nt beta_k eta_k`` (the cross terms vanish:
  ``E[h_hat / ||h_hat||] = 0`` and the phase of ``h_hat`` is uniform), so
  ``E|BU_k|^2 = Nt gamma_k ((Nt - kappa^2) xi_k + eps_k) + Nt beta_k eta_k``;
- ``E|h_k^H f_j|^2 = beta_k E||f_j||^2 = Nt beta_k (gamma_j + eta_j)`` for ``j != k``;
- ``E[u u^H] = I / Nt`` for the unit direction ``u``, so ``R_x = c I + s a_t a_t^H`` (37)
  with ``c = sum_k gamma_k``, ``s = sum_k eta_k``, and the power (18) is ``Nt (c + s)``.

The uncertainty depends on each user's own power, so the rate has neither the total-power
nor the split-power form: of the paper's schemes, ``equal_full`` runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.params import SystemParams
from jcas.parts.arrays.base import ArrayPart
from jcas.parts.precoders.base import (
    CLOSED_FORMS,
    LINEAR_FISHER,
    Covariance,
    RateTerms,
    dual_function,
    totals_covariance,
)
from jcas.parts.registry import PRECODERS, Part

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]


def _floats(*arrays: ArrayLike) -> list[Float]:
    return [np.asarray(a, dtype=float) for a in arrays]


def kappa2(nt: int) -> float:
    """``(Gamma(Nt + 1/2) / Gamma(Nt))^2 = (E||h_hat|| / sqrt(xi))^2`` (below ``Nt``)."""
    return math.exp(2.0 * (math.lgamma(nt + 0.5) - math.lgamma(nt)))


@dataclass(frozen=True)
class NormalisedMRT:
    """MRT with each stream normalised to its power; variables: power factors (W/antenna)."""

    name: str = "nmrt"

    def unsupported(self, requirement: str, params: SystemParams) -> str | None:
        if requirement == "" and params.tau_p < params.K:
            return (
                f"its closed forms assume orthonormal pilots (system.tau_p = {params.tau_p} "
                f"< system.K = {params.K})"
            )
        return None

    def rate_terms(
        self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, beta: ArrayLike, params: SystemParams
    ) -> RateTerms:
        gamma, eta, xi, beta = _floats(gamma, eta, xi, beta)
        nt = float(params.Nt)
        k2 = kappa2(params.Nt)
        own = gamma + eta
        others = np.sum(own, axis=-1, keepdims=True) - own
        return RateTerms(
            signal=nt * k2 * xi * gamma,
            uncertainty=nt * gamma * ((nt - k2) * xi + (beta - xi)) + nt * beta * eta,
            interference=nt * beta * np.maximum(others, 0.0),
        )

    def covariance(
        self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, params: SystemParams, tx: ArrayPart
    ) -> Covariance:
        x, s = self.power_factors(gamma, eta, xi)
        return totals_covariance(np.sum(x, axis=-1), s, tx.gram(params.theta_rad))

    def covariance_components(self, params: SystemParams, tx: ArrayPart) -> Complex:
        return totals_covariance(1.0, 1.0, tx.gram(params.theta_rad)).forms

    def transmit_power(
        self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, params: SystemParams
    ) -> Float:
        gamma, eta = _floats(gamma, eta)
        return np.asarray(params.Nt * np.sum(gamma + eta, axis=-1), dtype=float)

    def power_factors(self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike) -> tuple[Float, Float]:
        gamma, eta = _floats(gamma, eta)
        return gamma, np.sum(eta, axis=-1)

    def from_power_factors(self, x: ArrayLike, s: ArrayLike, xi: ArrayLike) -> tuple[Float, Float]:
        x, s, xi = _floats(x, s, xi)
        eta = np.broadcast_to((s / xi.shape[-1])[..., None], xi.shape)
        return np.array(np.broadcast_to(x, xi.shape)), np.array(eta)

    def equal_split(self, c: ArrayLike, s: ArrayLike, xi: ArrayLike) -> tuple[Float, Float]:
        c, s, xi = _floats(c, s, xi)
        k = xi.shape[-1]
        gamma = np.broadcast_to((c / k)[..., None], xi.shape)
        eta = np.broadcast_to((s / k)[..., None], xi.shape)
        return np.array(gamma), np.array(eta)

    def sample(
        self,
        h_hat: NDArray[np.complexfloating],
        xi: ArrayLike,
        gamma: ArrayLike,
        eta: ArrayLike,
        a_t: ArrayLike,
    ) -> Complex:
        h_hat = np.asarray(h_hat)
        nt = h_hat.shape[-2]
        norm = np.linalg.norm(h_hat, axis=-2, keepdims=True)
        direction = h_hat / np.where(norm > 0.0, norm, 1.0)
        gamma = np.asarray(gamma, dtype=float)
        return dual_function(direction * np.sqrt(nt * gamma)[..., None, :], a_t, eta)


PRECODERS.register(
    Part(
        "precoder",
        "nmrt",
        "normalised MRT",
        NormalisedMRT,
        description="MRT with each user's stream normalised per realization (toy example)",
        capabilities=frozenset({CLOSED_FORMS, LINEAR_FISHER, "monte_carlo", "planar_crb"}),
        order=50,
    )
)
