"""Result files: NetCDF writing and reading, combining per-job datasets, the data contract.

Implements the data contract of ``docs/data.md``; the files pass the CF-1.10 checks of
the IOOS compliance checker (``tests/io/test_cf_compliance.py``). Files are written by
:func:`jcas.io.fields.write_fields` (metadata from :mod:`jcas.io.metadata`, provenance from
:mod:`jcas.io.provenance`, the atomic write of :mod:`jcas.io.atomic`) and read by xarray. No
plotting library or solver is imported.

Public API (stable names, used by the pipeline, the figures and the claims):

- :func:`write_netcdf`: annotated, CF-encoded, atomic write with provenance.
- :func:`read_netcdf`: load fully into memory; :class:`ResultFileError` naming the file
  for a missing, truncated or corrupt file.
- :func:`combine_datasets`: combine per-job datasets by coordinates with explicit
  arguments; refuses duplicated (grid point, scheme, drop) entries.
- :func:`validate_contract`: check the contract's minimum (raises :class:`ContractError`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import xarray as xr

from jcas.io import fields
from jcas.io.fields import (
    LABEL_SUFFIX,
    Fields,
    ResultFileError,
    readable_file,
    unreadable,
    write_fields,
)
from jcas.io.provenance import to_json
from jcas.io.stats import success_mask

__all__ = [
    "LABEL_SUFFIX",
    "REQUIRED_GLOBAL_ATTRS",
    "REQUIRED_VARIABLES",
    "REQUIRED_VARIABLES_CRB_MC",
    "ContractError",
    "ResultFileError",
    "cf_coordinates",
    "combine_datasets",
    "indexes_from_labels",
    "read_netcdf",
    "validate_contract",
    "write_netcdf",
]


class ContractError(ValueError):
    """A dataset violates the data contract of ``docs/data.md`` (the message lists every
    problem)."""


REQUIRED_VARIABLES: Final = (
    "beta",
    "xi",
    "gamma",
    "eta",
    "rate",
    "sum_rate",
    "sum_rate_mc",
    "crb",
    "power_total",
    "power_sensing",
    "status",
    "iterations",
    "solve_time",
)
"""Minimum data variables of an allocation experiment (``docs/data.md``)."""

REQUIRED_VARIABLES_CRB_MC: Final = ("mle_mse", "mle_mse_se", "crb", "crb_mc")
"""Minimum data variables of the ``crb_mc`` experiment (``docs/data.md``)."""

REQUIRED_GLOBAL_ATTRS: Final = (
    "Conventions",
    "title",
    "source",
    "history",
    "config",
    "code_revision",
    "package_versions",
)


# --------------------------------------------------------------------------- encodings
def cf_coordinates(ds: xr.Dataset) -> dict[str, str]:
    """The CF ``coordinates`` attribute of every data variable of ``ds``
    (:func:`jcas.io.fields.cf_coordinates`): the non-dimension coordinates whose dimensions
    are a subset of the variable's, sorted. xarray would otherwise write the names it
    remembers from the files a dataset was read from."""
    return fields.cf_coordinates(Fields.from_xarray(ds))


def indexes_from_labels(ds: xr.Dataset) -> xr.Dataset:
    """The inverse of the labels written for string-valued dimensions
    (:data:`jcas.io.fields.LABEL_SUFFIX`): each label ``<dim>_name(<dim>)`` of a dimension
    without a coordinate variable becomes the dimension's index again, so
    ``ds.sel(scheme="sca")`` works. Datasets without labels are returned unchanged."""
    labels = {
        str(name): str(name)[: -len(LABEL_SUFFIX)]
        for name, var in ds.coords.items()
        if str(name).endswith(LABEL_SUFFIX)
        and var.dims == (str(name)[: -len(LABEL_SUFFIX)],)
        and str(name)[: -len(LABEL_SUFFIX)] not in ds.coords
    }
    if not labels:
        return ds
    ds = ds.rename_vars(labels)
    for dim in labels.values():  # one index each (a list would make one multi-index)
        ds = ds.set_xindex(dim)
    return ds


# --------------------------------------------------------------------------- write / read
def write_netcdf(
    ds: xr.Dataset,
    path: str | os.PathLike[str],
    *,
    config: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> Path:
    """Write ``ds`` to NetCDF4 atomically, annotated and with provenance; return the path.

    The file is the one :func:`jcas.io.fields.write_fields` writes for the dataset's
    variables (the writer of every jcas file): annotated
    (:func:`jcas.io.metadata.annotated_attrs`), with the global attributes of
    :func:`jcas.io.provenance.global_attributes` (``config`` as sorted-key JSON, kept from
    ``ds`` when not given; a ``history`` line appended), string-valued dimensions as
    labels (``scheme_name(scheme)``, undone by :func:`read_netcdf`), the CF
    ``coordinates`` attribute of :func:`cf_coordinates`, explicit encodings, and written
    with :func:`jcas.io.atomic.atomic_write`: a failure at any point (a full disk included,
    reported as :class:`jcas.io.atomic.DiskFullError`) removes the temporary file and leaves
    any previous file under ``path`` untouched. ``tests/io/test_fields.py`` checks the files
    against those of xarray's own writer (``Dataset.to_netcdf``).
    """
    return write_fields(Fields.from_xarray(ds), path, config=config, title=title)


def read_netcdf(path: str | os.PathLike[str]) -> xr.Dataset:
    """Load a result file fully into memory and close it.

    String-valued dimensions stored as labels (``scheme_name``, see
    :func:`indexes_from_labels`) are indexes again (``ds.sel(scheme="sca")``).
    Raises :class:`ResultFileError` naming the file when it is missing, empty,
    truncated or otherwise unreadable (the underlying error is chained).
    """
    p = readable_file(path)
    try:
        with xr.open_dataset(p, engine="netcdf4", cache=False) as handle:
            ds = indexes_from_labels(handle.load())
    except Exception as err:  # netCDF4/HDF5 raise OSError, RuntimeError, ValueError, ...
        raise unreadable(p, err) from err
    return ds


# --------------------------------------------------------------------------- combine
def _entry_dims(ds: xr.Dataset) -> list[str]:
    """The dimensions that index a (grid point, scheme, drop) entry: all but ``user``."""
    return [str(d) for d in ds.dims if d != "user"]


def _entries(ds: xr.Dataset) -> set[tuple[tuple[str, Any], ...]]:
    dims = sorted(_entry_dims(ds))
    for d in dims:
        if d not in ds.coords:
            raise ValueError(f"dimension {d!r} has no coordinate: cannot combine by coordinates")
    axes = [ds[d].values.tolist() for d in dims]
    grids = np.meshgrid(*[np.arange(len(a)) for a in axes], indexing="ij") if axes else []
    flat = [g.ravel() for g in grids]
    n = flat[0].size if flat else 1
    return {tuple((d, axes[j][flat[j][i]]) for j, d in enumerate(dims)) for i in range(n)}


def combine_datasets(
    datasets_or_paths: Iterable[xr.Dataset | str | os.PathLike[str]],
    *,
    check_duplicates: bool = True,
) -> xr.Dataset:
    """Combine per-job datasets into one experiment dataset, by coordinates.

    Pieces are datasets or paths (read with :func:`read_netcdf`). Arguments of
    :func:`xarray.combine_by_coords` are explicit:

    - ``join="exact"``: pieces combined along one dimension must have identical
      indexes along every other one (a missing block is an error, not NaN fill);
    - ``compat="equals"``, ``data_vars="minimal"``, ``coords="minimal"``: only
      variables that carry a concatenated dimension are concatenated along it; any
      other variable (e.g. ``beta`` (drop, user) across schemes) must be equal in
      every piece, which checks common random numbers, instead of being broadcast;
    - ``combine_attrs="drop_conflicts"``: attributes equal in all pieces are kept,
      per-job ones (history, per-job config) are dropped; the caller sets the
      experiment's provenance when writing (:func:`write_netcdf`). The distinct
      ``code_revision`` values of the pieces are kept in ``input_code_revisions``.

    Raises ``ValueError`` when a (grid point, scheme, drop) entry appears in two
    pieces (naming both), or when the pieces do not form a complete grid.
    """
    pieces: list[xr.Dataset] = []
    names: list[str] = []
    for i, item in enumerate(datasets_or_paths):
        if isinstance(item, xr.Dataset):
            pieces.append(item)
            names.append(str(item.encoding.get("source", f"dataset #{i}")))
        else:
            pieces.append(read_netcdf(item))
            names.append(str(item))
    if not pieces:
        raise ValueError("combine_datasets: no datasets given")
    if check_duplicates:
        seen: dict[tuple[tuple[str, Any], ...], int] = {}
        for i, piece in enumerate(pieces):
            for key in _entries(piece):
                if key in seen:
                    where = ", ".join(f"{d}={v!r}" for d, v in key)
                    raise ValueError(
                        f"duplicate entry ({where}) in {names[seen[key]]} and {names[i]}"
                    )
                seen[key] = i
    revisions = sorted(
        {str(p.attrs["code_revision"]) for p in pieces if "code_revision" in p.attrs}
    )
    try:
        combined = xr.combine_by_coords(
            pieces,
            compat="equals",
            data_vars="minimal",
            coords="minimal",
            join="exact",
            combine_attrs="drop_conflicts",
        )
    except ValueError as err:
        raise ValueError(
            f"cannot combine {len(pieces)} per-job datasets ({err}); every grid point, "
            "scheme and drop block must be present exactly once with equal shared variables"
        ) from err
    if not isinstance(combined, xr.Dataset):  # pragma: no cover - only DataArrays give that
        raise TypeError("combine_datasets: expected a Dataset")
    if revisions:
        combined.attrs["input_code_revisions"] = to_json(revisions)
    return combined


# --------------------------------------------------------------------------- contract
def validate_contract(ds: xr.Dataset, *, kind: str = "auto") -> None:
    """Check an experiment dataset against the data contract of ``docs/data.md``.

    Raises :class:`ContractError` listing every problem. Meant for the aggregated
    ``results/<experiment>.nc`` (per-job files hold only part of the variables).

    ``kind`` is ``"allocation"`` (the schemes' experiments), ``"crb_mc"`` or ``"auto"``
    (``crb_mc`` when ``mle_mse`` is present). Checks: required variables and dimensions,
    ``units`` and ``long_name`` on every variable and coordinate, the global attributes
    (``config`` and ``package_versions`` valid JSON), dimension coordinates present,
    and NaN metrics wherever the status is not a success.
    """
    if kind == "auto":
        kind = "crb_mc" if "mle_mse" in ds else "allocation"
    if kind not in ("allocation", "crb_mc"):
        raise ValueError(f"kind = {kind!r}: must be 'auto', 'allocation' or 'crb_mc'")
    problems: list[str] = []
    required = REQUIRED_VARIABLES if kind == "allocation" else REQUIRED_VARIABLES_CRB_MC
    for name in required:
        if name not in ds.data_vars:
            problems.append(f"missing variable {name!r}")
    needed_dims = ("scheme", "drop", "user") if kind == "allocation" else ("drop",)
    for d in needed_dims:
        if d not in ds.dims:
            problems.append(f"missing dimension {d!r}")
    for dim in ds.dims:
        if dim not in ds.coords:
            problems.append(f"dimension {dim!r} has no coordinate")
    for vname, var in ds.variables.items():
        for attr in ("units", "long_name"):
            if attr not in var.attrs:
                problems.append(f"variable {vname!r} has no {attr!r} attribute")
    for attr in REQUIRED_GLOBAL_ATTRS:
        if attr not in ds.attrs:
            problems.append(f"missing global attribute {attr!r}")
    if "Conventions" in ds.attrs and not str(ds.attrs["Conventions"]).startswith("CF-"):
        problems.append(f"Conventions = {ds.attrs['Conventions']!r}: expected 'CF-x.y'")
    for attr in ("config", "package_versions"):
        if attr in ds.attrs:
            try:
                json.loads(str(ds.attrs[attr]))
            except json.JSONDecodeError as err:
                problems.append(f"global attribute {attr!r} is not valid JSON ({err})")
    if "status" in ds.data_vars and kind == "allocation":
        bad = ~success_mask(ds)
        for name in ("sum_rate", "crb", "gamma", "eta"):
            if name in ds.data_vars and bool((bad & ds[name].notnull()).any()):
                problems.append(f"{name!r} is not NaN where the status is not a success")
    if problems:
        raise ContractError("dataset violates the data contract: " + "; ".join(problems))
