"""Figures of the paper (Sec. V) and of the extensions, from the experiment datasets.

Each function takes an aggregated experiment dataset (``docs/data.md``) and returns a
:class:`matplotlib.figure.Figure` built without pyplot (no global state, Agg rendering
on save, no display needed); :func:`save_figure` writes PDF and PNG atomically.

- :func:`fig1`: sum rate vs SNR_com (paper Fig. 1), a panel per Nt; closed form (15)
  as lines, Monte-Carlo (14) as markers with error bars (SE across drops).
- :func:`fig2`: sum rate and CRB (16) vs SNR_com, and the rate-CRB trade-off (Fig. 2).
- :func:`fig3`: sum rate and CRB vs N with Nt = Nr = N/2 (Fig. 3).
- :func:`pareto`: the exact rate-CRB frontier (``optimal`` over the CRB0 sweep) per Nt,
  with the ``sca`` and benchmark points.
- :func:`crb_mc`: RMSE of the ML angle estimate vs sqrt(CRB) over SNR_sen.
- :func:`precoders`: MRT, ZF and PZF under ``optimal`` and ``sca``: sum rate and CRB
  vs SNR_com and vs N, and the rate-CRB trade-off per precoder.
- :func:`precoder_frontier`: the rate-CRB frontier (CRB0 sweep) per precoder, with the
  sensing share of the power along it.
- :func:`crb_mc_precoders`: :func:`crb_mc` per precoder, with the ratios to the CRB.
- :func:`sca_audit`: the gap of each ``sca`` variant to the exact optimum and its
  iterations over SNR_com, one column per precoder.

Averages over drops skip failed entries (status not a success, NaN metrics); every
figure states in its title how many (point, scheme, drop) entries failed, so a gap in a
curve is visible and explained rather than hidden.
"""

from __future__ import annotations

import contextlib
import os
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from jcas.io.atomic import atomic_write
from jcas.io.metadata import scheme_label
from jcas.io.provenance import dataset_config
from jcas.io.stats import drop_mean, failure_count, success_mask

__all__ = [
    "crb_map",
    "crb_mc",
    "crb_mc_precoders",
    "failure_note",
    "fig1",
    "fig2",
    "fig3",
    "mle_planar",
    "pareto",
    "precoder_frontier",
    "precoders",
    "save_figure",
    "sca_audit",
    "scheme_labels",
    "ula_vs_upa",
]

_SCHEME_ORDER: Final = ("sca", "optimal", "equal", "equal_full")
_MARKERS: Final = {"sca": "o", "optimal": "s", "equal": "^", "equal_full": "v"}
_LINESTYLES: Final = ("-", "--", ":", "-.")

_XR = TypeVar("_XR", xr.Dataset, xr.DataArray)

LABEL_SUM_RATE: Final = "sum rate (bit/s/Hz)"
LABEL_CRB: Final = "CRB of $\\theta$ (rad$^2$)"
LABEL_SNR_COM: Final = "SNR$_\\mathrm{com}$ (dB)"
LABEL_SNR_SEN: Final = "SNR$_\\mathrm{sen}$ (dB)"


# --------------------------------------------------------------------------- helpers
COLORBLIND: Final = (
    "#0173b2",
    "#de8f05",
    "#029e73",
    "#d55e00",
    "#cc78bc",
    "#ca9161",
    "#fbafe4",
    "#949494",
    "#ece133",
    "#56b4e9",
)
"""The colour-blind safe palette of the figures (seaborn's ``colorblind``), in order."""


def _palette(n: int) -> list[tuple[float, float, float]]:
    """``n`` colours of :data:`COLORBLIND` as RGB tuples (cycled beyond ten)."""
    return [to_rgb(COLORBLIND[i % len(COLORBLIND)]) for i in range(n)]


_FONT = 9.6  # points
_TICK = 8.8
STYLE: Final[dict[str, Any]] = {
    # seaborn 0.13's axes_style("whitegrid") ...
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "axes.edgecolor": ".8",
    "axes.labelcolor": ".15",
    "axes.axisbelow": True,
    "axes.grid": True,
    "axes.linewidth": 1.0,
    "grid.color": ".8",
    "grid.linestyle": "-",
    "grid.linewidth": 0.8,
    "text.color": ".15",
    "xtick.color": ".15",
    "ytick.color": ".15",
    "xtick.direction": "out",
    "ytick.direction": "out",
    "xtick.top": False,
    "xtick.bottom": False,
    "ytick.left": False,
    "ytick.right": False,
    "font.family": ["sans-serif"],
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans"],
    "lines.solid_capstyle": "round",
    "patch.edgecolor": "w",
    "patch.force_edgecolor": True,
    # ... and plotting_context("paper")
    "font.size": _FONT,
    "axes.labelsize": _FONT,
    "axes.titlesize": _FONT,
    "legend.title_fontsize": _FONT,
    "xtick.labelsize": _TICK,
    "ytick.labelsize": _TICK,
    "legend.fontsize": _TICK,
    "lines.linewidth": 1.2,
    "lines.markersize": 4.8,
    "patch.linewidth": 0.8,
    "xtick.major.width": 1.0,
    "ytick.major.width": 1.0,
    "xtick.minor.width": 0.8,
    "ytick.minor.width": 0.8,
    "xtick.major.size": 4.8,
    "ytick.major.size": 4.8,
    "xtick.minor.size": 3.2,
    "ytick.minor.size": 3.2,
}
"""Matplotlib settings of every figure: seaborn's "whitegrid" style in its "paper" context,
written out (importing seaborn would add about 0.7 s to every figure job)."""


@contextlib.contextmanager
def _style() -> Iterator[None]:
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
        yield


def _schemes(ds: xr.Dataset) -> list[str]:
    if "scheme" not in ds.dims:
        return []
    have = [str(s) for s in ds["scheme"].values]
    return [s for s in _SCHEME_ORDER if s in have] + [s for s in have if s not in _SCHEME_ORDER]


def _colour(scheme: str, schemes: Sequence[str]) -> tuple[float, float, float]:
    palette = _palette(max(len(_SCHEME_ORDER), len(schemes)))
    idx = _SCHEME_ORDER.index(scheme) if scheme in _SCHEME_ORDER else list(schemes).index(scheme)
    return palette[idx % len(palette)]


