"""The jobs of the Snakemake sweep: read the inputs, call :mod:`jcas.pipeline.experiment`, write.

Each ``workflow/scripts/<rule>.py`` unpacks the ``snakemake`` object and calls one
``run_*`` function here inside :func:`job_log`; every jcas computation goes through
:mod:`jcas.pipeline.experiment` (which imports a stage's heavy packages only when it runs).
The per-point jobs (drops, allocation, Monte-Carlo, MLE, sca audit) hold their data as
:class:`jcas.io.fields.Fields` and never import xarray or pandas (about 0.3 s a process);
the aggregation, figure and claims jobs use xarray. Every job logs
``compute_time_s = <seconds>``: the time inside the jcas computations,
without process start-up, imports and file I/O (``benchmarks/pipeline.py`` sums it).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jcas.pipeline import experiment

if TYPE_CHECKING:
    import xarray as xr

log = logging.getLogger("jcas.job")


@contextlib.contextmanager
def job_log(path: str | Path | None) -> Iterator[None]:
    """Send ``logging``, stdout and stderr of a job to its log file (Snakemake ``log:``)."""
    if path is None:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        old = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = fh
        try:
            yield
        except BaseException:
            traceback.print_exc(file=fh)
            raise
        finally:
            sys.stdout, sys.stderr = old
            root.removeHandler(handler)


def _compute_time(seconds: float) -> None:
    log.info("compute_time_s = %.6f", seconds)


def _write(ds: Any, output: str, params: Mapping[str, Any], title: str) -> None:
    _compute_time(float(ds.attrs.get("compute_time_s", 0.0)))
    experiment.write(ds, output, config=params, title=title)


def run_drops(output: str, *, system: Mapping[str, Any], seed: int, start: int, stop: int) -> None:
    """Job ``drops``: write :func:`jcas.pipeline.experiment.compute_drops` to ``output``."""
    ds = experiment.drops_fields(system, seed, start, stop)
    params = {"system": dict(system), "seed": seed, "start": start, "stop": stop}
    _write(ds, output, params, f"user drops {start}..{stop - 1}")


def run_allocation(
    drops: str,
    output: str,
    *,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    schemes: Sequence[str],
    options: Mapping[str, Mapping[str, Any]],
) -> None:
    """Jobs ``closed_form`` and ``sca``: read the drops, write
    :func:`jcas.pipeline.experiment.allocations_fields` of ``schemes`` to ``output``."""
    ds = experiment.allocations_fields(experiment.read_job(drops), system, point, schemes, options)
    params = {
        "system": dict(system),
        "point": dict(point),
        "schemes": list(schemes),
        "options": {s: dict(o) for s, o in options.items()},
    }
    key = experiment.Point(**point).key
    _write(ds, output, params, f"allocation {', '.join(schemes)} at {key}")
    names, counts = np.unique(ds["status"], return_counts=True)
    log.info("status counts: %s", dict(zip(names.tolist(), counts.tolist(), strict=True)))


def run_monte_carlo(
    alloc: str,
    output: str,
    *,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    schemes: Sequence[str],
    mc: Mapping[str, Any],
    seed: int,
) -> None:
    """Job ``monte_carlo``: :func:`jcas.pipeline.experiment.monte_carlo_fields` of the ``schemes``
    of an allocation file."""
    data = experiment.read_job(alloc).sel("scheme", list(schemes))
    ds = experiment.monte_carlo_fields(data, system, point, mc, seed)
    params = {
        "system": dict(system),
        "point": dict(point),
        "schemes": list(schemes),
        "mc": dict(mc),
        "seed": seed,
    }
    _write(ds, output, params, f"Monte-Carlo at {experiment.Point(**point).key}")


def run_mle(
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
    """Jobs ``mle`` and (``planar``) ``mle_planar``: drops 0 .. ``n_drops``-1 of one
    scheme's allocation blocks, the ML estimate of the angle vs its CRB
    (:func:`jcas.pipeline.experiment.mle_fields`), or of (azimuth, elevation) vs theirs
    (:func:`jcas.pipeline.experiment.mle_planar_fields`)."""
    alloc = experiment.read_job_blocks(allocs).sel("scheme", [scheme])
    alloc = alloc.isel("drop", alloc["drop"] < int(n_drops))
    compute = experiment.mle_planar_fields if planar else experiment.mle_fields
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
    _write(ds, output, params, f"{what} at {experiment.Point(**point).key}")


def run_aggregate(
    inputs: Sequence[str],
    output: str,
    *,
    name: str,
    config: Mapping[str, Any],
    point_keys: Mapping[str, str] | Sequence[str],
) -> None:
    """Job ``aggregate``: combine the per-job files of experiment ``name``.

    ``inputs`` are paths whose parent directories name the job key (grid point and
    precoder: ``.../<job key>/<family>/<block>.nc``, see ``workflow/rules/common.smk``);
    ``point_keys`` maps each job key of the plan to its point key (a list: job key =
    point key).
    """
    plan = experiment.plan(config, name)
    keys = dict(point_keys) if isinstance(point_keys, Mapping) else {k: k for k in point_keys}
    by_key: dict[str, list[xr.Dataset]] = {}
    for path in inputs:
        key = next(part for part in Path(path).parts if part in keys)
        by_key.setdefault(keys[key], []).append(experiment.read(path))
    t0 = time.perf_counter()
    ds = experiment.aggregate(plan, [(values, by_key[p.key]) for values, p in plan.points])
    _compute_time(time.perf_counter() - t0)
    experiment.write(ds, output, config=config, title=plan.title or name)
    log.info(
        "%s: %d of %d entries failed", name, ds.attrs["failed_entries"], ds.attrs["total_entries"]
    )


def run_figure(data: str, pdf: str, png: str, *, plot: str) -> None:
    """Job ``figure``: ``jcas.report.plots.<plot>`` of an experiment dataset as PDF and PNG."""
    _compute_time(experiment.draw_figure(experiment.read(data), plot, pdf, png))


def run_claims(inputs: Mapping[str, str], output: str) -> None:
    """Job ``claims``: the paper-claims table from the experiments named by figure kind."""
    datasets = {kind: experiment.read(path) for kind, path in inputs.items()}
    _compute_time(experiment.write_claims(datasets, output))


def run_sca_audit(
    output: str,
    *,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    seed: int,
    start: int,
    stop: int,
    options: Mapping[str, Any],
) -> None:
    """Job ``sca_audit``: :func:`jcas.pipeline.experiment.sca_audit_fields` of one grid point and
    precoder on the held-out drops ``start .. stop-1``."""
    ds = experiment.sca_audit_fields(system, point, seed, start, stop, options)
    params = {
        "system": dict(system),
        "point": dict(point),
        "seed": seed,
        "start": start,
        "stop": stop,
        "options": dict(options),
    }
    key = experiment.Point(**point).key
    _write(ds, output, params, f"sca audit at {key} ({system.get('precoder', 'mrt')})")
    for i, name in enumerate(ds["variant"].tolist()):  # (variant, drop) variables
        names, counts = np.unique(ds["status"][i], return_counts=True)
        log.info(
            "%s: median gap %.2e, status counts %s",
            name,
            float(np.nanmedian(ds["gap"][i])),
            dict(zip(names.tolist(), counts.tolist(), strict=True)),
        )
