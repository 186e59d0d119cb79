"""How every figure looks: seaborn's paper theme, series styles, facets and legend placement.

- :func:`theme`: ``sns.set_theme(context="paper", style="whitegrid", palette="colorblind")``
  with fonts of at least :data:`jcas.report.figures.MIN_FONT_PT` (8 pt) at print size and
  TrueType fonts in the PDF (``pdf.fonttype`` 42), inside a ``matplotlib.rc_context`` (the
  caller's rc settings are restored afterwards).
- :class:`Look` and :func:`plot_series`: one series of a tidy table drawn as a line with
  markers (NaN values stay gaps: seaborn's ``lineplot`` drops NaN rows and would bridge a
  failed point, so series are drawn with ``Axes.plot``), error bars where the table has them.
- :func:`facets`: a figure of panels as a seaborn ``FacetGrid`` (the figure-level grid) at a
  given print size with constrained layout.
- :func:`place_legend`: the legend in a free corner of a panel when one is free of data,
  else outside the panels below them; :func:`legend_overlaps` is the check (display
  coordinates of every drawn point and segment against the legend's box).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import matplotlib
import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import seaborn as sns  # type: ignore[import-untyped]
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cbook import STEP_LOOKUP_MAP
from matplotlib.collections import Collection, LineCollection, PathCollection, QuadMesh
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.path import Path as MplPath
from matplotlib.transforms import Bbox

from jcas.report.figures import MIN_FONT_PT
from jcas.report.figures.common import plain

__all__ = [
    "MARKERS",
    "RC",
    "Look",
    "colour",
    "facets",
    "handle",
    "legend_overlaps",
    "log_axis",
    "place_legend",
    "plot_series",
    "theme",
]

RC: Final[dict[str, Any]] = {
    "font.size": 9.0,
    "axes.labelsize": 9.0,
    "axes.titlesize": 9.0,
    "figure.titlesize": 9.5,
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "legend.fontsize": MIN_FONT_PT,
    "legend.title_fontsize": MIN_FONT_PT,
    "legend.frameon": True,
    "legend.framealpha": 0.9,
    "legend.borderaxespad": 0.3,
    "legend.handlelength": 2.2,
    "lines.linewidth": 1.1,
    "lines.markersize": 4.0,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "savefig.dpi": 300,
    "figure.constrained_layout.h_pad": 0.03,
    "figure.constrained_layout.w_pad": 0.03,
}
"""Settings on top of seaborn's paper context: 9 pt labels, 8 pt ticks and legends (the
paper context's 8.8 pt ticks scaled to IEEE columns), TrueType fonts in PDF and PostScript."""

MARKERS: Final = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">")
"""Marker of the i-th level of an axis (scheme, precoder, ...), in the registry's order."""


@contextlib.contextmanager
def theme() -> Iterator[None]:
    """seaborn's paper theme (whitegrid, colorblind palette) and :data:`RC`, restored on exit."""
    with matplotlib.rc_context():
        sns.set_theme(context="paper", style="whitegrid", palette="colorblind", rc=RC)
        yield


SERIES_ORDER: Final = (0, 1, 2, 3, 4, 5, 9, 7, 8, 6)
"""The order in which series take the colours of seaborn's ``colorblind`` palette: its sky
blue (9) seventh and its pale pink (6) last, so that no series among the first seven (e.g.
M-MMSE, the seventh precoder of the registry, or the weighted sum rate among the schemes)
is drawn in a colour too light to read on white at print size."""


def colour(i: int) -> tuple[float, float, float]:
    """The colour of the i-th series: seaborn's ``colorblind`` palette in
    :data:`SERIES_ORDER` (cycled)."""
    palette = sns.color_palette("colorblind")
    r, g, b = palette[SERIES_ORDER[i % len(SERIES_ORDER)]][:3]
    return (float(r), float(g), float(b))


