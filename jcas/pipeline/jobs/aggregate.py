"""Job ``aggregate``: the per-job files of one experiment combined into
``results/<experiment>.nc`` by its kind's aggregation (:mod:`jcas.pipeline.aggregate`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import xarray as xr

from jcas.config import plan_routes
from jcas.io.results import read_netcdf
from jcas.pipeline.aggregate import aggregate, plan, routed
from jcas.pipeline.files import write
from jcas.pipeline.jobs import compute_time

__all__ = ["run"]

log = logging.getLogger("jcas.job")


def run(
    inputs: Sequence[str],
    output: str,
    *,
    name: str,
    config: Mapping[str, Any],
    point_keys: Mapping[str, str] | Sequence[str],
) -> None:
    """Combine the per-job files of experiment ``name``.

    ``inputs`` are paths whose parent directories name the job key (grid point and
    precoder: ``.../<job key>/<family>/<block>.nc``, see ``workflow/rules/common.smk``);
    ``point_keys`` maps each job key of the plan to the key of its point (a list: job key =
    point key). Each scheme of each grid point is read from the files of the point that
    computes it (:func:`jcas.config.plan_routes`: the point itself, unless the experiment
    gives another scheme's option or a key the scheme ignores).
    """
    grid = plan(config, name)
    keys = dict(point_keys) if isinstance(point_keys, Mapping) else {k: k for k in point_keys}
    by_key: dict[str, list[xr.Dataset]] = {}
    for path in inputs:
        key = next(part for part in Path(path).parts if part in keys)
        by_key.setdefault(keys[key], []).append(read_netcdf(path))
    routes = plan_routes(grid, config["system"])
    t0 = time.perf_counter()
    pieces = [(values, routed(by_key, p, routes[p])) for values, p in grid.points]
    ds = aggregate(grid, pieces, config=config)
    compute_time(time.perf_counter() - t0)
    write(ds, output, config=config, title=grid.title or name)
    log.info(
        "%s: %d of %d entries failed", name, ds.attrs["failed_entries"], ds.attrs["total_entries"]
    )
