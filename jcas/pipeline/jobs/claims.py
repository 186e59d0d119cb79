"""Job ``claims``: the paper's claims next to our numbers, ``results/claims.csv``
(:mod:`jcas.report.claims`)."""

from __future__ import annotations

import time
from collections.abc import Mapping

from jcas.io.results import read_netcdf
from jcas.pipeline.jobs import compute_time

__all__ = ["run"]


def run(inputs: Mapping[str, str], output: str) -> None:
    """The paper-claims table from the experiment datasets named by figure kind (``fig1``,
    ``fig2``, ``fig3``, ``pareto``; missing ones are reported as not evaluated), as CSV."""
    from jcas.report.claims import paper_claims, write_claims_csv

    datasets = {kind: read_netcdf(path) for kind, path in inputs.items()}
    t0 = time.perf_counter()
    write_claims_csv(
        paper_claims(
            fig1=datasets.get("fig1"),
            fig2=datasets.get("fig2"),
            fig3=datasets.get("fig3"),
            pareto=datasets.get("pareto"),
        ),
        output,
    )
    compute_time(time.perf_counter() - t0)
