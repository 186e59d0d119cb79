"""Reliability, bad configuration (issue 6): rejected before any job, key, value and what
is allowed named, nothing written under results/.

Two layers, both table-driven:

- every case in ``FILE_CASES`` (a ``--configfile`` YAML file) and ``CLI_CASES``
  (``--config key=value`` entries) goes through Snakemake's own parsers
  (``snakemake.common.configfile.load_configfile``, ``snakemake.cli.parse_config``)
  and merge (``snakemake.utils.update_config``) over ``config.yaml`` exactly as the
  Snakefile's ``configfile:`` directive does, then through the validation the
  Snakefile calls (``jcas.config.load_config`` with the JSON schema). Fast, in-process.
- a representative subset (``SUBPROCESS_CASES``, disjoint from the four cases of
  ``tests/test_pipeline.py::test_invalid_config_fails_before_any_job``) runs the real
  ``python -m snakemake --cores 1`` in a copy of the workflow and checks the exit
  code, stderr and that ``results/`` stays empty and no job was scheduled.

Each expected fragment is written from the constraint itself (the key path, the value as
YAML or Snakemake parses it, and the bound or set of allowed values), not copied from
the output.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from snakemake.cli import parse_config
from snakemake.common.configfile import load_configfile
from snakemake.utils import update_config

from jcas.config import load_config
from jcas.params import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
ALLOWED_SCHEMES = "['sca', 'optimal', 'equal', 'equal_full']"

# (YAML text of a --configfile merged over config.yaml, fragments the message must contain)
FILE_CASES: list[tuple[str, list[str]]] = [
    # wrong type
    ("drops: twenty", ["drops = 'twenty'", "must be an integer"]),
    ("seed: 1.5", ["seed = 1.5", "must be an integer"]),
    ("drops:", ["drops = None", "must be an integer"]),
    ("system:\n  K: four", ["system.K = 'four'", "must be an integer"]),
    ("system:\n  pt_dbm: 30 dBm", ["system.pt_dbm = '30 dBm'", "must be a number"]),
    ("claims: maybe", ["claims = 'maybe'", "must be true or false"]),
    ("experiments:\n  fig1:\n    sweep:\n      Nt: [15, 35.5]", ["sweep.Nt[1] = 35.5", "integer"]),
    # a number YAML reads as text (no decimal point in the mantissa)
    ("system:\n  crb0: 1e-3", ["system.crb0 = '1e-3'", "must be a number", "write 1.0e-3"]),
    ("mc:\n  realizations: 1e3", ["mc.realizations = '1e3'", "must be an integer"]),
    (
        "experiments:\n  pareto:\n    sweep:\n      crb0: [1e-4, 1.0e-5]",
        ["experiments.pareto.sweep.crb0[0] = '1e-4'", "must be a number"],
    ),
    # out of range
    ("system:\n  Nt: 0", ["system.Nt = 0", "must be >= 1"]),
    ("system:\n  theta_deg: -95.0", ["system.theta_deg = -95.0", "must be > -90"]),
    ("system:\n  shadowing_db: -3.0", ["system.shadowing_db = -3.0", "must be >= 0"]),
    ("system:\n  L: 0", ["system.L = 0", "must be >= 1"]),
    ("system:\n  tau_p: 0", ["system.tau_p = 0", "must be >= 1"]),
    ("mc:\n  frames: 0", ["mc.frames = 0", "must be >= 1"]),
    ("allocation:\n  sca_tolerance: -1.0e-4", ["allocation.sca_tolerance = -0.0001", "> 0"]),
    ("allocation:\n  sca_max_iterations: 0", ["allocation.sca_max_iterations = 0", ">= 1"]),
    ("seed: -5", ["seed = -5", "must be >= 0"]),
    ("drops_per_job: 0", ["drops_per_job = 0", "must be >= 1"]),
    (
        "experiments:\n  fig1:\n    sweep:\n      snr_com_db: [0, 200]",
        ["experiments.fig1.sweep.snr_com_db[1] = 200", "must be <= 100"],
    ),
    # unknown key (the message lists the allowed keys)
    ("sytem:\n  K: 4", ["sytem = {'K': 4}", "unknown key", "'system'"]),
    ("system:\n  Pt_dbm: 30.0", ["system.Pt_dbm = 30.0", "unknown key", "'pt_dbm'"]),
    (
        "experiments:\n  fig1:\n    sweeps:\n      Nt: [8]",
        ["experiments.fig1.sweeps = {'Nt': [8]}", "unknown key", "'sweep'"],
    ),
    (
        "experiments:\n  fig1:\n    sweep:\n      K: [2, 4]",
        ["experiments.fig1.sweep.K = [2, 4]", "unknown key", "'snr_com_db'"],
    ),
    # empty grid
    (
        "experiments:\n  fig1:\n    sweep:\n      snr_com_db: []",
        ["experiments.fig1.sweep.snr_com_db = []", "at least 1 value"],
    ),
    ("experiments:\n  fig3:\n    sweep:\n      N: []", ["fig3.sweep.N = []", "at least 1 value"]),
    ("schemes: []", ["schemes = []", "at least 1 value"]),
    # unknown scheme
    ("schemes: [sca, waterfilling]", ["schemes[1] = 'waterfilling'", ALLOWED_SCHEMES]),
    ("experiments:\n  crb_mc:\n    schemes: [mle]", ["crb_mc.schemes[0] = 'mle'", ALLOWED_SCHEMES]),
    # inconsistent values
    ("system:\n  tau_p: 100\n  tau_c: 100", ["system.tau_c = 100", "> tau_p = 100"]),
    ("system:\n  tau_p: 120", ["system.tau_c = 100", "> tau_p = 120"]),
    ("system:\n  r_min_m: 500.0", ["system.r_max_m = 500.0", "> r_min_m = 500.0"]),
    (
        "system:\n  r_min_m: 600.0\n  r_max_m: 100.0",
        ["system.r_max_m = 100.0", "> r_min_m = 600.0"],
    ),
]

# (--config entries, fragments). Snakemake parses a top-level value with int, float,
# bool, then YAML's BaseLoader (so nested values and list items are *strings*).
CLI_CASES: list[tuple[list[str], list[str]]] = [
    (["drops=0"], ["drops = 0", "must be >= 1"]),
    (["drops=-3"], ["drops = -3", "must be >= 1"]),
    (["drops=1.5"], ["drops = 1.5", "must be an integer"]),
    (["drops=abc"], ["drops = 'abc'", "must be an integer"]),
    (["seed=1e-3"], ["seed = 0.001", "must be an integer"]),
    (["drops_per_job=true"], ["drops_per_job = 'true'", "must be an integer"]),
    (["schemes=[sca,magic]"], ["schemes[1] = 'magic'", ALLOWED_SCHEMES]),
    (["schemes=[]"], ["schemes = []", "at least 1 value"]),
    (["unknown_key=1"], ["unknown_key = 1", "unknown key"]),
    (["claims=maybe"], ["claims = 'maybe'", "must be true or false"]),
    # nested values arrive as text: rejected with the hint to use --configfile
    (["system={K: 0}"], ["system.K = '0'", "must be an integer", "--configfile"]),
    (["system={tau_p: 100}"], ["system.tau_p = '100'", "must be an integer", "--configfile"]),
]


@pytest.fixture(scope="module")
def defaults() -> dict[str, Any]:
    """config.yaml as Snakemake's ``configfile:`` directive loads it."""
    return load_configfile(str(ROOT / "config.yaml"))


