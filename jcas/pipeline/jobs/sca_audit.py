"""Job ``sca_audit``: the sca variants against the exact optimum at one grid point and
precoder, on held-out drops (:mod:`jcas.pipeline.stages.audit`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from jcas.config import Point
from jcas.pipeline.jobs import finish
from jcas.pipeline.stages.audit import compute_sca_audit

__all__ = ["run"]

log = logging.getLogger("jcas.job")


def run(
    output: str,
    *,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    seed: int,
    start: int,
    stop: int,
    options: Mapping[str, Any],
) -> None:
    """Write :func:`jcas.pipeline.stages.audit.compute_sca_audit` of drops ``start .. stop-1``;
    log each variant's median gap and status counts."""
    ds = compute_sca_audit(system, point, seed, start, stop, options)
    params = {
        "system": dict(system),
        "point": dict(point),
        "seed": seed,
        "start": start,
        "stop": stop,
        "options": dict(options),
    }
    key = Point(**point).key
    finish(ds, output, params, f"sca audit at {key} ({system.get('precoder', 'mrt')})")
    for i, name in enumerate(ds["variant"].tolist()):  # (variant, drop) variables
        names, counts = np.unique(ds["status"][i], return_counts=True)
        log.info(
            "%s: median gap %.2e, status counts %s",
            name,
            float(np.nanmedian(ds["gap"][i])),
            dict(zip(names.tolist(), counts.tolist(), strict=True)),
        )
