"""Rate-CRB trade-offs where CRB0 binds: the frontier per Nt and per precoder.

- ``pareto``: mean sum rate against mean CRB over the CRB0 sweep, a line style per Nt, a
  colour and marker per scheme; ``optimal`` traces the exact frontier.
- ``precoder_frontier``: the frontier per precoder (the exact optimum as lines, ``sca`` as
  dots on them) and the share of the transmit power on the sensing beam vs CRB0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import xarray as xr

from jcas.io.stats import drop_mean
from jcas.report.figures import DOUBLE_COLUMN, SINGLE_COLUMN, Drawing, figure
from jcas.report.figures.common import (
    LABEL_SUM_RATE,
    Table,
    coincide_sentence,
    precoder_name,
    reduce_to,
    scheme_name,
    setup_sentence,
    status_sentence,
    values,
    variants_sentence,
)
from jcas.report.figures.common import (
    precoders as precoder_axis,
)
from jcas.report.figures.common import (
    schemes as scheme_axis,
)
from jcas.report.figures.style import Look, facets, handle, log_axis, place_legend, plot_series
from jcas.report.figures.sweeps import LINESTYLES, _antennas, precoder_look, scheme_look

LABEL_MEAN_CRB = "mean CRB of $\\theta$ (rad$^2$)"
LABEL_CRB0 = "CRB$_0$ (rad$^2$)"


def _frontier(b: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points in CRB order, duplicates (a fixed split repeated over CRB0) once."""
    pts = pd.DataFrame({"x": b, "y": r}).dropna().drop_duplicates().sort_values("x")
    return pts["x"].to_numpy(), pts["y"].to_numpy()


def _crb0_text(ds: xr.Dataset) -> str:
    c = np.asarray(ds["crb0"].values, dtype=float)
    return f"CRB0 from {c.min():g} to {c.max():g} rad² ({c.size} values)"


@figure("pareto", title="Rate-CRB frontier", width=SINGLE_COLUMN, height=3.6)
def pareto(ds: xr.Dataset) -> Drawing:
    """Mean sum rate vs mean CRB over the ``crb0`` sweep (log x): a line per (scheme, Nt) in
    CRB order, ``optimal`` being the exact frontier (gid ``frontier:<Nt>``), the others
    ``points:<scheme>:<Nt>``. Infeasible CRB0 values (no allocation) are not drawn."""
    ds = reduce_to(ds, ("Nt", "crb0", "scheme", "drop", "user"))
    nts = ds["Nt"].values.tolist() if "Nt" in ds.dims else [None]
    have = scheme_axis(ds)
    rate, _, _ = drop_mean(ds, "sum_rate")
    crb, _, _ = drop_mean(ds, "crb")
    fig, axes = facets(pd.DataFrame({"panel": ["frontier"]}), width=SINGLE_COLUMN, height=3.6)
    ax = axes[("", "frontier")]
    ax.set_title("")
    table = Table()
    for j, nt in enumerate(nts):
        tag = f", {_antennas(ds, nt)}" if nt is not None else ""
        for s in have:
            b, r = _frontier(values(crb, Nt=nt, scheme=s), values(rate, Nt=nt, scheme=s))
            look = scheme_look(s, have).but(linestyle=LINESTYLES[j % len(LINESTYLES)])
            if s != "optimal":
                look = look.but(linewidth=0.8, alpha=0.9)
            rows = table.add("frontier", f"{scheme_name(s)}{tag}", b, r,
                             x_quantity=LABEL_MEAN_CRB, y_quantity=LABEL_SUM_RATE)  # fmt: skip
            plot_series(ax, rows, look,
                        gid=f"frontier:{nt}" if s == "optimal" else f"points:{s}:{nt}")  # fmt: skip
    log_axis(ax, "x")
    ax.set_xlabel(LABEL_MEAN_CRB)
    ax.set_ylabel(LABEL_SUM_RATE)
    entries = [(scheme_name(s), handle(scheme_look(s, have))) for s in have]
    if len(nts) > 1:
        entries += [
            (_antennas(ds, nt), handle(Look(color="0.2", linestyle=LINESTYLES[j % 4])))
            for j, nt in enumerate(nts)
        ]
    place_legend(fig, entries, ax=ax, ncols=2)
    data = table.frame()
    caption = (
        "Rate-CRB frontier: each point is one CRB0 of the sweep, the mean sum rate against the "
        "mean CRB (16) over the drops that have an allocation; the optimal scheme traces the "
        f"exact frontier; one line style per antenna count. Sweep: {_crb0_text(ds)}. A scheme "
        "with a fixed power split (equal & full power) has the same point at every CRB0.",
        setup_sentence(ds, skip=("crb0",)),
        variants_sentence(ds),
        coincide_sentence(data),
        status_sentence(ds),
    )
    return Drawing(fig, data, caption)


