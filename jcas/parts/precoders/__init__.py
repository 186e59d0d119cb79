"""Precoder parts: closed-form rate terms, expected covariance, power, Monte-Carlo sampler.

:mod:`jcas.parts.precoders.base` defines the interface (:class:`Precoder`); the paper's MRT
(12)-(18) is :mod:`jcas.parts.precoders.mrt`; :mod:`jcas.parts.precoders.phase_mrt` is the worked
example of ``docs/extending.md``. Parts are selected by the name in
``system.precoder`` through :mod:`jcas.parts.registry`.
"""

from jcas.parts.precoders.base import (
    LINEAR_FISHER,
    REQUIREMENTS,
    TOTAL_POWER_RATE,
    Covariance,
    Precoder,
    RateTerms,
    totals_covariance,
)
from jcas.parts.precoders.mrt import MRT, mrt_precoder

__all__ = [
    "LINEAR_FISHER",
    "MRT",
    "REQUIREMENTS",
    "TOTAL_POWER_RATE",
    "Covariance",
    "Precoder",
    "RateTerms",
    "mrt_precoder",
    "totals_covariance",
]
