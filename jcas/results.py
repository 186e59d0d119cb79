"""Results I/O: CF metadata, atomic NetCDF writing with provenance, reading, combining.

This module implements the data contract of ``SPEC.md`` §5 and ``docs/data.md``.
It sits just above :mod:`jcas.params` (it imports nothing else from ``jcas``).

Public API (stable names, used by the pipeline and the plots):

- :data:`VARIABLES`, :data:`COORDINATES`: the metadata registry (units, long_name).
- :func:`annotate`: apply the registry; raises if a data variable ends up without units.
- :func:`write_netcdf`: atomic write (temporary file, fsync, ``os.replace``) with the
  global provenance attributes.
- :func:`read_netcdf`: load fully into memory; :class:`ResultFileError` naming the file
  for a missing, truncated or corrupt file.
- :func:`combine_datasets`: combine per-job datasets by coordinates with explicit
  arguments; refuses duplicated (grid point, scheme, drop) entries.
- :func:`validate_contract`: check the §5 minimum (raises :class:`ContractError`).
- :func:`success_mask`, :func:`failure_count`, :data:`SUCCESS_STATUSES`: which
  (point, scheme, drop) entries are valid.
- :func:`code_revision`, :func:`source_hash`, :func:`package_versions`: provenance.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import subprocess
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Final

import numpy as np
import xarray as xr

import jcas

__all__ = [
    "CONVENTIONS",
    "COORDINATES",
    "REQUIRED_GLOBAL_ATTRS",
    "REQUIRED_VARIABLES",
    "REQUIRED_VARIABLES_CRB_MC",
    "SUCCESS_STATUSES",
    "VARIABLES",
    "ContractError",
    "ResultFileError",
    "VariableMeta",
    "annotate",
    "code_revision",
    "combine_datasets",
    "dataset_config",
    "drop_mean",
    "failure_count",
    "package_versions",
    "read_netcdf",
    "register_variable",
    "source_hash",
    "success_mask",
    "to_json",
    "validate_contract",
    "write_netcdf",
]

CONVENTIONS: Final = "CF-1.10"

SUCCESS_STATUSES: Final[frozenset[str]] = frozenset(
    {"optimal", "converged", "max_iterations", "feasible", "crb_violated"}
)
"""Allocation statuses that carry an allocation (equal to
``jcas.allocation.SUCCESS_STATUSES``, checked by a test; this module may not import
``jcas.allocation``). Every other status (``infeasible``, ``solver_error``, ...) marks a
failed entry whose allocation and metrics are NaN (``docs/data.md``)."""


class ResultFileError(OSError):
    """A result file is missing, truncated or corrupt; ``path`` names it."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"result file {self.path!r}: {reason}")

    def __str__(self) -> str:  # OSError.__str__ would show the args tuple
        return f"result file {self.path!r}: {self.reason}"


class ContractError(ValueError):
    """A dataset violates the data contract of ``SPEC.md`` §5 (the message lists every problem)."""


@dataclass(frozen=True)
class VariableMeta:
    """CF metadata of one variable: ``units`` (UDUNITS-style; ``"1"`` = dimensionless)."""

    units: str
    long_name: str
    standard_name: str | None = None

    def attrs(self) -> dict[str, str]:
        """The attributes to set on the variable."""
        out = {"units": self.units, "long_name": self.long_name}
        if self.standard_name:
            out["standard_name"] = self.standard_name
        return out


