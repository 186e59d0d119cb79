"""Job ``sca``: the ``sca`` scheme at one grid point x drop block, as ``closed_form``
(:func:`jcas.pipeline.jobs.allocation.run`), with the solver (Clarabel, scipy.sparse)
imported before the clock."""

from __future__ import annotations

import jcas.allocation.sca  # noqa: F401  (the solver: imported before the clock)
from jcas.pipeline.jobs.allocation import run

__all__ = ["run"]
