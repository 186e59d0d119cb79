"""Phase-only MRT (per-antenna power normalisation): the worked example of ``docs/extending.md``.

Each antenna sends the same power for every user, with the phase of the MRT weight:
``f_i = sqrt(gamma_i xi_i) exp(j arg h_hat_i) + sqrt(eta_i) a_t`` (the exponential
element-wise), so the communications part of antenna ``m`` has modulus
``sqrt(gamma_i xi_i)`` whatever the estimate (an equal-gain transmitter). Its closed forms
for orthonormal pilots (each step in ``docs/extending.md``), with ``h_hat_km ~ CN(0, xi_k)``
independent of the error ``e_km ~ CN(0, beta_k - xi_k)`` and ``E|h_hat_km| = sqrt(pi xi_k) / 2``:

- ``|DS_k|^2 = (pi / 4) Nt^2 xi_k^2 gamma_k`` (MRT's times ``pi / 4``);
- ``E|BU_k|^2 = Nt beta_k (xi_k gamma_k + eta_k) - (pi / 4) Nt xi_k^2 gamma_k``;
- ``sum_{j != k} E|UI_kj|^2 = Nt beta_k sum_{j != k} (xi_j gamma_j + eta_j)`` (as MRT);
- ``R_x = (xi^T gamma) I + (sum eta) a_t a_t^H`` and the power (18), as MRT (the random
  phases are uniform and independent over antennas, so ``E[u u^H] = I``).

The uncertainty term depends on the user's own power separately, so the rate is not of
the total-power form: ``optimal``, ``equal`` and ``sca`` are rejected for this precoder
and ``equal_full`` runs. Reused pilots (``tau_p < K``) are rejected (closed forms above
assume independent estimates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.params import SystemParams
from jcas.parts.precoders.base import (
    CLOSED_FORMS,
    LINEAR_FISHER,
    TOTAL_POWER_RATE,
    RateTerms,
    dual_function,
)
from jcas.parts.precoders.mrt import MRT
from jcas.parts.registry import PRECODERS, Part

if TYPE_CHECKING:
    from jcas.parts.precoders.general import PrecoderContext

__all__ = ["PhaseMRT"]

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]

_PI_4 = np.pi / 4.0
"""``(E|h_hat|)^2 / E|h_hat|^2`` for a complex Gaussian entry."""


@dataclass(frozen=True)
class PhaseMRT(MRT):
    """Phase-only MRT; the allocation variables, powers and covariance are MRT's."""

    name: str = "phase_mrt"

    def unsupported(self, requirement: str, params: SystemParams) -> str | None:
        if requirement == "" and params.tau_p < params.K:
            return (
                f"its closed forms assume orthonormal pilots (system.tau_p = {params.tau_p} "
                f"< system.K = {params.K})"
            )
        if requirement == TOTAL_POWER_RATE:
            return (
                f"precoder {self.name!r} (system.precoder) has a beamforming uncertainty "
                "that depends on each user's own power"
            )
        return super().unsupported(requirement, params)

    def rate_terms(
        self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, beta: ArrayLike, params: SystemParams
    ) -> RateTerms:
        mrt = super().rate_terms(gamma, eta, xi, beta, params)
        coherent = _PI_4 * mrt.signal  # (pi/4) Nt^2 xi^2 gamma
        return RateTerms(
            signal=coherent,
            uncertainty=mrt.uncertainty - coherent / float(params.Nt),
            interference=mrt.interference,
        )

    def total_power_sinr(
        self, beta: ArrayLike, xi: ArrayLike, params: SystemParams
    ) -> tuple[Float, Float]:
        raise NotImplementedError(f"precoder {self.name!r}: no total-power rate form")

    def sample(
        self,
        h_hat: NDArray[np.complexfloating],
        xi: ArrayLike,
        gamma: ArrayLike,
        eta: ArrayLike,
        a_t: ArrayLike,
    ) -> Complex:
        h_hat = np.asarray(h_hat)
        gamma, eta, xi = (np.asarray(v, dtype=float) for v in (gamma, eta, xi))
        phase = np.exp(1j * np.angle(h_hat))
        return dual_function(phase * np.sqrt(gamma * xi)[..., None, :], a_t, eta)

    def directions(self, h_hat: Complex, context: PrecoderContext) -> tuple[Complex, Complex]:
        """``(exp(j arg H_hat), a_t)`` (element-wise phases; ``||v_k||^2 = Nt`` exactly)."""
        h_hat = np.asarray(h_hat, dtype=complex)
        beam = np.broadcast_to(context.a_t, (*h_hat.shape[:-2], h_hat.shape[-2]))
        return np.exp(1j * np.angle(h_hat)), np.asarray(beam)

    def expected_norms(self, context: PrecoderContext) -> tuple[Float | None, Float | None]:
        nt = float(context.a_t.shape[-1])
        xi = context.estimation.xi
        return np.full(xi.shape, nt), np.full(xi.shape[0], nt)


PRECODERS.register(
    Part(
        "precoder",
        "phase_mrt",
        "phase-only MRT",
        PhaseMRT,
        description="MRT with per-antenna power normalisation (an equal-gain transmitter), "
        "the worked example of docs/extending.md",
        capabilities=frozenset({CLOSED_FORMS, LINEAR_FISHER, "monte_carlo", "planar_crb"}),
        order=5,
    )
)