# --------------------------------------------------------------------------- registry
VARIABLES: dict[str, VariableMeta] = {
    # drops and estimation (docs/data.md)
    "beta": VariableMeta("1", "large-scale fading coefficient beta_k"),
    "distance": VariableMeta("m", "distance of the user from the base station"),
    "xi": VariableMeta("1", "variance of the MMSE channel estimate xi_k, eq. (7)"),
    "eps": VariableMeta("1", "variance of the channel estimation error eps_k, eq. (8)"),
    # allocation
    "gamma": VariableMeta(
        "W", "communications power factor gamma_k (user k's power is Nt xi_k gamma_k)"
    ),
    "eta": VariableMeta("W", "sensing power factor eta_k (stream k's sensing power is Nt eta_k)"),
    "status": VariableMeta("1", "allocation status (optimal, converged, infeasible, ...)"),
    "iterations": VariableMeta("1", "solver iterations"),
    "solve_time": VariableMeta("s", "allocation solve time per drop"),
    # closed-form metrics
    "rate": VariableMeta("bit/s/Hz", "closed-form achievable rate of user k, eq. (15)"),
    "sum_rate": VariableMeta("bit/s/Hz", "closed-form achievable sum rate, eq. (15)"),
    "crb": VariableMeta("rad2", "closed-form CRB of the target angle, eq. (16)"),
    "power_total": VariableMeta("W", "total transmit power, eq. (18)"),
    "power_sensing": VariableMeta("W", "sensing transmit power Nt sum_k eta_k"),
    "power_comm": VariableMeta("W", "communications transmit power Nt xi^T gamma"),
    "sinr": VariableMeta("1", "effective SINR of user k inside the log of (15)"),
    # Monte-Carlo validation
    "sum_rate_mc": VariableMeta("bit/s/Hz", "Monte-Carlo sum rate from the bound (14)"),
    "sum_rate_mc_se": VariableMeta("bit/s/Hz", "standard error of the Monte-Carlo sum rate"),
    "rate_mc": VariableMeta("bit/s/Hz", "Monte-Carlo rate of user k from the bound (14)"),
    "rate_mc_se": VariableMeta("bit/s/Hz", "standard error of the Monte-Carlo rate of user k"),
    "crb_mc": VariableMeta(
        "rad2", "CRB (36) with the sample covariance of finite-L frames, averaged"
    ),
    "crb_mc_se": VariableMeta("rad2", "standard error of the finite-L sample-covariance CRB"),
    "mle_mse": VariableMeta("rad2", "mean squared error of the ML estimate of the target angle"),
    "mle_mse_se": VariableMeta("rad2", "standard error of the ML mean squared error"),
    "mle_bias": VariableMeta("rad", "bias of the ML estimate of the target angle"),
}
"""Metadata of the data variables of ``docs/data.md`` (and a few optional extras)."""

COORDINATES: dict[str, VariableMeta] = {
    "drop": VariableMeta("1", "global user-drop index d"),
    "user": VariableMeta("1", "user index k"),
    "scheme": VariableMeta("1", "power allocation scheme"),
    "Nt": VariableMeta("1", "transmit antennas Nt"),
    "Nr": VariableMeta("1", "receive antennas Nr"),
    "N": VariableMeta("1", "total antennas N = Nt + Nr"),
    "K": VariableMeta("1", "users K"),
    "L": VariableMeta("1", "frame length L (symbols)"),
    "snr_com_db": VariableMeta("dB", "communications SNR Pt / sigma_u^2"),
    "snr_sen_db": VariableMeta("dB", "sensing SNR Pt / sigma_r_bar^2"),
    "crb0": VariableMeta("rad2", "CRB threshold CRB_theta^0"),
    "pt_dbm": VariableMeta("dBm", "transmit power budget Pt"),
    "pp_dbm": VariableMeta("dBm", "uplink pilot power p_p"),
    "tau_p": VariableMeta("1", "pilot length tau_p (symbols)"),
    "tau_c": VariableMeta("1", "coherence interval tau_c (symbols)"),
    "theta_deg": VariableMeta("degree", "target angle theta"),
    "r_min_m": VariableMeta("m", "inner radius of the user annulus"),
    "r_max_m": VariableMeta("m", "outer radius of the user annulus"),
    "pathloss_exponent": VariableMeta("1", "path-loss exponent nu"),
    "shadowing_db": VariableMeta("dB", "standard deviation of log-normal shadowing"),
    "sensing_fraction": VariableMeta("1", "fraction of Pt for sensing (equal_full)"),
    "seed": VariableMeta("1", "base seed"),
}
"""Metadata of the coordinates (swept parameters are named after their config key)."""

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
"""Minimum data variables of an allocation experiment (``SPEC.md`` §5)."""

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

_PROVENANCE_PACKAGES: Final = (
    "numpy",
    "scipy",
    "cvxpy",
    "clarabel",
    "xarray",
    "netCDF4",
    "snakemake",
)


def register_variable(name: str, units: str, long_name: str, *, coordinate: bool = False) -> None:
    """Add (or replace) the metadata of a variable or coordinate in the registry."""
    (COORDINATES if coordinate else VARIABLES)[name] = VariableMeta(units, long_name)


