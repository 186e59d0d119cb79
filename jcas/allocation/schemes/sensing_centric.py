"""Scheme ``sensing_centric``: the least CRB with every user at its rate target, exact
(``docs/theory.md``, design objectives)."""

from __future__ import annotations

from jcas.allocation.sensing_centric import (
    RATE_TARGET,
    sensing_centric,
    solve_sensing_centric,
)
from jcas.parts.precoders.base import CLOSED_FORMS, LINEAR_FISHER_POWERS
from jcas.parts.registry import SCHEMES_REGISTRY, Param, Part

SCHEMES_REGISTRY.register(
    Part(
        "scheme",
        "sensing_centric",
        "sensing-centric",
        sensing_centric,
        description="the least CRB that gives every user its rate target within Pt (exact); "
        "drops whose targets are out of reach are infeasible",
        params=(
            Param(
                "sensing_rate_target",
                list,
                RATE_TARGET,
                "sensing_centric: rate target of every user (one number) or of each user (a "
                "list of K), rate (14) in bit/s/Hz",
                units="bit/s/Hz",
                minimum=0.0,
                option="rate_target",
            ),
        ),
        requires=(CLOSED_FORMS, LINEAR_FISHER_POWERS),
        order=50,
        solve=solve_sensing_centric,
        solve_requires=(LINEAR_FISHER_POWERS,),
        ignores=("crb0",),  # the CRB is the objective: CRB0 is not read
    )
)