def scheme_labels(ds: xr.Dataset) -> dict[str, str]:
    """Legend name of every scheme of ``ds``, with the options it was run with.

    The options are read from the ``allocation`` block of the dataset's ``config``
    attribute (:func:`jcas.io.metadata.scheme_label`), e.g. ``sca`` as
    "proposed: SCA (Alg. 1 + Aitken stop, active set, extrapolation, polish)".
    """
    allocation: Any = dataset_config(ds).get("allocation", {})
    if not isinstance(allocation, dict):
        allocation = {}
    return {
        s: scheme_label(s, allocation.get(s) if isinstance(allocation.get(s), dict) else None)
        for s in _schemes(ds)
    }


def _reduce_to(ds: xr.Dataset, keep: Sequence[str]) -> xr.Dataset:
    """Select the single value of every length-1 dimension not in ``keep``.

    Raises ``ValueError`` for a longer dimension the figure cannot show.
    """
    extra = [str(d) for d in ds.dims if d not in keep]
    for d in extra:
        if ds.sizes[d] != 1:
            raise ValueError(
                f"dimension {d!r} has {ds.sizes[d]} values; this figure shows only {list(keep)}"
                " (select one value first)"
            )
    return ds.isel({d: 0 for d in extra}) if extra else ds


def failure_note(ds: xr.Dataset) -> str:
    """One line: how many (point, scheme, drop) entries failed (status not a success)."""
    failed, total = failure_count(ds)
    if failed == 0:
        return f"all {total} (point, scheme, drop) entries succeeded"
    return (
        f"{failed} of {total} (point, scheme, drop) entries failed "
        "(status not a success): excluded from the averages"
    )


def _title(fig: Figure, title: str, ds: xr.Dataset) -> None:
    width = max(40, int(fig.get_figwidth() * 13))  # characters per line at this font size
    note = textwrap.fill(failure_note(ds), width=width)
    fig.suptitle(f"{title}\n{note}", fontsize="medium")


def _new_figure(
    ncols: int, *, width: float = 4.2, height: float = 3.4
) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(width * ncols, height + 0.6), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _values(ds: xr.Dataset, dim: str) -> list:
    return ds[dim].values.tolist() if dim in ds.dims else [None]


def _sel(obj: _XR, **idx: Any) -> _XR:
    """``obj.sel`` that ignores None values (absent dims); a mapping so 'drop' is safe."""
    return obj.sel({k: v for k, v in idx.items() if v is not None})


def _antenna_label(ds: xr.Dataset, nt) -> str:
    if nt is None:
        return ""
    sub = ds.sel({"Nt": nt})
    nr = int(sub["Nr"]) if "Nr" in sub.coords and sub["Nr"].size == 1 else None
    return f"$N_t$ = {nt}" + (f", $N_r$ = {nr}" if nr is not None else "")


# --------------------------------------------------------------------------- figures
def fig1(ds: xr.Dataset) -> Figure:
    """Sum rate vs SNR_com (paper Fig. 1): one panel per Nt, one colour per scheme.

    Closed form (15), mean over drops, as lines (``gid = "closed_form:<scheme>"``);
    Monte-Carlo ``sum_rate_mc`` as markers with error bars of the standard error
    across drops (``gid = "monte_carlo:<scheme>"``). Needs dims ``snr_com_db``,
    ``scheme``, ``drop`` (and optionally ``Nt``).
    """
    ds = _reduce_to(ds, ("Nt", "snr_com_db", "scheme", "drop", "user"))
    nts = _values(ds, "Nt")
    schemes = _schemes(ds)
    labels = scheme_labels(ds)
    with _style():
        fig, axes = _new_figure(len(nts))
        cf, _, _ = drop_mean(ds, "sum_rate")
        has_mc = "sum_rate_mc" in ds
        if has_mc:
            mc, mc_se, _ = drop_mean(ds, "sum_rate_mc")
        x = ds["snr_com_db"].values
        for ax, nt in zip(axes, nts, strict=True):
            for s in schemes:
                c = _colour(s, schemes)
                y = _sel(cf, Nt=nt, scheme=s).values
                ax.plot(
                    x,
                    y,
                    "-",
                    marker=".",
                    ms=4,
                    color=c,
                    label=f"{labels[s]} (closed form)",
                    gid=f"closed_form:{s}",
                )
                if has_mc:
                    eb = ax.errorbar(
                        x,
                        _sel(mc, Nt=nt, scheme=s).values,
                        yerr=_sel(mc_se, Nt=nt, scheme=s).values,
                        fmt=_MARKERS.get(s, "o"),
                        color=c,
                        mfc="none",
                        capsize=2,
                        label=f"{labels[s]} (Monte-Carlo)",
                    )
                    eb.lines[0].set_gid(f"monte_carlo:{s}")
            ax.set_xlabel(LABEL_SNR_COM)
            ax.set_ylabel(LABEL_SUM_RATE)
            if nt is not None:
                ax.set_title(_antenna_label(ds, nt))
        axes[0].legend(fontsize="x-small")
        _title(
            fig, "Sum rate vs SNR$_\\mathrm{com}$ (lines: closed form; markers: Monte-Carlo)", ds
        )
    return fig


def fig2(ds: xr.Dataset) -> Figure:
    """Sum rate and CRB vs SNR_com, and the rate-CRB trade-off (paper Fig. 2).

    Panels: (a) sum rate vs SNR_com, (b) CRB vs SNR_com (log) with CRB0 dashed,
    (c) sum rate vs CRB, one point per (scheme, SNR_com, Nt) (a scatter with
    ``gid = "tradeoff:<scheme>"``). Line style distinguishes Nt, colour the scheme.
    """
    ds = _reduce_to(ds, ("Nt", "snr_com_db", "scheme", "drop", "user", "crb0"))
    nts = _values(ds, "Nt")
    schemes = _schemes(ds)
    labels = scheme_labels(ds)
    rate, _, _ = drop_mean(ds, "sum_rate")
    crb, _, _ = drop_mean(ds, "crb")
    x = ds["snr_com_db"].values
    with _style():
        fig, axes = _new_figure(3)
        for j, nt in enumerate(nts):
            ls = _LINESTYLES[j % len(_LINESTYLES)]
            tag = f", {_antenna_label(ds, nt)}" if nt is not None else ""
            for s in schemes:
                c = _colour(s, schemes)
                r = _sel(rate, Nt=nt, scheme=s).values
                b = _sel(crb, Nt=nt, scheme=s).values
                axes[0].plot(
                    x,
                    r,
                    ls,
                    color=c,
                    marker=_MARKERS.get(s, "o"),
                    ms=3,
                    label=f"{labels[s]}{tag}",
                    gid=f"rate:{s}:{nt}",
                )
                axes[1].plot(
                    x, b, ls, color=c, marker=_MARKERS.get(s, "o"), ms=3, gid=f"crb:{s}:{nt}"
                )
                axes[2].plot(b, r, ls, color=c, lw=0.6, alpha=0.6)
                axes[2].scatter(
                    b, r, color=c, marker=_MARKERS.get(s, "o"), s=14, gid=f"tradeoff:{s}:{nt}"
                )
        for crb0 in _crb0_values(ds):
            axes[1].axhline(crb0, color="k", ls="--", lw=0.8, label=f"CRB$_0$ = {crb0:g}")
            axes[2].axvline(crb0, color="k", ls="--", lw=0.8)
        axes[0].set_xlabel(LABEL_SNR_COM)
        axes[0].set_ylabel(LABEL_SUM_RATE)
        axes[1].set_xlabel(LABEL_SNR_COM)
        axes[1].set_ylabel(LABEL_CRB)
        axes[1].set_yscale("log")
        axes[2].set_xlabel(LABEL_CRB)
        axes[2].set_ylabel(LABEL_SUM_RATE)
        axes[2].set_xscale("log")
        axes[2].set_title(
            "trade-off: one point per scheme and SNR$_\\mathrm{com}$", fontsize="small"
        )
        axes[0].legend(fontsize="xx-small")
        axes[1].legend(fontsize="xx-small")
        _title(fig, "Sum rate and CRB vs SNR$_\\mathrm{com}$", ds)
    return fig


