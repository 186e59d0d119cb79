"""jcas: massive-MIMO joint communications and sensing, any precoder, any channel, certified.

Reproduces and extends Nguyen et al., "Massive MIMO Joint Communications and
Sensing with MRT Beamforming".

The top-level API (``docs/quickstart.md``; :mod:`jcas.api`), one argument order
``(system, drops, allocation)`` and the configuration's names::

    import jcas

    system = jcas.System(K=4, Nt=35, Nr=35, snr_com_db=20)
    drops = jcas.drops(system, 200)
    alloc = jcas.allocate(system, drops, "optimal")
    jcas.rate(system, drops, alloc), jcas.crb(system, drops, alloc)
    jcas.mc_rate(system, drops, alloc, realizations=100)
    jcas.save_results(jcas.to_dataset(system, drops, {"optimal": alloc}), "my.nc")
    jcas.open_results("results/fig1.nc")

Packages by concern (imports point down only): ``model`` (params, channel (6)-(8), drops,
metrics (14)-(18), (36)), ``parts`` (precoders, arrays, their registry), ``allocation``
(schemes), ``montecarlo`` (validation), ``io``, ``config``, ``pipeline``, ``report``.
``import jcas`` is light: the API's modules are imported on first use.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("jcas")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

_API = (
    "Drops",
    "System",
    "allocate",
    "crb",
    "drops",
    "mc_rate",
    "open_results",
    "rate",
    "save_results",
    "to_dataset",
)

__all__ = [
    "Drops",
    "System",
    "__version__",
    "allocate",
    "crb",
    "drops",
    "mc_rate",
    "open_results",
    "rate",
    "save_results",
    "to_dataset",
]


def __getattr__(name: str) -> Any:
    """The API names, imported from :mod:`jcas.api` on first use (PEP 562)."""
    if name in _API:
        # imported by name, not by an import statement: every job's sources are the import
        # closure of its entry, which includes this package, and no job uses the API
        # (docs/pipeline.md, "What reruns when"); the names' types are in __init__.pyi
        value = getattr(importlib.import_module("jcas.api"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'jcas' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
