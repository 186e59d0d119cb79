"""Rician fading: a line-of-sight path with a random phase plus a scattered part.

    ``h_k = sqrt(kappa / (kappa + 1)) sqrt(beta_k) a(theta_k) exp(j phi_k) + g_k``,
    ``g_k ~ CN(0, R_k^s / (kappa + 1))``,

with ``kappa = 10^(K_dB / 10)`` the K-factor, ``a`` the ULA steering vector (10), ``phi_k``
uniform on ``[0, 2 pi)``, independent per user and coherence block (the base station does
not know it: the estimator is the phase-unaware LMMSE of :mod:`jcas.model.estimation`), and
``R_k^s`` the covariance of a scattering model (i.i.d. ``beta_k I`` by default, or any
correlated model of :mod:`jcas.parts.channels`) with trace ``Nt beta_k``. Then
``tr Q_k = Nt beta_k (kappa + 1) / (kappa + 1) = Nt beta_k``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from jcas.model.params import ConfigError, SystemParams, db_to_linear
from jcas.parts.arrays.ula import steering_vector
from jcas.parts.channels.base import (
    ChannelModel,
    ChannelStatistics,
    check_finite,
    correlated_unsupported,
)
from jcas.parts.channels.iid import IID
from jcas.parts.registry import CHANNELS, Param, Part

__all__ = ["Rician"]


@dataclass(frozen=True)
class Rician:
    """Rician fading with K-factor ``k_factor_db`` (dB, finite) and the scattered part of
    the model ``scattering`` (not itself Rician)."""

    k_factor_db: float = 5.0
    scattering: ChannelModel = field(default_factory=IID)
    name: str = "rician"

    def __post_init__(self) -> None:
        key = "channel.k_factor_db"
        value = check_finite(
            key,
            self.k_factor_db,
            "a finite number of dB (the power ratio of the line-of-sight path to the "
            "scattered paths; -inf would be channel 'iid', +inf a pure line of sight)",
        )
        if not 0.0 < db_to_linear(value) < math.inf:
            raise ConfigError(
                f"{key} = {self.k_factor_db!r}: must be within about +/-3000 dB "
                "(a linear K-factor that is a finite positive float)"
            )
        object.__setattr__(self, "k_factor_db", value)
        if isinstance(self.scattering, Rician):
            raise ConfigError(
                "channel.scattering = 'rician': the scattered part of a Rician channel must "
                "be 'iid', 'local_scattering' or 'exponential'"
            )

    @property
    def kappa(self) -> float:
        """The K-factor (linear)."""
        return db_to_linear(self.k_factor_db)

    def statistics(self, beta: ArrayLike, angles_rad: ArrayLike, n_tx: int) -> ChannelStatistics:
        beta = np.asarray(beta, dtype=float)
        n = int(n_tx)
        kappa = self.kappa
        scattered = self.scattering.statistics(beta, angles_rad, n).total_covariance()
        los = np.sqrt(kappa / (kappa + 1.0) * beta)[..., None] * steering_vector(n, angles_rad)
        return ChannelStatistics(beta, n, scattered / (kappa + 1.0), los)

    def unsupported(self, params: SystemParams) -> str | None:
        return correlated_unsupported(self.name, params)


def _build(params: SystemParams) -> Rician:
    if params.scattering == "rician":
        raise ConfigError(
            "system.scattering = 'rician': the scattered part of a Rician channel must be "
            f"one of {[c for c in CHANNELS if c != 'rician']}"
        )
    scattered = CHANNELS.get_part(params.scattering, "system.scattering").build(params)
    return Rician(params.k_factor_db, scattered)


CHANNELS.register(
    Part(
        "channel",
        "rician",
        "Rician",
        _build,
        description="a line-of-sight path from the user's position with a random phase per "
        "coherence block, plus a scattered part of another channel model (docs/model.md §9)",
        params=(
            Param(
                "k_factor_db",
                float,
                5.0,
                "Rician: the K-factor, line-of-sight over scattered power",
                units="dB",
                minimum=-100.0,
                maximum=100.0,
            ),
            Param(
                "scattering",
                str,
                "iid",
                "Rician: the channel model of the scattered part",
                choices=("iid", "local_scattering", "exponential"),
            ),
        ),
        order=30,
    )
)
