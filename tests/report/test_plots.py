"""Tests of jcas.report.plots on small synthetic datasets built to the contract of docs/data.md.

Expected curve values are computed here with plain numpy from the synthetic arrays
(independently of jcas.io.stats.drop_mean); failed entries carry a huge, non-NaN sum rate
so that a figure that forgot to mask by status would be caught.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from jcas.io.metadata import annotate
from jcas.report import plots

SCHEMES = ["equal", "equal_full", "optimal", "sca"]
RNG_SEED = 7


def alloc_dataset(sweep: dict[str, list], n_drops: int = 5, n_users: int = 2) -> xr.Dataset:
    """An aggregated allocation dataset with random metrics and two failed entries."""
    rng = np.random.default_rng(RNG_SEED)
    dims = [*sweep, "scheme", "drop"]
    shape = [len(v) for v in sweep.values()] + [len(SCHEMES), n_drops]
    sum_rate = rng.uniform(1.0, 10.0, shape)
    crb = 10.0 ** rng.uniform(-7, -5, shape)
    status = np.full(shape, "optimal", dtype="U16")
    status[(0,) * len(sweep) + (3, 1)] = "infeasible"  # sca, drop 1, first point
    status[(-1,) * len(sweep) + (0, 4)] = "solver_error"  # equal, drop 4, last point
    failed = status != "optimal"
    sum_rate[failed] = 1e6  # not NaN on purpose: the plots must mask by status
    crb[failed] = 1e6
    coords = {k: v for k, v in sweep.items()}
    if "Nt" in sweep:
        coords["Nr"] = ("Nt", list(sweep["Nt"]))
    if "N" in sweep:
        coords["Nt"] = ("N", [n // 2 for n in sweep["N"]])
        coords["Nr"] = ("N", [n // 2 for n in sweep["N"]])
    coords |= {"scheme": SCHEMES, "drop": np.arange(n_drops), "user": np.arange(n_users)}
    ds = xr.Dataset(
        {
            "sum_rate": (dims, sum_rate),
            "sum_rate_mc": (dims, sum_rate * (1 + 0.01 * rng.standard_normal(shape))),
            "sum_rate_mc_se": (dims, 0.01 * sum_rate),
            "crb": (dims, crb),
            "status": (dims, status),
        },
        coords=coords,
        attrs={"config": '{"system": {"crb0": 0.001}}'},
    )
    return annotate(ds)


def expected_mean(ds: xr.Dataset, name: str, **sel) -> np.ndarray:
    """Mean over drops of the successful entries, plain numpy."""
    sub = ds.sel(sel)
    vals = np.moveaxis(sub[name].values, sub[name].dims.index("drop"), -1)
    ok = np.moveaxis(sub["status"].values == "optimal", sub["status"].dims.index("drop"), -1)
    return np.array([v[o].mean() for v, o in zip(vals, ok, strict=True)])


def title(fig: Figure) -> str:
    """The figure's title with line breaks (wrapping) removed."""
    return fig.get_suptitle().replace("\n", " ")


def lines_with_gid(fig: Figure, prefix: str) -> list:
    return [ln for ax in fig.axes for ln in ax.get_lines() if str(ln.get_gid()).startswith(prefix)]


def scatters_with_gid(fig: Figure, prefix: str) -> list[PathCollection]:
    return [
        c
        for ax in fig.axes
        for c in ax.collections
        if isinstance(c, PathCollection) and str(c.get_gid()).startswith(prefix)
    ]


def test_fig1_lines_markers_and_failed_points_excluded(tmp_path):
    ds = alloc_dataset({"Nt": [15, 35], "snr_com_db": [-10.0, 10.0, 30.0]})
    fig = plots.fig1(ds)
    assert len(fig.axes) == 2
    cf = lines_with_gid(fig, "closed_form:")
    mc = lines_with_gid(fig, "monte_carlo:")
    assert len(cf) == 2 * 4
    assert len(mc) == 2 * 4
    # axis 0 is Nt = 15; the sca line includes the failed drop 1 at snr -10
    sca = next(ln for ln in fig.axes[0].get_lines() if ln.get_gid() == "closed_form:sca")
    np.testing.assert_allclose(
        sca.get_ydata(), expected_mean(ds, "sum_rate", Nt=15, scheme="sca"), rtol=1e-12
    )
    assert max(sca.get_ydata()) < 10.0  # the 1e6 of the failed entry is not averaged in
    assert "2 of 120 (point, scheme, drop) entries failed" in title(fig)
    assert fig.axes[0].get_xlabel() == plots.LABEL_SNR_COM
    assert "bit/s/Hz" in fig.axes[0].get_ylabel()
    pdf, png = plots.save_figure(fig, tmp_path / "f" / "fig1.pdf", tmp_path / "f" / "fig1.png")
    assert pdf.read_bytes()[:4] == b"%PDF"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["fig1.pdf", "fig1.png"]


