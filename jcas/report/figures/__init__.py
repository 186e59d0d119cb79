"""The figures: a registry of figure families, each drawn at a stated print size.

Every figure is a function of one experiment dataset (``docs/data.md``) registered from its
family's module with :func:`figure`::

    @figure("fig1", title="Sum rate vs SNR", width=DOUBLE_COLUMN, height=2.9)
    def fig1(ds: xr.Dataset) -> Drawing: ...

The families (one module each): :mod:`.sweeps` (fig1, fig2, fig3, precoders),
:mod:`.tradeoff` (pareto, precoder_frontier), :mod:`.mle` (crb_mc, crb_mc_precoders,
mle_planar), :mod:`.audit` (sca_audit), :mod:`.planar` (ula_vs_upa, crb_map),
:mod:`.channels` (channels_n, channels_spread); shared
drawing in :mod:`.style` and captions, labels and tables in :mod:`.common`. A new figure is a
decorated function in a module of this package: nothing else lists it. The config's ``plot``
values (:func:`figure_names`) are read from the modules' source without importing them (no
matplotlib or seaborn in a job that only loads the config).

:func:`render` draws a figure (a :class:`Rendered`: the matplotlib figure, its tidy data
table, title, caption and metadata); :func:`save` writes PDF (TrueType fonts), PNG, the
tidy CSV (one row per plotted point) and the caption text beside them.
"""

from __future__ import annotations

import importlib
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import os

    import pandas as pd  # type: ignore[import-untyped]
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = [
    "DOUBLE_COLUMN",
    "MIN_FONT_PT",
    "SINGLE_COLUMN",
    "Drawing",
    "FigureSpec",
    "Rendered",
    "figure",
    "figure_names",
    "outputs",
    "render",
    "rendered",
    "save",
    "spec",
]

SINGLE_COLUMN: Final = 3.5
"""Width of an IEEE single-column figure (inches)."""
DOUBLE_COLUMN: Final = 7.16
"""Width of an IEEE double-column (full-width) figure (inches)."""
MIN_FONT_PT: Final = 8.0
"""Smallest font size of any text of a figure at its print size (points)."""
PNG_DPI: Final = 300
"""Resolution of the PNG (dots per inch at the print size)."""


@dataclass(frozen=True)
class Drawing:
    """What a figure function returns.

    Attributes
    ----------
    figure : the matplotlib figure, already at its print size.
    data : the tidy table of the plotted points (:data:`jcas.report.figures.common.COLUMNS`).
    caption : the caption sentences (what is drawn, the setup, the variants, the counts).
    """

    figure: Figure
    data: pd.DataFrame
    caption: tuple[str, ...]


@dataclass(frozen=True)
class FigureSpec:
    """A registered figure.

    Attributes
    ----------
    name : the config's ``plot`` value (and the function's name).
    title : the figure's title, a few words.
    width, height : the print size (inches).
    draw : ``(ds) -> Drawing``.
    module : the family module that registered it.
    """

    name: str
    title: str
    width: float
    height: float
    draw: Callable[[xr.Dataset], Drawing] = field(repr=False)
    module: str = ""


@dataclass(frozen=True)
class Rendered:
    """A drawn figure with everything saved beside it.

    Attributes
    ----------
    name : the figure's registered name.
    figure : the matplotlib figure.
    data : tidy table, one row per plotted point (panel, series, x, y, y_err, quantities).
    title : the title drawn on the figure.
    caption : the caption (plain text, also valid reStructuredText).
    metadata : the PDF/PNG metadata (Title, Subject/Description, Keywords).
    """

    name: str
    figure: Figure
    data: pd.DataFrame
    title: str
    caption: str
    metadata: dict[str, str]


_SPECS: dict[str, FigureSpec] = {}
_RENDERED: weakref.WeakKeyDictionary[Any, Rendered] = weakref.WeakKeyDictionary()


def figure(
    name: str, *, title: str, width: float, height: float
) -> Callable[[Callable[[xr.Dataset], Drawing]], Callable[[xr.Dataset], Drawing]]:
    """Register the decorated ``(ds) -> Drawing`` as figure ``name`` (a literal string: the
    config reads the names from the source, :func:`figure_names`)."""

    def register(draw: Callable[[xr.Dataset], Drawing]) -> Callable[[xr.Dataset], Drawing]:
        old = _SPECS.get(name)
        if old is not None and old.module != draw.__module__:
            raise ValueError(f"figure {name!r} registered twice ({old.module}, {draw.__module__})")
        _SPECS[name] = FigureSpec(name, title, width, height, draw, draw.__module__)
        return draw

    return register


