"""The paper's MRT dual-function precoder, eq. (12)-(18), as a precoder part.

``f_k = sqrt(gamma_k) h_hat_k + sqrt(eta_k) a_t`` (12) with MMSE estimates (6). Its
closed forms (``docs/model.md`` §1-3):

- ``|DS_k|^2 = Nt^2 xi_k^2 gamma_k``;
- ``E|BU_k|^2 = Nt beta_k (xi_k gamma_k + eta_k)``;
- ``sum_{j != k} E|UI_kj|^2 = Nt beta_k sum_{j != k} (xi_j gamma_j + eta_j)
  + Nt^2 xi_k sum_{j != k, shared pilot} xi_j gamma_j`` (the second term is the pilot
  contamination of reused pilots, ``tau_p < K``; zero for orthonormal pilots);
- ``R_x = (xi^T gamma) I + (sum_k eta_k) a_t a_t^H`` (37), power ``Nt (xi^T gamma + sum eta)``
  (18).

Power factors: ``x_k = xi_k gamma_k`` and ``s = sum_k eta_k`` (W per antenna). With
orthonormal pilots the rate has the total-power form ``SINR_k = A_k x_k / (B_k (c + s) +
sigma_u^2)``, ``A_k = Nt^2 xi_k``, ``B_k = Nt beta_k`` (the structure of ``docs/theory.md``
§2); with reused pilots the contamination term depends on the other users' powers
separately, and the schemes that need that structure are rejected by
:func:`jcas.parts.registry.design_problems`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.channel import pilot_gram
from jcas.model.params import SystemParams
from jcas.parts.arrays.base import ArrayPart
from jcas.parts.precoders.base import (
    CLOSED_FORMS,
    LINEAR_FISHER,
    SPLIT_POWER_RATE,
    TOTAL_POWER_RATE,
    Covariance,
    RateTerms,
    dual_function,
    totals_covariance,
)
from jcas.parts.registry import PRECODERS, Part

if TYPE_CHECKING:
    from jcas.parts.precoders.general import PrecoderContext

__all__ = ["MRT", "mrt_precoder"]

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]


def _floats(*arrays: ArrayLike) -> list[Float]:
    return [np.asarray(a, dtype=float) for a in arrays]


def mrt_precoder(h_hat: ArrayLike, gamma: ArrayLike, eta: ArrayLike, a_t: ArrayLike) -> Complex:
    """Eq. (12): ``f_i = sqrt(gamma_i) h_hat_i + sqrt(eta_i) a_t``.

    Shapes: ``h_hat (..., Nt, K)``, ``gamma, eta (..., K)`` broadcastable,
    ``a_t (Nt,)``. Returns ``F`` of shape ``(..., Nt, K)`` (``sqrt(W)`` units).
    """
    gamma = np.asarray(gamma, dtype=float)
    return dual_function(np.asarray(h_hat) * np.sqrt(gamma)[..., None, :], a_t, eta)


@dataclass(frozen=True)
class MRT:
    """MRT (12) as a :class:`jcas.parts.precoders.Precoder`; the allocation variables are the
    paper's ``gamma`` (per unit of ``xi``) and ``eta`` (W per antenna)."""

    name: str = "mrt"
    closed_forms: ClassVar[bool] = True
    """Whether the rate terms and covariance have closed forms (under the i.i.d. channel)."""

    def unsupported(self, requirement: str, params: SystemParams) -> str | None:
        if requirement == TOTAL_POWER_RATE and params.tau_p < params.K:
            return (
                f"with reused pilots (system.tau_p = {params.tau_p} < system.K = {params.K}) "
                f"precoder {self.name!r} has a pilot-contamination term that depends on the "
                "other users' powers separately (docs/model.md §3)"
            )
        return None

    # ------------------------------------------------------------------ closed forms
    def rate_terms(
        self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, beta: ArrayLike, params: SystemParams
    ) -> RateTerms:
        gamma, eta, xi, beta = _floats(gamma, eta, xi, beta)
        nt = float(params.Nt)
        own = xi * gamma + eta
        others = np.sum(own, axis=-1, keepdims=True) - own
        interference = nt * beta * np.maximum(others, 0.0)
        if params.tau_p < params.K:
            gram = pilot_gram(params.K, params.tau_p)
            shared = gram - np.diag(np.diag(gram))
            interference = interference + nt**2 * xi * ((xi * gamma) @ shared)
        return RateTerms(
            signal=nt**2 * xi**2 * gamma,
            uncertainty=nt * beta * own,
            interference=interference,
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
        gamma, eta, xi = _floats(gamma, eta, xi)
        return np.asarray(params.Nt * np.sum(xi * gamma + eta, axis=-1), dtype=float)

    # ------------------------------------------------------------------ allocation hooks
    def power_factors(self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike) -> tuple[Float, Float]:
        gamma, eta, xi = _floats(gamma, eta, xi)
        return xi * gamma, np.sum(eta, axis=-1)

    def from_power_factors(self, x: ArrayLike, s: ArrayLike, xi: ArrayLike) -> tuple[Float, Float]:
        x, s, xi = _floats(x, s, xi)
        with np.errstate(divide="ignore", invalid="ignore"):
            gamma = np.where(xi > 0, x / xi, 0.0)
        eta = np.broadcast_to((s / xi.shape[-1])[..., None], xi.shape)
        return gamma, np.array(eta)

    def equal_split(self, c: ArrayLike, s: ArrayLike, xi: ArrayLike) -> tuple[Float, Float]:
        c, s, xi = _floats(c, s, xi)
        gamma = np.broadcast_to((c / np.sum(xi, axis=-1))[..., None], xi.shape)
        eta = np.broadcast_to((s / xi.shape[-1])[..., None], xi.shape)
        return np.array(gamma), np.array(eta)

    def total_power_sinr(
        self, beta: ArrayLike, xi: ArrayLike, params: SystemParams
    ) -> tuple[Float, Float]:
        beta, xi = _floats(beta, xi)
        return params.Nt**2 * xi, params.Nt * beta

    # ------------------------------------------------------------------ Monte-Carlo
    def sample(
        self,
        h_hat: NDArray[np.complexfloating],
        xi: ArrayLike,
        gamma: ArrayLike,
        eta: ArrayLike,
        a_t: ArrayLike,
    ) -> Complex:
        return mrt_precoder(h_hat, gamma, eta, a_t)

    # ------------------------------------------------------------------ any channel
    def directions(self, h_hat: Complex, context: PrecoderContext) -> tuple[Complex, Complex]:
        """``(V, b) = (H_hat, a_t)`` (:mod:`jcas.parts.precoders.general`): the stream of user
        ``k`` along its estimate, ``w_k = h_hat_k / sqrt(tr(Phi_k) / Nt)``."""
        h_hat = np.asarray(h_hat, dtype=complex)
        beam = np.broadcast_to(context.a_t, (*h_hat.shape[:-2], h_hat.shape[-2]))
        return h_hat, np.asarray(beam)

    def expected_norms(self, context: PrecoderContext) -> tuple[Float | None, Float | None]:
        """``E||h_hat_k||^2 = tr(Phi_k) = Nt xi_k`` and ``||a_t||^2 = Nt``, for any channel."""
        nt = float(context.a_t.shape[-1])
        xi = context.estimation.xi
        return nt * xi, np.full(xi.shape[0], nt)


PRECODERS.register(
    Part(
        "precoder",
        "mrt",
        "MRT",
        MRT,
        description="the paper's maximum-ratio transmission (12) with the sensing beam a_t",
        capabilities=frozenset(
            {
                CLOSED_FORMS,
                TOTAL_POWER_RATE,
                SPLIT_POWER_RATE,
                LINEAR_FISHER,
                "monte_carlo",
                "planar_crb",
            }
        ),
        order=0,
    )
)
