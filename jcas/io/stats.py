"""Statistics over user drops of experiment datasets: success masks, failure counts, means.

Used by the figures (:mod:`jcas.report.plots`), the claims table (:mod:`jcas.report.claims`) and the
aggregation. Imports nothing from ``jcas`` (no solver, no plotting library).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import xarray as xr

__all__ = ["SUCCESS_STATUSES", "drop_mean", "failure_count", "success_mask"]

SUCCESS_STATUSES: Final[frozenset[str]] = frozenset(
    {"optimal", "converged", "max_iterations", "feasible", "crb_violated"}
)
"""Allocation statuses that carry an allocation (equal to
``jcas.allocation.SUCCESS_STATUSES``, checked by a test; this module may not import
``jcas.allocation``, whose schemes need solvers). Every other status (``infeasible``,
``solver_error``, ...) marks a failed entry whose allocation and metrics are NaN
(``docs/data.md``)."""


def success_mask(ds: xr.Dataset) -> xr.DataArray:
    """Boolean array over the ``status`` dims: True where the allocation succeeded.

    Without a ``status`` variable every entry counts as a success.
    """
    if "status" not in ds:
        return xr.ones_like(ds[next(iter(ds.data_vars))], dtype=bool)
    status = ds["status"]
    return xr.apply_ufunc(
        lambda s: np.isin(np.asarray(s).astype(str), sorted(SUCCESS_STATUSES)), status
    ).rename("success")


def failure_count(ds: xr.Dataset) -> tuple[int, int]:
    """``(failed, total)`` number of (point, scheme, drop) entries; failed = status not a
    success. Without ``status``, NaN ``sum_rate`` (or the first data variable) counts."""
    if "status" in ds:
        ok = success_mask(ds)
        return int((~ok).sum()), int(ok.size)
    var = ds["sum_rate"] if "sum_rate" in ds else ds[next(iter(ds.data_vars))]
    return int(var.isnull().sum()), int(var.size)


def drop_mean(
    ds: xr.Dataset, name: str, *, mask: xr.DataArray | None = None
) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """Mean over ``drop`` of ``ds[name]``, skipping failed entries (``mask`` False) and NaN.

    Parameters
    ----------
    ds : dataset with a ``drop`` dimension.
    name : the variable to average (any units; the mean keeps them).
    mask : entries to use, broadcastable to ``ds[name]``; defaults to :func:`success_mask`.

    Returns
    -------
    mean, se, n : the mean, its standard error across drops (``std(ddof=1) / sqrt(n)``,
        NaN for n < 2) and the number of valid drops, each without the ``drop`` dimension.
    """
    ok = success_mask(ds) if mask is None else mask
    da = ds[name].where(ok)
    n = da.notnull().sum("drop")
    mean = da.mean("drop", skipna=True)
    std = da.std("drop", skipna=True, ddof=1)
    se = (std / np.sqrt(n)).where(n >= 2)
    return mean, se, n
