"""Estimation against the bound: the ML estimate's RMSE vs sqrt(CRB) over SNR_sen.

- ``crb_mc``: the angle's RMSE (root of the mean MSE over drops, with error bars by the delta
  method, and the median over drops of the per-drop RMSE) against sqrt of the closed-form
  CRB (16) and of the finite-L CRB (36).
- ``crb_mc_precoders``: the same per precoder, and the ratios to the closed form.
- ``mle_planar``: both angles of a planar array (2-D ML estimate).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import xarray as xr

from jcas.io.stats import drop_mean, success_mask
from jcas.report.figures import DOUBLE_COLUMN, SINGLE_COLUMN, Drawing, figure
from jcas.report.figures.common import (
    LABEL_SNR_SEN,
    Table,
    coincide_sentence,
    plain,
    precoder_name,
    reduce_to,
    scheme_name,
    setup_sentence,
    status_sentence,
    values,
)
from jcas.report.figures.common import (
    precoders as precoder_axis,
)
from jcas.report.figures.style import (
    Look,
    colour,
    facets,
    handle,
    log_axis,
    place_legend,
    plot_series,
)
from jcas.report.figures.sweeps import _antennas, precoder_look

LABEL_RMSE = "RMSE of $\\theta$ (rad)"

MEAN = Look(color=colour(0), marker="o", markersize=3.5)
MEDIAN = Look(color=colour(0), marker="o", open=True, linestyle="-.", linewidth=0.9,
              markersize=4.5)  # fmt: skip
CLOSED = Look(color=(0.1, 0.1, 0.1), marker="x", linestyle="--", markersize=4.0, zorder=2.5)
FINITE = Look(color=(0.45, 0.45, 0.45), marker="+", linestyle=":", markersize=5.0, zorder=2.5)
NEUTRAL = (0.35, 0.35, 0.35)
"""The legend colour of a kind of curve drawn in each panel's own colour."""
KINDS = {
    "RMSE of the ML estimate (± 1 SE)": MEAN,
    "median over drops of the RMSE": MEDIAN,
    "$\\sqrt{\\mathrm{CRB}}$, closed form (16)": CLOSED,
    "$\\sqrt{\\mathrm{CRB}}$, finite L (36)": FINITE,
}


def _ok(ds: xr.Dataset) -> xr.DataArray:
    return success_mask(ds) if "status" in ds else ds["mle_mse"].notnull()


def _series(ds: xr.Dataset, ok: xr.DataArray, suffix: str = "") -> dict[str, Any]:
    """sqrt of the mean MSE and its SE (delta method), median RMSE, sqrt mean CRBs."""
    mse, _, n = drop_mean(ds, f"mle_mse{suffix}", mask=ok)
    out: dict[str, Any] = {"mean": np.sqrt(mse)}
    se_name = f"mle_mse_se{suffix}"
    if se_name in ds:
        se_mean = ((ds[se_name].where(ok) ** 2).sum("drop")) ** 0.5 / n
        out["err"] = se_mean / (2 * out["mean"])
    out["median"] = np.sqrt(ds[f"mle_mse{suffix}"].where(ok).median("drop", skipna=True))
    crb, _, _ = drop_mean(ds, f"crb{suffix}", mask=ok)
    out["crb"] = np.sqrt(crb)
    if f"crb_mc{suffix}" in ds:
        cm, _, _ = drop_mean(ds, f"crb_mc{suffix}", mask=ok)
        out["crb_mc"] = np.sqrt(cm)
    return out


def _draw_quartet(ax: Any, table: Table, panel: str, x: np.ndarray,
                  series: dict[str, Any], tag: str, looks: dict[str, Look],
                  gid: str, **idx: Any) -> None:  # fmt: skip
    names = list(KINDS)
    err = values(series["err"], **idx) if "err" in series else None
    for key, name, gname in (("mean", names[0], "mle"), ("median", names[1], "mle_median"),
                             ("crb", names[2], "crb"), ("crb_mc", names[3], "crb_mc")):  # fmt: skip
        if key not in series:
            continue
        rows = table.add(panel, f"{name}{tag}", x, values(series[key], **idx),
                         y_err=err if key == "mean" else None, x_quantity=LABEL_SNR_SEN,
                         y_quantity=LABEL_RMSE)  # fmt: skip
        plot_series(ax, rows, looks[name], gid=f"{gname}{gid}")


