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
WORKFLOW_DIRS = ("workflow", "jcas")


def copy_workflow(dst: Path) -> Path:
    """A runnable copy of the workflow (no results) in ``dst``, with the tiny config."""
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
    env = {k: v for k, v in os.environ.items() if k != "JCAS_DEFAULT_PROFILE"}
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        env=env,
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


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workflow copy on which the tiny pipeline has completed (``<dir>/results/*.nc``).

    Shared by every test that only reads the results of one ordinary run; do not modify
    files in it (tests that edit or rerun copy their own tree with :func:`copy_workflow`).
    """
    work = copy_workflow(tmp_path_factory.mktemp("tiny_run"))
    snakemake(work, "--cores", "2", "--configfile", "config_tiny.yaml")
    return work


# --------------------------------------------------------------------------- model helpers
import numpy as np  # noqa: E402

from jcas.params import SystemParams  # noqa: E402


def drops(params: SystemParams, n: int, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """``(beta, xi)`` of drops ``0 .. n-1`` of ``seed`` (shape ``(n, K)`` each): the
    large-scale fading of :func:`jcas.drops.large_scale_fading` and the MMSE estimate
    variance (7) of :func:`jcas.channel.estimate_variance`."""
    from jcas.channel import estimate_variance
    from jcas.drops import large_scale_fading

    beta, _ = large_scale_fading(params, seed, range(n))
    xi = estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)
    return beta, xi
