"""The package's architecture as checked contracts.

- The layering (``[tool.importlinter]`` in pyproject.toml): ``lint-imports`` keeps every
  contract, and breaks them on a copy of the package with an upward import or an import
  cycle in ``jcas.allocation`` (so the contracts can fail).
- The workflow scripts call only their rule's job entry (``jcas.config.kinds.STAGES``), and
  every rule that runs jcas code has a stage, a script and an entry that resolves.
- The source graph (``jcas.pipeline.sources``, grimp) gives the closure that ``modulefinder``
  (the standard library's, independent) finds, for every module of the package.
- The experiment kinds (``jcas.config.kinds.KINDS``) are the config's: the schema's enum,
  the extra keys, the aggregation functions.
"""

from __future__ import annotations

import ast
import modulefinder
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jcas.config import config_schema
from jcas.config.kinds import ALLOCATION_RULES, KINDS, STAGES
from jcas.pipeline import kinds as pipeline_kinds
from jcas.pipeline.sources import SourceGraph

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    return subprocess.run(
        [exe, "--no-cache"],
        cwd=cwd,
        env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(cwd)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_import_contracts_are_kept() -> None:
    proc = _lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("jcas/model/drops.py", "from jcas.parts import registry", "jcas.model is not allowed"),
        ("jcas/allocation/planar.py", "import jcas.allocation.closed_form", "No cycles"),
        ("jcas/allocation/sca/_program.py", "import jcas.allocation.schemes.sca", "No cycles"),
        ("jcas/pipeline/stages/drops.py", "import jcas.pipeline.jobs", "not allowed"),
    ],
)
def test_import_contracts_can_fail(tmp_path: Path, module: str, line: str, broken: str) -> None:
    """An upward import or a cycle, added to a copy of the package, breaks a contract."""
    shutil.copytree(ROOT / "jcas", tmp_path / "jcas", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    proc = _lint_imports(tmp_path)
    assert proc.returncode != 0
    assert broken in proc.stdout, proc.stdout[-4000:]


def _script_imports(path: Path) -> set[str]:
    """``module.name`` of every ``from module import name`` and ``import module`` of a file."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            out |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def test_each_script_calls_only_its_rules_job_entry() -> None:
    scripts = {p.stem for p in SCRIPTS.glob("*.py")}
    assert scripts == set(STAGES)
    for rule, stage in STAGES.items():
        imports = _script_imports(SCRIPTS / f"{rule}.py")
        assert imports == {stage.module, "jcas.pipeline.jobs.job_log"}, (rule, imports)
        function = stage.job.partition(":")[2]
        assert f".{function}(" in (SCRIPTS / f"{rule}.py").read_text(), rule


def test_each_rule_runs_its_script_and_each_stage_resolves() -> None:
    text = "\n".join(p.read_text() for p in (ROOT / "workflow" / "rules").glob("*.smk"))
    scripts: dict[str, str | None] = {}
    for block in re.split(r"^(?=rule \w+:)", text, flags=re.M)[1:]:
        rule = block.split(":", 1)[0].removeprefix("rule ")
        found = re.findall(r'script:\s*"\.\./scripts/(\w+)\.py"', block)
        scripts[rule] = found[0] if found else None
    assert set(scripts) - {"sources"} == set(STAGES)
    assert scripts["sources"] is None  # a shell job
    for rule in STAGES:
        assert scripts.get(rule) == rule, (rule, scripts.get(rule))
        assert callable(pipeline_kinds.job(rule))
    for kind in KINDS.values():
        assert callable(pipeline_kinds.aggregation(kind.name))
        assert set(kind.rules) <= set(STAGES)
        assert kind.stage is None or kind.stage in kind.rules
    assert set(ALLOCATION_RULES) <= set(STAGES)
    with pytest.raises(ValueError, match="'nope'"):
        pipeline_kinds.job("nope")
    with pytest.raises(ValueError, match="not a function reference"):
        pipeline_kinds.resolve("jcas.pipeline.aggregate")


def test_kinds_are_the_configs() -> None:
    schema = config_schema()
    experiment = schema["$defs"]["Experiment"]["properties"]
    assert experiment["kind"]["enum"] == list(KINDS)
    for kind in KINDS.values():
        for extra in kind.extra_keys:
            assert experiment[extra.key]["type"] == extra.schema["type"]


def test_source_graph_closures_are_modulefinders() -> None:
    """For every module of the package, the closure of jcas.pipeline.sources (grimp's import
    graph and the packages above each module) is the set of jcas modules modulefinder finds."""
    graph = SourceGraph(ROOT)
    modules = sorted(graph.modules)
    assert len(modules) > 60
    for name in modules:
        finder = modulefinder.ModuleFinder(path=[str(ROOT)])
        finder.import_hook(name)
        found = {n for n, m in finder.modules.items() if getattr(m, "__file__", None)}
        assert found == set(graph.closure(name)), name
    # what a closed-form job runs leaves out the solver, the Monte-Carlo and the other parts
    closure = graph.closure("jcas.pipeline.jobs.allocation")
    for absent in (
        "jcas.allocation.sca",
        "jcas.montecarlo",
        "jcas.parts.precoders.zf",
        "jcas.pipeline.aggregate",
        "jcas.report",
    ):
        assert absent not in closure, absent
    with pytest.raises(ValueError, match="not a module"):
        graph.closure("jcas.nope")