def test_fig1_error_bars_are_the_standard_error_across_drops():
    ds = alloc_dataset({"Nt": [15], "snr_com_db": [0.0, 20.0]})
    fig = plots.fig1(ds)
    ax = fig.axes[0]
    container = next(c for c in ax.containers if c.lines[0].get_gid() == "monte_carlo:optimal")
    segs = container.lines[2][0].get_segments()
    half = np.array([(s[1][1] - s[0][1]) / 2 for s in segs])
    v = ds["sum_rate_mc"].sel({"Nt": 15, "scheme": "optimal"}).values  # (snr, drop), no failures
    np.testing.assert_allclose(half, v.std(axis=1, ddof=1) / np.sqrt(v.shape[1]), rtol=1e-12)


def test_fig2_panels_points_and_crb0():
    ds = alloc_dataset({"Nt": [15, 35], "snr_com_db": [-10.0, 0.0, 10.0, 20.0]})
    fig = plots.fig2(ds)
    assert len(fig.axes) == 3
    assert len(lines_with_gid(fig, "rate:")) == 8
    assert len(lines_with_gid(fig, "crb:")) == 8
    pts = scatters_with_gid(fig, "tradeoff:")
    assert len(pts) == 8
    assert sum(len(p.get_offsets()) for p in pts) == 2 * 4 * 4  # one point per scheme, SNR, Nt
    off = next(p for p in pts if p.get_gid() == "tradeoff:sca:15").get_offsets()
    np.testing.assert_allclose(off[:, 0], expected_mean(ds, "crb", Nt=15, scheme="sca"))
    np.testing.assert_allclose(off[:, 1], expected_mean(ds, "sum_rate", Nt=15, scheme="sca"))
    assert fig.axes[1].get_yscale() == "log"
    assert any(np.allclose(ln.get_ydata(), 1e-3) for ln in fig.axes[1].get_lines())  # CRB0
    assert "rad$^2$" in fig.axes[1].get_ylabel()
    assert "2 of 160" in title(fig)


def test_fig3_lines_vs_n():
    ds = alloc_dataset({"N": [20, 40, 60, 80]}).assign_coords(snr_com_db=20.0)
    fig = plots.fig3(ds)
    assert len(fig.axes) == 2
    rate = lines_with_gid(fig, "rate:")
    assert len(rate) == 4
    assert all(len(ln.get_xdata()) == 4 for ln in rate)
    eq = next(ln for ln in rate if ln.get_gid() == "rate:equal")
    np.testing.assert_allclose(eq.get_ydata(), expected_mean(ds, "sum_rate", scheme="equal"))
    assert "antennas" in fig.axes[0].get_xlabel()
    assert "20 dB" in title(fig)


def test_pareto_frontier_line_per_nt_and_points():
    ds = alloc_dataset({"Nt": [15, 35], "crb0": [1e-6, 1e-5, 1e-4, 1e-3]})
    fig = plots.pareto(ds)
    frontier = lines_with_gid(fig, "frontier:")
    assert len(frontier) == 2
    x = frontier[0].get_xdata()
    assert np.all(np.diff(x) >= 0)  # drawn in CRB order
    pts = scatters_with_gid(fig, "points:")
    assert len(pts) == 2 * 3  # sca, equal, equal_full per Nt
    assert all(len(p.get_offsets()) == 4 for p in pts)
    assert fig.axes[0].get_xscale() == "log"


