"""Shared test configuration.

Hypothesis runs derandomized (a fixed seed per test, derived from the test's name), so a
CI run is reproducible: the standards ask for fixed seeds in tests. Set
``HYPOTHESIS_PROFILE=explore`` locally to search with fresh random examples.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
