"""Scheme ``equal`` ("equal power"): equal factors with ``optimal``'s power split."""

from __future__ import annotations

from jcas.allocation.closed_form import equal
from jcas.parts.precoders.base import CLOSED_FORMS, LINEAR_FISHER, SPLIT_POWER_RATE
from jcas.parts.registry import SCHEMES_REGISTRY, Part

SCHEMES_REGISTRY.register(
    Part(
        "scheme",
        "equal",
        "equal power",
        equal,
        description="equal factors over the users with the communications and sensing power "
        "of the optimal design (the paper's first benchmark, our reading)",
        requires=(CLOSED_FORMS, SPLIT_POWER_RATE, LINEAR_FISHER),
        order=20,
        takes_reference=True,
    )
)
