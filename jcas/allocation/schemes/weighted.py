"""Scheme ``weighted``: the weighted sum rate under CRB0 and the budget, exact (the optimum
of ``optimal`` with weights; ``docs/theory.md``, design objectives)."""

from __future__ import annotations

from jcas.allocation.weighted import weighted
from jcas.parts.precoders.base import CLOSED_FORMS, LINEAR_FISHER, SPLIT_POWER_RATE
from jcas.parts.registry import SCHEMES_REGISTRY, Param, Part

SCHEMES_REGISTRY.register(
    Part(
        "scheme",
        "weighted",
        "weighted sum rate",
        weighted,
        description="the weighted sum rate under CRB0 and Pt (weighted water-filling at the "
        "least sensing power meeting CRB0: the global optimum); unit weights give optimal",
        params=(
            Param(
                "weighted_weights",
                list,
                None,
                "weighted: the weight of each user (a list of K numbers >= 0, not all 0); "
                "null: every weight 1",
                minimum=0.0,
                option="weights",
            ),
        ),
        requires=(CLOSED_FORMS, SPLIT_POWER_RATE, LINEAR_FISHER),
        order=60,
    )
)