def _crb0_values(ds: xr.Dataset) -> list[float]:
    if "crb0" in ds.coords:
        return [float(v) for v in np.atleast_1d(ds["crb0"].values)]
    value = dataset_config(ds).get("system", {}).get("crb0")
    return [float(value)] if isinstance(value, (int, float)) else []


def fig3(ds: xr.Dataset, *, dim: str | None = None) -> Figure:
    """Sum rate and CRB vs the number of antennas N, Nt = Nr = N/2 (paper Fig. 3).

    ``dim`` is the swept dimension (default ``N`` if present, else ``Nt``). Two panels,
    one line per scheme (``gid = "rate:<scheme>"`` and ``"crb:<scheme>"``).
    """
    if dim is None:
        dim = "N" if "N" in ds.dims else "Nt"
    ds = _reduce_to(ds, (dim, "scheme", "drop", "user"))
    schemes = _schemes(ds)
    labels = scheme_labels(ds)
    rate, _, _ = drop_mean(ds, "sum_rate")
    crb, _, _ = drop_mean(ds, "crb")
    x = ds[dim].values
    xlabel = {"N": "N = N$_t$ + N$_r$ (antennas)", "Nt": "N$_t$ (antennas)"}.get(dim, dim)
    with _style():
        fig, axes = _new_figure(2)
        for s in schemes:
            c = _colour(s, schemes)
            m = _MARKERS.get(s, "o")
            axes[0].plot(
                x,
                _sel(rate, scheme=s).values,
                "-",
                marker=m,
                color=c,
                label=labels[s],
                gid=f"rate:{s}",
            )
            axes[1].plot(x, _sel(crb, scheme=s).values, "-", marker=m, color=c, gid=f"crb:{s}")
        for crb0 in _crb0_values(ds):
            axes[1].axhline(crb0, color="k", ls="--", lw=0.8, label=f"CRB$_0$ = {crb0:g}")
        axes[0].set_xlabel(xlabel)
        axes[0].set_ylabel(LABEL_SUM_RATE)
        axes[1].set_xlabel(xlabel)
        axes[1].set_ylabel(LABEL_CRB)
        axes[1].set_yscale("log")
        axes[0].legend(fontsize="x-small")
        snr = ds["snr_com_db"].values if "snr_com_db" in ds.coords else None
        extra = (
            f", SNR$_\\mathrm{{com}}$ = {float(np.atleast_1d(snr)[0]):g} dB"
            if snr is not None
            else ""
        )
        _title(fig, f"Sum rate and CRB vs N (N$_t$ = N$_r$ = N/2{extra})", ds)
    return fig


def pareto(ds: xr.Dataset) -> Figure:
    """The rate-CRB frontier: mean sum rate vs mean CRB over the ``crb0`` sweep.

    The exact frontier (``optimal`` scheme) is a line per Nt (``gid = "frontier:<Nt>"``),
    the other schemes are points, one per CRB0 value (``gid = "points:<scheme>:<Nt>"``).
    Failed drops (e.g. infeasible CRB0) are excluded from each average.
    """
    ds = _reduce_to(ds, ("Nt", "crb0", "scheme", "drop", "user"))
    nts = _values(ds, "Nt")
    schemes = _schemes(ds)
    labels = scheme_labels(ds)
    rate, _, _ = drop_mean(ds, "sum_rate")
    crb, _, _ = drop_mean(ds, "crb")
    cb = _palette(10)
    nt_palette = [cb[i] for i in (0, 4, 2, 3, 1, 5, 6, 7, 8, 9)]  # colour = Nt, marker = scheme
    with _style():
        fig, axes = _new_figure(1, width=6.0, height=4.2)
        ax = axes[0]
        for j, nt in enumerate(nts):
            tag = _antenna_label(ds, nt) if nt is not None else ""
            if "optimal" in schemes:
                b = _sel(crb, Nt=nt, scheme="optimal").values
                r = _sel(rate, Nt=nt, scheme="optimal").values
                order = np.argsort(b)
                ax.plot(
                    b[order],
                    r[order],
                    "-",
                    marker=".",
                    color=nt_palette[j % len(nt_palette)],
                    lw=1.5,
                    label=f"exact frontier (optimal), {tag}".rstrip(", "),
                    gid=f"frontier:{nt}",
                )
            for s in schemes:
                if s == "optimal":
                    continue
                b = _sel(crb, Nt=nt, scheme=s).values
                r = _sel(rate, Nt=nt, scheme=s).values
                ax.scatter(
                    b,
                    r,
                    marker=_MARKERS.get(s, "o"),
                    s=26,
                    color=nt_palette[j % len(nt_palette)],
                    edgecolors="k",
                    linewidths=0.5,
                    alpha=0.85,
                    label=f"{labels[s]}, {tag}".rstrip(", "),
                    gid=f"points:{s}:{nt}",
                )
        ax.set_xscale("log")
        ax.set_xlabel(LABEL_CRB)
        ax.set_ylabel(LABEL_SUM_RATE)
        ax.legend(fontsize="x-small")
        _title(fig, "Rate-CRB frontier (CRB$_0$ sweep)", ds)
    return fig


