"""A toy array part: the centred ULA with element spacing 0.4 wavelengths.

One module and its registration (``docs/extending.md``, "Adding an array"). Element ``m`` of
an ``N``-element array sits at ``m d`` wavelengths, ``m = -(N-1)/2, ..., (N-1)/2``, with
``d = 0.4``; the phase of the wave from angle ``theta`` (rad) is ``2 pi d m sin(theta)``:

- ``a_m = exp(j 2 pi d m sin(theta))``, ``||a||^2 = N``;
- ``a_dot_m = j 2 pi d m cos(theta) a_m`` (per rad);
- centred, so ``a^H a_dot = 0`` at every angle and the Gram matrix of ``[a, a_dot]`` is
  ``diag(N, (2 pi d cos(theta))^2 N (N^2 - 1) / 12)``.

At ``d = 1/2`` this is the paper's ULA (10); with ``d < 1/2`` the aperture, hence the angle
information ``||a_dot||^2``, is smaller by ``(2 d)^2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.params import SystemParams
from jcas.parts.arrays.ula import element_positions
from jcas.parts.registry import ARRAYS, Part

SPACING = 0.4
"""Element spacing (wavelengths)."""


@dataclass(frozen=True)
class CompactULA:
    """The centred ULA of ``n_elements`` elements, ``spacing`` wavelengths apart."""

    n_elements: int
    spacing: float = SPACING

    @property
    def orthogonal_derivative(self) -> bool:
        return True  # centred: a^H a_dot = 0

    def _phase_rate(self, theta_rad: ArrayLike) -> NDArray[np.float64]:
        """``2 pi d m`` times ``sin(theta)``, shape ``S + (N,)``."""
        m = element_positions(self.n_elements)
        return 2.0 * np.pi * self.spacing * m * np.sin(np.asarray(theta_rad, float))[..., None]

    def steering(self, theta_rad: ArrayLike) -> NDArray[np.complex128]:
        return np.exp(1j * self._phase_rate(theta_rad))

    def derivative(self, theta_rad: ArrayLike) -> NDArray[np.complex128]:
        theta = np.asarray(theta_rad, dtype=float)
        m = element_positions(self.n_elements)
        rate = 2.0 * np.pi * self.spacing * m * np.cos(theta)[..., None]
        return 1j * rate * self.steering(theta)

    def gram(self, theta_rad: ArrayLike) -> NDArray[np.complex128]:
        theta = np.asarray(theta_rad, dtype=float)
        n = self.n_elements
        out = np.zeros((*theta.shape, 2, 2), dtype=complex)
        out[..., 0, 0] = n
        out[..., 1, 1] = (2.0 * np.pi * self.spacing * np.cos(theta)) ** 2 * n * (n * n - 1) / 12
        return out


def compact_ula(params: SystemParams, side: str) -> CompactULA:
    """The transmit (``side="tx"``, ``Nt`` elements) or receive (``"rx"``, ``Nr``) array."""
    if side not in ("tx", "rx"):
        raise ValueError(f"side = {side!r}: must be 'tx' or 'rx'")
    return CompactULA(params.Nt if side == "tx" else params.Nr)


ARRAYS.register(
    Part(
        "array",
        "compact_ula",
        "ULA (0.4 wavelength)",
        compact_ula,
        description="a centred uniform linear array with 0.4-wavelength spacing (toy example)",
        capabilities=frozenset({"centred"}),
        order=50,
    )
)
