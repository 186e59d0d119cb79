"""Sweeps of the sum rate and the CRB: the paper's Figs. 1-3 and the precoders compared.

- ``fig1``: sum rate vs SNR_com, a panel per Nt; closed form (15) as lines, Monte-Carlo (14)
  as dots with error bars of one standard error across drops.
- ``fig2``: sum rate and CRB (16) vs SNR_com, stacked; line style per Nt; CRB0 dotted.
- ``fig3``: sum rate and CRB vs N with Nt = Nr = N/2, stacked.
- ``precoders``: sum rate vs SNR_com (largest N), vs N (SNR_com nearest 20 dB) and the
  distribution over drops (ECDF) of the per-drop sum rate at both; one colour per precoder,
  the exact optimum as lines with open markers, ``sca`` as dots on them.

Scheme and precoder labels are their parts' :attr:`~jcas.parts.registry.Part.label`; the
algorithm variants, the setup and the entry counts are in the caption.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import seaborn as sns  # type: ignore[import-untyped]
import xarray as xr

from jcas.io.stats import drop_mean, success_mask
from jcas.parts.registry import PRECODERS, SCHEMES_REGISTRY
from jcas.report.figures import DOUBLE_COLUMN, SINGLE_COLUMN, Drawing, figure
from jcas.report.figures.common import (
    LABEL_CRB,
    LABEL_SNR_COM,
    LABEL_SUM_RATE,
    Table,
    coincide_sentence,
    crb0_values,
    level_index,
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
from jcas.report.figures.style import (
    MARKERS,
    Look,
    colour,
    facets,
    handle,
    log_axis,
    place_legend,
    plot_series,
)

LINESTYLES: Final = ("-", "--", ":", "-.")
REFERENCE: Final = Look(color=(0.2, 0.2, 0.2), linestyle=":", linewidth=1.0, zorder=1.0)
"""How CRB0 is drawn."""


def scheme_look(name: str, have: list[str]) -> Look:
    """Colour and open marker of a scheme from its place in the registry (markers grow with
    the place, so coinciding schemes stay visible one around the other)."""
    i = level_index(SCHEMES_REGISTRY, name, have)
    return Look(color=colour(i), marker=MARKERS[i % len(MARKERS)], open=True,
                markersize=4.0 + 0.9 * i)  # fmt: skip


def precoder_look(name: str, have: list[str]) -> Look:
    """Colour, open marker and line style of a precoder from its place in the registry; the
    line is wider the earlier the precoder is drawn, so a later one that coincides with it
    leaves it visible on both sides."""
    i = level_index(PRECODERS, name, have)
    wider = 0.45 * (len(have) - 1 - have.index(name)) if name in have else 0.0
    return Look(color=colour(i), marker=MARKERS[i % len(MARKERS)], open=True,
                markersize=4.0 + 0.9 * i, linestyle=LINESTYLES[i % len(LINESTYLES)],
                linewidth=1.1 + wider)  # fmt: skip


def _reference(ax: Any, table: Table, panel: str, y: float, x_quantity: str) -> None:
    table.add(panel, "CRB0", [np.nan], [y], x_quantity=x_quantity, y_quantity=LABEL_CRB)
    ax.axhline(y, gid="reference:CRB0", **{k: v for k, v in REFERENCE.kwargs().items()
                                           if k not in ("marker",)})  # fmt: skip


def _antennas(ds: xr.Dataset, nt: Any) -> str:
    sub = ds.sel({"Nt": nt})
    nr = int(sub["Nr"]) if "Nr" in sub.coords and sub["Nr"].size == 1 else None
    if nr == int(nt):
        return f"$N_t = N_r$ = {int(nt)}"
    return f"$N_t$ = {int(nt)}" + (f", $N_r$ = {nr}" if nr is not None else "")


@figure("fig1", title="Sum rate vs SNR$_\\mathrm{com}$", width=DOUBLE_COLUMN, height=2.75)
def fig1(ds: xr.Dataset) -> Drawing:
    """Sum rate vs SNR_com (paper Fig. 1): a panel per Nt, a colour and marker per scheme.

    Lines (open markers): the closed form (15), mean over the successful drops
    (gid ``closed_form:<scheme>``). Dots with error bars: Monte-Carlo (14) ``sum_rate_mc``,
    mean and standard error across drops (gid ``monte_carlo:<scheme>``).
    """
    ds = reduce_to(ds, ("Nt", "snr_com_db", "scheme", "drop", "user"))
    nts = ds["Nt"].values.tolist() if "Nt" in ds.dims else [None]
    have = scheme_axis(ds)
    cf, _, _ = drop_mean(ds, "sum_rate")
    has_mc = "sum_rate_mc" in ds
    if has_mc:
        mc, mc_se, _ = drop_mean(ds, "sum_rate_mc")
    x = ds["snr_com_db"].values
    panels = [_antennas(ds, nt) if nt is not None else "" for nt in nts]
    table = Table()
    fig, axes = facets(pd.DataFrame({"panel": panels}), width=DOUBLE_COLUMN, height=2.75)
    for nt, panel in zip(nts, panels, strict=True):
        ax = axes[("", panel)]
        for s in have:
            look = scheme_look(s, have)
            rows = table.add(
                panel, f"{scheme_name(s)}, closed form", x, values(cf, Nt=nt, scheme=s),
                x_quantity=LABEL_SNR_COM, y_quantity=LABEL_SUM_RATE,
            )  # fmt: skip
            plot_series(ax, rows, look, gid=f"closed_form:{s}")
            if has_mc:
                rows = table.add(
                    panel, f"{scheme_name(s)}, Monte-Carlo", x, values(mc, Nt=nt, scheme=s),
                    y_err=values(mc_se, Nt=nt, scheme=s), x_quantity=LABEL_SNR_COM,
                    y_quantity=LABEL_SUM_RATE,
                )  # fmt: skip
                dot = look.but(marker=".", open=False, linestyle="none", markersize=3.5, zorder=3)
                plot_series(ax, rows, dot, gid=f"monte_carlo:{s}")
        ax.set_xlabel(LABEL_SNR_COM)
    axes[("", panels[0])].set_ylabel(LABEL_SUM_RATE)
    entries = [(scheme_name(s), handle(scheme_look(s, have))) for s in have]
    entries.append(("closed form (15)", handle(Look(color="0.2"))))
    if has_mc:
        dots = Look(color="0.2", marker=".", linestyle="none", markersize=5)
        entries.append(("Monte-Carlo (14) ± 1 SE", handle(dots)))
    place_legend(fig, entries)
    data = table.frame()
    caption = (
        "Sum rate vs SNR_com, one panel per antenna count: lines with open markers are the "
        "closed form (15), dots with error bars the Monte-Carlo bound (14), means over the user "
        "drops with one standard error across drops.",
        setup_sentence(ds),
        "Monte-Carlo: " + _mc_text(ds) if has_mc else "",
        variants_sentence(ds),
        coincide_sentence(data[data["series"].str.endswith("closed form")]),
        status_sentence(ds),
    )
    return Drawing(fig, data, caption)


def _mc_text(ds: xr.Dataset) -> str:
    from jcas.io.provenance import dataset_config

    mc = dataset_config(ds).get("mc", {})
    n = mc.get("realizations") if isinstance(mc, dict) else None
    return f"{n} fading realizations per drop." if n else "small-scale fading realizations."


def _stacked(
    ds: xr.Dataset, *, xdim: str, xlabel: str, lines: list[tuple[Any, str, str]], height: float
) -> tuple[Any, Table, dict[str, Any]]:
    """Sum rate over CRB (stacked, shared x) for each (Nt or None, line style, tag)."""
    have = scheme_axis(ds)
    rate, _, _ = drop_mean(ds, "sum_rate")
    crb, _, _ = drop_mean(ds, "crb")
    x = ds[xdim].values
    panels = ["sum rate", "CRB"]
    fig, axes = facets(
        pd.DataFrame({"panel": panels}), width=SINGLE_COLUMN, height=height, col=None,
        row="panel", sharex=True,
    )  # fmt: skip
    top, bottom = axes[("sum rate", "")], axes[("CRB", "")]
    table = Table()
    for nt, ls, tag in lines:
        for s in have:
            look = scheme_look(s, have).but(linestyle=ls)
            name = f"{scheme_name(s)}{tag}"
            r = table.add("sum rate", name, x, values(rate, Nt=nt, scheme=s),
                          x_quantity=xlabel, y_quantity=LABEL_SUM_RATE)  # fmt: skip
            plot_series(top, r, look, gid=f"rate:{s}:{nt}" if nt is not None else f"rate:{s}")
            b = table.add("CRB", name, x, values(crb, Nt=nt, scheme=s),
                          x_quantity=xlabel, y_quantity=LABEL_CRB)  # fmt: skip
            plot_series(bottom, b, look, gid=f"crb:{s}:{nt}" if nt is not None else f"crb:{s}")
    for c in crb0_values(ds):
        _reference(bottom, table, "CRB", c, xlabel)
    top.set_ylabel(LABEL_SUM_RATE)
    bottom.set_ylabel(LABEL_CRB)
    log_axis(bottom, "y")
    bottom.set_xlabel(xlabel)
    for ax in (top, bottom):
        ax.set_title("")
    entries = [(scheme_name(s), handle(scheme_look(s, have).but(linestyle="-"))) for s in have]
    if len(lines) > 1:
        entries += [
            (tag.lstrip(", "), handle(Look(color="0.2", linestyle=ls))) for _, ls, tag in lines
        ]
    if crb0_values(ds):
        entries.append(("CRB$_0$", handle(REFERENCE)))
    place_legend(fig, entries, ncols=2)
    return fig, table, {"top": top, "bottom": bottom}


@figure("fig2", title="Sum rate and CRB vs SNR$_\\mathrm{com}$", width=SINGLE_COLUMN, height=4.6)
def fig2(ds: xr.Dataset) -> Drawing:
    """Sum rate (top) and CRB (16) (bottom, log) vs SNR_com (paper Fig. 2); a colour and marker
    per scheme, a line style per Nt, CRB0 dotted (gids ``rate:<scheme>:<Nt>``,
    ``crb:<scheme>:<Nt>``, ``reference:CRB0``).

    The paper's third panel, sum rate against CRB over SNR_com, is not drawn: at a fixed
    SNR_sen the CRB does not change with SNR_com (a vertical line per scheme); the
    trade-off is the ``pareto`` figure, where CRB0 is swept over its binding range.
    """
    ds = reduce_to(ds, ("Nt", "snr_com_db", "scheme", "drop", "user"))
    nts = ds["Nt"].values.tolist() if "Nt" in ds.dims else [None]
    lines = [
        (nt, LINESTYLES[j % len(LINESTYLES)], f", {_antennas(ds, nt)}" if nt is not None else "")
        for j, nt in enumerate(nts)
    ]
    fig, table, _ = _stacked(ds, xdim="snr_com_db", xlabel=LABEL_SNR_COM, lines=lines, height=4.6)
    data = table.frame()
    caption = (
        "Sum rate (top) and CRB (16) of the target angle (bottom) vs SNR_com, means over the "
        "user drops; one line style per antenna count, the dotted line is CRB0.",
        _flat_crb_sentence(data),
        setup_sentence(ds),
        variants_sentence(ds),
        coincide_sentence(data),
        status_sentence(ds),
    )
    return Drawing(fig, data, caption)


def _flat_crb_sentence(data: pd.DataFrame) -> str:
    crb = data[(data["panel"] == "CRB") & (data["series"] != "CRB0")]
    spread = crb.groupby("series")["y"].agg(lambda v: float(np.nanmax(v) / np.nanmin(v) - 1))
    if len(spread) and float(spread.max()) < 1e-3:
        return (
            "At this SNR_sen the CRB does not change with SNR_com (relative spread below "
            f"{max(float(spread.max()), 1e-16):.0e}), so a rate-CRB plot over SNR_com would be a "
            "vertical line per scheme: the trade-off is the pareto figure (CRB0 swept)."
        )
    return ""


@figure("fig3", title="Sum rate and CRB vs N", width=SINGLE_COLUMN, height=4.4)
def fig3(ds: xr.Dataset, *, dim: str | None = None) -> Drawing:
    """Sum rate (top) and CRB (bottom, log) vs the antennas N with Nt = Nr = N/2 (paper
    Fig. 3); ``dim`` is the swept dimension (default ``N`` if present, else ``Nt``).
    Gids ``rate:<scheme>``, ``crb:<scheme>``."""
    if dim is None:
        dim = "N" if "N" in ds.dims else "Nt"
    ds = reduce_to(ds, (dim, "scheme", "drop", "user"))
    xlabel = {"N": "antennas $N = N_t + N_r$", "Nt": "transmit antennas $N_t$"}.get(dim, dim)
    fig, table, _ = _stacked(ds, xdim=dim, xlabel=xlabel, lines=[(None, "-", "")], height=4.4)
    data = table.frame()
    caption = (
        "Sum rate (top) and CRB (16) (bottom) vs the number of antennas N, Nt = Nr = N/2, "
        "means over the user drops; the dotted line is CRB0 (it binds where a curve meets it).",
        setup_sentence(ds, skip=("Nt", "Nr")),
        variants_sentence(ds),
        coincide_sentence(data),
        status_sentence(ds),
    )
    return Drawing(fig, data, caption)


@figure("precoders", title="Precoders compared", width=DOUBLE_COLUMN, height=2.75)
def precoders(ds: xr.Dataset) -> Drawing:
    """The precoders under the exact optimum (lines, open markers) and ``sca`` (dots).

    Panels: sum rate vs SNR_com at the largest N (gid ``rate:<precoder>:<scheme>``); sum rate
    vs N at the SNR_com nearest 20 dB (``rate_n:<precoder>:<scheme>``); the ECDF over the
    drops of the per-drop sum rate of the optimum at that N and SNR_com (``ecdf:<precoder>``).
    Of the schemes, ``optimal`` and ``sca`` are drawn when present (else all).
    """
    ds = reduce_to(ds, ("N", "snr_com_db", "precoder", "scheme", "drop", "user"))
    pres = precoder_axis(ds)
    have = scheme_axis(ds)
    drawn = [s for s in have if s in ("optimal", "sca")] or have
    line_scheme = "optimal" if "optimal" in drawn else drawn[0]
    rate, _, _ = drop_mean(ds, "sum_rate")
    ns = [int(n) for n in ds["N"].values] if "N" in ds.dims else []
    n_top = ns[-1] if ns else None
    snr = ds["snr_com_db"].values
    snr_ref = float(snr[np.argmin(np.abs(snr - 20.0))])
    at_n = f"N = {n_top}" if n_top is not None else "sum rate"
    at_snr = f"SNR$_\\mathrm{{com}}$ = {snr_ref:g} dB"
    panels = [at_n, at_snr, f"{at_n}, {at_snr}"]
    fig, axes = facets(pd.DataFrame({"panel": panels}), width=DOUBLE_COLUMN, height=2.75)
    table = Table()
    xn = "antennas $N = N_t + N_r$"
    for p in pres:
        base = precoder_look(p, pres)
        for s in drawn:
            look = base if s == line_scheme else base.but(
                marker=".", open=False, linestyle="none", markersize=3.5, zorder=3)  # fmt: skip
            name = f"{precoder_name(p)}, {scheme_name(s)}"
            r = table.add(panels[0], name, snr, values(rate, precoder=p, scheme=s, N=n_top),
                          x_quantity=LABEL_SNR_COM, y_quantity=LABEL_SUM_RATE)  # fmt: skip
            plot_series(axes[("", panels[0])], r, look, gid=f"rate:{p}:{s}")
            if ns:
                r = table.add(panels[1], name, ns,
                              values(rate, precoder=p, scheme=s, snr_com_db=snr_ref),
                              x_quantity=xn, y_quantity=LABEL_SUM_RATE)  # fmt: skip
                plot_series(axes[("", panels[1])], r, look, gid=f"rate_n:{p}:{s}")
    # distribution over drops of the line scheme's per-drop sum rate
    ok = success_mask(ds)
    per_drop = ds["sum_rate"].where(ok)
    ecdf_ax = axes[("", panels[2])]
    for p in pres:
        v = values(per_drop, precoder=p, scheme=line_scheme, N=n_top, snr_com_db=snr_ref)
        v = np.sort(v[np.isfinite(v)])
        look = precoder_look(p, pres)
        sns.ecdfplot(x=v, ax=ecdf_ax, color=look.color, linestyle=look.linestyle,
                     linewidth=look.linewidth, gid=f"ecdf:{p}")  # fmt: skip
        table.add(panels[2], precoder_name(p), v, np.arange(1, v.size + 1) / max(v.size, 1),
                  x_quantity=LABEL_SUM_RATE, y_quantity="fraction of drops")  # fmt: skip
    axes[("", panels[0])].set_xlabel(LABEL_SNR_COM)
    axes[("", panels[0])].set_ylabel(LABEL_SUM_RATE)
    axes[("", panels[1])].set_xlabel(xn)
    ecdf_ax.set_xlabel(LABEL_SUM_RATE + " per drop")
    ecdf_ax.set_ylabel("fraction of drops")
    entries = [(precoder_name(p), handle(precoder_look(p, pres))) for p in pres]
    if len(drawn) > 1:
        entries.append((f"{scheme_name(line_scheme)} (lines)", handle(Look(color="0.2"))))
        for s in drawn:
            if s != line_scheme:
                entries.append((f"{scheme_name(s)} (dots)", handle(
                    Look(color="0.2", marker=".", linestyle="none", markersize=5))))  # fmt: skip
    place_legend(fig, entries)
    data = table.frame()
    crb_text = _crb_text(ds, pres, line_scheme)
    caption = (
        f"Precoders under the {scheme_name(line_scheme)} allocation (lines with open markers)"
        + (
            " and " + ", ".join(scheme_name(s) for s in drawn if s != line_scheme) + " (dots)"
            if len(drawn) > 1
            else ""
        )
        + f": mean sum rate vs SNR_com at N = {n_top} (Nt = Nr = N/2), vs N at SNR_com = "
        f"{snr_ref:g} dB, and the distribution over the user drops of the per-drop sum rate at "
        f"N = {n_top}, SNR_com = {snr_ref:g} dB (empirical CDF).",
        crb_text,
        setup_sentence(ds, skip=("Nt", "Nr", "snr_com_db")),
        variants_sentence(ds, drawn),
        coincide_sentence(data),
        status_sentence(ds, what="(point, precoder, scheme, drop)"),
    )
    return Drawing(fig, data, caption)


def _crb_text(ds: xr.Dataset, pres: list[str], scheme: str) -> str:
    """The CRB where it is the same for every precoder and SNR_com (else a range)."""
    crb, _, _ = drop_mean(ds, "crb")
    if "N" not in crb.dims:
        return ""
    parts = []
    for n in ds["N"].values:
        v = np.concatenate([values(crb, precoder=p, scheme=scheme, N=n).ravel() for p in pres])
        v = v[np.isfinite(v)]
        if v.size == 0:
            continue
        lo, hi = float(v.min()), float(v.max())
        parts.append(f"{lo:.3g}" if hi / lo - 1 < 1e-3 else f"{lo:.3g}-{hi:.3g}")
        parts[-1] = f"N = {int(n)}: {parts[-1]}"
    return (
        f"CRB (16) of {scheme_name(scheme)}, the same for every precoder and SNR_com where one "
        f"value is given (rad²): {'; '.join(parts)}."
    )