@figure("crb_mc", title="ML angle estimate vs the CRB", width=SINGLE_COLUMN, height=3.6)
def crb_mc(ds: xr.Dataset) -> Drawing:
    """RMSE of the ML estimate of theta vs sqrt(CRB) over SNR_sen (log y); one set per Nt if
    swept (gids ``mle``, ``mle_median``, ``crb``, ``crb_mc``, with ``:<Nt>`` when swept)."""
    ds = reduce_to(ds, ("Nt", "snr_sen_db", "drop", "user"))
    nts = ds["Nt"].values.tolist() if "Nt" in ds.dims else [None]
    x = ds["snr_sen_db"].values
    ok = _ok(ds)
    series = _series(ds, ok)
    fig, axes = facets(pd.DataFrame({"panel": ["rmse"]}), width=SINGLE_COLUMN, height=3.6)
    ax = axes[("", "rmse")]
    ax.set_title("")
    table = Table()
    for j, nt in enumerate(nts):
        tag = f", {_antennas(ds, nt)}" if nt is not None and len(nts) > 1 else ""
        looks = {k: (v.but(color=colour(j)) if v.color == MEAN.color else v)
                 for k, v in KINDS.items()}  # fmt: skip
        _draw_quartet(ax, table, "rmse", x, series, tag, looks,
                      f":{nt}" if nt is not None and len(nts) > 1 else "", Nt=nt)  # fmt: skip
    log_axis(ax, "y")
    ax.set_xlabel(LABEL_SNR_SEN)
    ax.set_ylabel(LABEL_RMSE)
    place_legend(fig, [(k, handle(v)) for k, v in KINDS.items() if _present(table, k)], ax=ax)
    data = table.frame()
    caption = (
        "ML estimate of the target angle against the CRB over SNR_sen: the root of the mean "
        "squared error over the drops (error bars: one standard error, delta method), the median "
        "over drops of the per-drop RMSE, and the square roots of the mean closed-form CRB (16) "
        "and of the mean finite-L CRB (36) of the frames sent.",
        _scheme_text(ds),
        setup_sentence(ds, skip=("snr_sen_db", "crb0")),
        _trials_text(ds),
        coincide_sentence(data),
        status_sentence(ds, what="(point, drop)"),
    )
    return Drawing(fig, data, caption)


def _present(table: Table, kind: str) -> bool:
    """Whether a series of ``kind`` (a legend label) is in the table, whose series names are
    plain text (:func:`jcas.report.figures.common.plain`)."""
    frame = table.frame()
    return bool(frame["series"].str.startswith(plain(kind)).any())


def _scheme_text(ds: xr.Dataset) -> str:
    if "scheme" not in ds.coords:
        return ""
    names = [scheme_name(str(s)) for s in np.atleast_1d(ds["scheme"].values)]
    return f"Power allocation of the echo: {', '.join(names)}."


def _trials_text(ds: xr.Dataset, key: str = "mle_trials") -> str:
    from jcas.io.provenance import dataset_config

    mc = dataset_config(ds).get("mc", {})
    n = mc.get(key) if isinstance(mc, dict) else None
    return f"{n} echo realizations (trials) per drop." if n else ""


@figure("crb_mc_precoders", title="ML angle estimate vs the CRB per precoder",
        width=DOUBLE_COLUMN, height=2.9)  # fmt: skip