def _rejection(cfg: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(cfg, schema=SCHEMA)
    msg = str(info.value)
    assert msg.startswith("invalid configuration:"), msg
    return msg


def test_table_is_large_enough() -> None:
    assert len(FILE_CASES) + len(CLI_CASES) >= 30
    texts = [t for t, _ in FILE_CASES] + [" ".join(e) for e, _ in CLI_CASES]
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize(("text", "fragments"), FILE_CASES, ids=[t for t, _ in FILE_CASES])
def test_bad_configfile_is_rejected_naming_key_value_and_allowed(
    defaults: dict[str, Any], tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text + "\n", encoding="utf-8")
    cfg = copy.deepcopy(defaults)
    update_config(cfg, load_configfile(str(path)))
    msg = _rejection(cfg)
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)


@pytest.mark.parametrize(
    ("entries", "fragments"), CLI_CASES, ids=[" ".join(e) for e, _ in CLI_CASES]
)
def test_bad_config_override_is_rejected_naming_key_value_and_allowed(
    defaults: dict[str, Any], entries: list[str], fragments: list[str]
) -> None:
    cfg = copy.deepcopy(defaults)
    update_config(cfg, parse_config(entries))
    msg = _rejection(cfg)
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)


def test_valid_overrides_pass(defaults: dict[str, Any]) -> None:
    """The rejections above are not blanket: the same keys with valid values pass."""
    cfg = copy.deepcopy(defaults)
    update_config(cfg, parse_config(["drops=3", "seed=5", "schemes=[sca,optimal]"]))
    out = load_config(cfg, schema=SCHEMA)
    assert (out["drops"], out["seed"], out["schemes"]) == (3, 5, ["sca", "optimal"])


