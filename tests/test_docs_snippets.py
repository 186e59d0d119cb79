"""Every command and configuration snippet of the docs runs.

The fenced blocks of ``docs/*.md`` and ``README.md`` (the quickstart and the extending
guide have their own session tests, ``tests/test_quickstart.py`` and
``tests/test_docs_extending.py``):

- ``python`` blocks run, each in a fresh interpreter from the repository root (those that
  read ``results/`` run in a finished tiny run);
- ``yaml`` blocks that are configuration (their top-level keys are config keys) are merged
  over ``config.yaml`` as Snakemake merges ``--configfile`` and validated by ``load_config``;
- ``bash``/``sh`` commands run: ``snakemake`` commands as a dry run (``-n``, the documented
  arguments, placeholders ``N`` and ``[...]`` resolved) in a copy of the workflow,
  ``lint-imports`` as it is; installs (``pip install``) and the test command are what CI
  itself runs (``.ci/run``) and are only checked to name the lock file and to be CI's.

A block fenced as ``text`` is an illustration (a rule template to adapt) and is skipped.
"""

from __future__ import annotations

import copy
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import copy_workflow, snakemake

from jcas.config import load_config

ROOT = Path(__file__).resolve().parents[1]
OWN_TESTS = {"quickstart.md", "extending.md"}
DOCS = sorted(
    [p for p in (ROOT / "docs").glob("*.md") if p.name not in OWN_TESTS] + [ROOT / "README.md"]
)
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks(lang: set[str]) -> list[tuple[str, int, str]]:
    out = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for i, m in enumerate(BLOCK.finditer(text)):
            if m.group(1) in lang:
                out.append((path.relative_to(ROOT).as_posix(), i, m.group(2)))
    return out


def _id(block: tuple[str, int, str]) -> str:
    return f"{block[0]}#{block[1]}"


PYTHON = _blocks({"python"})
YAML = _blocks({"yaml"})
SHELL = _blocks({"bash", "sh"})


def _needs_results(code: str) -> bool:
    return "results/" in code


@pytest.mark.parametrize("block", [b for b in PYTHON if not _needs_results(b[2])], ids=_id)
def test_python_block_runs(block: tuple[str, int, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", block[2]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.pipeline
@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in PYTHON if _needs_results(b[2])], ids=_id)
def test_python_block_on_results_runs(tiny_run: Path, block: tuple[str, int, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", block[2]],
        cwd=tiny_run,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merged(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


@pytest.mark.parametrize("block", YAML, ids=_id)
def test_yaml_block_is_a_valid_config(block: tuple[str, int, str]) -> None:
    """A configuration snippet merged over ``config.yaml``; a ``system`` block alone (an
    illustration of the block's keys) replaces the system block, with one experiment over
    the SNR so that the default experiments' grids (ULA sizes) do not apply."""
    snippet = yaml.safe_load(block[2])
    base = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    assert isinstance(snippet, dict), _id(block)
    assert set(snippet) <= set(base) | {"precoders"}, f"{_id(block)}: {sorted(snippet)}"
    if set(snippet) == {"system"}:
        cfg = {**base, "system": snippet["system"]}
        cfg["experiments"] = {"snippet": {"sweep": {"snr_com_db": [0, 20]}}}
        load_config(cfg)
    else:
        load_config(_merged(base, snippet))


def _commands(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        out += [c.strip() for c in line.split("&&")]
    return out


def _dry(command: str) -> list[str]:
    """A documented snakemake command as arguments of a dry run."""
    command = re.sub(r"\[[^\]]*\]", "", command)  # optional parts
    args = shlex.split(command)
    args = args[args.index("snakemake") + 1 :]
    args = ["1" if a == "N" else a for a in args]
    return [*args, "-n"]


@pytest.mark.pipeline
@pytest.mark.slow
@pytest.mark.parametrize("block", SHELL, ids=_id)
def test_shell_commands_run(tmp_path: Path, block: tuple[str, int, str]) -> None:
    work = None
    for command in _commands(block[2]):
        if command.startswith(("python -m pip", "pip ")):
            assert "-c requirements.lock" in command, command
            continue
        if command.startswith(("python -m pytest", "pytest")):
            # the test command: CI runs it (this suite is inside it), so it must be .ci/run's
            ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
            assert command in ci, (command, ci)
            continue
        if "snakemake" in command:
            if work is None:
                work = copy_workflow(tmp_path / "work")
                for extra in ("configs",):
                    if (ROOT / extra).is_dir():
                        import shutil

                        shutil.copytree(ROOT / extra, work / extra)
            args = _dry(command)
            if "--unlock" in args:
                args.remove("-n")
            snakemake(work, *args)
            continue
        proc = subprocess.run(
            shlex.split(command), cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, (command, proc.stdout[-2000:], proc.stderr[-2000:])
