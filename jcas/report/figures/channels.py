"""Channel models and precoders without closed forms (the coefficient route).

- ``channels_n``: sum rate (top row, ``sca``) and CRB (bottom row, ``equal_full``: half of
  the power on the sensing beam) vs N with Nt = Nr = N/2, a column per channel model, a
  colour, marker and line style per precoder; error bars of one standard error across drops.
- ``channels_spread``: sum rate (``sca``) vs the angular spread of local scattering, a line
  per precoder.

The frontier under correlation (experiment ``channels_frontier``) is drawn by
:func:`jcas.report.figures.tradeoff.precoder_frontier` and the ML estimate against the CRB
(``channels_mle``) by :func:`jcas.report.figures.mle.crb_mc_precoders`. Precoder and channel
labels are their parts' :attr:`~jcas.parts.registry.Part.label`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import xarray as xr

from jcas.io.stats import drop_mean, success_mask
from jcas.parts.registry import CHANNELS
from jcas.report.figures import DOUBLE_COLUMN, SINGLE_COLUMN, Drawing, figure
from jcas.report.figures.common import (
    LABEL_CRB,
    LABEL_SUM_RATE,
    Table,
    crb0_values,
    precoder_name,
    reduce_to,
    scheme_name,
    sel,
    setup_sentence,
    status_sentence,
    values,
)
from jcas.report.figures.common import (
    precoders as precoder_axis,
)
from jcas.report.figures.common import (
    schemes as scheme_axis,
)
from jcas.report.figures.style import facets, handle, log_axis, place_legend, plot_series
from jcas.report.figures.sweeps import REFERENCE, precoder_look

LABEL_N = "antennas $N = N_t + N_r$"
LABEL_SPREAD = "angular spread (deg)"


def channel_name(name: str) -> str:
    """Legend label of a channel model (its :attr:`Part.label`)."""
    return CHANNELS[name].label if name in CHANNELS else name


def _pick(have: list[str], wanted: str) -> str:
    return wanted if wanted in have else have[0]


def _route_sentence(ds: xr.Dataset) -> str:
    """How the points were evaluated (closed forms or Monte-Carlo coefficients)."""
    from jcas.io.provenance import dataset_config

    mc = dataset_config(ds).get("mc", {})
    n = mc.get("coefficient_realizations") if isinstance(mc, dict) else None
    return (
        "MRT and ZF under i.i.d. fading use their closed forms; every other point the "
        "Monte-Carlo coefficients of its precoder under its channel"
        + (f" ({n} realizations per drop)" if n else "")
        + ", on which the schemes' solvers run."
    )


def paired_gain(
    ds: xr.Dataset, better: str, than: str, **where: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the drops of the per-drop sum-rate gain of precoder ``better`` over ``than``
    (drops where both have an allocation) and its standard error across drops (the
    precoders share the drops, so the paired difference has the smaller error). ``where``
    selects the scheme and the other coordinates; the result is over what remains of the
    swept dimensions."""
    ok = success_mask(ds)
    rate = ds["sum_rate"].where(ok)
    diff = sel(rate, precoder=better, **where) - sel(rate, precoder=than, **where)
    n = diff.notnull().sum("drop")
    mean = diff.mean("drop", skipna=True)
    se = diff.std("drop", skipna=True, ddof=1) / np.sqrt(n.where(n > 1))
    return np.asarray(mean.values, dtype=float), np.asarray(se.values, dtype=float)


def _crossover_sentence(ds: xr.Dataset, xs: np.ndarray, xname: str, **where: Any) -> str:
    """The values of the swept key where RZF or M-MMSE exceed ZF by more than 2 standard
    errors of the paired per-drop difference (:func:`paired_gain`)."""
    pres = precoder_axis(ds)
    if "zf" not in pres:
        return ""
    out = []
    for p in ("rzf", "mmse"):
        if p not in pres:
            continue
        gain, se = paired_gain(ds, p, "zf", **where)
        above = [f"{x:g}" for x, g, e in zip(xs, gain, se, strict=True) if g > 2 * e]
        out.append(
            f"{precoder_name(p)} exceeds ZF (paired gain > 2 SE) at {xname} = {', '.join(above)}"
            if above
            else f"{precoder_name(p)} does not exceed ZF by 2 SE at any {xname}"
        )
    return "; ".join(out)


