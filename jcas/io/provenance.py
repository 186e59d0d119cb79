"""Provenance of result files: code revision, source hash, package versions, config.

:func:`global_attributes` gives the global attributes every result file carries
(``docs/data.md``): ``Conventions``, ``title``, ``source``, ``history``, ``config``,
``code_revision``, ``package_versions``. Imports only the ``jcas`` package itself
(for its version and location).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

import jcas

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "CONVENTIONS",
    "PROVENANCE_PACKAGES",
    "code_revision",
    "dataset_config",
    "global_attributes",
    "package_versions",
    "source_hash",
    "to_json",
]

CONVENTIONS: Final = "CF-1.10"

PROVENANCE_PACKAGES: Final = (
    "numpy",
    "scipy",
    "cvxpy",
    "clarabel",
    "xarray",
    "netCDF4",
    "snakemake",
)
"""Packages whose versions shape the results (recorded without importing them)."""


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
    """Versions of :data:`PROVENANCE_PACKAGES`, plus jcas's and Python's."""
    out: dict[str, str] = {}
    for name in PROVENANCE_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    out["jcas"] = jcas.__version__
    out["python"] = platform.python_version()
    return out


def _now_utc() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def global_attributes(
    attrs: Mapping[Any, Any],
    *,
    default_title: str,
    config: Mapping[str, Any] | None,
    title: str | None,
) -> dict[str, Any]:
    """The global attributes of a file written now from a dataset with ``attrs``.

    ``history`` gets a line appended; ``config`` is ``config`` as sorted-key JSON (kept
    from ``attrs`` when not given, ``"{}"`` when neither); ``title`` defaults to the
    existing title, else ``default_title``. Other attributes of ``attrs`` are kept.
    """
    out = {str(k): v for k, v in attrs.items()}
    line = f"{_now_utc()}: written by jcas {jcas.__version__} (jcas.io.results.write_netcdf)"
    old = out.get("history")
    out["Conventions"] = CONVENTIONS
    out["title"] = title if title is not None else str(out.get("title", default_title))
    out["source"] = f"jcas {jcas.__version__}"
    out["history"] = f"{old}\n{line}" if old else line
    if config is not None:
        out["config"] = to_json(config)
    else:
        out.setdefault("config", "{}")
    out["code_revision"] = code_revision()
    out["package_versions"] = to_json(package_versions())
    return out


def dataset_config(ds: xr.Dataset) -> dict[str, Any]:
    """The resolved configuration stored in the ``config`` global attribute ({} if none).

    Raises ``ValueError`` when the attribute is not valid JSON.
    """
    raw = ds.attrs.get("config")
    if raw is None:
        return {}
    try:
        cfg = json.loads(str(raw))
    except json.JSONDecodeError as err:
        raise ValueError(f"global attribute 'config' is not valid JSON: {err}") from err
    return cfg if isinstance(cfg, dict) else {}