def crb_mc(ds: xr.Dataset) -> Figure:
    """RMSE of the ML estimate of theta vs sqrt(CRB) over SNR_sen (log y).

    Lines: ``sqrt(mean mle_mse)`` with error bars from ``mle_mse_se`` by the delta method
    (``gid = "mle"``), the median over drops of the per-drop RMSE (``gid = "mle_median"``;
    the mean is dominated by the few drops still in the threshold region), ``sqrt(mean crb)``
    (closed form (16), ``gid = "crb"``) and ``sqrt(mean crb_mc)`` (finite-L (36),
    ``gid = "crb_mc"``); one set per Nt if swept.
    """
    ds = _reduce_to(ds, ("Nt", "snr_sen_db", "drop", "user"))
    nts = _values(ds, "Nt")
    x = ds["snr_sen_db"].values
    ok = success_mask(ds) if "status" in ds else ds["mle_mse"].notnull()
    mse, _, n = drop_mean(ds, "mle_mse", mask=ok)
    crb, _, _ = drop_mean(ds, "crb", mask=ok)
    if "mle_mse_se" in ds:
        se_mean = ((ds["mle_mse_se"].where(ok) ** 2).sum("drop")) ** 0.5 / n
    else:
        se_mean = xr.full_like(mse, np.nan)
    palette = _palette(max(len(nts), 1) + 2)
    with _style():
        fig, axes = _new_figure(1, width=5.5, height=4.0)
        ax = axes[0]
        for j, nt in enumerate(nts):
            tag = f" ({_antenna_label(ds, nt)})" if nt is not None else ""
            rmse = np.sqrt(_sel(mse, Nt=nt).values)
            err = _sel(se_mean, Nt=nt).values / (2 * rmse)
            eb = ax.errorbar(
                x,
                rmse,
                yerr=err,
                fmt="o-",
                color=palette[j],
                ms=4,
                capsize=2,
                label=f"RMSE of the ML estimate{tag}",
            )
            eb.lines[0].set_gid(f"mle:{nt}" if nt is not None else "mle")
            med = np.sqrt(_sel(ds["mle_mse"].where(ok).median("drop", skipna=True), Nt=nt).values)
            ax.plot(
                x,
                med,
                "-.",
                marker="o",
                mfc="none",
                ms=3,
                lw=0.8,
                color=palette[j],
                label=f"ML estimate, median over drops of the RMSE{tag}",
                gid=f"mle_median:{nt}" if nt is not None else "mle_median",
            )
            ax.plot(
                x,
                np.sqrt(_sel(crb, Nt=nt).values),
                "--",
                marker="x",
                ms=4,
                color=palette[j],
                label=f"$\\sqrt{{\\mathrm{{CRB}}}}$ closed form (16){tag}",
                gid=f"crb:{nt}" if nt is not None else "crb",
            )
            if "crb_mc" in ds:
                cm, _, _ = drop_mean(ds, "crb_mc", mask=ok)
                ax.plot(
                    x,
                    np.sqrt(_sel(cm, Nt=nt).values),
                    ":",
                    marker="+",
                    ms=5,
                    color=palette[j],
                    label=f"$\\sqrt{{\\mathrm{{CRB}}}}$ finite L (36){tag}",
                    gid=f"crb_mc:{nt}" if nt is not None else "crb_mc",
                )
        ax.set_yscale("log")
        ax.set_xlabel(LABEL_SNR_SEN)
        ax.set_ylabel("RMSE of $\\theta$ (rad)")
        ax.legend(fontsize="x-small")
        _title(fig, "ML angle estimation vs the CRB", ds)
    return fig


# --------------------------------------------------------------------------- saving
PRECODER_LABELS: Final = {"mrt": "MRT", "phase_mrt": "phase MRT", "zf": "ZF", "pzf": "PZF"}
"""Legend names of the precoders."""


def _precoder_axis(ds: xr.Dataset) -> list[str]:
    if "precoder" in ds.dims:
        return [str(p) for p in ds["precoder"].values]
    if "precoder" in ds.coords:
        return [str(ds["precoder"].values)]
    return ["mrt"]


def _log_limits(ax: Axes, axis: str, values: Sequence[np.ndarray]) -> None:
    """Log axis limits with at least a factor 4 of range (equal values stay readable)."""
    flat = np.concatenate([np.ravel(v) for v in values]) if values else np.array([])
    flat = flat[np.isfinite(flat) & (flat > 0)]
    if flat.size == 0:
        return
    lo, hi = float(flat.min()), float(flat.max())
    if hi / lo < 4.0:
        mid = np.sqrt(lo * hi)
        lo, hi = mid / 2.0, mid * 2.0
    else:
        lo, hi = lo / 1.3, hi * 1.3
    (ax.set_xlim if axis == "x" else ax.set_ylim)(lo, hi)


