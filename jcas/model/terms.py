"""What a precoder part gives the model's formulas: the rate terms of (14) and the expected
transmit covariance of (36), as data.

:func:`jcas.model.metrics.rate_from_terms` turns :class:`RateTerms` into the rate and
:func:`jcas.model.metrics.crb_from_covariance` turns :class:`Covariance` into the CRB; every
precoder part (:mod:`jcas.parts.precoders`, which re-exports both) returns them. They live
in the model, below the parts, so that the model's formulas import no part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Covariance", "RateTerms"]

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]


@dataclass(frozen=True)
class RateTerms:
    """The expectations of the bound (14) per user (W), each of shape ``(..., K)``.

    Attributes
    ----------
    signal : ``|DS_k|^2 = |E h_k^H f_k|^2``.
    uncertainty : ``E|BU_k|^2 = Var(h_k^H f_k)``.
    interference : ``sum_{j != k} E|h_k^H f_j|^2``.
    """

    signal: Float
    uncertainty: Float
    interference: Float


@dataclass(frozen=True)
class Covariance:
    """Expected transmit covariance ``R_x = sum_m weights[..., m] R_m`` (W).

    Attributes
    ----------
    weights : shape ``(..., M)`` (W per antenna for the MRT components).
    forms : ``[a_t, a_t_dot]^H R_m [a_t, a_t_dot]``, shape ``(..., M, 2, 2)``
        (broadcast against the batch of ``weights``): the quadratic forms the CRB (36) uses.
    """

    weights: Float
    forms: Complex
