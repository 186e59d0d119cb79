"""Scheme ``optimal``: the exact global optimum of (19) (``docs/theory.md`` §2)."""

from __future__ import annotations

from jcas.allocation.closed_form import optimal
from jcas.parts.precoders.base import CLOSED_FORMS, LINEAR_FISHER, SPLIT_POWER_RATE
from jcas.parts.registry import SCHEMES_REGISTRY, Part

SCHEMES_REGISTRY.register(
    Part(
        "scheme",
        "optimal",
        "optimal",
        optimal,
        description="the exact global optimum of the sum rate under CRB0 and Pt (water-filling "
        "at the least sensing power meeting CRB0)",
        requires=(CLOSED_FORMS, SPLIT_POWER_RATE, LINEAR_FISHER),
        order=10,
    )
)
