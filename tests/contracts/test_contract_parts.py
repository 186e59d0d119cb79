"""The part contract suite: every registered part against its declared capabilities.

Parametrized over the registries (:mod:`jcas.parts.registry`), so a part added as a module
is checked without an edit here: ``python -m pytest tests/contracts -k <name>``. What each
check shows and how its statistical tolerance is set: ``tests/contracts/part_checks.py``.
"""

from __future__ import annotations

import pytest
from part_checks import (
    Check,
    array_checks,
    description_checks,
    precoder_checks,
    registries,
)

from jcas.parts.registry import ARRAYS, PRECODERS

PRECODER_CHECKS = [c for part in PRECODERS.values() for c in precoder_checks(part)]
ARRAY_CHECKS = [c for part in ARRAYS.values() for c in array_checks(part)]
DESCRIPTION_CHECKS = [
    c for reg in registries().values() for part in reg.values() for c in description_checks(part)
]


@pytest.mark.parametrize("check", PRECODER_CHECKS, ids=[c.id for c in PRECODER_CHECKS])
def test_precoder(check: Check) -> None:
    check.run()


@pytest.mark.parametrize("check", ARRAY_CHECKS, ids=[c.id for c in ARRAY_CHECKS])
def test_array(check: Check) -> None:
    check.run()


@pytest.mark.parametrize("check", DESCRIPTION_CHECKS, ids=[c.id for c in DESCRIPTION_CHECKS])
def test_description(check: Check) -> None:
    check.run()


def test_every_registered_part_is_checked() -> None:
    """Each precoder has statistical closed-form checks at a case with ``Nt = K + 2`` and at
    a small and a large SNR (where it declares closed forms), each array its geometry
    checks, and every kind of part its description checks."""
    for part in PRECODERS.values():
        ids = [c.id for c in PRECODER_CHECKS if c.id.startswith(f"{part.name}-")]
        if "closed_forms" in part.capabilities:
            for case in ("k4-nt6-snr0", "k3-nt16-snr30"):
                assert any(f"-{case}-closed_forms-rate_terms" in i for i in ids), (part, case)
    for part in ARRAYS.values():
        assert any(c.id.startswith(f"{part.name}-") for c in ARRAY_CHECKS)
    kinds = {c.args[0].kind for c in DESCRIPTION_CHECKS}
    assert {"precoder", "array", "scheme"} <= kinds
