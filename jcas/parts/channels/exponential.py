"""The exponential correlation model: ``[R_k]_mn = beta_k r^|m-n| exp(j (m - n) pi sin(theta_k))``.

Correlation ``r`` in ``[0, 1)`` between adjacent antennas, with the phase of a plane wave
from the user's nominal angle ``theta_k`` (the ULA (10)); ``r = 0`` is the i.i.d. channel
(as a dense matrix), ``r -> 1`` the single path ``beta a a^H``. Positive definite for
``r < 1`` (the Kac-Murdock-Szegő matrix times a unitary diagonal similarity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from jcas.model.params import ConfigError, SystemParams
from jcas.parts.channels.base import (
    ChannelStatistics,
    check_finite,
    correlated_unsupported,
    hermitian_toeplitz,
)
from jcas.parts.registry import CHANNELS, Param, Part

__all__ = ["Exponential"]


@dataclass(frozen=True)
class Exponential:
    """Exponential correlation ``correlation`` (``r``, in ``[0, 1)``) between adjacent
    antennas, phases of the user's nominal angle."""

    correlation: float = 0.5
    name: str = "exponential"

    def __post_init__(self) -> None:
        key = "channel.correlation"
        value = check_finite(key, self.correlation, "a number in [0, 1)")
        if not 0.0 <= value < 1.0:
            raise ConfigError(
                f"{key} = {self.correlation!r}: must be in [0, 1) (the correlation between "
                "adjacent antennas; 0 is the i.i.d. channel, use channel 'iid' for it, "
                "values near 1 a single path)"
            )
        object.__setattr__(self, "correlation", value)

    def statistics(self, beta: ArrayLike, angles_rad: ArrayLike, n_tx: int) -> ChannelStatistics:
        beta = np.asarray(beta, dtype=float)
        theta = np.asarray(angles_rad, dtype=float)[..., None]
        d = np.arange(int(n_tx), dtype=float)
        col = self.correlation**d * np.exp(1j * math.pi * d * np.sin(theta))
        cov = beta[..., None, None] * hermitian_toeplitz(col)
        return ChannelStatistics(beta, int(n_tx), cov)

    def unsupported(self, params: SystemParams) -> str | None:
        return correlated_unsupported(self.name, params)


def _build(params: SystemParams) -> Exponential:
    return Exponential(params.correlation)


CHANNELS.register(
    Part(
        "channel",
        "exponential",
        "exponential correlation",
        _build,
        description="spatially correlated Rayleigh fading with correlation r^|m-n| between "
        "antennas m and n, phases of the user's angle (docs/model.md §9)",
        params=(
            Param(
                "correlation",
                float,
                0.5,
                "exponential: the correlation of adjacent antennas",
                minimum=0.0,
                exclusive_maximum=1.0,
            ),
        ),
        order=20,
    )
)
