"""The paper's channel: i.i.d. Rayleigh fading, ``R_k = beta_k I`` (eq. (4))."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from jcas.model.params import SystemParams
from jcas.parts.channels.base import ChannelStatistics
from jcas.parts.registry import CHANNELS, Part

__all__ = ["IID"]


@dataclass(frozen=True)
class IID:
    """``h_k ~ CN(0, beta_k I)``: no spatial structure, the angles are not used.

    Its statistics store no matrices (:attr:`ChannelStatistics.iid`), so estimation and
    sampling take the scalar path of (6)-(8), today's arithmetic.
    """

    name: str = "iid"

    def statistics(self, beta: ArrayLike, angles_rad: ArrayLike, n_tx: int) -> ChannelStatistics:
        return ChannelStatistics(np.asarray(beta, dtype=float), int(n_tx))

    def unsupported(self, params: SystemParams) -> str | None:
        return None


def _build(params: SystemParams) -> IID:
    return IID()


CHANNELS.register(
    Part(
        "channel",
        "iid",
        "i.i.d. Rayleigh",
        _build,
        description="the paper's i.i.d. Rayleigh fading (4), R_k = beta_k I",
        capabilities=frozenset({"isotropic", "planar"}),
        order=0,
    )
)