def precoders(ds: xr.Dataset) -> Figure:
    """Precoders compared: sum rate and CRB vs SNR_com and vs N, and the trade-off.

    Expects dims ``N`` (with ``Nt = Nr = N/2``) and ``snr_com_db``, and optionally
    ``precoder``; of the schemes, ``optimal`` and ``sca`` are drawn (all of them if
    neither is there). Colour and line style are the precoder (MRT solid, ZF dashed, PZF
    dotted: PZF equals ZF wherever no power goes to sensing); the exact optimum
    (``optimal``) is drawn as lines and the SCA (``sca``, its legend naming the Alg. 1
    variant) as open markers on them. Panels: (a) sum rate and (b) CRB vs SNR_com at
    the largest N; (c) sum rate vs N at the SNR_com closest to 20 dB; (d) sum rate vs
    CRB over the SNR_com sweep at the largest N (gid ``tradeoff:<precoder>:<scheme>``).
    """
    ds = _reduce_to(ds, ("N", "snr_com_db", "precoder", "scheme", "drop", "user", "crb0"))
    pres = _precoder_axis(ds)
    schemes = [s for s in _schemes(ds) if s in ("sca", "optimal")] or _schemes(ds)
    labels = scheme_labels(ds)
    rate, _, _ = drop_mean(ds, "sum_rate")
    crb, _, _ = drop_mean(ds, "crb")
    ns = _values(ds, "N")
    n_top = ns[-1]
    snr = ds["snr_com_db"].values
    palette = _palette(8)
    colour = {p: palette[[3, 0, 2, 4][i % 4]] for i, p in enumerate(pres)}
    style = {p: _LINESTYLES[i % len(_LINESTYLES)] for i, p in enumerate(pres)}
    markers = {"sca": "o"}
    snr_ref = float(snr[np.argmin(np.abs(snr - 20.0))])

    def get(arr: xr.DataArray, p: str, s: str, **idx: Any) -> np.ndarray:
        out = _sel(arr, scheme=s, **idx)
        if "precoder" in out.dims:
            out = out.sel(precoder=p)
        return np.asarray(out.values, dtype=float)

    def draw(ax: Axes, x: Any, y: Any, p: str, s: str, label: str | None, gid: str) -> None:
        if s == "optimal":
            ax.plot(x, y, style[p], color=colour[p], lw=1.4, label=label, gid=gid)
        else:
            ax.plot(
                x, y, ls="none", marker=markers.get(s, _MARKERS.get(s, "o")), mfc="none",
                ms=6 + 2 * pres.index(p), color=colour[p], label=label, gid=gid,
            )  # fmt: skip

    crbs: list[np.ndarray] = []
    with _style():
        fig, axes = _new_figure(4, width=3.9, height=3.6)
        x_n = np.asarray([n for n in ns if n is not None])
        for p in pres:
            for s in schemes:
                label = f"{PRECODER_LABELS.get(p, p)}, {labels[s]}"
                r_top, b_top = get(rate, p, s, N=n_top), get(crb, p, s, N=n_top)
                crbs.append(b_top)
                draw(axes[0], snr, r_top, p, s, label, f"rate:{p}:{s}")
                draw(axes[1], snr, b_top, p, s, None, f"crb:{p}:{s}")
                if x_n.size:
                    r_n = get(rate, p, s, snr_com_db=snr_ref)
                    draw(axes[2], x_n, r_n, p, s, None, f"rate_n:{p}:{s}")
                draw(axes[3], b_top, r_top, p, s, None, f"tradeoff:{p}:{s}")
        at_n = f", N = {n_top} ($N_t$ = {n_top // 2})" if n_top is not None else ""
        axes[0].set_title(f"sum rate{at_n}", fontsize="small")
        axes[0].set_xlabel(LABEL_SNR_COM)
        axes[0].set_ylabel(LABEL_SUM_RATE)
        axes[1].set_title(f"CRB{at_n}", fontsize="small")
        axes[1].set_xlabel(LABEL_SNR_COM)
        axes[1].set_ylabel(LABEL_CRB)
        axes[1].set_yscale("log")
        _log_limits(axes[1], "y", crbs)
        axes[2].set_xlabel("total antennas N ($N_t = N_r = N/2$)")
        axes[2].set_ylabel(LABEL_SUM_RATE)
        axes[2].set_title(f"SNR$_\\mathrm{{com}}$ = {snr_ref:g} dB", fontsize="small")
        axes[3].set_xlabel(LABEL_CRB)
        axes[3].set_ylabel(LABEL_SUM_RATE)
        axes[3].set_xscale("log")
        _log_limits(axes[3], "x", crbs)
        axes[3].set_title(f"trade-off over SNR$_\\mathrm{{com}}${at_n}", fontsize="small")
        for crb0 in _crb0_values(ds):
            axes[1].axhline(crb0, color="k", ls="--", lw=0.8, label=f"CRB$_0$ = {crb0:g}")
        axes[0].legend(fontsize="xx-small")
        if axes[1].get_legend_handles_labels()[0]:
            axes[1].legend(fontsize="xx-small")
        _title(fig, "Precoders: MRT, ZF and PZF (lines: exact optimum; markers: SCA)", ds)
    return fig


def precoder_frontier(ds: xr.Dataset) -> Figure:
    """The rate-CRB frontier per precoder: mean sum rate vs mean CRB over the CRB0 sweep.

    Expects dims ``crb0`` and ``precoder`` (and optionally ``Nt``); ``optimal`` is drawn as
    a line per precoder (``gid = "frontier:<precoder>:<Nt>"``), ``sca`` (its legend naming
    the Alg. 1 variant) as open markers (``gid = "points:<precoder>:<Nt>"``). Colour and
    line style are the precoder as in :func:`precoders`; several Nt get their own markers
    along the lines. Panel (b): the mean share of the transmit power on the sensing beam,
    ``power_sensing / power_total``, vs CRB0 (``gid = "sensing:<precoder>:<Nt>"``). CRB0
    values below a precoder's tightest feasible one are infeasible (failed entries, NaN).
    """
    ds = _reduce_to(ds, ("Nt", "crb0", "precoder", "scheme", "drop", "user"))
    pres = _precoder_axis(ds)
    nts = _values(ds, "Nt")
    labels = scheme_labels(ds)
    schemes = [s for s in _schemes(ds) if s in ("optimal", "sca")] or _schemes(ds)
    rate, _, _ = drop_mean(ds, "sum_rate")
    crb, _, _ = drop_mean(ds, "crb")
    share = (ds["power_sensing"] / ds["power_total"]).rename("share")
    share_mean, _, _ = drop_mean(ds.assign(share=share), "share")
    palette = _palette(8)
    colour = {p: palette[[3, 0, 2, 4][i % 4]] for i, p in enumerate(pres)}
    style = {p: _LINESTYLES[i % len(_LINESTYLES)] for i, p in enumerate(pres)}
    nt_marker = ("", "x", "+", "1")
    crb0 = ds["crb0"].values

    def get(arr: xr.DataArray, p: str, s: str, nt: Any) -> np.ndarray:
        out = _sel(arr, scheme=s, Nt=nt)
        if "precoder" in out.dims:
            out = out.sel(precoder=p)
        return np.asarray(out.values, dtype=float)

    crbs: list[np.ndarray] = []
    with _style():
        fig, axes = _new_figure(2, width=5.0, height=4.0)
        for j, nt in enumerate(nts):
            tag = f", {_antenna_label(ds, nt)}" if nt is not None and len(nts) > 1 else ""
            for p in pres:
                name = PRECODER_LABELS.get(p, p)
                for s in schemes:
                    b, r = get(crb, p, s, nt), get(rate, p, s, nt)
                    crbs.append(b)
                    if s == "optimal":
                        order = np.argsort(b)
                        axes[0].plot(
                            b[order], r[order], style[p], color=colour[p], lw=1.4,
                            marker=nt_marker[j % len(nt_marker)] or None, ms=5,
                            label=f"{name}, exact frontier (optimal){tag}",
                            gid=f"frontier:{p}:{nt}",
                        )  # fmt: skip
                        axes[1].plot(
                            crb0, get(share_mean, p, s, nt), style[p], color=colour[p],
                            marker=".", label=f"{name}{tag}", gid=f"sensing:{p}:{nt}",
                        )  # fmt: skip
                    else:
                        axes[0].plot(
                            b, r, ls="none", marker=_MARKERS.get(s, "o"), mfc="none",
                            ms=6 + 2 * pres.index(p), color=colour[p],
                            label=f"{name}, {labels[s]}{tag}", gid=f"points:{p}:{nt}",
                        )  # fmt: skip
        for ax in axes:  # CRB0 values as the ticks (the binding CRB equals CRB0)
            ax.set_xscale("log")
            ax.set_xticks(crb0, [f"{c:g}" for c in crb0], rotation=35, fontsize="x-small")
            ax.xaxis.set_minor_formatter(NullFormatter())
        _log_limits(axes[0], "x", crbs)
        axes[0].set_xlabel(LABEL_CRB)
        axes[0].set_ylabel(LABEL_SUM_RATE)
        axes[0].set_title("(a) rate-CRB frontier (mean over drops)", fontsize="small")
        axes[1].set_xlabel("CRB$_0$ (rad$^2$)")
        axes[1].set_ylabel("sensing share of the transmit power")
        axes[1].set_title("(b) power on the sensing beam (optimal)", fontsize="small")
        axes[0].legend(fontsize="xx-small")
        axes[1].legend(fontsize="x-small")
        snr = ds["snr_com_db"].values if "snr_com_db" in ds.coords else None
        extra = (
            f", SNR$_\\mathrm{{com}}$ = {float(np.atleast_1d(snr)[0]):g} dB"
            if snr is not None and np.size(snr) == 1
            else ""
        )
        _title(fig, f"Rate-CRB frontier per precoder (CRB$_0$ sweep{extra})", ds)
    return fig


