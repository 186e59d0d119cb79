"""Multicell-MMSE (M-MMSE) precoding and its protective variant, for any channel.

The book's M-MMSE (Björnson, Hoydis, Sanguinetti, *Massive MIMO Networks*, (4.7), for one
cell, used for the downlink by duality) with the budget shared equally, ``p = Pt / K``:

    ``v_k = (H_hat H_hat^H + sum_i C_i + delta I_Nt)^{-1} h_hat_k``,   ``delta = K sigma_u^2 / Pt``,

``C_i`` the error covariances of :mod:`jcas.model.estimation`. With ``Z = sum_i C_i +
delta I`` (fixed per drop) it is evaluated as ``Z^{-1} H_hat (I_K + H_hat^H Z^{-1}
H_hat)^{-1}`` (the push-through identity): one ``Nt x Nt`` inverse per drop and one
``K x K`` solve per realization. Under the i.i.d. channel ``Z = (sum_i eps_i + delta) I``
and M-MMSE is RZF with the regularisation ``delta + sum_i eps_i``. The sensing beams
(``mmse``: ``a_t``; ``pmmse``: projected away from the estimates) and the normalisations
are those of :mod:`jcas.parts.precoders.rzf`.

No closed forms: the coefficients come from :mod:`jcas.montecarlo.coefficients`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jcas.model.estimation import hermitian
from jcas.parts.precoders.general import NoClosedForms, PrecoderContext
from jcas.parts.precoders.rzf import regularised_directions
from jcas.parts.registry import PRECODERS, Part

__all__ = ["MMSE", "PMMSE"]

Complex = NDArray[np.complex128]


@dataclass(frozen=True)
class MMSE(NoClosedForms):
    """M-MMSE with the sensing beam along ``a_t``.

    Attributes
    ----------
    regularisation : overrides ``delta`` (None: ``K sigma_u^2 / Pt``), dimensionless.
    normalisation : ``statistical`` or ``realization``.
    """

    name: str = "mmse"
    regularisation: float | None = None
    normalisation: str = "statistical"

    def __post_init__(self) -> None:
        self.check_normalisation()

    def _inverse(self, context: PrecoderContext) -> Any:
        """``Z^{-1}`` per drop (D, Nt, Nt), or the scalar ``z`` (D,) under the i.i.d. channel."""
        delta = context.regularisation if self.regularisation is None else self.regularisation
        key = f"mmse_inverse:{delta!r}"
        if key not in context.cache:
            est = context.estimation
            if est.error_cov is None:
                value: Any = np.sum(est.eps, axis=-1) + delta
            else:
                nt = est.error_cov.shape[-1]
                z = np.sum(est.error_cov, axis=1) + delta * np.eye(nt)
                value = hermitian(np.linalg.solve(z, np.broadcast_to(np.eye(nt), z.shape)))
            context.cache[key] = value
        return context.cache[key]

    def raw_directions(self, h_hat: Complex, context: PrecoderContext) -> Complex:
        h_hat = np.asarray(h_hat, dtype=complex)
        inv = self._inverse(context)
        if np.ndim(inv) == 1:  # i.i.d.: RZF with delta + sum eps
            return regularised_directions(h_hat, context.per_drop(inv))
        # Z^{-1} H_hat: one product per drop over all realizations (BLAS-3)
        d, nt = h_hat.shape[0], h_hat.shape[-2]
        cols = np.moveaxis(h_hat, -2, 1)  # (D, Nt, ..., K)
        y = np.moveaxis((inv @ cols.reshape(d, nt, -1)).reshape(cols.shape), 1, -2)
        m = np.conj(np.swapaxes(h_hat, -1, -2)) @ y + np.eye(h_hat.shape[-1])
        v_h = np.linalg.solve(m, np.conj(np.swapaxes(y, -1, -2)))
        return np.asarray(np.conj(np.swapaxes(v_h, -1, -2)), dtype=complex)


@dataclass(frozen=True)
class PMMSE(MMSE):
    """Protective M-MMSE: the sensing beam projected away from the estimated channels."""

    name: str = "pmmse"

    @property
    def protective(self) -> bool:
        return True


PRECODERS.register(
    Part(
        "precoder",
        "mmse",
        "M-MMSE",
        MMSE,
        description="multi-cell-style MMSE precoding using the estimation error covariances, "
        "with the sensing beam a_t; no closed forms: evaluated on the Monte-Carlo route",
        order=40,
        capabilities=frozenset({"monte_carlo"}),
    )
)
PRECODERS.register(
    Part(
        "precoder",
        "pmmse",
        "protective M-MMSE",
        PMMSE,
        description="M-MMSE with the sensing beam projected away from the channel estimates; "
        "no closed forms",
        order=41,
        capabilities=frozenset({"monte_carlo"}),
    )
)