@figure("precoder_frontier", title="Rate-CRB frontier per precoder", width=DOUBLE_COLUMN,
        height=2.9)  # fmt: skip
def precoder_frontier(ds: xr.Dataset) -> Drawing:
    """The frontier per precoder over the CRB0 sweep and the sensing share of the power.

    Left: mean sum rate vs mean CRB, the exact optimum as a line per precoder (gid
    ``frontier:<precoder>:<Nt>``), ``sca`` as dots (``points:<precoder>:<Nt>``). Right: the
    mean share ``power_sensing / power_total`` of the optimum vs CRB0
    (``sensing:<precoder>:<Nt>``). Infeasible CRB0 values are not drawn.
    """
    ds = reduce_to(ds, ("Nt", "crb0", "precoder", "scheme", "drop", "user"))
    pres = precoder_axis(ds)
    nts = ds["Nt"].values.tolist() if "Nt" in ds.dims else [None]
    have = scheme_axis(ds)
    drawn = [s for s in have if s in ("optimal", "sca")] or have
    line_scheme = "optimal" if "optimal" in drawn else drawn[0]
    rate, _, _ = drop_mean(ds, "sum_rate")
    crb, _, _ = drop_mean(ds, "crb")
    share_mean, _, _ = drop_mean(ds.assign(share=ds["power_sensing"] / ds["power_total"]), "share")
    crb0 = ds["crb0"].values
    panels = ["rate-CRB frontier", "power on the sensing beam"]
    fig, axes = facets(pd.DataFrame({"panel": panels}), width=DOUBLE_COLUMN, height=2.9)
    left, right = axes[("", panels[0])], axes[("", panels[1])]
    table = Table()
    for j, nt in enumerate(nts):
        tag = f", {_antennas(ds, nt)}" if nt is not None and len(nts) > 1 else ""
        for p in pres:
            base = precoder_look(p, pres)
            if len(nts) > 1:
                base = base.but(linestyle=LINESTYLES[j % len(LINESTYLES)])
            for s in drawn:
                look = base if s == line_scheme else base.but(
                    marker=".", open=False, linestyle="none", markersize=3.5, zorder=3)  # fmt: skip
                b, r = _frontier(values(crb, precoder=p, scheme=s, Nt=nt),
                                 values(rate, precoder=p, scheme=s, Nt=nt))  # fmt: skip
                name = f"{precoder_name(p)}, {scheme_name(s)}{tag}"
                rows = table.add(panels[0], name, b, r, x_quantity=LABEL_MEAN_CRB,
                                 y_quantity=LABEL_SUM_RATE)  # fmt: skip
                gid = f"frontier:{p}:{nt}" if s == line_scheme else f"points:{p}:{nt}"
                plot_series(left, rows, look, gid=gid)
            rows = table.add(
                panels[1], f"{precoder_name(p)}{tag}", crb0,
                values(share_mean, precoder=p, scheme=line_scheme, Nt=nt),
                x_quantity=LABEL_CRB0, y_quantity="sensing share of the transmit power",
            )  # fmt: skip
            plot_series(right, rows, base, gid=f"sensing:{p}:{nt}")
    for ax in (left, right):
        log_axis(ax, "x")
    left.set_xlabel(LABEL_MEAN_CRB)
    left.set_ylabel(LABEL_SUM_RATE)
    right.set_xlabel(LABEL_CRB0)
    right.set_ylabel("sensing share of $P_t$")
    entries: list[tuple[str, Any]] = [
        (precoder_name(p), handle(precoder_look(p, pres))) for p in pres
    ]
    if len(drawn) > 1:
        entries.append((f"{scheme_name(line_scheme)} (lines)", handle(Look(color="0.2"))))
        entries += [
            (f"{scheme_name(s)} (dots)",
             handle(Look(color="0.2", marker=".", linestyle="none", markersize=5)))
            for s in drawn if s != line_scheme
        ]  # fmt: skip
    place_legend(fig, entries)
    data = table.frame()
    caption = (
        f"Rate-CRB frontier per precoder over the CRB0 sweep ({_crb0_text(ds)}): left, the "
        f"mean sum rate against the mean CRB (16) of {scheme_name(line_scheme)} (lines)"
        + (
            " and " + ", ".join(scheme_name(s) for s in drawn if s != line_scheme) + " (dots)"
            if len(drawn) > 1
            else ""
        )
        + f"; right, the mean share of the transmit power on the sensing beam of "
        f"{scheme_name(line_scheme)} vs CRB0. Where CRB0 binds the mean CRB equals CRB0.",
        setup_sentence(ds, skip=("crb0",)),
        variants_sentence(ds, drawn),
        coincide_sentence(data),
        status_sentence(ds, what="(point, precoder, scheme, drop)"),
    )
    return Drawing(fig, data, caption)
