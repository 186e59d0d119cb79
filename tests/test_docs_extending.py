"""docs/extending.md: its code runs as written and what it cites exists.

- Every fenced ``python`` block runs, in order, as one session (one module namespace, like a
  notebook) in a fresh interpreter from the repository root; then every ``yaml`` block marked
  ``<!-- config -->`` loads with :func:`jcas.config.load_config` on top of ``config.yaml``
  (merged mapping by mapping, as Snakemake merges ``--configfile``), with the parts the
  blocks registered.
- A block marked ``<!-- file: <path> -->`` is that file, verbatim (the toy modules the
  contract tests use).
- Every repository path and every ``jcas.*`` dotted name in backticks exists.
"""

from __future__ import annotations

import importlib
import json
import re

from conftest import ROOT, run_python

DOC = ROOT / "docs" / "extending.md"
FENCE = re.compile(r"(?:<!-- (?P<mark>[^>]*) -->\n)?```(?P<lang>\w+)\n(?P<body>.*?)\n```", re.S)


def _blocks() -> list[tuple[str, str, str]]:
    """``(language, marker, body)`` of each fenced block, in order."""
    text = DOC.read_text(encoding="utf-8")
    return [(m["lang"], (m["mark"] or "").strip(), m["body"] + "\n") for m in FENCE.finditer(text)]


RUNNER = r"""
import json, sys, types
import yaml

blocks, configs = json.loads(sys.argv[1])
module = types.ModuleType("docs_extending")
sys.modules["docs_extending"] = module
for i, source in enumerate(blocks):
    try:
        exec(compile(source, f"docs/extending.md python block {i}", "exec"), module.__dict__)
    except Exception:
        print(f"--- python block {i} failed:\n{source}", file=sys.stderr)
        raise
from jcas.config import load_config

def merge(base, over):
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(base.get(key), dict)
        out[key] = merge(base[key], value) if both else value
    return out

base = yaml.safe_load(open("config.yaml"))
for text in configs:
    cfg = load_config(merge(base, yaml.safe_load(text)))
    print("config ok:", sorted(cfg["experiments"]))
"""


def test_the_python_blocks_run_and_the_configs_load() -> None:
    blocks = _blocks()
    python = [body for lang, _, body in blocks if lang == "python"]
    configs = [body for lang, mark, body in blocks if lang == "yaml" and mark == "config"]
    assert len(python) >= 7
    assert len(configs) >= 1
    proc = run_python(
        "import sys; sys.argv[1:] = [" + repr(json.dumps([python, configs])) + "]\n" + RUNNER,
        timeout=300,
    )
    assert proc.stdout.count("config ok:") == len(configs), proc.stdout[-2000:]


def test_marked_blocks_are_the_files_they_name() -> None:
    marked = [(mark, body) for _, mark, body in _blocks() if mark.startswith("file:")]
    assert len(marked) >= 2
    for mark, body in marked:
        path = ROOT / mark.removeprefix("file:").strip()
        assert path.is_file(), path
        assert body == path.read_text(encoding="utf-8"), f"{path} differs from its block"


def test_cited_paths_and_names_exist() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = []
    for ref in re.findall(r"`((?:jcas|tests|docs|workflow|benchmarks)/[\w/.<>-]+)", text):
        ref = ref.split("::")[0]
        if "<" in ref:  # a placeholder, e.g. jcas/parts/precoders/<module>.py
            continue
        if not (ROOT / ref).exists():
            missing.append(ref)
    for ref in re.findall(r"`(jcas(?:\.\w+)+)", text):
        if not _resolves(ref):
            missing.append(ref)
    assert not missing, missing
    assert "schemas/config.schema.yaml" not in text


def _resolves(dotted: str) -> bool:
    """Whether ``dotted`` is a module or an attribute path of one."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_cited_tests_exist() -> None:
    text = DOC.read_text(encoding="utf-8")
    for file, name in re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text):
        assert f"def {name}(" in (ROOT / file).read_text(encoding="utf-8"), (file, name)


def test_the_doc_names_the_contract_command_and_no_central_edit() -> None:
    """Adding a part is one module: the page gives the contract suite's command and does not
    ask for an edit of a central table."""
    text = DOC.read_text(encoding="utf-8")
    assert "python -m pytest tests/contracts -k" in text
    assert "two lines in `jcas/parts/registry.py`" not in text
