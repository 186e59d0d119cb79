"""Precoder parts: closed-form rate terms, expected covariance, power, Monte-Carlo sampler.

:mod:`jcas.precoders.base` defines the interface (:class:`Precoder`); the paper's MRT
(12)-(18) is :mod:`jcas.precoders.mrt`; :mod:`jcas.precoders.phase_mrt` is the worked
example of ``docs/extending.md``. Parts are selected by the name in
``system.precoder`` through :mod:`jcas.registry`.
"""

from jcas.precoders.base import (
    LINEAR_FISHER,
    REQUIREMENTS,
    TOTAL_POWER_RATE,
    Covariance,
    Precoder,
    RateTerms,
    totals_covariance,
)
from jcas.precoders.mrt import MRT, mrt_precoder

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
