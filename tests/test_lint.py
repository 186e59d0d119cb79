"""Static checks that CI runs with the tests: ruff lint and format on the whole repository,
mypy on the package (settings in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    if shutil.which("ruff") is None:
        try:
            import ruff  # noqa: F401
        except ImportError:  # pragma: no cover - the test extra installs ruff
            pytest.fail("ruff is not installed: install the test extra (pip install -e '.[test]')")
    return [sys.executable, "-m", "ruff"]


def test_ruff_check_clean() -> None:
    """`ruff check .` reports nothing (rules in pyproject.toml)."""
    out = subprocess.run([*_ruff(), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_clean() -> None:
    """`ruff format --check .` would change nothing."""
    out = subprocess.run(
        [*_ruff(), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_clean() -> None:
    """`mypy jcas` reports no error (the package's type hints are checked)."""
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "jcas"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