def crb_mc_precoders(ds: xr.Dataset) -> Figure:
    """ML angle estimation vs the CRB per precoder: one panel per precoder, and the ratios.

    Expects dims ``snr_sen_db`` and ``precoder`` (one scheme, e.g. ``equal_full``). Panel
    per precoder, as :func:`crb_mc`: root of the mean MSE of the ML estimate (error bars
    by the delta method, ``gid = "mle:<precoder>"``), the median over drops of the
    per-drop RMSE (``gid = "mle_median:<precoder>"``), ``sqrt(mean crb)`` (closed form,
    ``gid = "crb:<precoder>"``) and ``sqrt(mean crb_mc)`` (finite L (36),
    ``gid = "crb_mc:<precoder>"``). Last panel: the median over drops of
    ``RMSE / sqrt(CRB)`` per precoder (``gid = "ratio:<precoder>"``, 1 where the
    closed-form CRB is reached) and ``sqrt(mean crb_mc / mean crb)``
    (``gid = "ratio_crb_mc:<precoder>"``).
    """
    ds = _reduce_to(ds, ("snr_sen_db", "precoder", "drop", "user"))
    pres = _precoder_axis(ds)
    x = ds["snr_sen_db"].values
    ok = success_mask(ds) if "status" in ds else ds["mle_mse"].notnull()
    mse, _, n = drop_mean(ds, "mle_mse", mask=ok)
    crb, _, _ = drop_mean(ds, "crb", mask=ok)
    cm, _, _ = drop_mean(ds, "crb_mc", mask=ok)
    se_mean = ((ds["mle_mse_se"].where(ok) ** 2).sum("drop")) ** 0.5 / n
    ratio = ((ds["mle_mse"].where(ok) / ds["crb"].where(ok)) ** 0.5).median("drop", skipna=True)
    palette = _palette(8)
    colour = {p: palette[[3, 0, 2, 4][i % 4]] for i, p in enumerate(pres)}
    style = {p: _LINESTYLES[i % len(_LINESTYLES)] for i, p in enumerate(pres)}

    def get(arr: xr.DataArray, p: str) -> np.ndarray:
        out = arr.sel(precoder=p) if "precoder" in arr.dims else arr
        return np.asarray(out.values, dtype=float)

    with _style():
        fig, axes = _new_figure(len(pres) + 1, width=3.9, height=3.8)
        for ax, p in zip(axes, pres, strict=False):
            c = colour[p]
            rmse = np.sqrt(get(mse, p))
            eb = ax.errorbar(
                x, rmse, yerr=get(se_mean, p) / (2 * rmse), fmt="o-", color=c, ms=4,
                capsize=2, label="RMSE of the ML estimate",
            )  # fmt: skip
            eb.lines[0].set_gid(f"mle:{p}")
            med = np.sqrt(get(ds["mle_mse"].where(ok).median("drop", skipna=True), p))
            ax.plot(
                x, med, "-.", marker="o", mfc="none", ms=3, lw=0.8, color=c,
                label="median over drops of the RMSE", gid=f"mle_median:{p}",
            )  # fmt: skip
            ax.plot(
                x, np.sqrt(get(crb, p)), "--", marker="x", ms=4, color="k",
                label="$\\sqrt{\\mathrm{CRB}}$ closed form", gid=f"crb:{p}",
            )  # fmt: skip
            ax.plot(
                x, np.sqrt(get(cm, p)), ":", marker="+", ms=5, color="0.4",
                label="$\\sqrt{\\mathrm{CRB}}$ finite L (36)", gid=f"crb_mc:{p}",
            )  # fmt: skip
            ax.set_yscale("log")
            ax.set_xlabel(LABEL_SNR_SEN)
            ax.set_ylabel("RMSE of $\\theta$ (rad)")
            ax.set_title(PRECODER_LABELS.get(p, p), fontsize="medium")
        axes[0].legend(fontsize="xx-small")
        last = axes[len(pres)]
        for p in pres:
            name = PRECODER_LABELS.get(p, p)
            last.plot(
                x, get(ratio, p), style[p], marker="o", ms=4, color=colour[p],
                label=f"{name}: median RMSE / $\\sqrt{{\\mathrm{{CRB}}}}$",
                gid=f"ratio:{p}",
            )  # fmt: skip
            last.plot(
                x, np.sqrt(get(cm, p) / get(crb, p)), style[p], marker="+", ms=5, lw=0.8,
                color=colour[p], alpha=0.7,
                label=f"{name}: $\\sqrt{{\\mathrm{{CRB}}_{{(36)}} / \\mathrm{{CRB}}}}$",
                gid=f"ratio_crb_mc:{p}",
            )  # fmt: skip
        last.axhline(1.0, color="k", lw=0.8)
        last.set_yscale("log")
        last.set_xlabel(LABEL_SNR_SEN)
        last.set_ylabel("ratio to the closed-form $\\sqrt{\\mathrm{CRB}}$")
        last.set_title("1 = the closed-form CRB is reached", fontsize="small")
        last.legend(fontsize="xx-small")
        _title(fig, "ML angle estimation vs the CRB, per precoder", ds)
    return fig


