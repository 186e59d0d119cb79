"""Planar arrays: ULA vs UPA with the same element count, and each angle's CRB over directions.

- ``ula_vs_upa``: sum rate and both angles' CRBs vs the elements per side, a colour and
  marker per scheme, a line style per array shape.
- ``crb_map``: seaborn heat maps of each angle's CRB over the target directions.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import seaborn as sns  # type: ignore[import-untyped]
import xarray as xr

from jcas.io.stats import drop_mean, success_mask
from jcas.report.figures import DOUBLE_COLUMN, Drawing, figure
from jcas.report.figures.common import (
    LABEL_SUM_RATE,
    Table,
    array_name,
    coincide_sentence,
    reduce_to,
    scheme_name,
    setup_sentence,
    status_sentence,
    values,
    variants_sentence,
)
from jcas.report.figures.common import (
    schemes as scheme_axis,
)
from jcas.report.figures.style import Look, facets, handle, log_axis, place_legend, plot_series
from jcas.report.figures.sweeps import LINESTYLES, scheme_look

ANGLES = ("azimuth", "elevation")


def _array(ds: xr.Dataset) -> str:
    """The label of the dataset's array part: the system's, or the part whose keys the
    experiment gives (``tx_rows``: the points are ``upa``'s, as the config makes them)."""
    from jcas.config import point_array
    from jcas.io.provenance import dataset_config

    system = dataset_config(ds).get("system", {})
    name = system.get("array", "") if isinstance(system, dict) else ""
    return array_name(point_array(str(name), map(str, ds.coords))) if name else ""


def shape_label(ds: xr.Dataset, rows: int) -> str:
    """The array part's label and its shape: e.g. ``"UPA 4 × N/4"`` (``N`` elements)."""
    base = _array(ds)
    shape = "1 × N" if rows == 1 else f"{rows} × N/{rows}"
    return f"{base} {shape}".strip()


@figure("ula_vs_upa", title="Array shape: one row vs four", width=DOUBLE_COLUMN, height=2.9)
def ula_vs_upa(ds: xr.Dataset) -> Drawing:
    """Sum rate (gid ``rate:<scheme>:<rows>``) and the mean CRB of the azimuth and of the
    elevation (``crb_<angle>:<scheme>:<rows>``; a single row has no elevation information,
    CRB ``inf``, not drawn) vs the elements per side, for each transmit-array row count."""
    ds = reduce_to(ds, ("Nt", "tx_rows", "scheme", "drop", "user"))
    have = scheme_axis(ds)
    x = ds["Nt"].values
    ok = success_mask(ds)
    rate, _, _ = drop_mean(ds, "sum_rate", mask=ok)
    panels = ["sum rate", "azimuth", "elevation"]
    fig, axes = facets(pd.DataFrame({"panel": panels}), width=DOUBLE_COLUMN, height=2.9)
    table = Table()
    xq = "elements per side $N_t = N_r$"
    shapes = [int(r) for r in ds["tx_rows"].values]
    for s in have:
        for j, rows in enumerate(shapes):
            look = scheme_look(s, have).but(linestyle=LINESTYLES[j % len(LINESTYLES)])
            name = f"{scheme_name(s)}, {shape_label(ds, rows)}"
            r = table.add("sum rate", name, x, values(rate, scheme=s, tx_rows=rows),
                          x_quantity=xq, y_quantity=LABEL_SUM_RATE)  # fmt: skip
            plot_series(axes[("", "sum rate")], r, look, gid=f"rate:{s}:{rows}")
            for angle in ANGLES:
                with np.errstate(invalid="ignore"):  # a single row: CRB of the elevation inf
                    crb, _, _ = drop_mean(ds, f"crb_{angle}", mask=ok)
                y = values(crb, scheme=s, tx_rows=rows)
                if not np.isfinite(y).any():
                    continue
                r = table.add(angle, name, x, np.where(np.isfinite(y), y, np.nan),
                              x_quantity=xq, y_quantity=f"CRB of the {angle} (rad^2)")  # fmt: skip
                plot_series(axes[("", angle)], r, look, gid=f"crb_{angle}:{s}:{rows}")
    axes[("", "sum rate")].set_ylabel(LABEL_SUM_RATE)
    for angle in ANGLES:
        log_axis(axes[("", angle)], "y")
        axes[("", angle)].set_title(f"CRB of the {angle}")
    axes[("", "azimuth")].set_ylabel("CRB (rad$^2$)")
    for ax in axes.values():
        ax.set_xlabel(xq)
    entries = [(scheme_name(s), handle(scheme_look(s, have))) for s in have]
    entries += [
        (shape_label(ds, rows), handle(Look(color="0.2", linestyle=LINESTYLES[j % 4])))
        for j, rows in enumerate(shapes)
    ]
    place_legend(fig, entries)
    data = table.frame()
    no_el = [shape_label(ds, r) for r in shapes if r == 1]
    caption = (
        "The same element count N on both sides, arranged as one row or as several rows: mean "
        "sum rate and mean CRB of the azimuth and of the elevation over the drops with an "
        "allocation, vs N; one line style per shape"
        + (
            f" ({', '.join(no_el)} has no elevation information: no elevation curve)"
            if no_el
            else ""
        )
        + ".",
        setup_sentence(ds, skip=("Nt", "Nr")),
        variants_sentence(ds),
        coincide_sentence(data),
        status_sentence(ds),
    )
    return Drawing(fig, data, caption)


@figure("crb_map", title="CRB over target directions", width=DOUBLE_COLUMN, height=3.2)
def crb_map(ds: xr.Dataset, *, scheme: str | None = None) -> Drawing:
    """Heat maps (seaborn) of each angle's mean CRB over the target directions, for
    ``scheme`` (default: the last scheme of the registry's order present, ``equal_full`` in the
    default config: the same split on every drop). The meshes carry gid ``crb_map_<angle>``;
    cells are annotated with the CRB in units of the colour bar."""
    ds = reduce_to(ds, ("azimuth_deg", "elevation_deg", "scheme", "drop", "user"))
    have = scheme_axis(ds)
    scheme = scheme or have[-1]
    one = ds.sel(scheme=scheme) if "scheme" in ds.dims else ds
    ok = success_mask(one)
    az = [float(a) for a in ds["azimuth_deg"].values]
    el = [float(e) for e in ds["elevation_deg"].values]
    maps = {}
    for angle in ANGLES:
        crb, _, _ = drop_mean(one, f"crb_{angle}", mask=ok)
        maps[angle] = np.asarray(crb.transpose("elevation_deg", "azimuth_deg").values, float)
    finite = np.concatenate([m[np.isfinite(m)].ravel() for m in maps.values()])
    exponent = math.floor(math.log10(float(finite.min()))) if finite.size else 0
    unit = 10.0**exponent
    panels = [f"CRB of the {a}" for a in ANGLES]
    fig, axes = facets(pd.DataFrame({"panel": panels}), width=DOUBLE_COLUMN, height=3.2)
    table = Table()
    vmin, vmax = float(np.nanmin(finite)) / unit, float(np.nanmax(finite)) / unit
    # a singular range (one value everywhere) widened as the colour bar widens it, for every
    # panel: otherwise only the panel with the bar gets the wider range
    if vmax - vmin <= 1e-12 * max(abs(vmin), abs(vmax)):
        vmin, vmax = vmin - 0.1 * abs(vmin), vmax + 0.1 * abs(vmax)
    for k, (angle, panel) in enumerate(zip(ANGLES, panels, strict=True)):
        ax = axes[("", panel)]
        last = k == len(ANGLES) - 1
        frame = pd.DataFrame(maps[angle] / unit, index=el, columns=az).iloc[::-1]
        sns.heatmap(
            frame, ax=ax, cmap="viridis", vmin=vmin, vmax=vmax, annot=True, fmt=".2g",
            annot_kws={"fontsize": 8}, square=True, linewidths=0.3, cbar=last,
            cbar_kws={"label": f"CRB ($10^{{{exponent}}}$ rad$^2$)"} if last else None,
            xticklabels=[f"{a:g}" for a in az], yticklabels=[f"{e:g}" for e in el[::-1]],
        )  # fmt: skip
        ax.collections[0].set_gid(f"crb_map_{angle}")
        ax.set_xlabel("azimuth (deg)")
        ax.set_ylabel("elevation (deg)" if k == 0 else "")
        ax.tick_params(axis="y", rotation=0)
        grid_az, grid_el = np.meshgrid(az, el)
        table.add(panel, f"CRB of the {angle}", grid_az, grid_el, z=maps[angle],
                  x_quantity="azimuth (degree)", y_quantity="elevation (degree)",
                  z_quantity="CRB (rad^2)")  # fmt: skip
    data = table.frame()
    caption = (
        f"Mean CRB of the azimuth (left) and of the elevation (right) over the target "
        f"directions, {scheme_name(scheme)}; each cell is one direction of the grid, annotated "
        f"with its CRB in units of 1e{exponent} rad² (the colour scale).",
        setup_sentence(ds, skip=("crb0",)),
        variants_sentence(ds, [scheme]),
        status_sentence(ds),
    )
    return Drawing(fig, data, caption)