# --------------------------------------------------------------------------- annotate
def annotate(ds: xr.Dataset) -> xr.Dataset:
    """A copy of ``ds`` with ``units`` / ``long_name`` from the registry on every variable.

    Known variables and coordinates get the registry's attributes (an existing
    ``units`` that disagrees with the registry raises ``ValueError``). Unknown
    variables keep their own attributes and must already carry ``units``;
    a data variable without units raises ``ValueError`` naming it.
    """
    out = ds.copy(deep=False)
    for name, var in out.variables.items():
        meta = VARIABLES.get(str(name)) if name in out.data_vars else COORDINATES.get(str(name))
        attrs = dict(var.attrs)
        if meta is not None:
            have = attrs.get("units")
            if have is not None and str(have) != meta.units:
                raise ValueError(
                    f"variable {name!r} has units {have!r} but the registry says {meta.units!r}"
                )
            attrs.update(meta.attrs())
        if name in out.data_vars and "units" not in attrs:
            raise ValueError(
                f"data variable {name!r} has no units: add it to jcas.results.VARIABLES "
                "(register_variable) or set a 'units' attribute"
            )
        if "units" in attrs and "long_name" not in attrs:
            attrs["long_name"] = str(name)
        var.attrs = attrs
    return out


# --------------------------------------------------------------------------- provenance
def to_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, numpy scalars and arrays as built-ins)."""

    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, (set, frozenset)):
            return sorted(o)
        if isinstance(o, Path):
            return str(o)
        if isinstance(o, Mapping):
            return dict(o)
        if isinstance(o, Iterable):
            return list(o)
        raise TypeError(f"cannot serialise {type(o).__name__} to JSON: {o!r}")

    return json.dumps(obj, sort_keys=True, default=default, allow_nan=True)


def _package_dir() -> Path:
    return Path(jcas.__file__).resolve().parent


@lru_cache(maxsize=1)
def source_hash() -> str:
    """SHA-256 over the jcas package sources (relative path and content of every ``*.py``).

    Identifies the code without git (e.g. an installed wheel or a copied tree).
    """
    root = _package_dir()
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _git(args: Sequence[str], cwd: Path) -> str | None:
    try:
        res = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() if res.returncode == 0 else None


@lru_cache(maxsize=1)
def code_revision() -> str:
    """``"git:<commit>[+dirty] sha256:<source_hash>"``; ``git:unknown`` without a checkout.

    The git commit is that of the checkout holding the imported ``jcas`` package
    (``+dirty`` when its ``jcas/`` sources differ from the commit); the content hash
    of the package sources is always present, so the revision is meaningful without git.
    """
    pkg = _package_dir()
    git = "git:unknown"
    top = _git(["rev-parse", "--show-toplevel"], pkg)
    if top and (Path(top).resolve() / "jcas") == pkg:
        sha = _git(["rev-parse", "HEAD"], pkg)
        if sha:
            dirty = _git(["status", "--porcelain", "--", "jcas"], Path(top))
            git = f"git:{sha}{'+dirty' if dirty else ''}"
    return f"{git} sha256:{source_hash()}"


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Versions of the packages that shape the results, plus Python's."""
    out: dict[str, str] = {}
    for name in _PROVENANCE_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    out["jcas"] = jcas.__version__
    out["python"] = platform.python_version()
    return out


def _now_utc() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _provenance(
    ds: xr.Dataset, path: Path, config: Mapping[str, Any] | None, title: str | None
) -> dict[str, str]:
    attrs = {str(k): v for k, v in ds.attrs.items()}
    line = f"{_now_utc()}: written by jcas {jcas.__version__} (jcas.results.write_netcdf)"
    old = attrs.get("history")
    attrs["Conventions"] = CONVENTIONS
    attrs["title"] = title if title is not None else str(attrs.get("title", path.stem))
    attrs["source"] = f"jcas {jcas.__version__}"
    attrs["history"] = f"{old}\n{line}" if old else line
    if config is not None:
        attrs["config"] = to_json(config)
    else:
        attrs.setdefault("config", "{}")
    attrs["code_revision"] = code_revision()
    attrs["package_versions"] = to_json(package_versions())
    return attrs


