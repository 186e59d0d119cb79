"""What the figures draw, on small synthetic datasets built to the contract of docs/data.md.

Expected curve values are computed here with plain numpy from the synthetic arrays
(independently of jcas.io.stats.drop_mean); failed entries carry a huge, non-NaN sum rate
so that a figure that forgot to mask by status would be caught. Labels come from the parts'
own :attr:`Part.label` (a toy precoder registered for one test appears with its label).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from figure_data import CONFIG, DATASETS, alloc_dataset, with_precoders
from matplotlib.figure import Figure

from jcas.parts.registry import PRECODERS, SCHEMES_REGISTRY, Part
from jcas.report import figures, plots


def expected_mean(ds: xr.Dataset, name: str, **sel) -> np.ndarray:
    """Mean over drops of the successful entries, plain numpy."""
    sub = ds.sel(sel)
    vals = np.moveaxis(sub[name].values, sub[name].dims.index("drop"), -1)
    ok = np.moveaxis(sub["status"].values == "optimal", sub["status"].dims.index("drop"), -1)
    return np.array([v[o].mean() if o.any() else np.nan for v, o in zip(vals, ok, strict=True)])


def line(fig: Figure, gid: str, panel: int = 0):
    """The line ``gid`` of the ``panel``-th axes that has one."""
    axes = [ax for ax in fig.axes if any(ln.get_gid() == gid for ln in ax.get_lines())]
    found = [ln for ln in axes[panel].get_lines() if ln.get_gid() == gid]
    assert len(found) == 1, (gid, len(found))
    return found[0]


def legend_texts(fig: Figure) -> list[str]:
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    return [t.get_text() for lg in legends for t in lg.get_texts()]


def test_fig1_closed_form_lines_mask_failed_entries_and_mc_error_bars_are_the_se():
    ds = DATASETS["fig1"]()
    fig = plots.fig1(ds)
    sca = line(fig, "closed_form:sca")  # first panel: Nt = 15, the failed drop 1 at -10 dB
    np.testing.assert_allclose(
        sca.get_ydata()[:4], expected_mean(ds, "sum_rate", Nt=15, scheme="sca"), rtol=1e-12
    )
    assert np.nanmax(sca.get_ydata()) < 10.0  # the 1e6 of the failed entries is not averaged
    rows = figures.rendered(fig).data
    mc = rows[(rows["series"] == "optimal, Monte-Carlo") & rows["panel"].str.contains("15")]
    v = ds["sum_rate_mc"].sel(Nt=15, scheme="optimal").values  # (snr, drop), no failures
    np.testing.assert_allclose(mc["y_err"], v.std(axis=1, ddof=1) / np.sqrt(v.shape[1]))


def test_titles_are_short_and_counts_go_to_the_caption():
    ds = DATASETS["fig1"]()
    fig = plots.fig1(ds)
    title = fig.get_suptitle()
    # one solver_error among 160 entries is a failure (short note in the title); the
    # infeasible entry is not
    assert title.splitlines()[1] == "1 of 160 entries failed (gaps)"
    assert len(title.splitlines()[0].split()) <= 5
    text = plots.caption(fig)
    assert "158 of 160 (point, scheme, drop) entries have an allocation" in text
    assert "1 are infeasible" in text
    assert "1 failed (solver_error 1" in text
    for part in ("K = 4 users", "Pt = 30 dBm", "5 user drops"):
        assert part in text
    ok = ds.copy()
    ok["status"][:] = "optimal"
    assert "\n" not in plots.fig1(ok).get_suptitle()


def test_legends_use_part_labels_and_the_caption_names_the_variant():
    ds = DATASETS["fig2"]()
    fig = plots.fig2(ds)
    texts = legend_texts(fig)
    for s in ("sca", "optimal", "equal", "equal_full"):
        assert SCHEMES_REGISTRY[s].label in texts
    assert not any("Aitken" in t for t in texts)  # the variant is in the caption
    text = plots.caption(fig)
    assert "SCA (Alg. 1 + Aitken stop, active set, extrapolation, polish)" in text
    assert "equal & full power (50% sensing)" in text
    cfg = json.loads(ds.attrs["config"])
    cfg["allocation"]["sca"]["polish"] = False
    ds.attrs["config"] = json.dumps(cfg)
    assert "; no polish" in plots.caption(plots.fig2(ds))


def test_a_registered_toy_precoder_appears_with_its_label():
    toy = Part("precoder", "toy", "Toy beam", build=lambda: None, description="test only")
    with PRECODERS.temporary(toy):
        ds = with_precoders(
            alloc_dataset({"N": [30, 50, 70, 100], "snr_com_db": [0.0, 20.0]}),
            precoders=("mrt", "toy"),
        )
        fig = plots.precoders(ds)
        assert "Toy beam" in legend_texts(fig)
        assert "MRT" in legend_texts(fig)
        data = figures.rendered(fig).data
        assert data["series"].str.startswith("Toy beam").any()
        assert not data["series"].str.contains("toy").any()


def test_precoders_curves_over_n_have_every_n_and_the_ecdf_every_drop():
    ds = DATASETS["precoders"]()
    fig = plots.precoders(ds)
    rate_n = line(fig, "rate_n:zf:optimal")
    np.testing.assert_array_equal(rate_n.get_xdata(), [30, 50, 70, 100])
    np.testing.assert_allclose(
        rate_n.get_ydata(),
        expected_mean(ds.sel(precoder="zf"), "sum_rate", scheme="optimal", snr_com_db=20.0),
    )
    ecdf = line(fig, "ecdf:zf")
    ok = ds["status"].sel(precoder="zf", scheme="optimal", N=100, snr_com_db=20.0) == "optimal"
    per_drop = ds["sum_rate"].sel(precoder="zf", scheme="optimal", N=100, snr_com_db=20.0)
    x = np.asarray(ecdf.get_xdata(), float)
    np.testing.assert_allclose(np.sort(x[np.isfinite(x)]), np.sort(per_drop.values[ok.values]))


def test_coinciding_curves_are_said_to_coincide():
    ds = DATASETS["sca_audit"]()
    text = plots.caption(plots.sca_audit(ds))
    assert "coincide" in text
    assert "Alg. 1 as printed (relative-change stop), median and + active set, median" in text
    assert "coincide" not in plots.caption(plots.crb_mc(DATASETS["crb_mc"]()))


def test_sca_audit_legend_is_the_variants_in_order():
    from jcas.allocation.schemes.sca import SCA_VARIANTS

    fig = plots.sca_audit(DATASETS["sca_audit"]())
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [v.label for v in SCA_VARIANTS]


def test_pareto_draws_in_crb_order_and_leaves_out_infeasible_points():
    ds = DATASETS["pareto"]()
    fig = plots.pareto(ds)
    frontier = line(fig, "frontier:15")
    assert np.all(np.diff(frontier.get_xdata()) > 0)
    text = plots.caption(fig)
    assert "infeasible" in text
    assert "failed (solver_error" in text


def test_crb_mc_rmse_is_the_root_of_the_mean_mse_over_drops():
    ds = DATASETS["crb_mc"]()
    fig = plots.crb_mc(ds)
    np.testing.assert_allclose(
        line(fig, "mle").get_ydata(), np.sqrt(np.nanmean(ds["mle_mse"].values, axis=1))
    )
    np.testing.assert_allclose(
        line(fig, "mle_median").get_ydata(),
        np.sqrt(np.nanmedian(ds["mle_mse"].values, axis=1)),
    )
    assert "(rad)" in fig.axes[0].get_ylabel()


def test_crb_map_cells_are_the_mean_crb_of_each_direction():
    ds = DATASETS["crb_map"]()
    fig = plots.crb_map(ds)
    data = figures.rendered(fig).data
    az = data[data["panel"] == "CRB of the azimuth"]
    expected = ds["crb_azimuth"].sel(scheme="equal_full").where(
        ds["status"].sel(scheme="equal_full") == "optimal").mean("drop")  # fmt: skip
    for _, row in az.iterrows():
        assert row["z"] == pytest.approx(
            float(expected.sel(azimuth_deg=row["x"], elevation_deg=row["y"])), rel=1e-12
        )


@pytest.mark.parametrize("constant", [False, True])
def test_crb_map_panels_share_one_colour_scale(constant: bool) -> None:
    """Both panels map a CRB to the same colour, the one of the colour bar, also when every
    cell holds the same value (a singular range: each panel would otherwise keep its own
    normalisation, and the one without the bar drew every cell at the bottom colour)."""
    ds = DATASETS["crb_map"]()
    if constant:
        for angle in ("azimuth", "elevation"):
            ds[f"crb_{angle}"] = xr.full_like(ds[f"crb_{angle}"], 3.7e-6)
    fig = plots.crb_map(ds)
    fig.canvas.draw()
    meshes = [fig.axes[k].collections[0] for k in (0, 1)]
    norms = {(m.norm.vmin, m.norm.vmax) for m in meshes}
    assert len(norms) == 1
    ((vmin, vmax),) = norms
    assert vmin < vmax
    if constant:  # one value, one colour in both panels
        colours = np.concatenate([m.get_facecolors() for m in meshes])
        assert np.allclose(colours, colours[0])


def test_extra_dimension_with_several_values_is_refused():
    ds = alloc_dataset({"Nt": [15], "snr_com_db": [0.0], "crb0": [1e-4, 1e-3]})
    with pytest.raises(ValueError, match="crb0"):
        plots.fig1(ds)
    plots.fig1(ds.isel({"crb0": [0]}))  # a length-1 extra dimension is fine


def test_theme_leaves_the_callers_rc_settings_alone():
    import matplotlib

    before = dict(matplotlib.rcParams)
    plots.fig3(DATASETS["fig3"]())
    assert dict(matplotlib.rcParams) == before


def test_save_figure_writes_csv_and_caption_beside_and_nothing_when_saving_fails(
    tmp_path, monkeypatch
):
    fig = plots.fig3(DATASETS["fig3"]())
    pdf, png = plots.save_figure(fig, tmp_path / "f" / "fig3.pdf", tmp_path / "f" / "fig3.png")
    assert pdf.read_bytes()[:4] == b"%PDF"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    names = sorted(p.name for p in (tmp_path / "f").iterdir())
    assert names == ["fig3.caption.txt", "fig3.csv", "fig3.pdf", "fig3.png"]
    assert figures.outputs(pdf) == (
        tmp_path / "f" / "fig3.csv",
        tmp_path / "f" / "fig3.caption.txt",
    )

    def failing(self, fname, **kwargs):
        Path(fname).write_bytes(b"%PDF-1.4 trunc")
        raise OSError("injected")

    monkeypatch.setattr(Figure, "savefig", failing)
    with pytest.raises(OSError, match="injected"):
        plots.save_figure(fig, tmp_path / "g.pdf", tmp_path / "g.png")
    assert not (tmp_path / "g.pdf").exists()
    assert not (tmp_path / "g.png").exists()


def test_unknown_figure_name_is_named():
    with pytest.raises(ValueError, match="plot = 'fig9'"):
        figures.spec("fig9")


def test_config_is_unchanged_by_drawing():
    ds = DATASETS["fig1"]()
    before = ds.attrs["config"]
    plots.fig1(ds)
    assert json.loads(ds.attrs["config"]) == json.loads(before) == CONFIG


@pytest.mark.parametrize("name", ["crb_mc", "crb_mc_precoders"])
def test_estimation_legends_name_the_bounds(name: str) -> None:
    """The legend names every kind of curve drawn: the estimate's two and both bounds (the
    bounds' labels carry TeX, the table's series names are plain text)."""
    fig = getattr(plots, name)(DATASETS[name]())
    texts = [t.get_text() for lg in fig.legends for t in lg.get_texts()]
    texts += [
        t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()
    ]
    for kind in (
        "RMSE of the ML estimate",
        "median over drops",
        "closed form (16)",
        "finite L (36)",
    ):
        assert any(kind in t for t in texts), (kind, texts)


def test_precoder_panels_draw_the_estimate_in_the_precoders_colour() -> None:
    """crb_mc_precoders: each precoder's panel draws its estimate in the colour of its ratio
    in the last panel (a ZF estimate is not drawn in MRT's colour)."""
    fig = plots.crb_mc_precoders(DATASETS["crb_mc_precoders"]())
    lines = {ln.get_gid(): ln for ax in fig.axes for ln in ax.get_lines() if ln.get_gid()}
    for p in ("mrt", "zf", "pzf"):
        assert lines[f"mle:{p}"].get_color() == lines[f"ratio:{p}"].get_color(), p
    assert len({lines[f"mle:{p}"].get_color() for p in ("mrt", "zf", "pzf")}) == 3
