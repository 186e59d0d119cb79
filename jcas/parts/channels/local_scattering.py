"""The local scattering model with a Gaussian angular distribution (Björnson, Hoydis,
Sanguinetti, *Massive MIMO Networks*, Sec. 2.6).

The channel of user ``k`` is the superposition of many paths whose angles are the user's
nominal angle ``theta_k`` plus a deviation ``delta ~ N(0, sigma^2)`` (``sigma`` the angular
standard deviation), so for the centred half-wavelength ULA (10)

    ``[R_k]_mn = beta_k E_delta exp(j pi (m - n) sin(theta_k + delta))``.

The matrix is Hermitian Toeplitz; its first column ``r(d) = E exp(j pi d sin(theta +
delta))``, ``d = 0 .. Nt - 1``, is computed *exactly* (to rounding) from the Jacobi-Anger
expansion ``exp(j z sin(x)) = sum_n J_n(z) exp(j n x)`` and ``E exp(j n delta) =
exp(-n^2 sigma^2 / 2)``:

    ``r(d) = sum_n J_n(pi d) exp(j n theta) exp(-n^2 sigma^2 / 2)``
    ``     = J_0(pi d) + 2 sum_{n even >= 2} J_n w_n cos(n theta)
             + 2 j sum_{n odd} J_n w_n sin(n theta)``,  ``w_n = exp(-n^2 sigma^2 / 2)``

(``J_{-n} = (-1)^n J_n``). The series is cut where both factors vouch for the rest: the
Bessel functions are below 1e-18 for ``n > z + 12 z^(1/3) + 10`` (``z = pi (Nt - 1)``,
the Airy asymptotics of ``J_n`` past its turning point) and ``w_n < exp(-40)`` for
``n > sqrt(80) / sigma``. One table ``J_n(pi d)`` per ``Nt`` serves every user and drop
(a matrix product). ``r(0) = 1``, so ``tr R_k = Nt beta_k`` exactly. The Gaussian is not
truncated (the book integrates over ``+/- 20 sigma``: the same to rounding).

Accuracy (``tests/parts/test_channels.py``): against adaptive quadrature of the defining
integral to 1e-12 for spreads of 0.5 ... 90 deg at Nt = 64; the book's small-angle
approximation (:func:`first_column_small_angle`) differs from it by up to 0.36 at 10 deg
(0.017 at 1 deg) for Nt = 64 and is kept only for that comparison.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.params import ConfigError, SystemParams
from jcas.parts.channels.base import (
    ChannelStatistics,
    check_finite,
    correlated_unsupported,
    hermitian_toeplitz,
)
from jcas.parts.registry import CHANNELS, Param, Part

__all__ = ["LocalScattering", "first_column", "first_column_small_angle", "series_length"]

Complex = NDArray[np.complex128]


def series_length(n_tx: int, sigma_rad: float) -> int:
    """The last order ``M`` of the Jacobi-Anger series kept (see the module docstring)."""
    z = math.pi * max(n_tx - 1, 0)
    bessel = math.ceil(z + 12.0 * z ** (1.0 / 3.0) + 10.0)
    if sigma_rad > 0.0:
        return max(1, min(bessel, math.ceil(math.sqrt(80.0) / sigma_rad)))
    return bessel


@lru_cache(maxsize=32)
def _bessel_table(n_tx: int, orders: int) -> NDArray[np.float64]:
    """``J_n(pi d)``, shape ``(Nt, M + 1)`` for ``d = 0 .. Nt - 1`` and ``n = 0 .. M``."""
    from scipy.special import jv  # type: ignore[import-untyped]  # here: every job imports this part

    d = np.arange(n_tx, dtype=float)
    n = np.arange(orders + 1, dtype=float)
    table = jv(n[None, :], math.pi * d[:, None])
    table.setflags(write=False)
    return table


def first_column(n_tx: int, theta_rad: ArrayLike, sigma_rad: float) -> Complex:
    """``r(d) = E exp(j pi d sin(theta + delta))``, ``delta ~ N(0, sigma^2)``, exactly.

    Parameters
    ----------
    n_tx : Nt.
    theta_rad : nominal angles (rad), any shape ``S``.
    sigma_rad : angular standard deviation (rad), >= 0.

    Returns
    -------
    ``(*S, Nt)`` complex: the first column of the normalised covariance (``r(0) = 1``).
    """
    theta = np.asarray(theta_rad, dtype=float)
    d = np.arange(n_tx, dtype=float)
    if sigma_rad == 0.0:
        return np.asarray(np.exp(1j * math.pi * d * np.sin(theta)[..., None]), dtype=complex)
    m = series_length(n_tx, sigma_rad)
    n = np.arange(m + 1, dtype=float)
    w = np.exp(-0.5 * (n * sigma_rad) ** 2)
    nt = n * theta[..., None]  # (*S, M + 1)
    odd = (np.arange(m + 1) % 2).astype(bool)
    coef = np.where(odd, 2j * np.sin(nt), 2.0 * np.cos(nt)) * w
    coef[..., 0] = 1.0
    return np.asarray(coef @ _bessel_table(n_tx, m).T, dtype=complex)


def first_column_small_angle(n_tx: int, theta_rad: ArrayLike, sigma_rad: float) -> Complex:
    """The book's small-angle approximation of :func:`first_column` (``sin(theta +
    delta) ~ sin(theta) + delta cos(theta)``): ``exp(j pi d sin(theta)) exp(-(pi d
    cos(theta) sigma)^2 / 2)``; for comparison only."""
    theta = np.asarray(theta_rad, dtype=float)[..., None]
    d = np.arange(n_tx, dtype=float)
    phase = np.exp(1j * math.pi * d * np.sin(theta))
    return np.asarray(phase * np.exp(-0.5 * (math.pi * d * np.cos(theta) * sigma_rad) ** 2))


@dataclass(frozen=True)
class LocalScattering:
    """Local scattering around each user's nominal angle, Gaussian with standard deviation
    ``angular_spread_deg`` (degrees, ``0 ... 90``; 0 is a single path, ``R = beta a a^H``).
    """

    angular_spread_deg: float = 10.0
    name: str = "local_scattering"

    def __post_init__(self) -> None:
        key = "channel.angular_spread_deg"
        value = check_finite(key, self.angular_spread_deg, "a number of degrees in [0, 90]")
        if not 0.0 <= value <= 90.0:
            raise ConfigError(
                f"{key} = {self.angular_spread_deg!r}: must be in [0, 90] degrees (the "
                "standard deviation of the paths' angles around the user; 5-15 is typical, "
                "0 is a single path)"
            )
        object.__setattr__(self, "angular_spread_deg", value)

    @property
    def sigma_rad(self) -> float:
        return math.radians(self.angular_spread_deg)

    def statistics(self, beta: ArrayLike, angles_rad: ArrayLike, n_tx: int) -> ChannelStatistics:
        beta = np.asarray(beta, dtype=float)
        col = first_column(int(n_tx), angles_rad, self.sigma_rad)
        cov = beta[..., None, None] * hermitian_toeplitz(col)
        return ChannelStatistics(beta, int(n_tx), cov)

    def unsupported(self, params: SystemParams) -> str | None:
        return correlated_unsupported(self.name, params)


def _build(params: SystemParams) -> LocalScattering:
    return LocalScattering(params.angular_spread_deg)


CHANNELS.register(
    Part(
        "channel",
        "local_scattering",
        "local scattering",
        _build,
        description="spatially correlated Rayleigh fading: paths spread around each user's "
        "angle with a Gaussian angular distribution (docs/model.md §9)",
        params=(
            Param(
                "angular_spread_deg",
                float,
                10.0,
                "local scattering: the angular standard deviation of the paths",
                units="degree",
                minimum=0.0,
                maximum=90.0,
            ),
        ),
        order=10,
    )
)
