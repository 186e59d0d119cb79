"""The ``sca`` audit: each variant's gap to the exact optimum and its iterations over SNR_com."""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import xarray as xr

from jcas.io.stats import success_mask
from jcas.report.figures import DOUBLE_COLUMN, Drawing, figure
from jcas.report.figures.common import (
    LABEL_SNR_COM,
    Table,
    coincide_sentence,
    precoder_name,
    recorded_variants,
    reduce_to,
    setup_sentence,
    status_sentence,
)
from jcas.report.figures.common import (
    precoders as precoder_axis,
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

AUDIT_FLOOR: Final = 1e-16
"""Gaps at or below this (rounding, or ``sca`` a hair above the optimum) are drawn at it."""

ROWS: Final = ("gap to the optimum", "iterations")


def variant_labels(ds: xr.Dataset) -> dict[str, str]:
    """Legend label of each ``variant``: recorded in the dataset, else the variant's own label
    (:data:`jcas.allocation.schemes.sca.SCA_VARIANTS`), else its name."""
    from jcas.allocation.schemes.sca import SCA_VARIANTS

    labels = {v.name: v.label for v in SCA_VARIANTS} | recorded_variants(ds)
    return {str(v): labels.get(str(v), str(v)) for v in ds["variant"].values}


@figure("sca_audit", title="SCA variants vs the exact optimum", width=DOUBLE_COLUMN, height=4.6)
def sca_audit(ds: xr.Dataset) -> Drawing:
    """Top row: the relative sum-rate gap ``(optimal - sca) / optimal`` per precoder (log y;
    gaps <= :data:`AUDIT_FLOOR` drawn at it), median over the drops (solid, filled markers,
    gid ``gap_median:<precoder>:<variant>``) and largest (dotted, open markers,
    ``gap_max:...``). Bottom row: iterations, the same (``iterations_median:...``,
    ``iterations_max:...``). A colour and marker per variant; the legend names the variants
    only (its entries are the variants' labels, in the variants' order)."""
    ds = reduce_to(ds, ("snr_com_db", "precoder", "variant", "drop", "user"))
    pres = precoder_axis(ds)
    variants = [str(v) for v in ds["variant"].values]
    labels = variant_labels(ds)
    ok = success_mask(ds)
    gap = ds["gap"].where(ok).clip(min=AUDIT_FLOOR)
    its = ds["iterations"].where(ok)
    x = ds["snr_com_db"].values
    cols = [precoder_name(p) for p in pres]
    grid = pd.DataFrame([(r, c) for r in ROWS for c in cols], columns=["row", "panel"])
    fig, axes = facets(grid, width=DOUBLE_COLUMN, height=4.6, row="row", row_order=ROWS,
                       col_order=cols, sharex=True)  # fmt: skip
    table = Table()
    looks = {}
    for i, v in enumerate(variants):
        looks[v] = Look(color=colour(i), marker=MARKERS[i % len(MARKERS)],
                        markersize=3.0 + 0.7 * (len(variants) - i))  # fmt: skip
    for p, col in zip(pres, cols, strict=True):
        for row, values, name in ((ROWS[0], gap, "gap"), (ROWS[1], its, "iterations")):
            ax = axes[(row, col)]
            for v in variants:
                data = values.sel(variant=v)
                data = data.sel(precoder=p) if "precoder" in data.dims else data
                for stat, arr, look in (
                    ("median", data.median("drop", skipna=True), looks[v]),
                    ("max", data.max("drop", skipna=True),
                     looks[v].but(linestyle=":", open=True, linewidth=0.9)),
                ):  # fmt: skip
                    rows = table.add(
                        f"{row} | {col}", f"{labels[v]}, {stat}", x, np.asarray(arr.values),
                        x_quantity=LABEL_SNR_COM,
                        y_quantity="relative sum-rate gap" if name == "gap" else "iterations",
                    )  # fmt: skip
                    plot_series(ax, rows, look, gid=f"{name}_{stat}:{p}:{v}")
            if name == "gap":
                log_axis(ax, "y")
            if row == ROWS[1]:
                ax.set_xlabel(LABEL_SNR_COM)
        axes[(ROWS[0], cols[0])].set_ylabel("gap (opt $-$ sca) / opt")
        axes[(ROWS[1], cols[0])].set_ylabel("iterations")
    place_legend(fig, [(labels[v], handle(looks[v])) for v in variants], ncols=3)
    data = table.frame()
    caption = (
        "The sca variants (Algorithm 1 as printed, each robustness fix alone, and the default "
        "with every fix) against the exact optimum on held-out drops, one column per precoder: "
        "top, the relative sum-rate gap (optimal - sca) / optimal (log scale; gaps at or below "
        f"{AUDIT_FLOOR:g} drawn at {AUDIT_FLOOR:g}); bottom, the iterations; solid lines with "
        "filled markers are the median over the drops, dotted lines with open markers the "
        "largest.",
        setup_sentence(ds, skip=("snr_com_db",)),
        coincide_sentence(data),
        status_sentence(ds, what="(point, precoder, variant, drop)"),
    )
    return Drawing(fig, data, caption)
