"""Datasets as plain numpy arrays, and the writer of every jcas NetCDF file.

A sweep job computes one grid point and writes one small file; importing xarray (and
with it pandas) costs about 0.3 s of a process that otherwise needs 0.02 s to compute
a closed-form point, so the per-point jobs (drops, allocation, Monte-Carlo, MLE, the
sca audit) hold their data as :class:`Fields` and read and write it with netCDF4
directly. :func:`write_fields` is the one writer of the package:
:func:`jcas.io.results.write_netcdf` hands it an ``xarray.Dataset``'s variables
(:meth:`Fields.from_xarray`). Its files are those of xarray's own writer
(``Dataset.to_netcdf``) with the encodings of the data contract (``docs/data.md``): the
same variables, dimensions, data types, fill values, attributes and provenance
(``tests/io/test_fields.py`` compares them on every job's output and every results file),
so everything downstream (aggregation, figures, users) reads them with xarray.

:class:`Fields` holds a dataset in xarray's own terms: data variables and coordinates,
each a :class:`Variable` (dimension names, numpy data, attributes), and global
attributes. It has only what the jobs need: item access, ``sizes``, positional and
label selection along one dimension, and :func:`concat`; anything else is done in
xarray after :meth:`Fields.to_xarray`.

Imports numpy, netCDF4 and the jcas modules below it (metadata, provenance, atomic);
xarray only inside :meth:`Fields.to_xarray`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from jcas.io.atomic import atomic_write
from jcas.io.metadata import annotated_attrs
from jcas.io.provenance import global_attributes

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "LABEL_SUFFIX",
    "Fields",
    "ResultFileError",
    "Variable",
    "cf_coordinates",
    "concat",
    "read_fields",
    "read_many",
    "readable_file",
    "unreadable",
    "write_fields",
]

LABEL_SUFFIX: Final = "_name"
"""Suffix of the label variable that carries a string-valued dimension coordinate on disk
(``scheme`` is written as ``scheme_name(scheme)``: CF-1.10 coordinate variables are
numeric; :func:`jcas.io.results.indexes_from_labels` makes it the index again)."""


class ResultFileError(OSError):
    """A result file is missing, truncated or corrupt; ``path`` names it."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"result file {self.path!r}: {reason}")

    def __str__(self) -> str:  # OSError.__str__ would show the args tuple
        return f"result file {self.path!r}: {self.reason}"


def readable_file(path: str | os.PathLike[str]) -> Path:
    """``path``, or :class:`ResultFileError` when it is missing, a directory or empty."""
    p = Path(path)
    if not p.exists():
        raise ResultFileError(p, "no such file")
    if p.is_dir():
        raise ResultFileError(p, "is a directory, not a NetCDF file")
    if p.stat().st_size == 0:
        raise ResultFileError(p, "empty file (0 bytes): an interrupted write?")
    return p


def unreadable(path: Path, err: BaseException) -> ResultFileError:
    """The error for a file that exists but cannot be read as NetCDF4 (raise it ``from err``)."""
    return ResultFileError(
        path,
        f"cannot be read as NetCDF4 ({type(err).__name__}: {err}); the file is "
        "truncated or corrupt: delete it and rerun the job that makes it",
    )


@dataclass(frozen=True)
class Variable:
    """One variable: dimension names, data (numpy, shape matching ``dims``), attributes."""

    dims: tuple[str, ...]
    data: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if np.ndim(self.data) != len(self.dims):
            raise ValueError(f"data of shape {np.shape(self.data)} for dimensions {self.dims}")


def _variable(name: str, spec: Any, *, coordinate: bool) -> Variable:
    """A :class:`Variable` from xarray's constructor forms: ``(dims, data[, attrs])``, a
    Variable, or (coordinates only) a 0-d value (scalar) or 1-d array along ``name``."""
    if isinstance(spec, Variable):
        return spec
    if isinstance(spec, tuple):
        dims, data, *rest = spec
        dims = (dims,) if isinstance(dims, str) else tuple(dims)
        return Variable(dims, np.asarray(data), dict(rest[0]) if rest else {})
    data = np.asarray(spec)
    if not coordinate or data.ndim > 1:
        raise ValueError(f"variable {name!r}: give (dims, data)")
    return Variable((name,) if data.ndim == 1 else (), data)