AUDIT_FLOOR: Final = 1e-16
"""Gaps at or below this (rounding, or ``sca`` a hair above the optimum) are drawn at it."""


def _variant_labels(ds: xr.Dataset) -> dict[str, str]:
    """Legend name of each ``variant`` (the dataset's ``variants`` attribute, else the
    registry's labels, else the name)."""
    import json

    from jcas.allocation.schemes.sca import SCA_VARIANTS

    labels = {v.name: v.label for v in SCA_VARIANTS}
    try:
        recorded = json.loads(str(ds.attrs.get("variants", "{}")))
    except ValueError:
        recorded = {}
    if isinstance(recorded, dict):
        for name, info in recorded.items():
            if isinstance(info, dict) and "label" in info:
                labels[str(name)] = str(info["label"])
    return {str(v): labels.get(str(v), str(v)) for v in ds["variant"].values}


def sca_audit(ds: xr.Dataset) -> Figure:
    """The ``sca`` variants against the exact optimum over SNR_com, one column per precoder.

    Top row: the relative sum-rate gap ``(optimal - sca) / optimal`` over the drops of
    each point (log scale; gaps <= :data:`AUDIT_FLOOR` drawn at it): median (solid,
    ``gid = "gap_median:<precoder>:<variant>"``) and largest (dotted, open markers,
    ``gid = "gap_max:<precoder>:<variant>"``). Bottom row: iterations, median (solid) and
    largest (dotted) (``gid = "iterations_median:..."``, ``"iterations_max:..."``). The
    legend names each variant (``variants`` attribute,
    :data:`jcas.allocation.schemes.sca.SCA_VARIANTS`).
    Failed entries (status not a success) are left out of the statistics.
    """
    ds = _reduce_to(ds, ("snr_com_db", "precoder", "variant", "drop", "user"))
    pres = _precoder_axis(ds)
    variants = [str(v) for v in ds["variant"].values]
    labels = _variant_labels(ds)
    ok = success_mask(ds)
    gap = ds["gap"].where(ok).clip(min=AUDIT_FLOOR)
    its = ds["iterations"].where(ok)
    x = ds["snr_com_db"].values
    palette = _palette(max(len(variants), 6))
    markers = ("o", "s", "^", "v", "D", "P", "X", "*")

    def get(arr: xr.DataArray, p: str, v: str) -> xr.DataArray:
        out = arr.sel(variant=v)
        return out.sel(precoder=p) if "precoder" in out.dims else out

    with _style():
        fig = Figure(figsize=(4.2 * len(pres), 7.2), layout="constrained")
        axes = fig.subplots(2, len(pres), squeeze=False, sharex=True)
        for col, p in enumerate(pres):
            top, bottom = axes[0, col], axes[1, col]
            for i, v in enumerate(variants):
                c, m = palette[i % len(palette)], markers[i % len(markers)]
                # the printed algorithm as a wide band underneath: a single fix that changes
                # nothing (the active set here) is drawn on top of it and both stay visible
                wide = {"lw": 3.5, "zorder": 1.5, "ms": 7} if v == "printed" else {"ms": 4}
                for ax, values, name in ((top, gap, "gap"), (bottom, its, "iterations")):
                    data = get(values, p, v)
                    ax.plot(
                        x, data.median("drop", skipna=True).values, "-", color=c, marker=m,
                        label=labels[v], gid=f"{name}_median:{p}:{v}", **wide,
                    )  # fmt: skip
                    ax.plot(
                        x, data.max("drop", skipna=True).values, ":", color=c, marker=m,
                        mfc="none", gid=f"{name}_max:{p}:{v}", **{**wide, "ms": wide["ms"] + 1},
                    )  # fmt: skip
            top.set_yscale("log")
            top.set_title(PRECODER_LABELS.get(p, p), fontsize="medium")
            top.set_ylabel("gap to the optimum, (opt - sca) / opt")
            bottom.set_ylabel("iterations (solid: median, dotted: largest)")
            bottom.set_xlabel(LABEL_SNR_COM)
        axes[0, 0].legend(fontsize="xx-small")
        n_drops = ds.sizes.get("drop", 0)
        _title(
            fig,
            "sca variants vs the exact optimum on held-out drops "
            f"({n_drops} a point; solid: median, dotted: largest; gaps <= {AUDIT_FLOOR:g} "
            f"drawn at {AUDIT_FLOOR:g})",
            ds,
        )
    return fig


def save_figure(
    fig: Figure,
    pdf_path: str | os.PathLike[str],
    png_path: str | os.PathLike[str],
    *,
    dpi: int = 150,
) -> tuple[Path, Path]:
    """Save ``fig`` as PDF and PNG, each written atomically (:func:`jcas.io.atomic.atomic_write`).

    Metadata that would change from run to run (creation date) is left out.
    """
    out = []
    for path, fmt, meta in (
        (Path(pdf_path), "pdf", {"CreationDate": None, "Creator": "jcas"}),
        (Path(png_path), "png", {"Software": "jcas"}),
    ):

        def write(tmp: Path, fmt: str = fmt, meta: dict[str, Any] = meta) -> None:
            fig.savefig(tmp, format=fmt, dpi=dpi, metadata=meta)

        out.append(atomic_write(path, write))
    return out[0], out[1]


# --------------------------------------------------------------------------- planar arrays
ANGLES: Final = ("azimuth", "elevation")
"""The two angles of a planar array, as in the variable names (``crb_azimuth``, ...)."""


def _shape_label(rows: int) -> str:
    """``ULA`` for one row, else ``UPA rows x cols`` (of the transmit array)."""
    return "ULA" if rows == 1 else f"UPA {rows} x N/{rows}"