# --------------------------------------------------------------------------- encodings
def _encoding(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """Explicit, deterministic encodings: float64 with NaN fill, int64 without fill,
    strings as variable-length NC_STRING, no compression, contiguous storage."""
    enc: dict[str, dict[str, Any]] = {}
    for name, var in ds.variables.items():
        kind = var.dtype.kind
        if kind in "USO":
            enc[str(name)] = {"dtype": str}
        elif kind == "f":
            fill = None if name in ds.coords else np.nan  # CF: no fill on coordinates
            enc[str(name)] = {"dtype": var.dtype, "_FillValue": fill}
        elif kind in "iub":
            enc[str(name)] = {
                "dtype": var.dtype if kind != "b" else np.dtype("int8"),
                "_FillValue": None,
            }
    return enc


# --------------------------------------------------------------------------- write / read
def _fsync_path(path: Path, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:  # some file systems do not allow opening directories
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


def write_netcdf(
    ds: xr.Dataset,
    path: str | os.PathLike[str],
    *,
    config: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> Path:
    """Write ``ds`` to NetCDF4 atomically, annotated and with provenance; return the path.

    The dataset is annotated (:func:`annotate`), given the global attributes
    ``Conventions``, ``title``, ``source``, ``history`` (a line appended),
    ``config`` (``config`` as sorted-key JSON; kept from ``ds`` when not given),
    ``code_revision`` and ``package_versions``, and written to a temporary file
    in the target directory, fsynced and renamed over ``path`` (``os.replace``).
    A failure at any point removes the temporary file and leaves any previous
    file under ``path`` untouched; a half-written file never appears under ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = annotate(ds)
    out.attrs = _provenance(out, path, config, title)
    encoding = _encoding(out)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        out.to_netcdf(tmp, mode="w", format="NETCDF4", engine="netcdf4", encoding=encoding)
        _fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_path(path.parent, directory=True)
    return path


def read_netcdf(path: str | os.PathLike[str]) -> xr.Dataset:
    """Load a result file fully into memory and close it.

    Raises :class:`ResultFileError` naming the file when it is missing, empty,
    truncated or otherwise unreadable (the underlying error is chained).
    """
    p = Path(path)
    if not p.exists():
        raise ResultFileError(p, "no such file")
    if p.is_dir():
        raise ResultFileError(p, "is a directory, not a NetCDF file")
    if p.stat().st_size == 0:
        raise ResultFileError(p, "empty file (0 bytes): an interrupted write?")
    try:
        with xr.open_dataset(p, engine="netcdf4", cache=False) as handle:
            ds = handle.load()
    except Exception as err:  # netCDF4/HDF5 raise OSError, RuntimeError, ValueError, ...
        raise ResultFileError(
            p,
            f"cannot be read as NetCDF4 ({type(err).__name__}: {err}); the file is "
            "truncated or corrupt: delete it and rerun the job that makes it",
        ) from err
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


# --------------------------------------------------------------------------- success
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

    ``mask`` defaults to :func:`success_mask`. Returns ``(mean, se, n)``: the mean, its
    standard error across drops (``std(ddof=1) / sqrt(n)``, NaN for n < 2) and the
    number of valid drops, each without the ``drop`` dimension.
    """
    ok = success_mask(ds) if mask is None else mask
    da = ds[name].where(ok)
    n = da.notnull().sum("drop")
    mean = da.mean("drop", skipna=True)
    std = da.std("drop", skipna=True, ddof=1)
    se = (std / np.sqrt(n)).where(n >= 2)
    return mean, se, n


def dataset_config(ds: xr.Dataset) -> dict[str, Any]:
    """The resolved configuration stored in the ``config`` global attribute ({} if none)."""
    raw = ds.attrs.get("config")
    if raw is None:
        return {}
    try:
        cfg = json.loads(str(raw))
    except json.JSONDecodeError as err:
        raise ValueError(f"global attribute 'config' is not valid JSON: {err}") from err
    return cfg if isinstance(cfg, dict) else {}


# --------------------------------------------------------------------------- contract
def validate_contract(ds: xr.Dataset, *, kind: str = "auto") -> None:
    """Check an experiment dataset against ``SPEC.md`` §5 / ``docs/data.md``.

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
    for d in ds.dims:
        if d not in ds.coords:
            problems.append(f"dimension {d!r} has no coordinate")
    for name, var in ds.variables.items():
        for attr in ("units", "long_name"):
            if attr not in var.attrs:
                problems.append(f"variable {name!r} has no {attr!r} attribute")
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