def crb_mc_dataset() -> xr.Dataset:
    rng = np.random.default_rng(3)
    snr = np.array([-10.0, 0.0, 10.0, 20.0])
    crb = np.outer(1e-3 * 10 ** (-snr / 10), np.ones(6))
    mse = crb * rng.uniform(1.0, 3.0, crb.shape)
    mse[1, 2] = np.nan  # a failed trial set
    ds = xr.Dataset(
        {
            "mle_mse": (("snr_sen_db", "drop"), mse),
            "mle_mse_se": (("snr_sen_db", "drop"), 0.1 * mse),
            "crb": (("snr_sen_db", "drop"), crb),
            "crb_mc": (("snr_sen_db", "drop"), 1.1 * crb),
        },
        coords={"snr_sen_db": snr, "drop": np.arange(6)},
    )
    return annotate(ds)


def test_crb_mc_rmse_vs_sqrt_crb():
    ds = crb_mc_dataset()
    fig = plots.crb_mc(ds)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    mle = [ln for ln in lines_with_gid(fig, "mle") if not ln.get_gid().startswith("mle_median")]
    crb = lines_with_gid(fig, "crb")
    assert len(mle) == 1
    assert len(crb) == 2  # closed form and finite-L
    expected = np.sqrt(np.nanmean(ds["mle_mse"].values, axis=1))
    np.testing.assert_allclose(mle[0].get_ydata(), expected, rtol=1e-12)
    median = lines_with_gid(fig, "mle_median")
    assert len(median) == 1
    np.testing.assert_allclose(
        median[0].get_ydata(), np.sqrt(np.nanmedian(ds["mle_mse"].values, axis=1)), rtol=1e-12
    )
    assert "1 of 24" in title(fig)
    assert "(rad)" in ax.get_ylabel()
    assert "dB" in ax.get_xlabel()


def test_extra_dimension_with_several_values_is_refused():
    ds = alloc_dataset({"Nt": [15], "snr_com_db": [0.0], "crb0": [1e-4, 1e-3]})
    with pytest.raises(ValueError, match="crb0"):
        plots.fig1(ds)
    plots.fig1(ds.isel({"crb0": [0]}))  # a length-1 extra dimension is fine


def test_no_failures_is_stated():
    ds = alloc_dataset({"Nt": [15], "snr_com_db": [0.0, 10.0]})
    ds["status"][:] = "optimal"
    assert "all 40 (point, scheme, drop) entries succeeded" in title(plots.fig1(ds))


def legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def test_legends_name_the_algorithm_variant_from_the_config():
    ds = alloc_dataset({"Nt": [15], "snr_com_db": [0.0, 10.0]})
    allocation = {
        "sca": {"active_set": True, "accelerate": True, "polish": True, "stopping": "aitken"},
        "equal_full": {"sensing_fraction": 0.5},
    }
    ds.attrs["config"] = json.dumps({"system": {"crb0": 1e-3}, "allocation": allocation})
    sca = "proposed: SCA (Alg. 1 + Aitken stop, active set, extrapolation, polish)"
    assert f"{sca} (closed form)" in legend_texts(plots.fig1(ds))
    assert "equal & full power (50% sensing) (Monte-Carlo)" in legend_texts(plots.fig1(ds))
    allocation["sca"]["polish"] = False
    ds.attrs["config"] = json.dumps({"system": {"crb0": 1e-3}, "allocation": allocation})
    texts = legend_texts(plots.fig2(ds))
    assert any(
        "SCA (Alg. 1 + Aitken stop, active set, extrapolation; no polish)" in t for t in texts
    )
    assert plots.scheme_labels(ds)["optimal"] == "optimal (exact)"


def test_save_figure_leaves_no_file_when_saving_fails(tmp_path, monkeypatch):
    fig = plots.fig1(alloc_dataset({"Nt": [15], "snr_com_db": [0.0]}))

    def failing(self, fname, **kwargs):
        Path(fname).write_bytes(b"%PDF-1.4 trunc")
        raise OSError("injected")

    monkeypatch.setattr(Figure, "savefig", failing)
    with pytest.raises(OSError, match="injected"):
        plots.save_figure(fig, tmp_path / "f.pdf", tmp_path / "f.png")
    assert list(tmp_path.iterdir()) == []
