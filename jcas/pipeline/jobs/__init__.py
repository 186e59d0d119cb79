"""The jobs of the Snakemake sweep: one entry module per rule (:data:`jcas.config.kinds.STAGES`).

Each ``workflow/scripts/<rule>.py`` unpacks the ``snakemake`` object and calls the ``run``
function of its rule's entry module inside :func:`job_log`. An entry reads the job's inputs,
calls its stage (:mod:`jcas.pipeline.stages`, :mod:`jcas.pipeline.aggregate`) and writes
(:func:`finish`). What an entry imports, with the modules of the parts its job runs, is the
job's source set (``docs/pipeline.md``, "What reruns when"): an entry imports only what its
rule runs. The per-point jobs hold their data as :class:`jcas.io.fields.Fields` and never
import xarray or pandas (about 0.3 s a process); the aggregation, figure and claims jobs use
xarray. Every job logs ``compute_time_s = <seconds>`` (the time inside the jcas computations,
without process start-up, imports and file I/O; ``benchmarks/pipeline.py`` sums it) and, at
its end, the jcas modules it ran (``jcas modules: ...``).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from jcas.pipeline import files

__all__ = ["compute_time", "finish", "jcas_modules", "job_log"]

log = logging.getLogger("jcas.job")


def jcas_modules() -> list[str]:
    """The jcas modules imported in this process, sorted."""
    return sorted(m for m in list(sys.modules) if m == "jcas" or m.startswith("jcas."))


@contextlib.contextmanager
def job_log(path: str | Path | None) -> Iterator[None]:
    """Send ``logging``, stdout and stderr of a job to its log file (Snakemake ``log:``); at
    the end, log the jcas modules the job imported (:func:`jcas_modules`)."""
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
            log.info("jcas modules: %s", " ".join(jcas_modules()))
            sys.stdout, sys.stderr = old
            root.removeHandler(handler)


def compute_time(seconds: float) -> None:
    """Log the seconds spent inside the jcas computations (``compute_time_s = ...``)."""
    log.info("compute_time_s = %.6f", seconds)


def finish(ds: Any, output: str, params: Mapping[str, Any], title: str) -> None:
    """Log a per-job dataset's ``compute_time_s`` and write it to ``output`` with the job's
    params as its provenance (:func:`jcas.pipeline.files.write`)."""
    compute_time(float(ds.attrs.get("compute_time_s", 0.0)))
    files.write(ds, output, config=params, title=title)
