"""Coordinates and messages shared by the per-point stages (``docs/data.md``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from jcas.config import Point, axis_type
from jcas.model.params import SystemParams
from jcas.parts.registry import ARRAYS, CHANNELS

__all__ = ["error_text", "point_coords", "route_inputs"]


def point_coords(point: Point, params: SystemParams) -> dict[str, Any]:
    """The point's scalar coordinates: the five of every point; the arrays' rows where
    the point's system (``params``) has a planar array; a planar point's direction
    (degrees); a ULA point's direction only where it is not broadside; the channel model
    where it is not the default, and the parts' and schemes' keys the point gives."""
    out: dict[str, Any] = {
        "Nt": np.int64(point.Nt),
        "Nr": np.int64(point.Nr),
        "snr_com_db": np.float64(point.snr_com_db),
        "snr_sen_db": np.float64(point.snr_sen_db),
        "crb0": np.float64(point.crb0),
    }
    for param in ARRAYS[params.array].params:  # the array part's own keys (a UPA's rows)
        value = getattr(params, param.key)
        out[param.key] = np.int64(value) if param.kind is int else np.float64(value)
    for k in ("azimuth_deg", "elevation_deg"):
        if point.planar() or getattr(point, k) != 0.0:
            out[k] = np.float64(getattr(point, k))
    if point.channel != CHANNELS.default:  # the channel model (docs/model.md §9)
        out["channel"] = np.asarray(point.channel)
    for k, v in point.extra:  # the parts' and schemes' keys the experiment gives
        if not isinstance(v, tuple):
            out[k] = np.int64(v) if axis_type(k) is int else np.float64(v)
    return out


def error_text(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def route_inputs(alloc: Any) -> dict[str, Any]:
    """The keyword arguments ``angles``, ``norms`` of the Monte-Carlo estimators
    (:func:`jcas.montecarlo.rate.mc_rate`, ``mc_crb``, ``mle_angle``) from an allocation
    dataset of the coefficient route (its ``angle`` (drop, user), ``direction_norm``
    (drop, user) and ``beam_norm`` (drop)); empty for a closed-form point."""
    if "angle" not in alloc.data_vars:
        return {}
    norms = np.concatenate(
        [
            np.asarray(alloc["direction_norm"], dtype=float),
            np.asarray(alloc["beam_norm"], dtype=float)[:, None],
        ],
        axis=-1,
    )
    return {"angles": np.asarray(alloc["angle"], dtype=float), "norms": norms}
