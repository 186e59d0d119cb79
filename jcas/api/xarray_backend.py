"""An xarray backend for the pipeline's result files: ``xr.open_dataset(path, engine="jcas")``.

Registered as the ``jcas`` engine by the package's entry point (``pyproject.toml``,
``[project.entry-points."xarray.backends"]``). It is :func:`jcas.open_results` in xarray's
terms: the file loaded into memory and closed, the string-valued dimensions (``scheme``,
``precoder``) indexed by name, so ``.sel(scheme="sca")`` works. It never claims a file by
itself (:meth:`JcasBackendEntrypoint.guess_can_open` is False): xarray's own engines keep
opening NetCDF files when no engine is named.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import xarray as xr
from xarray.backends import BackendEntrypoint

__all__ = ["JcasBackendEntrypoint"]


class JcasBackendEntrypoint(BackendEntrypoint):
    """``engine="jcas"``: a jcas result file with its names as indexes (``docs/data.md``)."""

    description = "jcas result files (NetCDF, CF): string dimensions indexed by name"
    url = "docs/quickstart.md"
    open_dataset_parameters = ("filename_or_obj", "drop_variables")

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj: str | os.PathLike[str],
        *,
        drop_variables: str | Iterable[str] | None = None,
        **kwargs: Any,
    ) -> xr.Dataset:
        from jcas.api import open_results

        if kwargs:
            raise TypeError(
                f"engine 'jcas' takes no backend options (got {sorted(kwargs)}); the file "
                "is decoded as written (CF), see jcas.open_results"
            )
        ds = open_results(filename_or_obj)
        if drop_variables is not None:
            names = [drop_variables] if isinstance(drop_variables, str) else list(drop_variables)
            ds = ds.drop_vars(names, errors="ignore")
        return ds

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        return False
