"""Job ``drops``: the user drops of one block (:mod:`jcas.pipeline.stages.drops`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jcas.pipeline.jobs import finish
from jcas.pipeline.stages.drops import compute_drops

__all__ = ["run"]


def run(output: str, *, system: Mapping[str, Any], seed: int, start: int, stop: int) -> None:
    """Write :func:`jcas.pipeline.stages.drops.compute_drops` of drops ``start .. stop-1``."""
    ds = compute_drops(system, seed, start, stop)
    params = {"system": dict(system), "seed": seed, "start": start, "stop": stop}
    finish(ds, output, params, f"user drops {start}..{stop - 1}")
