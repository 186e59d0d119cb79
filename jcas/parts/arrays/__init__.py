"""Array parts (geometry -> steering vectors, derivatives, Gram matrices).

:mod:`jcas.parts.arrays.base` defines the interface (:class:`ArrayPart`); the centred ULA
of (10), (17) is :mod:`jcas.parts.arrays.ula`. Parts are selected by the name in
``system.array`` through :mod:`jcas.parts.registry` (``docs/extending.md``).
"""

from jcas.parts.arrays.base import ArrayFactory, ArrayPart, FixedArray, gram_of
from jcas.parts.arrays.ula import (
    ULA,
    element_positions,
    steering_derivative,
    steering_derivative_norm2,
    steering_vector,
    ula,
)
from jcas.parts.arrays.upa import UPA, as_planar, axis_sums, upa

__all__ = [
    "ULA",
    "UPA",
    "ArrayFactory",
    "ArrayPart",
    "FixedArray",
    "as_planar",
    "axis_sums",
    "element_positions",
    "gram_of",
    "steering_derivative",
    "steering_derivative_norm2",
    "steering_vector",
    "ula",
    "upa",
]
