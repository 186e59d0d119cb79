"""Job ``figure``: one experiment's figure as PDF and PNG (:mod:`jcas.report.plots`)."""

from __future__ import annotations

import time

from jcas.io.results import read_netcdf
from jcas.pipeline.jobs import compute_time

__all__ = ["run"]


def run(data: str, pdf: str, png: str, *, plot: str) -> None:
    """Draw ``jcas.report.plots.<plot>`` from the experiment dataset ``data`` and save it as
    PDF and PNG (matplotlib imported before the clock)."""
    from jcas.report import plots

    ds = read_netcdf(data)
    t0 = time.perf_counter()
    plots.save_figure(getattr(plots, plot)(ds), pdf, png)
    compute_time(time.perf_counter() - t0)