def crb_mc_precoders(ds: xr.Dataset) -> Drawing:
    """A panel per precoder as :func:`crb_mc` (gids ``mle:<p>``, ``mle_median:<p>``,
    ``crb:<p>``, ``crb_mc:<p>``) and a panel of ratios: the median over drops of
    ``RMSE / sqrt(CRB)`` (``ratio:<p>``) and ``sqrt(mean CRB (36) / mean CRB (16))``
    (``ratio_crb_mc:<p>``), 1 where the closed-form CRB is reached."""
    ds = reduce_to(ds, ("snr_sen_db", "precoder", "drop", "user"))
    pres = precoder_axis(ds)
    x = ds["snr_sen_db"].values
    ok = _ok(ds)
    series = _series(ds, ok)
    ratio = ((ds["mle_mse"].where(ok) / ds["crb"].where(ok)) ** 0.5).median("drop", skipna=True)
    crb, _, _ = drop_mean(ds, "crb", mask=ok)
    cm, _, _ = drop_mean(ds, "crb_mc", mask=ok)
    ratio_panel = "ratio to $\\sqrt{\\mathrm{CRB}}$ (16)"
    panels = [precoder_name(p) for p in pres] + [ratio_panel]
    fig, axes = facets(pd.DataFrame({"panel": panels}), width=DOUBLE_COLUMN, height=2.9)
    table = Table()
    for p in pres:
        ax = axes[("", precoder_name(p))]
        # the estimate's curves in the precoder's colour (that of its ratio), the bounds grey
        c = precoder_look(p, pres).color
        looks = {k: (v.but(color=c) if v.color == MEAN.color else v) for k, v in KINDS.items()}
        _draw_quartet(ax, table, precoder_name(p), x, series, "", looks, f":{p}", precoder=p)
        log_axis(ax, "y")
        ax.set_xlabel(LABEL_SNR_SEN)
    lim = [ax.get_ylim() for (_, c), ax in axes.items() if c != ratio_panel]
    for (_, c), ax in axes.items():
        if c != ratio_panel:
            ax.set_ylim(min(a for a, _ in lim), max(b for _, b in lim))
    axes[("", panels[0])].set_ylabel(LABEL_RMSE)
    last = axes[("", ratio_panel)]
    for p in pres:
        look = precoder_look(p, pres)
        rows = table.add(ratio_panel, f"{precoder_name(p)}: median RMSE / sqrt(CRB)", x,
                         values(ratio, precoder=p), x_quantity=LABEL_SNR_SEN,
                         y_quantity="ratio")  # fmt: skip
        plot_series(last, rows, look, gid=f"ratio:{p}")
        rows = table.add(ratio_panel, f"{precoder_name(p)}: sqrt(CRB (36) / CRB (16))", x,
                         np.sqrt(values(cm, precoder=p) / values(crb, precoder=p)),
                         x_quantity=LABEL_SNR_SEN, y_quantity="ratio")  # fmt: skip
        plot_series(last, rows, look.but(marker="+", open=False, linestyle=":", linewidth=0.8),
                    gid=f"ratio_crb_mc:{p}")  # fmt: skip
    last.axhline(1.0, color="0.2", lw=0.8, gid="reference:1")
    table.add(ratio_panel, "1 (CRB reached)", [np.nan], [1.0], y_quantity="ratio")
    log_axis(last, "y", plain=True)
    last.set_xlabel(LABEL_SNR_SEN)
    # the estimate's kinds by marker and line (their colour is the panel's precoder's)
    entries = [
        (k, handle(v.but(color=NEUTRAL) if v.color == MEAN.color else v))
        for k, v in KINDS.items()
        if _present(table, k)
    ]
    entries += [(f"{precoder_name(p)}: median RMSE / $\\sqrt{{\\mathrm{{CRB}}}}$",
                 handle(precoder_look(p, pres))) for p in pres]  # fmt: skip
    entries.append(("$\\sqrt{\\mathrm{CRB}\\,(36) / \\mathrm{CRB}\\,(16)}$ (+)",
                    handle(Look(color="0.2", marker="+", linestyle=":"))))  # fmt: skip
    place_legend(fig, entries, ncols=4)
    data = table.frame()
    caption = (
        "ML estimate of the target angle against the CRB over SNR_sen, one panel per precoder "
        "(as in crb_mc: root of the mean MSE with one standard error, median over drops of the "
        "per-drop RMSE, square roots of the mean closed-form CRB (16) and finite-L CRB (36); "
        "the estimate in the precoder's colour); the last panel gives the median over drops of "
        "RMSE / sqrt(CRB (16)) per precoder "
        "(solid) and sqrt(mean CRB (36) / mean CRB (16)) (dotted, +): 1 where the closed form "
        "is reached.",
        _scheme_text(ds),
        setup_sentence(ds, skip=("snr_sen_db", "crb0")),
        _trials_text(ds),
        coincide_sentence(data),
        status_sentence(ds, what="(point, precoder, drop)"),
    )
    return Drawing(fig, data, caption)


