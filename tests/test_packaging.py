"""The package as users install it: a wheel carries its data, and the runtime install
(set-up command 1 of the README, no test extra) runs the pipeline and ``--report``.

Both build from a copy of the sources in a temporary directory, so the repository gets no
build artefacts. pip's own cache is used (nothing is passed to disable it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, copy_workflow

from jcas.config import config_schema

SCHEMA = ROOT / "jcas" / "config" / "schema.json"
PACKAGE_FILES = ("pyproject.toml", "README.md", "requirements.lock")


def _env(**extra: str) -> dict[str, str]:
    """The environment without this test run's Python path or profile switches."""
    drop = ("PYTHONPATH", "JCAS_DEFAULT_PROFILE", "VIRTUAL_ENV", "PYTHONHOME")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **extra}


def _run(cmd: list[str], cwd: Path, timeout: float, **env: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _sources(dst: Path) -> Path:
    dst.mkdir(parents=True)
    for name in PACKAGE_FILES:
        shutil.copy2(ROOT / name, dst / name)
    shutil.copytree(ROOT / "jcas", dst / "jcas", ignore=shutil.ignore_patterns("__pycache__"))
    return dst


@pytest.mark.slow
def test_wheel_carries_the_schema_and_config_schema_reads_it(tmp_path: Path) -> None:
    src = _sources(tmp_path / "src")
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", str(src), "-w", str(dist)], src, 300)
    (wheel,) = dist.glob("jcas-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("jcas/config/schema.json") == SCHEMA.read_bytes()
    site = tmp_path / "site"
    _run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel)],
        tmp_path,
        300,
    )
    config = str(ROOT / "config.yaml")
    probe = (
        "import json, jcas, yaml; from jcas.config import config_schema, load_config; "
        f"load_config(yaml.safe_load(open({config!r}))); "
        "print(json.dumps([jcas.__file__, config_schema()]))"
    )
    # from a directory without a jcas tree, with the installed wheel first on the path
    out = _run([sys.executable, "-c", probe], tmp_path, 120, PYTHONPATH=str(site)).stdout
    where, schema = json.loads(out.splitlines()[-1])
    assert Path(where).is_relative_to(site)
    assert schema == config_schema()  # what the source tree's jcas.config gives


@pytest.mark.slow
@pytest.mark.pipeline
def test_report_from_runtime_only_install(tmp_path: Path) -> None:
    """A fresh venv, README set-up command 1 (``pip install -c requirements.lock -e .``,
    plus ``--no-compile``: the same packages, without byte-compiling all of them first),
    the tiny pipeline and ``--report`` with that venv's Python only."""
    venv = tmp_path / "venv"
    made = subprocess.run(
        [sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, check=False
    )
    if made.returncode != 0:
        pytest.skip(f"cannot create a virtual environment here: {made.stderr.strip()[-500:]}")
    python = str(venv / "bin" / "python")
    work = copy_workflow(tmp_path / "wf")
    for name in PACKAGE_FILES:
        shutil.copy2(ROOT / name, work / name)
    path = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    t0 = time.perf_counter()
    install = ["install", "--no-compile", "-c", "requirements.lock", "-e", "."]
    _run([python, "-m", "pip", *install], work, 900)
    t1 = time.perf_counter()
    # runtime only: the test extra is not installed
    probe = (
        "import importlib.util as u; print([m for m in ('pytest', 'hypothesis') if u.find_spec(m)])"
    )
    assert _run([python, "-c", probe], work, 60).stdout.strip() == "[]"
    sm = [python, "-m", "snakemake"]
    _run([*sm, "--cores", "2", "--configfile", "config_tiny.yaml"], work, 900, PATH=path)
    t2 = time.perf_counter()
    _run([*sm, "--configfile", "config_tiny.yaml", "--report", "report.html"], work, 300, PATH=path)
    t3 = time.perf_counter()
    report = work / "report.html"
    text = report.read_text(errors="replace")
    assert report.stat().st_size > 100_000
    assert "claims.csv" in text
    assert "fig1" in text
    print(f"install {t1 - t0:.0f} s, pipeline {t2 - t1:.0f} s, report {t3 - t2:.0f} s")
