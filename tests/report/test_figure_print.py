"""Every registered figure at its print size: legends off the data, fonts >= 8 pt, the stated
size, a CSV with the plotted numbers, TrueType fonts in the PDF, a caption docutils accepts.

Each figure is drawn once from a small synthetic dataset (tests/report/figure_data.py) and
saved once; the checks read the drawn artists in display coordinates after a full draw. The
legend check here is written independently of :func:`jcas.report.figures.style.legend_overlaps`
(segments sampled densely instead of a path-box intersection).
"""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from figure_data import DATASETS
from matplotlib.collections import LineCollection, QuadMesh
from matplotlib.lines import Line2D
from matplotlib.text import Text

from jcas.report import figures, plots
from jcas.report.figures import MIN_FONT_PT, PNG_DPI

NAMES = sorted(DATASETS)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[figures.Rendered, Path]]:
    out = {}
    folder = tmp_path_factory.mktemp("figures")
    for name in NAMES:
        r = figures.render(name, DATASETS[name]())
        figures.save(r, folder / f"{name}.pdf", folder / f"{name}.png")
        r.figure.canvas.draw()
        out[name] = (r, folder)
    return out


def test_every_registered_figure_has_a_dataset_here_and_a_function_in_plots() -> None:
    from jcas.config import PLOTS

    names = set(figures.figure_names())
    assert names == set(DATASETS)
    assert names == set(figures.specs())  # the names read from the source = those registered
    assert set(PLOTS) == names
    assert {n for n in plots.__all__ if callable(getattr(plots, n))} - {
        "caption", "failure_note", "save_figure"
    } == names  # fmt: skip


def _segments_hit(points: np.ndarray, box) -> bool:
    """Any point of the polyline, sampled 200 times per segment, inside ``box``."""
    for a, b in itertools.pairwise(points):
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            continue
        t = np.linspace(0, 1, 200)[:, None]
        p = a + t * (b - a)
        if (
            (p[:, 0] > box.x0) & (p[:, 0] < box.x1) & (p[:, 1] > box.y0) & (p[:, 1] < box.y1)
        ).any():
            return True
    return False


@pytest.mark.parametrize("name", NAMES)
def test_legends_cover_no_plotted_point_or_segment(drawn, name: str) -> None:
    r, _ = drawn[name]
    fig = r.figure
    renderer = fig.canvas.get_renderer()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            axbox = ax.get_window_extent(renderer)
            clip = type(box).intersection(box, axbox)
            if clip is None:
                continue
            for line in ax.get_lines():
                xy = np.asarray(line.get_xydata(), float)
                if xy.size == 0:
                    continue
                pts = line.get_transform().transform(xy)
                if line.get_linestyle() not in ("None", "none", ""):
                    assert not _segments_hit(pts, clip), (name, ax.get_gid(), line.get_gid())
                if line.get_marker() not in ("None", "none", "", None):
                    r_px = line.get_markersize() / 2 * fig.dpi / 72
                    ok = np.isfinite(pts).all(axis=1)
                    p = pts[ok]
                    inside = (
                        (p[:, 0] > clip.x0 - r_px) & (p[:, 0] < clip.x1 + r_px)
                        & (p[:, 1] > clip.y0 - r_px) & (p[:, 1] < clip.y1 + r_px)
                    )  # fmt: skip
                    assert not inside.any(), (name, ax.get_gid(), line.get_gid())
            for coll in ax.collections:
                if isinstance(coll, LineCollection):
                    for seg in coll.get_segments():
                        pts = coll.get_transform().transform(np.asarray(seg))
                        assert not _segments_hit(pts, clip), (name, ax.get_gid(), coll.get_gid())


@pytest.mark.parametrize("name", NAMES)
def test_fonts_are_at_least_8_pt_and_the_size_is_the_stated_one(drawn, name: str) -> None:
    r, folder = drawn[name]
    spec = figures.spec(name)
    assert spec.width in (figures.SINGLE_COLUMN, figures.DOUBLE_COLUMN)
    np.testing.assert_allclose(r.figure.get_size_inches(), (spec.width, spec.height))
    sizes = [
        t.get_fontsize() for t in r.figure.findobj(Text) if t.get_visible() and t.get_text().strip()
    ]
    assert sizes
    assert min(sizes) >= MIN_FONT_PT, (name, min(sizes))
    head = (folder / f"{name}.png").read_bytes()[:24]
    w, h = struct.unpack(">II", head[16:24])
    assert (w, h) == (round(spec.width * PNG_DPI), round(spec.height * PNG_DPI))


@pytest.mark.parametrize("name", NAMES)
def test_pdf_embeds_truetype_fonts_and_the_caption(drawn, name: str) -> None:
    _, folder = drawn[name]
    pdf = (folder / f"{name}.pdf").read_bytes()
    assert b"/Type3" not in pdf  # no bitmap-like Type 3 fonts
    assert b"/TrueType" in pdf or b"/CIDFontType2" in pdf
    assert b"/Title" in pdf
    assert b"/Subject" in pdf
    png = (folder / f"{name}.png").read_bytes()
    assert b"Description" in png