@dataclass(frozen=True)
class Look:
    """How one series is drawn.

    Attributes
    ----------
    color : RGB.
    marker : matplotlib marker ("" for none).
    linestyle : "-", "--", ":", "-." or "none".
    open : open (unfilled) markers.
    markersize : points.
    linewidth : points.
    zorder : drawing order (higher on top).
    alpha : opacity.
    """

    color: Any = (0.0, 0.0, 0.0)
    marker: str = ""
    linestyle: str = "-"
    open: bool = False
    markersize: float = 4.0
    linewidth: float = 1.1
    zorder: float = 2.0
    alpha: float = 1.0

    def but(self, **changes: Any) -> Look:
        return replace(self, **changes)

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "color": self.color,
            "marker": self.marker or "None",
            "linestyle": self.linestyle,
            "markersize": self.markersize,
            "linewidth": self.linewidth,
            "zorder": self.zorder,
            "alpha": self.alpha,
        }
        if self.open:
            out["markerfacecolor"] = "none"
            out["markeredgewidth"] = 1.0
        return out


def log_axis(ax: Axes, axis: str = "y", *, plain: bool = False) -> None:
    """A log scale with minor ticks at 2 and 5 times the powers of ten, labelled when a decade
    is at least :data:`LABELLED_DECADE_IN` (x) or :data:`LABELLED_DECADE_Y_IN` (y) long at
    the print size (so a frontier over a
    decade or two has several labelled ticks, and their labels never run into each other).
    ``plain``: labels as plain numbers (``0.5``, ``1``, ``20``; for ratios near 1) instead of
    powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_minor_locator(LogLocator(base=10.0, subs=(2.0, 5.0)))
    target.set_minor_formatter(_minor_log_formatter(plain))
    if plain:
        target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


LABELLED_DECADE_IN: Final = 1.8
"""The shortest decade (inches at the print size) whose 2 and 5 ticks are labelled: a label
such as ``2 x 10^-6`` at 8 pt is about 0.5 in wide, and 1 to 2 is 0.3 of a decade."""


LABELLED_DECADE_Y_IN: Final = 0.8
"""The same on a y axis, where the labels stack: 0.3 of a decade holds an 8 pt line."""


def _minor_log_formatter(plain: bool = False) -> Any:
    import math

    from matplotlib.ticker import LogFormatterSciNotation

    class MinorLogFormatter(LogFormatterSciNotation):  # type: ignore[misc]
        """Labels 2 and 5 times the powers of ten where the decade is long enough."""

        def __init__(self) -> None:
            super().__init__(labelOnlyBase=False)

        def set_locs(self, locs: Any = None) -> None:
            axis: Any = self.axis
            ax = getattr(axis, "axes", None)
            if ax is None:  # not on an axis (e.g. a colorbar's dummy): label the decades
                self._sublabels = {1.0}
                return
            box = ax.get_position()
            width, height = ax.get_figure(root=True).get_size_inches()
            inches = box.width * width if axis is ax.xaxis else box.height * height
            low, high = sorted(abs(v) for v in axis.get_view_interval())
            decades = math.log10(high / low) if low > 0 else math.inf
            # labels side by side on x need a label's width, stacked on y a line's height
            shortest = LABELLED_DECADE_IN if axis is ax.xaxis else LABELLED_DECADE_Y_IN
            long_enough = decades > 0 and inches / decades >= shortest
            self._sublabels = {1.0, 2.0, 5.0} if long_enough else {1.0}

        def __call__(self, x: float, pos: int | None = None) -> str:
            label = str(super().__call__(x, pos))
            return f"{x:g}" if plain and label else label

    return MinorLogFormatter()


def handle(look: Look) -> Line2D:
    """A legend handle drawn like ``look``."""
    return Line2D([], [], **look.kwargs())


def plot_series(ax: Axes, rows: pd.DataFrame, look: Look, *, gid: str) -> Line2D:
    """Draw the rows of one series (columns ``x``, ``y``, optional ``y_err``) on ``ax``.

    NaN y values stay gaps. Error bars (``y_err`` finite) are drawn as a ``LineCollection``
    with the same gid and ``":err"`` appended.
    """
    x = rows["x"].to_numpy(dtype=float)
    y = rows["y"].to_numpy(dtype=float)
    (line,) = ax.plot(x, y, gid=gid, **look.kwargs())
    if "y_err" in rows and np.isfinite(rows["y_err"].to_numpy(dtype=float)).any():
        err = rows["y_err"].to_numpy(dtype=float)
        ok = np.isfinite(err) & np.isfinite(y)
        eb = ax.errorbar(
            x[ok], y[ok], yerr=err[ok], fmt="none", ecolor=look.color, elinewidth=0.8,
            capsize=1.5, zorder=look.zorder, alpha=look.alpha,
        )  # fmt: skip
        for part in (*eb.lines[1], *eb.lines[2]):
            part.set_gid(f"{gid}:err")
    return line


def facets(
    data: pd.DataFrame,
    *,
    width: float,
    height: float,
    col: str | None = "panel",
    row: str | None = None,
    col_order: Sequence[str] | None = None,
    row_order: Sequence[str] | None = None,
    sharex: bool | str = False,
    sharey: bool | str = False,
) -> tuple[Figure, dict[tuple[str, str], Axes]]:
    """The panels of ``data`` as a seaborn ``FacetGrid`` at ``width`` x ``height`` inches.

    Returns the figure (detached from pyplot, constrained layout) and ``{(row, col): Axes}``
    (row ``""`` without ``row``). Each axes' gid is its panel name (the ``col`` value, or
    ``"<row> | <col>"``); facet titles are the column names on the top row.
    """
    import matplotlib.pyplot as plt

    cols = (
        (list(col_order) if col_order is not None else list(dict.fromkeys(data[col])))
        if col
        else [""]
    )
    rows = (
        (list(row_order) if row_order is not None else list(dict.fromkeys(data[row])))
        if row
        else [""]
    )
    grid = sns.FacetGrid(
        data, col=col, row=row, col_order=cols if col else None,
        row_order=rows if row else None, sharex=sharex, sharey=sharey,
        height=height / len(rows), aspect=(width / len(cols)) / (height / len(rows)),
        despine=False, legend_out=False,
    )  # fmt: skip
    fig = grid.figure
    plt.close(fig)
    FigureCanvasAgg(fig)  # detached from pyplot: drawn and saved by Agg, no display needed
    fig.set_size_inches(width, height)
    fig.set_layout_engine("constrained")
    out: dict[tuple[str, str], Axes] = {}
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            ax = grid.axes[i, j]
            ax.set_title(c if (i == 0 and col) else "")
            ax.set_gid(plain(" | ".join(v for v in (r, c) if v)))
            ax.set_xlabel("")
            ax.set_ylabel("")
            out[(r, c)] = ax
    return fig, out


# --------------------------------------------------------------------------- legends
def _finite_runs(xy: np.ndarray) -> list[np.ndarray]:
    ok = np.isfinite(xy).all(axis=1)
    runs, start = [], None
    for i, good in enumerate(ok):
        if good and start is None:
            start = i
        if not good and start is not None:
            runs.append(xy[start:i])
            start = None
    if start is not None:
        runs.append(xy[start:])
    return runs


def _line_geometry(line: Line2D) -> tuple[list[np.ndarray], np.ndarray, float]:
    """Polylines (display coords, as drawn: steps expanded), marker points, marker radius."""
    xy = np.asarray(line.get_xydata(), dtype=float)
    if xy.size == 0:
        return [], np.empty((0, 2)), 0.0
    draw = line.get_drawstyle()
    pts = line.get_transform().transform(xy)
    polylines: list[np.ndarray] = []
    if line.get_linestyle() not in ("None", "none", " ", "") and line.get_linewidth() > 0:
        if draw and draw != "default" and draw in STEP_LOOKUP_MAP:
            sx, sy = STEP_LOOKUP_MAP[draw](xy[:, 0], xy[:, 1])
            steps = line.get_transform().transform(np.column_stack([sx, sy]))
            polylines = _finite_runs(steps)
        else:
            polylines = _finite_runs(pts)
    marker = line.get_marker()
    if marker in (None, "None", "none", "", " "):
        return polylines, np.empty((0, 2)), 0.0
    dpi = line.figure.dpi if line.figure is not None else 100.0
    radius = 0.5 * float(line.get_markersize()) * dpi / 72.0
    return polylines, pts[np.isfinite(pts).all(axis=1)], radius


def _collection_geometry(coll: Collection) -> tuple[list[np.ndarray], np.ndarray, float]:
    if isinstance(coll, LineCollection):
        tr = coll.get_transform()
        return [tr.transform(np.asarray(s)) for s in coll.get_segments()], np.empty((0, 2)), 0.0
    if isinstance(coll, PathCollection):
        offsets = np.asarray(coll.get_offsets(), dtype=float)
        pts = coll.get_offset_transform().transform(offsets)
        sizes = coll.get_sizes()
        dpi = coll.figure.dpi if coll.figure is not None else 100.0
        radius = 0.5 * float(np.sqrt(sizes.max())) * dpi / 72.0 if sizes.size else 0.0
        return [], pts[np.isfinite(pts).all(axis=1)], radius
    if isinstance(coll, QuadMesh):
        box = coll.get_window_extent()
        corners = np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]])
        return [np.vstack([corners, corners[:1]])], np.empty((0, 2)), 0.0
    tr = coll.get_transform()
    return (
        [tr.transform(np.asarray(p.vertices)) for p in coll.get_paths()],
        np.empty((0, 2)),
        0.0,
    )


def legend_overlaps(fig: Figure, legend: Legend) -> list[str]:
    """The data artists whose drawn points or segments fall inside ``legend``'s box.

    Works in display coordinates after a draw of ``fig``: every visible ``Line2D``
    (segments as drawn, markers as discs of their size) and collection (scatter points,
    error bars, meshes) of every axes, clipped to that axes (what lies outside an axes is not
    drawn), against the legend's window extent. Returns ``"<axes gid>: <artist gid>"`` for
    each overlap (empty when the legend covers no data).
    """
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # Agg canvas
    box = legend.get_window_extent(renderer)
    hits: list[str] = []
    for ax in fig.axes:
        clip = Bbox.intersection(box, ax.get_window_extent(renderer))
        if clip is None or clip.width <= 0 or clip.height <= 0:
            continue
        artists: list[Any] = [*ax.get_lines(), *ax.collections]
        for art in artists:
            if not art.get_visible() or art is legend:
                continue
            if isinstance(art, Line2D):
                polylines, points, radius = _line_geometry(art)
            else:
                polylines, points, radius = _collection_geometry(art)
            hit = any(len(p) and MplPath(p).intersects_bbox(clip, filled=False) for p in polylines)
            if not hit and len(points):
                grown = clip.expanded(1.0, 1.0).padded(radius)
                inside = (
                    (points[:, 0] >= grown.x0)
                    & (points[:, 0] <= grown.x1)
                    & (points[:, 1] >= grown.y0)
                    & (points[:, 1] <= grown.y1)
                )
                hit = bool(inside.any())
            if hit:
                hits.append(f"{ax.get_gid()}: {art.get_gid() or type(art).__name__}")
    return hits


INSIDE: Final = ("upper right", "upper left", "lower left", "lower right", "center right",
                 "center left", "upper center", "lower center")  # fmt: skip
"""Legend positions tried inside a panel, in order."""


def place_legend(
    fig: Figure,
    entries: Sequence[tuple[str, Any]],
    *,
    ax: Axes | None = None,
    title: str | None = None,
    ncols: int | None = None,
) -> Legend:
    """Add the legend of ``entries`` (label, handle) where it covers no data.

    With ``ax``, the free corners of that panel are tried first (:data:`INSIDE`); otherwise,
    or when none is free, the legend goes below the panels (constrained layout keeps it
    outside them) in as many columns as fit the figure's width (``ncols`` at most).
    """
    labels = [e[0] for e in entries]
    handles = [e[1] for e in entries]
    if ax is not None:
        fig.draw_without_rendering()  # lay out once: an inside legend moves no data
        for loc in INSIDE:
            legend = ax.legend(handles, labels, loc=loc, title=title)
            if not legend_overlaps(fig, legend):
                return legend
            legend.remove()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # Agg canvas
    width = fig.get_window_extent().width
    n = min(ncols or len(entries), len(entries))
    while True:
        legend = fig.legend(
            handles, labels, loc="outside lower center", ncols=n, title=title, frameon=False
        )
        if n == 1 or legend.get_window_extent(renderer).width <= 0.98 * width:
            return legend
        legend.remove()
        n -= 1


def entries_of(looks: Mapping[str, Look]) -> list[tuple[str, Any]]:
    """Legend entries (label, handle) of named looks, in order."""
    return [(label, handle(look)) for label, look in looks.items()]
