"""Jobs ``mle`` (:func:`run`) and ``mle_planar`` (:func:`run_planar`): the ML estimate of the
target direction against its CRB at one grid point and scheme
(:mod:`jcas.pipeline.stages.mle`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jcas.config import Point
from jcas.pipeline.files import read_job_blocks
from jcas.pipeline.jobs import finish
from jcas.pipeline.stages.mle import compute_mle, compute_mle_planar

__all__ = ["run", "run_planar"]


def run(
    allocs: Sequence[str],
    output: str,
    *,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    scheme: str,
    mc: Mapping[str, Any],
    seed: int,
    n_drops: int,
    planar: bool = False,
) -> None:
    """Drops 0 .. ``n_drops``-1 of one scheme's allocation blocks: the ML estimate of the
    angle vs its CRB (:func:`jcas.pipeline.stages.mle.compute_mle`), or with ``planar`` of
    (azimuth, elevation) vs theirs (:func:`jcas.pipeline.stages.mle.compute_mle_planar`)."""
    alloc = read_job_blocks(allocs).sel("scheme", [scheme])
    alloc = alloc.isel("drop", alloc["drop"] < int(n_drops))
    compute = compute_mle_planar if planar else compute_mle
    ds = compute(alloc, system, point, mc, seed)
    params = {
        "system": dict(system),
        "point": dict(point),
        "scheme": scheme,
        "mc": dict(mc),
        "seed": seed,
        "n_drops": n_drops,
    }
    what = "2-D MLE" if planar else "MLE"
    finish(ds, output, params, f"{what} at {Point(**point).key}")


def run_planar(allocs: Sequence[str], output: str, **params: Any) -> None:
    """Job ``mle_planar``: :func:`run` with ``planar=True``."""
    run(allocs, output, planar=True, **params)
