"""Job ``figure``: one experiment's figure as PDF and PNG (:mod:`jcas.report.plots`)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator

from jcas.io.results import read_netcdf
from jcas.pipeline.jobs import compute_time

__all__ = ["run"]


@contextlib.contextmanager
def seaborn_without_scipy_stats() -> Iterator[None]:
    """Import seaborn on its no-SciPy path for the statistics, in a process that has not
    imported seaborn or ``scipy.stats`` yet.

    seaborn imports ``scipy.stats`` when it is imported, for ``gaussian_kde`` only (and falls
    back to its own copy of it when SciPy is missing, a configuration it supports). No figure
    draws a kernel density estimate, and the import costs about 0.7 s, a fifth of a figure
    job. Inside the block ``scipy.stats`` cannot be imported; afterwards it can again (the
    next import loads it). Elsewhere (a notebook, the tests) nothing changes.
    """
    if "seaborn" in sys.modules or "scipy.stats" in sys.modules:
        yield
        return
    sys.modules["scipy.stats"] = None  # type: ignore[assignment]  # import -> ImportError
    try:
        yield
    finally:
        if "scipy.stats" in sys.modules and sys.modules["scipy.stats"] is None:
            del sys.modules["scipy.stats"]


def run(data: str, pdf: str, png: str, *, plot: str) -> None:
    """Draw ``jcas.report.plots.<plot>`` from the experiment dataset ``data`` and save it as
    PDF and PNG (matplotlib and seaborn imported before the clock, seaborn without
    ``scipy.stats``: :func:`seaborn_without_scipy_stats`)."""
    with seaborn_without_scipy_stats():
        from jcas.report import plots
        from jcas.report.figures import style  # noqa: F401  (imports seaborn)

    ds = read_netcdf(data)
    t0 = time.perf_counter()
    plots.save_figure(getattr(plots, plot)(ds), pdf, png)
    compute_time(time.perf_counter() - t0)