@pytest.mark.parametrize("name", NAMES)
def test_caption_is_valid_restructuredtext(drawn, name: str) -> None:
    from docutils.core import publish_doctree

    r, folder = drawn[name]
    assert (folder / f"{name}.caption.txt").read_text(encoding="utf-8").strip() == r.caption
    doctree = publish_doctree(r.caption, settings_overrides={"report_level": 5})
    problems = [m.astext() for m in doctree.findall() if m.tagname == "system_message"]
    assert problems == []
    assert "Setup:" in r.caption


def _points(x, y) -> np.ndarray:
    """The finite (x, y) points, sorted by x then y."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    pts = np.column_stack([x[ok], y[ok]])
    return pts[np.lexsort((pts[:, 1], pts[:, 0]))]


@pytest.mark.parametrize("name", NAMES)
def test_csv_has_the_plotted_numbers(drawn, name: str) -> None:
    r, folder = drawn[name]
    table = pd.read_csv(folder / f"{name}.csv")
    assert list(table.columns)[:5] == ["panel", "series", "x", "y", "y_err"]
    text = ["panel", "series", "x_quantity", "y_quantity", "z_quantity"]

    def strings(frame: pd.DataFrame) -> list[list[str]]:
        return [["" if pd.isna(v) else str(v) for v in row] for row in frame[text].to_numpy()]

    assert strings(table) == strings(r.data)
    numbers = ["x", "y", "y_err", "z"]
    np.testing.assert_allclose(
        table[numbers].to_numpy(float), r.data[numbers].to_numpy(float), rtol=1e-11
    )
    panels = {str(ax.get_gid()): ax for ax in r.figure.axes if ax.get_gid()}
    assert set(table["panel"]) == set(panels)
    for panel, ax in panels.items():
        rows = table[table["panel"] == panel]
        mesh = [c for c in ax.collections if isinstance(c, QuadMesh)]
        if mesh:  # a map: cell values against z (rows of the image are elevation, top down)
            values = np.asarray(mesh[0].get_array(), float).ravel()
            assert sorted(np.round(values, 6)) == sorted(np.round(rows["z"] / _unit(rows), 6))
            continue
        plotted = []
        refs = []
        for line in ax.get_lines():
            gid = str(line.get_gid())
            if gid.startswith("reference"):
                refs.append(line.get_ydata()[0])
            elif gid.endswith(":err") or gid == "None":
                continue
            else:
                plotted.append(_points(line.get_xdata(), line.get_ydata()))
        got = np.concatenate(plotted) if plotted else np.empty((0, 2))
        got = got[np.lexsort((got[:, 1], got[:, 0]))]
        want = _points(rows["x"], rows["y"])
        assert got.shape == want.shape, (name, panel)
        np.testing.assert_allclose(got, want, rtol=1e-10, err_msg=f"{name} {panel}")
        ref_rows = rows[rows["x"].isna()]
        np.testing.assert_allclose(sorted(refs), sorted(ref_rows["y"]))
        with_err = rows[np.isfinite(rows["y_err"])]
        if len(with_err):
            segs = [
                np.asarray(s)
                for c in ax.collections
                if isinstance(c, LineCollection) and str(c.get_gid()).endswith(":err")
                for s in c.get_segments()
            ]
            got = sorted((float(s[0, 0]), float((s[1, 1] - s[0, 1]) / 2)) for s in segs)
            want = sorted(zip(with_err["x"], with_err["y_err"], strict=True))
            np.testing.assert_allclose(got, want, rtol=1e-9, err_msg=f"{name} {panel}")


def _unit(rows: pd.DataFrame) -> float:
    z = rows["z"].to_numpy(float)
    return 10.0 ** np.floor(np.log10(np.nanmin(z)))


def test_every_artist_with_data_is_a_line_or_known_collection(drawn) -> None:
    """What the CSV check compares covers the drawing: no scatter or other data artist."""
    for name, (r, _) in drawn.items():
        for ax in r.figure.axes:
            for c in ax.collections:
                assert isinstance(c, (LineCollection, QuadMesh)), (name, type(c))
            assert all(isinstance(a, Line2D) for a in ax.get_lines())


def test_default_curves_over_the_antennas_have_at_least_four_points() -> None:
    """No degenerate panel in the default config: every experiment sweeping ``N`` (drawn as
    the x axis of its curves: fig3, precoders, channels_n, energy_efficiency) has at least
    four values of it."""
    import yaml

    from jcas.config import load_config

    root = Path(__file__).resolve().parents[2]
    cfg = load_config(yaml.safe_load((root / "config.yaml").read_text()))
    swept = {name: exp["sweep"] for name, exp in cfg["experiments"].items() if exp["enabled"]}
    with_n = {name: len(s["N"]) for name, s in swept.items() if "N" in s}
    assert with_n  # the rule is not vacuous
    assert all(n >= 4 for n in with_n.values()), with_n
