"""The channel part: per drop and user, the channel's statistics and how to sample it.

A channel model maps the large-scale fading ``beta`` (D, K) and the angle at which the
ULA sees each user (D, K) (rad, :func:`jcas.model.drops.user_angles`) to
:class:`ChannelStatistics`: the channel of user ``k`` is

    ``h_k = m_k exp(j phi_k) + g_k``,   ``g_k ~ CN(0, R_k)``,

with ``phi_k`` uniform on ``[0, 2 pi)``, drawn afresh in every coherence block and
independently per user (only the Rician model has a line-of-sight part ``m_k``; the others
have ``m_k = 0``). The total covariance ``Q_k = E h_k h_k^H = R_k + m_k m_k^H`` has trace
``Nt beta_k`` for every model, so ``beta_k`` keeps its meaning (the average gain per
antenna) and the models differ only in how that gain is spread over space.

Convention: ``[Q]_mn = E[h_m conj(h_n)]``, the same as ``E[a a^H]`` for the steering
vector (10) ``a_m = exp(j m pi sin(theta))``, so a channel with no angular spread is
``beta a(theta) a(theta)^H``.

:class:`ChannelStatistics` lives in :mod:`jcas.model.estimation` (the estimation of the
model layer consumes it) and is re-exported here. The i.i.d. model (``R_k = beta_k I``,
the paper's) is stored without matrices (:attr:`ChannelStatistics.covariance` is None)
and every consumer takes the scalar path of (6)-(8) for it, so its numbers are today's,
bit for bit.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.estimation import ChannelStatistics, psd_factor
from jcas.model.params import ConfigError, SystemParams

__all__ = [
    "ChannelModel",
    "ChannelStatistics",
    "correlated_unsupported",
    "hermitian_toeplitz",
    "psd_factor",
]

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]


def hermitian_toeplitz(first_column: ArrayLike) -> Complex:
    """The Hermitian Toeplitz matrices ``T[m, n] = c[m - n]`` (``m >= n``), ``conj(c[n - m])``
    otherwise, from first columns ``c`` of shape ``(..., N)``; returns ``(..., N, N)``."""
    c = np.asarray(first_column, dtype=complex)
    n = c.shape[-1]
    lag = np.arange(n)[:, None] - np.arange(n)[None, :]
    lower = c[..., np.abs(lag)]
    return np.where(lag >= 0, lower, np.conj(lower))


def correlated_unsupported(name: str, params: SystemParams) -> str | None:
    """Why a spatially correlated or Rician channel model ``name`` cannot run at ``params``:
    its covariances and line-of-sight vectors are defined for the ULA (10) only."""
    if params.array != "ula" or params.tx_rows != 1:
        return (
            f"channel {name!r} is defined for a uniform linear array only (its covariance "
            f"follows the ULA's steering vector (10)); system.array = {params.array!r}, "
            f"system.tx_rows = {params.tx_rows}: use system.array = 'ula' or channel 'iid'"
        )
    return None


def check_finite(key: str, value: float, allowed: str) -> float:
    """``value`` as a float, or :class:`ConfigError` naming ``key`` (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"{key} = {value!r}: must be {allowed}")
    out = float(value)
    if not math.isfinite(out):
        raise ConfigError(f"{key} = {value!r}: must be {allowed}")
    return out


@runtime_checkable
class ChannelModel(Protocol):
    """A channel model part (:mod:`jcas.parts.channels`)."""

    @property
    def name(self) -> str:
        """The model's name (``iid``, ``local_scattering``, ``exponential``, ``rician``)."""
        ...

    def statistics(self, beta: ArrayLike, angles_rad: ArrayLike, n_tx: int) -> ChannelStatistics:
        """:class:`ChannelStatistics` of drops with large-scale fading ``beta`` (D, K) and
        users seen by the ULA at ``angles_rad`` (D, K) (rad), ``n_tx`` antennas."""
        ...

    def unsupported(self, params: SystemParams) -> str | None:
        """Why the model cannot run with the system ``params`` (a sentence naming the keys
        and values and a way out), or None."""
        ...
