"""The real ``python -m snakemake`` command on bad and on text-valued configurations.

A bad configuration stops the command before any job is scheduled, with the key path and
the value named, and nothing is written under ``results/``. Text values that read
unambiguously (nested ``--config`` values, ``1e-3`` in a YAML file) reach the jobs as the
numbers they denote, and a nested override keeps the keys it does not name. The in-process
cases (every constraint, every conversion) are in ``tests/config/test_config.py``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import copy_workflow, snakemake

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]

# (label, files written in the workflow copy, arguments, fragments of the message)
BAD_RUNS: list[tuple[str, dict[str, str], list[str], list[str]]] = [
    (
        "tau_p >= tau_c in a file",
        {"bad.yaml": "system:\n  tau_p: 100\n"},
        ["--configfile", "bad.yaml"],
        ["system.tau_c = 100", "> tau_p = 100"],
    ),
    (
        "empty grid in a file",
        {"bad.yaml": "experiments:\n  fig1:\n    sweep:\n      snr_com_db: []\n"},
        ["--configfile", "bad.yaml"],
        ["experiments.fig1.sweep.snr_com_db = []", "at least 1 value"],
    ),
    (
        "unknown nested key in a file",
        {"bad.yaml": "system:\n  Pt_dbm: 30.0\n"},
        ["--configfile", "bad.yaml"],
        ["system.Pt_dbm = 30.0", "unknown key"],
    ),
    (
        "text that is not a number in a list",
        {"bad.yaml": "experiments:\n  pareto:\n    sweep:\n      crb0: [1e-4, 1e-3x]\n"},
        ["--configfile", "bad.yaml"],
        ["experiments.pareto.sweep.crb0[1] = '1e-3x'", "must be a number"],
    ),
    ("--config drops=0", {}, ["--config", "drops=0"], ["drops = 0", "must be >= 1"]),
    ("--config text", {}, ["--config", "drops_per_job=abc"], ["drops_per_job = 'abc'"]),
    ("--config seed=1e-3", {}, ["--config", "seed=1e-3"], ["seed = 0.001", "integer"]),
    ("--config list", {}, ["--config", "schemes=[sca,magic]"], ["schemes[1] = 'magic'"]),
    (
        "--config nested, not an integer",
        {},
        ["--config", "mc={realizations: 1e3}"],
        ["mc.realizations = '1e3'", "must be an integer (write 1000"],
    ),
]


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every BAD_RUNS command, two at a time (2 cores), each in its own workflow copy."""
    base = tmp_path_factory.mktemp("bad_config")

    def run(i: int, files: dict[str, str], args: list[str]) -> tuple[Path, Any]:
        cwd = copy_workflow(base / f"case{i}")
        for name, text in files.items():
            (cwd / name).write_text(text, encoding="utf-8")
        return cwd, snakemake(cwd, "--cores", "1", *args, check=False)

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            label: pool.submit(run, i, files, args)
            for i, (label, files, args, _) in enumerate(BAD_RUNS)
        }
        return {label: fut.result() for label, fut in futures.items()}


@pytest.mark.parametrize(
    ("label", "fragments"), [(c[0], c[3]) for c in BAD_RUNS], ids=[c[0] for c in BAD_RUNS]
)
def test_bad_config_stops_snakemake_before_any_job(
    bad_runs: dict[str, Any], label: str, fragments: list[str]
) -> None:
    cwd, proc = bad_runs[label]
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "invalid configuration" in proc.stderr, proc.stderr[-3000:]
    for fragment in fragments:
        assert fragment in proc.stderr, (fragment, proc.stderr[-3000:])
    out = proc.stdout + proc.stderr
    for marker in ("Job stats", "localrule", "rule "):  # no job was scheduled
        assert marker not in out, marker
    results = cwd / "results"
    assert not results.exists() or not any(results.rglob("*")), list(results.rglob("*"))


NOTHING = "Nothing to be done"


def test_text_values_reach_the_jobs_as_numbers(tiny_run: Path, tmp_path: Path) -> None:
    """On the completed tiny run, the tiny config's own values written as text (a nested
    ``--config`` and ``1e-3`` in a YAML file) schedule nothing: they are the same numbers,
    and the override keeps the ``mc`` keys it does not name (``frames``, ``mle_trials``,
    ``mle_drops`` would change the Monte-Carlo and MLE jobs' params otherwise). A different
    value schedules jobs, so "nothing" is not what every call prints."""
    text = tmp_path / "text_values.yaml"
    text.write_text("experiments:\n  pareto:\n    sweep:\n      crb0: [1e-4, 1e-3]\n")
    tiny = ("--configfile", "config_tiny.yaml")
    same = snakemake(
        tiny_run, "-n", *tiny, str(text), "--config", "mc={realizations: 8}", "system={L: 30}"
    )
    assert NOTHING in same.stdout + same.stderr, same.stdout[-3000:]
    changed = snakemake(tiny_run, "-n", *tiny, "--config", "mc={realizations: 50}")
    assert NOTHING not in changed.stdout + changed.stderr
    assert "Job stats" in changed.stdout + changed.stderr, changed.stdout[-3000:]
