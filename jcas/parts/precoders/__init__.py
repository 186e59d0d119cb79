"""Precoder parts: closed-form rate terms, expected covariance, power, Monte-Carlo sampler.

:mod:`jcas.parts.precoders.base` defines the interface (:class:`Precoder`) and the
capabilities a precoder may declare; each other module registers its parts
(:data:`jcas.parts.registry.PRECODERS`): the paper's MRT (12)-(18)
(:mod:`jcas.parts.precoders.mrt`), ZF and PZF (:mod:`jcas.parts.precoders.zf`) and the
worked example of ``docs/extending.md`` (:mod:`jcas.parts.precoders.phase_mrt`). This package
imports no part, so that a job depends only on the precoders it uses.
"""

from jcas.parts.precoders.base import (
    CLOSED_FORMS,
    LINEAR_FISHER,
    REQUIREMENTS,
    SPLIT_POWER_RATE,
    TOTAL_POWER_RATE,
    Covariance,
    Precoder,
    RateTerms,
    totals_covariance,
)

__all__ = [
    "CLOSED_FORMS",
    "LINEAR_FISHER",
    "REQUIREMENTS",
    "SPLIT_POWER_RATE",
    "TOTAL_POWER_RATE",
    "Covariance",
    "Precoder",
    "RateTerms",
    "totals_covariance",
]
