"""Centred uniform linear array (half-wavelength spacing): eq. (10) and (17).

Element ``m`` of an ``N``-element array has the position index
``m = -(N-1)/2, ..., (N-1)/2`` (half-integers for even ``N``), so that
``||a||^2 = N`` and ``a^H a_dot = 0`` for every ``N`` and ``theta``
(paper eq. (38)). Angles are in rad.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.geometry import steering_derivative_norm2
from jcas.model.params import SystemParams
from jcas.parts.registry import ARRAYS, Part

__all__ = [
    "ULA",
    "element_positions",
    "steering_derivative",
    "steering_derivative_norm2",
    "steering_vector",
    "ula",
]


def element_positions(n_antennas: int) -> NDArray[np.float64]:
    """Centred element indices ``m = -(N-1)/2, ..., (N-1)/2``, shape ``(N,)``."""
    if n_antennas < 1:
        raise ValueError(f"n_antennas = {n_antennas!r}: must be >= 1")
    return np.arange(n_antennas, dtype=float) - (n_antennas - 1) / 2.0


def steering_vector(n_antennas: int, theta_rad: ArrayLike) -> NDArray[np.complex128]:
    """ULA steering vector, eq. (10): ``a_m = exp(j m pi sin(theta))``.

    Parameters
    ----------
    n_antennas : N.
    theta_rad : angle(s) in rad, any shape ``S``.

    Returns
    -------
    Complex array of shape ``S + (N,)``.
    """
    theta = np.asarray(theta_rad, dtype=float)
    m = element_positions(n_antennas)
    return np.exp(1j * np.pi * np.sin(theta)[..., None] * m)


def steering_derivative(n_antennas: int, theta_rad: ArrayLike) -> NDArray[np.complex128]:
    """Derivative of (10) with respect to theta, eq. (17).

    ``a_dot_m = j m pi cos(theta) a_m``; shape ``S + (N,)`` for ``theta`` of shape ``S``.
    """
    theta = np.asarray(theta_rad, dtype=float)
    m = element_positions(n_antennas)
    return (1j * np.pi * np.cos(theta)[..., None] * m) * steering_vector(n_antennas, theta)


@dataclass(frozen=True)
class ULA:
    """The centred half-wavelength ULA as an array part (:class:`jcas.parts.arrays.ArrayPart`).

    Attributes
    ----------
    n_elements : N >= 1.
    """

    n_elements: int

    def __post_init__(self) -> None:
        element_positions(self.n_elements)  # validates N >= 1

    @property
    def orthogonal_derivative(self) -> bool:
        """Centred: ``a^H a_dot = 0`` for every angle, eq. (38)."""
        return True

    def steering(self, theta_rad: ArrayLike) -> NDArray[np.complex128]:
        """Eq. (10), shape ``S + (N,)``."""
        return steering_vector(self.n_elements, theta_rad)

    def derivative(self, theta_rad: ArrayLike) -> NDArray[np.complex128]:
        """Eq. (17), shape ``S + (N,)``."""
        return steering_derivative(self.n_elements, theta_rad)

    def gram(self, theta_rad: ArrayLike) -> NDArray[np.complex128]:
        """``diag(N, ||a_dot||^2)`` (exact; the off-diagonal ``a^H a_dot`` is 0), ``S + (2, 2)``."""
        theta = np.asarray(theta_rad, dtype=float)
        out = np.zeros((*theta.shape, 2, 2), dtype=complex)
        out[..., 0, 0] = float(self.n_elements)
        out[..., 1, 1] = steering_derivative_norm2(self.n_elements, theta)
        return out


def ula(params: SystemParams, side: str) -> ULA:
    """Factory of the registry: the ULA of ``Nt`` (``side="tx"``) or ``Nr`` (``"rx"``) elements."""
    if side not in ("tx", "rx"):
        raise ValueError(f"side = {side!r}: must be 'tx' or 'rx'")
    return ULA(params.Nt if side == "tx" else params.Nr)


ARRAYS.register(
    Part(
        "array",
        "ula",
        "ULA",
        ula,
        description="the paper's centred half-wavelength uniform linear array (10)",
        capabilities=frozenset({"centred"}),
        order=0,
    )
)
