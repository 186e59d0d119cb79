"""The array part: geometry -> steering vectors, their derivatives and the norms of both.

An array part describes one side (transmit or receive) of the radar link for a
target direction given by its angle (rad). It offers

- :meth:`ArrayPart.steering` ``a`` and :meth:`ArrayPart.derivative` ``a_dot = da/dtheta``
  (vectors of length ``n_elements``, batched over any shape of angles), used by the
  Monte-Carlo sensing code and the maximum-likelihood estimator;
- :meth:`ArrayPart.gram`, the Gram matrix of ``[a, a_dot]``,
  ``G = [[a^H a, a^H a_dot], [a_dot^H a, a_dot^H a_dot]]`` (exact, closed form where
  the geometry allows), the only array quantities the closed-form CRB needs
  (``docs/model.md`` §2, ``docs/extending.md``).

:attr:`ArrayPart.orthogonal_derivative` declares ``a^H a_dot = 0`` for every angle
(a centred array): then ``T3 = 0`` in (36) and the Fisher information is linear in
the transmit covariance, the structure the exact optimum uses (``docs/theory.md`` §2).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.params import SystemParams

__all__ = ["ArrayFactory", "ArrayPart", "FixedArray", "gram_of"]

Complex = NDArray[np.complex128]


@runtime_checkable
class ArrayPart(Protocol):
    """One side of the sensing link (transmit or receive array)."""

    @property
    def n_elements(self) -> int:
        """Number of elements N."""
        ...

    @property
    def orthogonal_derivative(self) -> bool:
        """True when ``a^H a_dot = 0`` for every angle (``T3 = 0`` in (36))."""
        ...

    def steering(self, theta_rad: ArrayLike) -> Complex:
        """Steering vector(s), shape ``S + (N,)`` for angles of shape ``S`` (rad)."""
        ...

    def derivative(self, theta_rad: ArrayLike) -> Complex:
        """``d a / d theta`` (per rad), shape ``S + (N,)``."""
        ...

    def gram(self, theta_rad: ArrayLike) -> Complex:
        """Gram matrix of ``[a, a_dot]``, shape ``S + (2, 2)`` (Hermitian)."""
        ...


class ArrayFactory(Protocol):
    """What the registry stores for an array name: builds both sides from the parameters."""

    def __call__(self, params: SystemParams, side: str) -> ArrayPart:
        """The array of ``side`` (``"tx"`` or ``"rx"``) of the system ``params``."""
        ...


def gram_of(a: ArrayLike, a_dot: ArrayLike) -> Complex:
    """Gram matrix of ``[a, a_dot]`` from the vectors (shape ``(..., N)`` each) -> ``(..., 2, 2)``.

    The generic fallback of :meth:`ArrayPart.gram` for a geometry without closed-form norms.
    """
    basis = np.stack([np.asarray(a, complex), np.asarray(a_dot, complex)], axis=-1)
    return np.conj(np.swapaxes(basis, -1, -2)) @ basis


class FixedArray:
    """An array part from fixed vectors ``a`` and ``a_dot`` (one angle), e.g. a
    non-centred array in tests; :meth:`gram` is :func:`gram_of` of the vectors.

    The angle arguments are ignored: the vectors are those of the target angle.
    """

    def __init__(self, a: ArrayLike, a_dot: ArrayLike) -> None:
        self._a = np.asarray(a, dtype=complex)
        self._a_dot = np.asarray(a_dot, dtype=complex)
        self._gram = gram_of(self._a, self._a_dot)

    @property
    def n_elements(self) -> int:
        return int(self._a.shape[-1])

    @property
    def orthogonal_derivative(self) -> bool:
        return bool(self._gram[0, 1] == 0)

    def steering(self, theta_rad: ArrayLike) -> Complex:
        return self._a

    def derivative(self, theta_rad: ArrayLike) -> Complex:
        return self._a_dot

    def gram(self, theta_rad: ArrayLike) -> Complex:
        return self._gram