ANGLES = ("azimuth", "elevation")


@figure("mle_planar", title="2-D ML estimate vs the CRBs", width=SINGLE_COLUMN, height=3.6)
def mle_planar(ds: xr.Dataset) -> Drawing:
    """RMSE of the 2-D ML estimate of each angle vs sqrt(CRB) over SNR_sen (log y); a colour
    per angle (gids ``mle_<angle>``, ``crb_<angle>``, ``crb_mc_<angle>``); the first scheme."""
    ds = reduce_to(ds, ("snr_sen_db", "scheme", "drop", "user"))
    scheme = str(np.atleast_1d(ds["scheme"].values)[0]) if "scheme" in ds.coords else ""
    if "scheme" in ds.dims:
        ds = ds.isel(scheme=0)
    x = ds["snr_sen_db"].values
    ok = success_mask(ds)
    fig, axes = facets(pd.DataFrame({"panel": ["rmse"]}), width=SINGLE_COLUMN, height=3.6)
    ax = axes[("", "rmse")]
    ax.set_title("")
    table = Table()
    entries = []
    for i, angle in enumerate(ANGLES):
        c = colour(i)
        mse, _, _ = drop_mean(ds, f"mle_mse_{angle}", mask=ok)
        crb, _, _ = drop_mean(ds, f"crb_{angle}", mask=ok)
        crb_mc, _, _ = drop_mean(ds, f"crb_mc_{angle}", mask=ok)
        for arr, name, look, gid in (
            (mse, f"RMSE of the ML {angle}", MEAN.but(color=c), f"mle_{angle}"),
            (crb, f"$\\sqrt{{\\mathrm{{CRB}}}}$ {angle}, closed form",
             CLOSED.but(color=c), f"crb_{angle}"),
            (crb_mc, f"$\\sqrt{{\\mathrm{{CRB}}}}$ {angle}, finite L",
             FINITE.but(color=c), f"crb_mc_{angle}"),
        ):  # fmt: skip
            rows = table.add("rmse", name, x, np.sqrt(arr.values), x_quantity=LABEL_SNR_SEN,
                             y_quantity="RMSE (rad)")  # fmt: skip
            plot_series(ax, rows, look, gid=gid)
            entries.append((name, handle(look)))
    log_axis(ax, "y")
    ax.set_xlabel(LABEL_SNR_SEN)
    ax.set_ylabel("RMSE (rad)")
    place_legend(fig, entries, ax=ax, ncols=2)
    data = table.frame()
    caption = (
        "2-D ML estimate of the target's azimuth and elevation against the CRBs over SNR_sen: "
        "root of the mean squared error over drops and trials, and the square roots of the mean "
        "closed-form CRB and of the mean finite-L CRB (sample covariance of each frame), both "
        "angles unknown.",
        f"Power allocation of the echo: {scheme_name(scheme)}." if scheme else "",
        setup_sentence(ds, skip=("snr_sen_db", "crb0")),
        _trials_text(ds, "planar_mle_trials"),
        coincide_sentence(data),
        status_sentence(ds, what="(point, drop)"),
    )
    return Drawing(fig, data, caption)
