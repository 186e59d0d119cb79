"""Defaults of the options of ``sca`` (Algorithm 1 made robust, ``docs/theory.md`` §3-§5).

Shared by the solver (:mod:`jcas.allocation.sca`, its keyword defaults) and the scheme part
(:mod:`jcas.allocation.schemes.sca`, the config keys ``allocation.sca_*``, which re-exports
them): a light module below both, so that the solver imports nothing of the scheme layer and
the scheme imports the solver only when it runs.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "SCA_ACCELERATE",
    "SCA_ACTIVE_SET",
    "SCA_BATCH_SIZE",
    "SCA_MAX_ITERATIONS",
    "SCA_POLISH",
    "SCA_STOPPING",
    "SCA_STOPPING_RULES",
    "SCA_TOLERANCE",
]

SCA_TOLERANCE: Final = 1.0e-4
"""Stop when the (extrapolated) relative sum-rate change is below this."""
SCA_MAX_ITERATIONS: Final = 100
"""Cap on convex subproblems per drop."""
SCA_BATCH_SIZE: Final = 50
"""Drops solved together in one compiled program (config ``allocation.sca_group``)."""
SCA_ACTIVE_SET: Final = True
"""Freeze users whose power vanishes (robustness fix; Algorithm 1 as printed: off)."""
SCA_ACCELERATE: Final = True
"""Full-power and extrapolation steps (robustness fix; as printed: off)."""
SCA_POLISH: Final = True
"""Water-filling polish at the stopping point (robustness fix; as printed: off)."""
SCA_STOPPING: Final = "aitken"
"""Stopping rule, ``"aitken"`` (the extrapolated change; robustness fix) or Algorithm 1's
printed ``"change"`` (the relative sum-rate change)."""
SCA_STOPPING_RULES: Final = ("aitken", "change")
"""The stopping rules (config ``allocation.sca_stopping``)."""