def ula_vs_upa(ds: xr.Dataset) -> Figure:
    """ULA vs UPA with the same element count: sum rate and both angles' CRBs vs ``Nt``.

    Dimensions ``Nt`` and ``tx_rows`` (``Nr``, ``rx_rows`` tied or fixed); one colour per
    scheme, one line style per array shape. Left: mean closed-form sum rate (15) over the
    successful drops (``gid = "rate:<scheme>:<rows>"``); middle and right: the mean CRB of
    the azimuth and of the elevation (``gid = "crb_<angle>:<scheme>:<rows>"``; a ULA has
    no elevation information, CRB ``inf``, not drawn).
    """
    ds = _reduce_to(ds, ("Nt", "tx_rows", "scheme", "drop", "user"))
    schemes, labels = _schemes(ds), scheme_labels(ds)
    x = ds["Nt"].values
    ok = success_mask(ds)
    rate, _, _ = drop_mean(ds, "sum_rate", mask=ok)
    with _style():
        fig, axes = _new_figure(3, width=4.0)
        for scheme in schemes:
            colour = _colour(scheme, schemes)
            for j, rows in enumerate(ds["tx_rows"].values.tolist()):
                style = _LINESTYLES[j % len(_LINESTYLES)]
                shape = _shape_label(int(rows))
                sel = {"scheme": scheme, "tx_rows": rows}
                axes[0].plot(
                    x,
                    rate.sel(sel).values,
                    style,
                    marker=_MARKERS.get(scheme, "o"),
                    color=colour,
                    label=f"{labels[scheme]}, {shape}",
                    gid=f"rate:{scheme}:{rows}",
                )
                for k, angle in enumerate(ANGLES, start=1):
                    crb, _, _ = drop_mean(ds, f"crb_{angle}", mask=ok)
                    y = crb.sel(sel).values
                    if np.isfinite(y).any():
                        axes[k].plot(
                            x,
                            np.where(np.isfinite(y), y, np.nan),
                            style,
                            marker=_MARKERS.get(scheme, "o"),
                            color=colour,
                            label=f"{labels[scheme]}, {shape}",
                            gid=f"crb_{angle}:{scheme}:{rows}",
                        )
        axes[0].set_ylabel(LABEL_SUM_RATE)
        for k, angle in enumerate(ANGLES, start=1):
            axes[k].set_yscale("log")
            axes[k].set_ylabel(f"CRB of the {angle} (rad$^2$)")
        axes[2].text(
            0.02, 0.02, "ULA: no elevation information", transform=axes[2].transAxes,
            fontsize="x-small",
        )  # fmt: skip
        for ax in axes:
            ax.set_xlabel("elements per side $N_t = N_r$")
        axes[0].legend(fontsize="x-small")
        _title(fig, "ULA vs UPA with the same element count", ds)
    return fig


def crb_map(ds: xr.Dataset, *, scheme: str | None = None) -> Figure:
    """Each angle's CRB over a map of target directions (heat maps, log10 of rad^2).

    Dimensions ``azimuth_deg`` and ``elevation_deg``; the mean over the successful drops
    of ``crb_azimuth`` and ``crb_elevation`` of ``scheme`` (default ``equal_full``, the
    fixed half-and-half split, if present, else the first scheme). The images carry
    ``gid = "crb_map_<angle>"``; their arrays are ``(elevation, azimuth)``.
    """
    ds = _reduce_to(ds, ("azimuth_deg", "elevation_deg", "scheme", "drop", "user"))
    have = _schemes(ds)
    scheme = scheme or ("equal_full" if "equal_full" in have else have[0])
    one = ds.sel(scheme=scheme)
    ok = success_mask(one)
    az, el = ds["azimuth_deg"].values, ds["elevation_deg"].values
    with _style():
        fig, axes = _new_figure(2, width=4.4)
        for ax, angle in zip(axes, ANGLES, strict=True):
            crb, _, _ = drop_mean(one, f"crb_{angle}", mask=ok)
            values = np.log10(crb.transpose("elevation_deg", "azimuth_deg").values)
            mesh = ax.pcolormesh(az, el, values, shading="nearest", cmap="viridis")
            mesh.set_gid(f"crb_map_{angle}")
            fig.colorbar(mesh, ax=ax, label=f"log$_{{10}}$ CRB of the {angle} (rad$^2$)")
            ax.set_xlabel("azimuth (deg)")
            ax.set_ylabel("elevation (deg)")
            ax.set_aspect("equal")
        labels = scheme_labels(ds)
        _title(fig, f"CRB over target directions ({labels.get(scheme, scheme)})", ds)
    return fig


def mle_planar(ds: xr.Dataset) -> Figure:
    """RMSE of the 2-D ML estimate of each angle vs sqrt(CRB) over SNR_sen (log y).

    Per angle (colour): ``sqrt(mean mle_mse_<angle>)`` (``gid = "mle_<angle>"``),
    ``sqrt(mean crb_<angle>)`` (closed form, ``gid = "crb_<angle>"``) and
    ``sqrt(mean crb_mc_<angle>)`` (finite L, ``gid = "crb_mc_<angle>"``); the first scheme.
    """
    ds = _reduce_to(ds, ("snr_sen_db", "scheme", "drop", "user"))
    ds = ds.isel(scheme=0)
    x = ds["snr_sen_db"].values
    ok = success_mask(ds)
    palette = _palette(2)
    with _style():
        fig, axes = _new_figure(1, width=5.5, height=4.0)
        ax = axes[0]
        for colour, angle in zip(palette, ANGLES, strict=True):
            mse, _, _ = drop_mean(ds, f"mle_mse_{angle}", mask=ok)
            crb, _, _ = drop_mean(ds, f"crb_{angle}", mask=ok)
            crb_mc, _, _ = drop_mean(ds, f"crb_mc_{angle}", mask=ok)
            ax.plot(x, np.sqrt(mse.values), "o-", color=colour, ms=4,
                    label=f"RMSE of the ML {angle}", gid=f"mle_{angle}")  # fmt: skip
            ax.plot(x, np.sqrt(crb.values), "--", marker="x", color=colour, ms=4,
                    label=f"$\\sqrt{{\\mathrm{{CRB}}}}$ {angle}, closed form",
                    gid=f"crb_{angle}")  # fmt: skip
            ax.plot(x, np.sqrt(crb_mc.values), ":", marker="+", color=colour, ms=5,
                    label=f"$\\sqrt{{\\mathrm{{CRB}}}}$ {angle}, finite L",
                    gid=f"crb_mc_{angle}")  # fmt: skip
        ax.set_yscale("log")
        ax.set_xlabel(LABEL_SNR_SEN)
        ax.set_ylabel("RMSE (rad)")
        ax.legend(fontsize="x-small")
        _title(fig, "2-D ML estimation of azimuth and elevation vs the CRBs", ds)
    return fig
