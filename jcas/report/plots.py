"""The figures by name: the stable import path of the pipeline and of notebooks.

Each function draws one registered figure of :mod:`jcas.report.figures` (where the figures
live, one module per family) from an experiment dataset (``docs/data.md``) and returns the
matplotlib figure at its print size; :func:`save_figure` writes its PDF and PNG and, beside
them, the tidy CSV of the plotted points and the caption text
(:func:`jcas.report.figures.save`). ``tests/report`` checks that the functions here are
exactly the registered figures.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import xarray as xr
from matplotlib.figure import Figure

from jcas.report.figures import render, rendered, save
from jcas.report.figures.common import failure_note

__all__ = [
    "caption",
    "channels_n",
    "channels_spread",
    "crb_map",
    "crb_mc",
    "crb_mc_precoders",
    "energy_efficiency",
    "failure_note",
    "fairness",
    "fig1",
    "fig2",
    "fig3",
    "mle_planar",
    "pareto",
    "precoder_frontier",
    "precoders",
    "save_figure",
    "sca_audit",
    "sensing_frontier",
    "ula_vs_upa",
]


def _figure(name: str, ds: xr.Dataset) -> Figure:
    return render(name, ds).figure


def caption(fig: Figure) -> str:
    """The caption of a figure drawn here (setup, variants, entry counts)."""
    out = rendered(fig)
    if out is None:
        raise ValueError("not a figure drawn by jcas.report.plots / jcas.report.figures.render")
    return out.caption


def sca_audit(ds: xr.Dataset) -> Figure:
    """SCA variants vs the exact optimum (7.16 x 4.6 in).

    Drawn by :func:`jcas.report.figures.audit.sca_audit`.
    """
    return _figure("sca_audit", ds)


def crb_mc(ds: xr.Dataset) -> Figure:
    """ML angle estimate vs the CRB (3.5 x 3.6 in).

    Drawn by :func:`jcas.report.figures.mle.crb_mc`.
    """
    return _figure("crb_mc", ds)


def crb_mc_precoders(ds: xr.Dataset) -> Figure:
    """ML angle estimate vs the CRB per precoder (7.16 x 2.9 in).

    Drawn by :func:`jcas.report.figures.mle.crb_mc_precoders`.
    """
    return _figure("crb_mc_precoders", ds)


def mle_planar(ds: xr.Dataset) -> Figure:
    """2-D ML estimate vs the CRBs (3.5 x 3.6 in).

    Drawn by :func:`jcas.report.figures.mle.mle_planar`.
    """
    return _figure("mle_planar", ds)


def ula_vs_upa(ds: xr.Dataset) -> Figure:
    """Array shape: one row vs four (7.16 x 2.9 in).

    Drawn by :func:`jcas.report.figures.planar.ula_vs_upa`.
    """
    return _figure("ula_vs_upa", ds)


def crb_map(ds: xr.Dataset) -> Figure:
    """CRB over target directions (7.16 x 3.2 in).

    Drawn by :func:`jcas.report.figures.planar.crb_map`.
    """
    return _figure("crb_map", ds)


def fig1(ds: xr.Dataset) -> Figure:
    """Sum rate vs SNR_com (7.16 x 2.75 in).

    Drawn by :func:`jcas.report.figures.sweeps.fig1`.
    """
    return _figure("fig1", ds)


def fig2(ds: xr.Dataset) -> Figure:
    """Sum rate and CRB vs SNR_com (3.5 x 4.6 in).

    Drawn by :func:`jcas.report.figures.sweeps.fig2`.
    """
    return _figure("fig2", ds)


def fig3(ds: xr.Dataset) -> Figure:
    """Sum rate and CRB vs N (3.5 x 4.4 in).

    Drawn by :func:`jcas.report.figures.sweeps.fig3`.
    """
    return _figure("fig3", ds)


def precoders(ds: xr.Dataset) -> Figure:
    """Precoders compared (7.16 x 2.75 in).

    Drawn by :func:`jcas.report.figures.sweeps.precoders`.
    """
    return _figure("precoders", ds)


def pareto(ds: xr.Dataset) -> Figure:
    """Rate-CRB frontier (3.5 x 3.6 in).

    Drawn by :func:`jcas.report.figures.tradeoff.pareto`.
    """
    return _figure("pareto", ds)


def precoder_frontier(ds: xr.Dataset) -> Figure:
    """Rate-CRB frontier per precoder (7.16 x 2.9 in).

    Drawn by :func:`jcas.report.figures.tradeoff.precoder_frontier`.
    """
    return _figure("precoder_frontier", ds)


def channels_n(ds: xr.Dataset) -> Figure:
    """Sum rate and CRB vs N per channel model and precoder (7.16 x 4.4 in).

    Drawn by :func:`jcas.report.figures.channels.channels_n`.
    """
    return _figure("channels_n", ds)


def channels_spread(ds: xr.Dataset) -> Figure:
    """Sum rate vs the angular spread of local scattering per precoder (3.5 x 3.2 in).

    Drawn by :func:`jcas.report.figures.channels.channels_spread`.
    """
    return _figure("channels_spread", ds)


def fairness(ds: xr.Dataset) -> Figure:
    """Per-user rates: sum rate vs fairness (7.16 x 2.7 in).

    Drawn by :func:`jcas.report.figures.objectives.fairness`.
    """
    return _figure("fairness", ds)


def sensing_frontier(ds: xr.Dataset) -> Figure:
    """Rate-CRB frontiers of the design objectives (7.16 x 2.9 in).

    Drawn by :func:`jcas.report.figures.objectives.sensing_frontier`.
    """
    return _figure("sensing_frontier", ds)


def energy_efficiency(ds: xr.Dataset) -> Figure:
    """Energy efficiency vs antennas and circuit power (7.16 x 2.9 in).

    Drawn by :func:`jcas.report.figures.objectives.energy_efficiency`.
    """
    return _figure("energy_efficiency", ds)


def save_figure(
    fig: Figure,
    pdf_path: str | os.PathLike[str],
    png_path: str | os.PathLike[str],
    *,
    dpi: int = 300,
) -> tuple[Path, Path]:
    """Save a figure drawn here as PDF and PNG, and its CSV and caption beside the PDF
    (``<stem>.csv``, ``<stem>.caption.txt``), each atomically; a figure not drawn here is
    saved as PDF and PNG only. Metadata that changes from run to run is left out."""
    out = rendered(fig)
    if out is not None:
        pdf, png, _, _ = save(out, pdf_path, png_path, dpi=dpi)
        return pdf, png
    from jcas.io.atomic import atomic_write

    paths = []
    for path, fmt, meta in (
        (Path(pdf_path), "pdf", {"CreationDate": None, "Creator": "jcas"}),
        (Path(png_path), "png", {"Software": "jcas"}),
    ):

        def write(tmp: Path, fmt: str = fmt, meta: Any = meta) -> None:
            fig.savefig(tmp, format=fmt, dpi=dpi, metadata=meta)

        paths.append(atomic_write(path, write))
    return paths[0], paths[1]