def _modules() -> list[str]:
    from jcas.config.figures import _modules as modules

    return modules()


def figure_names() -> tuple[str, ...]:
    """The registered figure names (:func:`jcas.config.figures.figure_names`: read from the
    family modules' source, in module then source order)."""
    from jcas.config.figures import figure_names as names

    return names()


def _load() -> None:
    for module in _modules():
        importlib.import_module(f"{__name__}.{module}")


def spec(name: str) -> FigureSpec:
    """The registered figure ``name`` (``ValueError`` naming the registered ones). Imports
    only the family module that defines it (:func:`jcas.config.figures.figure_modules`), so
    a figure job runs no other family's code."""
    if name not in _SPECS:
        from jcas.config.figures import figure_modules

        module = figure_modules().get(name)
        if module is None:
            raise ValueError(f"plot = {name!r}: must be one of {sorted(figure_modules())}")
        importlib.import_module(module)
    if name not in _SPECS:
        raise ValueError(f"plot = {name!r}: must be one of {sorted(_SPECS)}")
    return _SPECS[name]


def specs() -> dict[str, FigureSpec]:
    """Every registered figure (imports the family modules)."""
    _load()
    return dict(_SPECS)


def render(name: str, ds: xr.Dataset) -> Rendered:
    """Draw figure ``name`` of ``ds`` at its print size, with its table, caption and metadata."""
    from jcas.report.figures import common, style

    one = spec(name)
    with style.theme():
        drawing = one.draw(ds)
        fig = drawing.figure
        title = one.title
        note = common.failure_note(ds)
        if note:
            title = f"{title}\n{note}"
        fig.suptitle(title)
    caption = common.join_caption(drawing.caption)
    metadata = {
        "Title": f"{one.title} ({name})",
        "Subject": caption,
        "Keywords": f"jcas figure {name}; width {one.width:g} in, height {one.height:g} in",
    }
    out = Rendered(name, fig, drawing.data, title, caption, metadata)
    _RENDERED[fig] = out
    return out


def rendered(fig: Figure) -> Rendered | None:
    """The :class:`Rendered` record of a figure drawn by :func:`render` (else None)."""
    return _RENDERED.get(fig)


def outputs(pdf: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The CSV and caption paths written beside ``pdf``: ``<stem>.csv``, ``<stem>.caption.txt``."""
    p = Path(pdf)
    return p.with_suffix(".csv"), p.with_name(f"{p.stem}.caption.txt")


def save(
    out: Rendered,
    pdf: str | os.PathLike[str],
    png: str | os.PathLike[str],
    *,
    csv: str | os.PathLike[str] | None = None,
    caption: str | os.PathLike[str] | None = None,
    dpi: int = PNG_DPI,
) -> tuple[Path, Path, Path, Path]:
    """Write the PDF (TrueType fonts embedded), the PNG (``dpi``), the tidy CSV and the caption
    text, each atomically; CSV and caption default to :func:`outputs` of ``pdf``."""
    from jcas.io.atomic import atomic_write
    from jcas.report.figures import style

    default_csv, default_caption = outputs(pdf)
    csv_path = Path(csv) if csv is not None else default_csv
    caption_path = Path(caption) if caption is not None else default_caption
    written = []
    fig = out.figure
    engine = fig.get_layout_engine()
    # the PNG first: its draw runs the layout engine (constrained layout, a third of the
    # saving time), whose result the PDF then keeps (the same positions in both files);
    # the engine is restored afterwards, so the figure stays editable
    with style.theme():
        try:
            for path, fmt, meta in (
                (
                    Path(png),
                    "png",
                    {
                        "Title": out.metadata["Title"],
                        "Description": out.metadata["Subject"],
                        "Software": "jcas",
                    },
                ),
                (Path(pdf), "pdf", {**out.metadata, "CreationDate": None, "Creator": "jcas"}),
            ):

                def write(tmp: Path, fmt: str = fmt, meta: dict[str, Any] = meta) -> None:
                    fig.savefig(tmp, format=fmt, dpi=dpi, metadata=meta)

                written.append(atomic_write(path, write))
                if engine is not None:
                    fig.set_layout_engine("none")
        finally:
            if engine is not None:
                fig.set_layout_engine(engine)
    written.reverse()  # (pdf, png)

    def write_csv(tmp: Path) -> None:
        out.data.to_csv(tmp, index=False, float_format="%.12g")

    def write_caption(tmp: Path) -> None:
        tmp.write_text(out.caption + "\n", encoding="utf-8")

    written.append(atomic_write(csv_path, write_csv))
    written.append(atomic_write(caption_path, write_caption))
    return written[0], written[1], written[2], written[3]
