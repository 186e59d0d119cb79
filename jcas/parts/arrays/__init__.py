"""Array parts (geometry -> steering vectors, derivatives, Gram matrices).

:mod:`jcas.parts.arrays.base` defines the interface (:class:`ArrayPart`); each other module
is one part that registers itself (:data:`jcas.parts.registry.ARRAYS`): the centred ULA of
(10), (17) (:mod:`jcas.parts.arrays.ula`) and the planar array
(:mod:`jcas.parts.arrays.upa`). This package imports no part, so that a job depends only on
the arrays it uses (``docs/extending.md``).
"""

from jcas.parts.arrays.base import ArrayFactory, ArrayPart, FixedArray, gram_of

__all__ = ["ArrayFactory", "ArrayPart", "FixedArray", "gram_of"]