@dataclass(frozen=True)
class Fields:
    """A dataset as numpy arrays: ``data_vars`` and ``coords`` by name, global ``attrs``.

    Build it as an ``xarray.Dataset``: ``Fields.build({"rate": (("scheme", "drop"), a)},
    coords={"drop": d, "Nt": np.int64(32)})``. ``fields[name]`` is the data of a data
    variable or coordinate; :meth:`to_xarray` gives the ``xarray.Dataset``.
    """

    data_vars: dict[str, Variable]
    coords: dict[str, Variable]
    attrs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        data_vars: Mapping[str, Any],
        coords: Mapping[str, Any] | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> Fields:
        """Fields from xarray-style ``data_vars`` and ``coords``; checks that every
        dimension has one length."""
        out = cls(
            {str(k): _variable(str(k), v, coordinate=False) for k, v in data_vars.items()},
            {str(k): _variable(str(k), v, coordinate=True) for k, v in (coords or {}).items()},
            dict(attrs or {}),
        )
        out.sizes  # noqa: B018  (raises on inconsistent lengths)
        return out

    @classmethod
    def from_xarray(cls, ds: Any) -> Fields:
        """The fields of an ``xarray.Dataset`` (the arrays are shared, not copied)."""
        if isinstance(ds, Fields):
            return ds

        def conv(var: Any) -> Variable:
            return Variable(
                tuple(str(d) for d in var.dims), np.asarray(var.values), dict(var.attrs)
            )

        return cls(
            {str(k): conv(v) for k, v in ds.data_vars.items()},
            {str(k): conv(v) for k, v in ds.coords.items()},
            dict(ds.attrs),
        )

    # -- access ------------------------------------------------------------------------
    def variables(self) -> dict[str, Variable]:
        """Data variables, then coordinates."""
        return {**self.data_vars, **self.coords}

    def variable(self, name: str) -> Variable:
        """The data variable or coordinate ``name`` (``KeyError`` naming it otherwise)."""
        if name in self.data_vars:
            return self.data_vars[name]
        if name in self.coords:
            return self.coords[name]
        raise KeyError(f"no variable {name!r}; have {sorted(self.variables())}")

    def __getitem__(self, name: str) -> np.ndarray:
        return self.variable(name).data

    def __contains__(self, name: object) -> bool:
        return name in self.data_vars or name in self.coords

    @property
    def sizes(self) -> dict[str, int]:
        """Length of every dimension (``ValueError`` if two variables disagree)."""
        out: dict[str, int] = {}
        for name, var in self.variables().items():
            for dim, n in zip(var.dims, np.shape(var.data), strict=True):
                if out.setdefault(dim, n) != n:
                    raise ValueError(
                        f"dimension {dim!r}: length {n} in {name!r}, {out[dim]} before"
                    )
        return out

    # -- selection ---------------------------------------------------------------------
    def isel(self, dim: str, index: Any) -> Fields:
        """Positions ``index`` (integers or a boolean mask) along ``dim`` of every variable."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)

        def take(var: Variable) -> Variable:
            if dim not in var.dims:
                return var
            return Variable(var.dims, np.take(var.data, idx, axis=var.dims.index(dim)), var.attrs)

        return Fields(
            {k: take(v) for k, v in self.data_vars.items()},
            {k: take(v) for k, v in self.coords.items()},
            dict(self.attrs),
        )

    def sel(self, dim: str, labels: Sequence[Any]) -> Fields:
        """The entries whose ``dim`` coordinate is in ``labels``, in the order of ``labels``
        (``KeyError`` naming a missing label)."""
        have = self[dim].tolist()
        missing = [lab for lab in labels if lab not in have]
        if missing:
            raise KeyError(f"{dim} = {missing!r} not in {have!r}")
        return self.isel(dim, [have.index(lab) for lab in labels])

    def assign(self, **data_vars: Any) -> Fields:
        """A copy with the data variables ``data_vars`` added or replaced (``(dims, data[,
        attrs])`` or a :class:`Variable`)."""
        new = {k: _variable(k, v, coordinate=False) for k, v in data_vars.items()}
        return Fields({**self.data_vars, **new}, dict(self.coords), dict(self.attrs))

    def to_xarray(self) -> xr.Dataset:
        """The ``xarray.Dataset`` of these fields (xarray imported here)."""
        import xarray as xr

        return xr.Dataset(
            {k: (v.dims, v.data, dict(v.attrs)) for k, v in self.data_vars.items()},
            coords={k: (v.dims, v.data, dict(v.attrs)) for k, v in self.coords.items()},
            attrs=dict(self.attrs),
        )


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def concat(pieces: Sequence[Fields], dim: str) -> Fields:
    """Join ``pieces`` along ``dim`` (``xarray.concat`` with ``data_vars="minimal"``,
    ``coords="minimal"``, ``compat="equals"``, ``join="exact"``, ``combine_attrs="drop"``).

    Variables along ``dim`` are concatenated (each piece must have them); every other
    variable must be equal in every piece (``ValueError`` naming it). Global attributes
    are dropped.
    """
    if not pieces:
        raise ValueError("concat: no pieces")
    first = pieces[0]

    def join(name: str, group: str) -> Variable:
        vars_ = [getattr(p, group).get(name) for p in pieces]
        if any(v is None for v in vars_):
            raise ValueError(f"concat along {dim!r}: {name!r} is missing from a piece")
        base = vars_[0]
        assert base is not None
        if dim in base.dims:
            axis = base.dims.index(dim)
            return Variable(
                base.dims, np.concatenate([v.data for v in vars_], axis=axis), base.attrs
            )
        for v in vars_[1:]:
            if v.dims != base.dims or not _equal(np.asarray(v.data), np.asarray(base.data)):
                raise ValueError(f"concat along {dim!r}: {name!r} differs between pieces")
        return base

    for p in pieces[1:]:
        if set(p.data_vars) != set(first.data_vars) or set(p.coords) != set(first.coords):
            raise ValueError(f"concat along {dim!r}: the pieces have different variables")
    return Fields(
        {k: join(k, "data_vars") for k in first.data_vars},
        {k: join(k, "coords") for k in first.coords},
        {},
    )


# --------------------------------------------------------------------------- write
def cf_coordinates(fields: Fields) -> dict[str, str]:
    """The CF ``coordinates`` attribute of every data variable of ``fields``.

    A data variable lists the non-dimension coordinates whose dimensions are a subset of
    its own (scalar coordinates always; ``Nr`` along ``Nt`` only where the variable has
    ``Nt``), sorted; CF-1.10 §5 forbids naming any other.
    """
    dims = set(fields.sizes)
    aux = sorted(k for k in fields.coords if k not in dims)
    return {
        k: " ".join(c for c in aux if set(fields.coords[c].dims) <= set(v.dims))
        for k, v in fields.data_vars.items()
    }


def _on_disk(fields: Fields) -> tuple[dict[str, Variable], set[str]]:
    """The variables as written: annotated (:func:`jcas.io.metadata.annotated_attrs`), each
    string-valued dimension coordinate as a label ``<dim>_name`` (CF-1.10 coordinate
    variables are numeric; :func:`jcas.io.results.indexes_from_labels` undoes it), with the
    CF ``coordinates`` attribute of :func:`cf_coordinates` and no other; and the names of
    the coordinates."""
    dims = set(fields.sizes)

    def clean(name: str, var: Variable, data_var: bool) -> Variable:
        attrs = annotated_attrs(name, var.attrs, data_var=data_var)
        attrs.pop("coordinates", None)  # (one remembered from a file read)
        return Variable(var.dims, var.data, attrs)

    coords: dict[str, Variable] = {}
    for k, v in fields.coords.items():
        label = k in dims and v.dims == (k,) and np.asarray(v.data).dtype.kind in "USO"
        coords[k + LABEL_SUFFIX if label else k] = clean(k, v, False)
    labelled = Fields({k: clean(k, v, True) for k, v in fields.data_vars.items()}, coords)
    names = cf_coordinates(labelled)
    for k, v in labelled.data_vars.items():
        if names[k]:
            v.attrs["coordinates"] = names[k]
    return labelled.variables(), set(coords)


def _create(nc: Any, name: str, var: Variable, coordinate: bool) -> None:
    """One variable, with explicit, deterministic encodings: float64 with NaN fill (none on
    coordinates, as CF asks), integers and booleans (as int8) without fill, strings as
    variable-length NC_STRING; no compression, contiguous storage."""
    data = np.asarray(var.data)
    kind = data.dtype.kind
    if kind == "b":
        data, kind = data.astype(np.int8), "i"
    if kind in "USO":
        out = nc.createVariable(name, str, var.dims)
        values = np.asarray(data, dtype=object)
        if values.ndim == 0:
            out[...] = values.item()
        else:
            out[...] = values
    elif kind == "f":
        fill = None if coordinate else np.nan
        out = nc.createVariable(name, data.dtype, var.dims, fill_value=fill)
        out[...] = data
    elif kind in "iu":
        out = nc.createVariable(name, data.dtype, var.dims, fill_value=None)
        out[...] = data
    else:
        raise TypeError(f"variable {name!r}: dtype {data.dtype} is not written by jcas.io.fields")
    out.setncatts(dict(var.attrs))


def write_fields(
    fields: Fields,
    path: str | os.PathLike[str],
    *,
    config: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> Path:
    """Write ``fields`` to NetCDF4: annotated, CF-encoded (:func:`_on_disk`,
    :func:`_create`), with the provenance of :func:`jcas.io.provenance.global_attributes`,
    atomically (:func:`jcas.io.atomic.atomic_write`: a failure, a full disk included, leaves
    no file under ``path``); return the path."""
    import netCDF4  # type: ignore[import-untyped]

    target = Path(path)
    variables, coordinates = _on_disk(fields)
    attrs = global_attributes(fields.attrs, default_title=target.stem, config=config, title=title)
    sizes: dict[str, int] = {}
    for var in variables.values():
        sizes.update(zip(var.dims, np.shape(var.data), strict=True))

    def write(tmp: Path) -> None:
        with netCDF4.Dataset(tmp, mode="w", format="NETCDF4") as nc:
            nc.set_auto_maskandscale(False)
            for dim, n in sizes.items():
                nc.createDimension(dim, n)
            for name, var in variables.items():
                _create(nc, name, var, name in coordinates)
            nc.setncatts(attrs)

    return atomic_write(target, write)


# --------------------------------------------------------------------------- read
def _value(raw: Any) -> Any:
    """An attribute value as xarray reads it (numpy scalars for numbers)."""
    if isinstance(raw, np.ndarray) and raw.ndim == 1 and raw.size == 1:
        return raw[0]
    return raw


def read_fields(path: str | os.PathLike[str]) -> Fields:
    """Load a result file into :class:`Fields` (as :func:`jcas.io.results.read_netcdf` loads
    it into xarray: labels ``<dim>_name`` become the dimension's coordinate again, the
    variables named by ``coordinates`` attributes are coordinates).

    Raises :class:`ResultFileError` naming the file when it is missing, empty, truncated
    or otherwise unreadable (the underlying error is chained).
    """
    import netCDF4

    p = readable_file(path)
    try:
        with netCDF4.Dataset(p, mode="r") as nc:
            nc.set_auto_maskandscale(False)
            nc.set_always_mask(False)
            raw: dict[str, Variable] = {}
            named: set[str] = set()
            for name, var in nc.variables.items():
                attrs = {a: _value(var.getncattr(a)) for a in var.ncattrs()}
                named.update(str(attrs.pop("coordinates", "")).split())
                attrs.pop("_FillValue", None)
                data = var[...]
                if var.dtype is str:
                    data = np.asarray(data, dtype=object)
                raw[name] = Variable(tuple(var.dimensions), np.asarray(data), attrs)
            gattrs = {a: _value(nc.getncattr(a)) for a in nc.ncattrs()}
            dims = set(nc.dimensions)
    except Exception as err:  # netCDF4/HDF5 raise OSError, RuntimeError, ValueError, ...
        raise unreadable(p, err) from err
    data_vars: dict[str, Variable] = {}
    coords: dict[str, Variable] = {}
    for name, item in raw.items():
        dim = name[: -len(LABEL_SUFFIX)] if name.endswith(LABEL_SUFFIX) else None
        if dim is not None and item.dims == (dim,) and dim not in raw:
            coords[dim] = item
        elif name in named or name in dims:
            coords[name] = item
        else:
            data_vars[name] = item
    return Fields(data_vars, coords, gattrs)


def read_many(paths: Iterable[str | os.PathLike[str]], dim: str) -> Fields:
    """Files of one grid point read with :func:`read_fields` and joined along ``dim``
    (:func:`concat`) in increasing order of their first ``dim`` value; ``ValueError``
    when two files share a ``dim`` value."""
    pieces = sorted((read_fields(p) for p in paths), key=lambda f: f[dim].min())
    values = np.concatenate([f[dim] for f in pieces])
    if np.unique(values).size != values.size:
        raise ValueError(f"the files repeat {dim} values")
    return concat(pieces, dim)
