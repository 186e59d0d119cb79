"""Scheme ``maxmin``: max-min fairness, the largest common SINR under CRB0 and the budget,
exact (``docs/theory.md``, design objectives)."""

from __future__ import annotations

from jcas.allocation.maxmin import MAX_ITERATIONS, RTOL, maxmin, solve_maxmin
from jcas.parts.precoders.base import CLOSED_FORMS, LINEAR_FISHER_POWERS
from jcas.parts.registry import SCHEMES_REGISTRY, Param, Part

SCHEMES_REGISTRY.register(
    Part(
        "scheme",
        "maxmin",
        "max-min fairness",
        maxmin,
        description="the largest rate every user gets at once under CRB0 and Pt (bisection "
        "on the common SINR with an exact feasibility test: the global optimum)",
        params=(
            Param(
                "maxmin_rtol",
                float,
                RTOL,
                "maxmin: relative width of the final bracket of the common SINR",
                exclusive_minimum=0.0,
                maximum=1e-3,
                option="rtol",
            ),
            Param(
                "maxmin_max_iterations",
                int,
                MAX_ITERATIONS,
                "maxmin: root-finding steps per drop",
                minimum=1,
                maximum=10000,
                option="max_iterations",
            ),
        ),
        requires=(CLOSED_FORMS, LINEAR_FISHER_POWERS),
        order=40,
        solve=solve_maxmin,
        solve_requires=(LINEAR_FISHER_POWERS,),
    )
)