# ------------------------------------------------------------------ real snakemake calls
# (label, extra files {name: text}, arguments, fragments)
SUBPROCESS_CASES: list[tuple[str, dict[str, str], list[str], list[str]]] = [
    (
        "tau_p>=tau_c file",
        {"bad.yaml": "system:\n  tau_p: 100\n"},
        ["--configfile", "bad.yaml"],
        ["system.tau_c = 100", "> tau_p = 100"],
    ),
    (
        "r_min>=r_max file",
        {"bad.yaml": "system:\n  r_min_m: 500.0\n"},
        ["--configfile", "bad.yaml"],
        ["system.r_max_m = 500.0", "> r_min_m = 500.0"],
    ),
    (
        "empty grid file",
        {"bad.yaml": "experiments:\n  fig1:\n    sweep:\n      snr_com_db: []\n"},
        ["--configfile", "bad.yaml"],
        ["experiments.fig1.sweep.snr_com_db = []", "at least 1 value"],
    ),
    (
        "1e-4 as text in a list",
        {"bad.yaml": "experiments:\n  pareto:\n    sweep:\n      crb0: [1e-4]\n"},
        ["--configfile", "bad.yaml"],
        ["experiments.pareto.sweep.crb0[0] = '1e-4'", "must be a number"],
    ),
    (
        "unknown nested key file",
        {"bad.yaml": "system:\n  Pt_dbm: 30.0\n"},
        ["--configfile", "bad.yaml"],
        ["system.Pt_dbm = 30.0", "unknown key"],
    ),
    ("--config seed=1e-3", {}, ["--config", "seed=1e-3"], ["seed = 0.001", "integer"]),
    (
        "--config nested",
        {},
        ["--config", "system={K: 0}"],
        ["system.K = '0'", "--configfile"],
    ),
]


def _copy_workflow(dst: Path) -> Path:
    dst.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("Snakefile", "config.yaml"):
        shutil.copy2(ROOT / name, dst / name)
    for name in ("workflow", "jcas"):
        shutil.copytree(ROOT / name, dst / name, ignore=ignore)
    return dst


def _run_case(cwd: Path, files: dict[str, str], args: list[str]) -> subprocess.CompletedProcess:
    for name, text in files.items():
        (cwd / name).write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "JCAS_DEFAULT_PROFILE"}
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def subprocess_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every SUBPROCESS_CASES call, two at a time (2 cores), each in its own copy."""
    base = tmp_path_factory.mktemp("badcfg")
    cwds = {
        label: _copy_workflow(base / f"case{i}") for i, (label, *_) in enumerate(SUBPROCESS_CASES)
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            label: pool.submit(_run_case, cwds[label], files, args)
            for label, files, args, _ in SUBPROCESS_CASES
        }
        return {label: (cwds[label], fut.result()) for label, fut in futures.items()}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("label", "fragments"),
    [(c[0], c[3]) for c in SUBPROCESS_CASES],
    ids=[c[0] for c in SUBPROCESS_CASES],
)
def test_snakemake_rejects_bad_config_before_any_job(
    subprocess_runs: dict[str, Any], label: str, fragments: list[str]
) -> None:
    cwd, proc = subprocess_runs[label]
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "invalid configuration" in proc.stderr, proc.stderr[-3000:]
    for fragment in fragments:
        assert fragment in proc.stderr, (fragment, proc.stderr[-3000:])
    # no job was scheduled and nothing was written under results/
    out = proc.stdout + proc.stderr
    for marker in ("Job stats", "localrule", "rule "):
        assert marker not in out, marker
    results = cwd / "results"
    assert not results.exists() or not any(results.rglob("*")), list(results.rglob("*"))
