"""Job ``closed_form`` (and, through :mod:`jcas.pipeline.jobs.sca`, ``sca``): the schemes of
one grid point x drop block (:mod:`jcas.pipeline.stages.allocation`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jcas.config import Point
from jcas.pipeline.files import read_job
from jcas.pipeline.jobs import finish
from jcas.pipeline.stages.allocation import compute_allocations

__all__ = ["run"]

log = logging.getLogger("jcas.job")


def run(
    drops: str,
    output: str,
    *,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    schemes: Sequence[str],
    options: Mapping[str, Mapping[str, Any]],
    coefficients: Mapping[str, Any] | None = None,
) -> None:
    """Read the drops, write :func:`jcas.pipeline.stages.allocation.compute_allocations` of
    ``schemes`` to ``output``; log the status counts. ``coefficients``: the sizes of the
    coefficient route (``realizations``; empty at a closed-form point)."""
    ds = compute_allocations(read_job(drops), system, point, schemes, options, coefficients)
    params: dict[str, Any] = {
        "system": dict(system),
        "point": dict(point),
        "schemes": list(schemes),
        "options": {s: dict(o) for s, o in options.items()},
    }
    if coefficients:
        params["coefficients"] = dict(coefficients)
    finish(ds, output, params, f"allocation {', '.join(schemes)} at {Point(**point).key}")
    names, counts = np.unique(ds["status"], return_counts=True)
    log.info("status counts: %s", dict(zip(names.tolist(), counts.tolist(), strict=True)))
