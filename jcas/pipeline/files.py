"""The per-job files of the sweep, written atomically with provenance and read back
(``docs/data.md``, "Per-job datasets").

The per-point jobs read and write :class:`jcas.io.fields.Fields` (netCDF4 directly, no
xarray); the aggregation, figure and claims jobs read xarray datasets with
:func:`jcas.io.results.read_netcdf` and write with :func:`write`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jcas.io.fields import Fields, read_fields, read_many, write_fields

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["read_job", "read_job_blocks", "write"]


def write(
    ds: xr.Dataset | Fields, path: str | Path, *, config: Mapping[str, Any], title: str
) -> None:
    """Write a dataset (xarray or :class:`jcas.io.fields.Fields`) atomically with provenance
    (:func:`jcas.io.fields.write_fields`, which :func:`jcas.io.results.write_netcdf` calls too;
    no xarray is imported for Fields)."""
    write_fields(Fields.from_xarray(ds), path, config=config, title=title)


def read_job(path: str | Path) -> Fields:
    """Load a per-job file as :class:`jcas.io.fields.Fields` (:func:`jcas.io.fields.read_fields`:
    no xarray; a damaged file raises :class:`jcas.io.fields.ResultFileError` naming it)."""
    return read_fields(path)


def read_job_blocks(paths: Sequence[str | Path]) -> Fields:
    """Per-job files of one grid point as :class:`jcas.io.fields.Fields`, joined along
    ``drop`` in drop order (:func:`jcas.io.fields.read_many`)."""
    return read_many(paths, "drop")
