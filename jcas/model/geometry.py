"""Closed-form sums over the elements of the centred half-wavelength arrays.

The model's closed forms use them (the CRB (16) of the ULA, :mod:`jcas.model.metrics`; the
planar Fisher information, :mod:`jcas.model.fisher`), and so do the array parts
(:mod:`jcas.parts.arrays.ula`, :mod:`jcas.parts.arrays.upa`, which re-export them): they live
in the model, below the parts, so that the model's formulas import no part.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["axis_sums", "steering_derivative_norm2"]

Float = NDArray[np.float64]


def steering_derivative_norm2(n_antennas: ArrayLike, theta_rad: ArrayLike) -> NDArray[np.float64]:
    """``||a_dot||^2 = pi^2 cos^2(theta) N (N^2 - 1) / 12`` (sum of m^2 over the centred array).

    Exact, used by the closed-form CRB (16). ``n_antennas`` (scalar or array)
    and ``theta_rad`` (rad) broadcast; the result has their broadcast shape.
    It is 0 for ``N = 1`` and for ``cos(theta) = 0``, where the CRB is ``inf``.
    """
    theta = np.asarray(theta_rad, dtype=float)
    n = np.asarray(n_antennas, dtype=float)
    return np.pi**2 * np.cos(theta) ** 2 * (n * (n * n - 1.0) / 12.0)


def axis_sums(rows: ArrayLike, cols: ArrayLike) -> tuple[Float, Float]:
    """``(S_q, S_p)``: sums of the squared centred horizontal and vertical indices.

    ``S_q = sum_n q_n^2 = rows cols (cols^2 - 1) / 12`` and
    ``S_p = sum_n p_n^2 = cols rows (rows^2 - 1) / 12`` (dimensionless); ``rows``
    and ``cols`` broadcast.
    """
    r = np.asarray(rows, dtype=float)
    c = np.asarray(cols, dtype=float)
    return r * c * (c * c - 1.0) / 12.0, c * r * (r * r - 1.0) / 12.0
