"""Tests of jcas.io.stats: success masks, failure counts and drop means."""

from __future__ import annotations

import numpy as np
import xarray as xr
from conftest import allocation_pieces

from jcas.io.results import combine_datasets
from jcas.io.stats import SUCCESS_STATUSES, drop_mean, failure_count, success_mask

FAILED = {"Nt": 4, "snr_com_db": 10.0, "scheme": "equal", "drop": 3}  # see allocation_piece


def test_failure_count_and_success_mask():
    ds = combine_datasets(allocation_pieces())
    assert failure_count(ds) == (1, 2 * 2 * 2 * 4)
    ok = success_mask(ds)
    assert ok.dims == ds["status"].dims
    assert not bool(ok.sel(FAILED))
    assert int(ok.sum()) == 2 * 2 * 2 * 4 - 1


def test_without_status_nan_sum_rates_are_the_failures():
    ds = combine_datasets(allocation_pieces()).drop_vars("status")
    assert failure_count(ds) == (1, 32)
    assert bool(success_mask(ds).all())


def test_success_statuses_match_the_allocation_package():
    from jcas.allocation import STATUSES
    from jcas.allocation import SUCCESS_STATUSES as ALLOCATION_SUCCESS

    assert set(ALLOCATION_SUCCESS) == SUCCESS_STATUSES
    assert set(STATUSES) > SUCCESS_STATUSES


def test_drop_mean_skips_failed_entries_and_gives_the_standard_error():
    ds = combine_datasets(allocation_pieces())
    ds["sum_rate"].loc[FAILED] = 1e9  # a failed entry with a value: masked by its status
    mean, se, n = drop_mean(ds, "sum_rate")
    point = {k: v for k, v in FAILED.items() if k != "drop"}
    v = ds["sum_rate"].sel(point).values[:3]
    assert int(n.sel(point)) == 3
    np.testing.assert_allclose(float(mean.sel(point)), v.mean(), rtol=1e-14)
    np.testing.assert_allclose(float(se.sel(point)), v.std(ddof=1) / np.sqrt(3), rtol=1e-12)
    assert "drop" not in mean.dims


def test_drop_mean_with_one_valid_drop_has_no_standard_error():
    ds = xr.Dataset({"x": ("drop", [2.0, np.nan])}, coords={"drop": [0, 1]})
    mean, se, n = drop_mean(ds, "x", mask=ds["x"].notnull())
    assert (float(mean), int(n)) == (2.0, 1)
    assert np.isnan(float(se))
