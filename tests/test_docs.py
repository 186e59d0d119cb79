"""docs/reliability.md cites, for each guarantee, tests that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def test_every_cited_test_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    cited: list[tuple[str, str | None]] = []
    # `tests/x.py::name` and `tests/x.py`, then `::name` continuing the last file
    last = None
    for m in re.finditer(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`", text):
        file, name = m.group(1), m.group(2)
        if file:
            last = file
        elif name is None or last is None:
            continue
        cited.append((file or last, name))
    assert len(cited) >= 30
    missing = []
    for file, name in cited:
        path = ROOT / file
        if not path.is_file() or (name and name not in _test_names(path)):
            missing.append(f"{file}::{name}")
    assert not missing, missing


def test_every_guarantee_line_cites_a_test() -> None:
    guarantees = DOC.read_text(encoding="utf-8").split("## Not guaranteed")[0]
    lines = [line for line in guarantees.splitlines() if line.startswith("- ")]
    assert len(lines) >= 25
    for line in lines:
        assert "`tests/" in line, line
