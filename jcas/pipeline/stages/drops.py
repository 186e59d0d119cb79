"""Stage ``drops``: the user drops of a block of global drop indices (``docs/data.md``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from jcas.io.fields import Fields
from jcas.model.drops import large_scale_fading
from jcas.model.params import SystemParams

__all__ = ["compute_drops", "drop_coords"]


def drop_coords(drops: ArrayLike, n_users: int) -> dict[str, Any]:
    return {
        "drop": np.asarray(drops, dtype=np.int64),
        "user": np.arange(n_users, dtype=np.int64),
    }


def compute_drops(system: Mapping[str, Any], seed: int, start: int, stop: int) -> Fields:
    """User drops ``start .. stop-1`` of base seed ``seed``: ``beta``, ``distance`` (drop, user).

    Uses only the drop geometry of ``system`` (K, r_min_m, r_max_m,
    pathloss_exponent, shadowing_db).
    """
    t0 = time.perf_counter()
    params = SystemParams.from_dict(system)
    drops = np.arange(int(start), int(stop), dtype=np.int64)
    beta, distance = large_scale_fading(params, int(seed), drops)
    ds = Fields.build(
        {
            "beta": (("drop", "user"), beta),
            "distance": (("drop", "user"), distance),
        },
        coords=drop_coords(drops, params.K),
    )
    ds.attrs["seed"] = int(seed)
    ds.attrs["compute_time_s"] = time.perf_counter() - t0
    return ds
