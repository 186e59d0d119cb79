"""Scheme ``equal_full`` ("equal & full power"): equal factors, full power, a fixed share
of it on sensing."""

from __future__ import annotations

from jcas.allocation.closed_form import (
    EQUAL_FULL_SENSING_FRACTION,
    equal_full,
    equal_full_coefficients,
)
from jcas.parts.precoders.base import CLOSED_FORMS, LINEAR_FISHER
from jcas.parts.registry import SCHEMES_REGISTRY, Param, Part

SCHEMES_REGISTRY.register(
    Part(
        "scheme",
        "equal_full",
        "equal & full power",
        equal_full,
        description="equal factors over the users at full power Pt, a fixed fraction of it "
        "on sensing (the paper's second benchmark, our reading)",
        params=(
            Param(
                "equal_full_sensing_fraction",
                float,
                EQUAL_FULL_SENSING_FRACTION,
                '"equal & full power": the fraction of Pt spent on sensing',
                minimum=0.0,
                maximum=1.0,
                option="sensing_fraction",
            ),
        ),
        requires=(CLOSED_FORMS, LINEAR_FISHER),
        order=30,
        solve=equal_full_coefficients,
    )
)
