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


# --------------------------------------------------------------------------- pipeline helpers
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "config_tiny.yaml"
WORKFLOW_FILES = ("Snakefile", "config.yaml", "README.md")
WORKFLOW_DIRS = ("workflow", "jcas", "profiles")


def copy_workflow(dst: Path) -> Path:
    """A runnable copy of the workflow (no results) in ``dst``, with the tiny config.

    Snakefile, config.yaml, README.md, workflow/, jcas/ and profiles/ (so the copy loads
    the default profile as the repository does); ``config_tiny.yaml`` next to them.
    """
    dst.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in WORKFLOW_FILES:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dst / name)
    for name in WORKFLOW_DIRS:
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, dst / name, ignore=ignore)
    shutil.copy2(TINY, dst / "config_tiny.yaml")
    return dst


def snakemake(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``python -m snakemake <args>`` in ``cwd`` (the plain command users type)."""
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def copy_run(src: Path, dst: Path) -> Path:
    """A copy of a workflow tree with its results and Snakemake state (mtimes kept), for a
    test that edits or reruns what :func:`tiny_run` made."""
    shutil.copytree(src, dst, symlinks=True)
    return dst


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workflow copy on which the tiny pipeline has completed (``<dir>/results/*.nc``).

    Shared by every test that only reads the results of one ordinary run (dry runs
    included); do not modify files in it (tests that edit or rerun copy it with
    :func:`copy_run` or make their own tree with :func:`copy_workflow`). The output of
    the run is in ``<dir>/tiny_run.log`` (stdout, then stderr).
    """
    work = copy_workflow(tmp_path_factory.mktemp("tiny_run"))
    proc = snakemake(work, "--cores", "2", "--configfile", "config_tiny.yaml")
    (work / "tiny_run.log").write_text(proc.stdout + proc.stderr)
    return work
