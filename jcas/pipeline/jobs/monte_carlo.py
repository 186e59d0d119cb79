"""Job ``monte_carlo``: the Monte-Carlo rate and CRB of the schemes of one allocation file
(:mod:`jcas.pipeline.stages.montecarlo`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jcas.config import Point
from jcas.pipeline.files import read_job
from jcas.pipeline.jobs import finish
from jcas.pipeline.stages.montecarlo import compute_monte_carlo

__all__ = ["run"]


def run(
    alloc: str,
    output: str,
    *,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    schemes: Sequence[str],
    mc: Mapping[str, Any],
    seed: int,
) -> None:
    """Write :func:`jcas.pipeline.stages.montecarlo.compute_monte_carlo` of the ``schemes`` of
    the allocation file ``alloc``."""
    data = read_job(alloc).sel("scheme", list(schemes))
    ds = compute_monte_carlo(data, system, point, mc, seed)
    params = {
        "system": dict(system),
        "point": dict(point),
        "schemes": list(schemes),
        "mc": dict(mc),
        "seed": seed,
    }
    finish(ds, output, params, f"Monte-Carlo at {Point(**point).key}")
