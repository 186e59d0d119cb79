"""``docs/architecture.md``'s map of the package is generated from the modules themselves.

Each module of ``jcas/`` with the first line of its docstring, by package, between the
``<!-- generated: map -->`` markers; the layers are ``pyproject.toml``'s import-linter
contracts. A module added, removed or re-described without regenerating fails this test;
regenerate with ``python tests/test_docs_map.py``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
BEGIN, END = "<!-- generated: map -->", "<!-- end generated: map -->"


def _first_line(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    line = doc.strip().split("\n\n")[0].replace("\n", " ").strip()
    return line.replace("|", "\\|")


def render() -> str:
    rows = ["| module | what it is |", "|---|---|"]
    for path in sorted((ROOT / "jcas").rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(ROOT).as_posix()
        rows.append(f"| `{rel}` | {_first_line(path)} |")
    return "\n".join(rows)


def rendered(text: str) -> str:
    a = text.index(BEGIN) + len(BEGIN)
    b = text.index(END)
    return text[:a] + "\n" + render() + "\n" + text[b:]


def test_package_map_is_generated_from_the_modules() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert text == rendered(text), "out of date: run python tests/test_docs_map.py"


def test_every_module_has_a_docstring() -> None:
    missing = [
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "jcas").rglob("*.py")
        if "__pycache__" not in p.parts and not _first_line(p)
    ]
    assert not missing, missing


if __name__ == "__main__":
    DOC.write_text(rendered(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC}\n")