@figure("channels_n", title="Sum rate and CRB vs N per channel", width=DOUBLE_COLUMN, height=4.4)
def channels_n(ds: xr.Dataset) -> Drawing:
    """Sum rate (``sca``; top row) and CRB (``equal_full``; bottom row, log) vs N, a column
    per channel (gids ``rate:<channel>:<precoder>``, ``crb:<channel>:<precoder>``), means
    over the drops with one standard error across drops; CRB0 dotted on the CRB row."""
    ds = reduce_to(ds, ("N", "channel", "precoder", "scheme", "drop", "user"))
    chans = [str(c) for c in np.atleast_1d(ds["channel"].values)] if "channel" in ds.dims else []
    chans = chans or [str(ds["channel"].values) if "channel" in ds.coords else "iid"]
    pres = precoder_axis(ds)
    have = scheme_axis(ds)
    rate_scheme, crb_scheme = _pick(have, "sca"), _pick(have, "equal_full")
    rate, rate_se, _ = drop_mean(ds, "sum_rate")
    crb, crb_se, _ = drop_mean(ds, "crb")
    ns = np.asarray(ds["N"].values, dtype=float)
    cols = [channel_name(c) for c in chans]
    rows = [f"sum rate ({scheme_name(rate_scheme)})", f"CRB ({scheme_name(crb_scheme)})"]
    frame = pd.DataFrame([(r, c) for r in rows for c in cols], columns=["row", "panel"])
    fig, axes = facets(frame, width=DOUBLE_COLUMN, height=4.4, row="row", sharex=True, sharey="row")
    table = Table()
    crossings = []
    for c, col in zip(chans, cols, strict=True):
        top, bottom = axes[(rows[0], col)], axes[(rows[1], col)]
        for p in pres:
            look = precoder_look(p, pres)
            where = {"channel": c, "precoder": p}
            r = table.add(f"{rows[0]} | {col}", precoder_name(p), ns,
                          values(rate, scheme=rate_scheme, **where),
                          y_err=values(rate_se, scheme=rate_scheme, **where),
                          x_quantity=LABEL_N, y_quantity=LABEL_SUM_RATE)  # fmt: skip
            plot_series(top, r, look, gid=f"rate:{c}:{p}")
            b = table.add(f"{rows[1]} | {col}", precoder_name(p), ns,
                          values(crb, scheme=crb_scheme, **where),
                          y_err=values(crb_se, scheme=crb_scheme, **where),
                          x_quantity=LABEL_N, y_quantity=LABEL_CRB)  # fmt: skip
            plot_series(bottom, b, look, gid=f"crb:{c}:{p}")
        reference = {k: v for k, v in REFERENCE.kwargs().items() if k != "marker"}
        for value in crb0_values(ds):
            table.add(f"{rows[1]} | {col}", "CRB0", [np.nan], [value], x_quantity=LABEL_N,
                      y_quantity=LABEL_CRB)  # fmt: skip
            bottom.axhline(value, gid="reference:CRB0", **reference)
        log_axis(bottom, "y")
        bottom.set_xlabel(LABEL_N)
        text = _crossover_sentence(ds, ns, "N", scheme=rate_scheme, channel=c)
        if text:
            crossings.append(f"{channel_name(c)}: {text}")
    axes[(rows[0], cols[0])].set_ylabel(LABEL_SUM_RATE)
    axes[(rows[1], cols[0])].set_ylabel(LABEL_CRB)
    entries: list[tuple[str, Any]] = [
        (precoder_name(p), handle(precoder_look(p, pres))) for p in pres
    ]
    if crb0_values(ds):
        entries.append(("CRB$_0$", handle(REFERENCE)))
    place_legend(fig, entries)
    data = table.frame()
    caption = (
        f"Sum rate of {scheme_name(rate_scheme)} (top) and CRB of the target angle with "
        f"{scheme_name(crb_scheme)} (bottom) vs the number of antennas N, Nt = Nr = N/2, "
        "one column per channel model, one colour per precoder; means over the user drops "
        "with one standard error across drops.",
        _route_sentence(ds),
        ("Against ZF, " + "; ".join(crossings) + ".") if crossings else "",
        setup_sentence(ds, skip=("Nt", "Nr")),
        status_sentence(ds, what="(point, precoder, scheme, drop)"),
    )
    return Drawing(fig, data, caption)


@figure("channels_spread", title="Sum rate vs angular spread", width=SINGLE_COLUMN, height=3.2)
def channels_spread(ds: xr.Dataset) -> Drawing:
    """Sum rate (``sca``) vs the angular spread of local scattering, a line per precoder
    (gid ``rate:<precoder>``), means over the drops with one standard error."""
    ds = reduce_to(ds, ("angular_spread_deg", "precoder", "scheme", "drop", "user"))
    pres = precoder_axis(ds)
    scheme = _pick(scheme_axis(ds), "sca")
    rate, rate_se, _ = drop_mean(ds, "sum_rate")
    x = np.asarray(ds["angular_spread_deg"].values, dtype=float)
    fig, axes = facets(pd.DataFrame({"panel": ["spread"]}), width=SINGLE_COLUMN, height=3.2)
    ax = axes[("", "spread")]
    ax.set_title("")
    table = Table()
    for p in pres:
        r = table.add("spread", precoder_name(p), x, values(rate, precoder=p, scheme=scheme),
                      y_err=values(rate_se, precoder=p, scheme=scheme),
                      x_quantity=LABEL_SPREAD, y_quantity=LABEL_SUM_RATE)  # fmt: skip
        plot_series(ax, r, precoder_look(p, pres), gid=f"rate:{p}")
    ax.set_xlabel(LABEL_SPREAD)
    ax.set_ylabel(LABEL_SUM_RATE)
    place_legend(fig, [(precoder_name(p), handle(precoder_look(p, pres))) for p in pres], ax=ax)
    data = table.frame()
    text = _crossover_sentence(ds, x, "spread (deg)", scheme=scheme)
    caption = (
        f"Sum rate of {scheme_name(scheme)} vs the angular standard deviation of the local "
        "scattering model (0: one path per user, rank-one covariance), one line per precoder; "
        "means over the user drops with one standard error across drops.",
        _route_sentence(ds),
        (text + ".") if text else "",
        setup_sentence(ds, skip=("angular_spread_deg",)),
        status_sentence(ds, what="(point, precoder, scheme, drop)"),
    )
    return Drawing(fig, data, caption)
