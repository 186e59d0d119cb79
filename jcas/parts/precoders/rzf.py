"""Regularised zero-forcing (RZF) and its protective variant, for any channel.

The book's RZF (Björnson, Hoydis, Sanguinetti, *Massive MIMO Networks*, (4.9), used for the
downlink by duality) with the budget shared equally over the users, ``p = Pt / K``:

    ``V = H_hat (H_hat^H H_hat + delta I_K)^{-1}``,   ``delta = K sigma_u^2 / Pt``

(:func:`jcas.parts.precoders.general.rzf_regularisation`; ``delta -> 0`` is ZF, ``delta ->
inf`` MRT). The regularisation is fixed by the system, not by the allocation, so the
coefficients per unit power of :mod:`jcas.model.coefficients` exist. The sensing beam is
``a_t`` (``rzf``) or, in the protective variant (``przf``), ``P a_t`` with ``P`` the
projection away from the estimated channels (as PZF;
:func:`jcas.parts.precoders.general.null_space_beam`), so that the beam reaches the users
only through the estimation errors. Normalisation (``normalisation``): ``statistical``
(default, ``E||w_k||^2 = E||b||^2 = Nt`` over the fading, as MRT, ZF and PZF) or
``realization`` (``||w_k||^2 = ||b||^2 = Nt`` in every realization, as the book's code).

No closed forms: the coefficients come from :mod:`jcas.montecarlo.coefficients`.
Variables: power factors, as ZF (``gamma_k = x_k``, ``s = sum eta_k``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.parts.precoders.general import NoClosedForms, PrecoderContext
from jcas.parts.registry import PRECODERS, Part

__all__ = ["PRZF", "RZF", "regularised_directions"]

Complex = NDArray[np.complex128]


def regularised_directions(h_hat: ArrayLike, delta: ArrayLike) -> Complex:
    """``H_hat (H_hat^H H_hat + delta I)^{-1}``, ``h_hat (..., Nt, K)``, ``delta``
    broadcastable against the batch ``(...)``; one ``K x K`` solve per realization."""
    h_hat = np.asarray(h_hat, dtype=complex)
    k = h_hat.shape[-1]
    h_h = np.conj(np.swapaxes(h_hat, -1, -2))
    gram = h_h @ h_hat + np.asarray(delta, dtype=float)[..., None, None] * np.eye(k)
    return np.asarray(np.conj(np.swapaxes(np.linalg.solve(gram, h_h), -1, -2)), dtype=complex)


@dataclass(frozen=True)
class RZF(NoClosedForms):
    """RZF with the sensing beam along ``a_t``.

    Attributes
    ----------
    regularisation : overrides ``delta`` (None: ``K sigma_u^2 / Pt``), dimensionless.
    normalisation : ``statistical`` or ``realization``.
    """

    name: str = "rzf"
    regularisation: float | None = None
    normalisation: str = "statistical"

    def __post_init__(self) -> None:
        self.check_normalisation()

    def delta(self, context: PrecoderContext) -> float:
        """The regularisation used (dimensionless, units of the channel gain)."""
        return context.regularisation if self.regularisation is None else self.regularisation

    def raw_directions(self, h_hat: Complex, context: PrecoderContext) -> Complex:
        return regularised_directions(h_hat, self.delta(context))


@dataclass(frozen=True)
class PRZF(RZF):
    """Protective RZF: the sensing beam projected away from the estimated channels."""

    name: str = "przf"

    @property
    def protective(self) -> bool:
        return True


PRECODERS.register(
    Part(
        "precoder",
        "rzf",
        "RZF",
        RZF,
        description="regularized zero-forcing of the channel estimates (regularisation "
        "K sigma_u^2 / Pt) with the sensing beam a_t; no closed forms: evaluated on the "
        "Monte-Carlo route",
        order=30,
        capabilities=frozenset({"monte_carlo"}),
    )
)
PRECODERS.register(
    Part(
        "precoder",
        "przf",
        "protective RZF",
        PRZF,
        description="regularized zero-forcing with the sensing beam projected away from the "
        "channel estimates; no closed forms",
        order=31,
        capabilities=frozenset({"monte_carlo"}),
    )
)
