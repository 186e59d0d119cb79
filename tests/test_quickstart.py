"""docs/quickstart.md runs as written: every ```python block, in order, in one namespace
(as a notebook would), from the repository root. About 3 s."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from conftest import ROOT

DOC = ROOT / "docs" / "quickstart.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_the_quickstart_has_a_block_for_each_step() -> None:
    text = "\n".join(blocks())
    assert len(blocks()) >= 6
    for call in ("jcas.System(", "jcas.drops(", "jcas.allocate(", "jcas.rate(", "jcas.crb(",
                 "jcas.mc_rate(", "jcas.open_results(", "jcas.save_results("):  # fmt: skip
        assert call in text, call


def test_every_python_block_runs_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {"__name__": "__quickstart__"}
    out = io.StringIO()
    for i, code in enumerate(blocks()):
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(code, f"{DOC.name}, block {i + 1}", "exec"), namespace)
            except Exception as err:
                raise AssertionError(f"block {i + 1} failed:\n{code}") from err
    printed = out.getvalue()
    # the printed comments in the doc are what the blocks print
    assert "precoder = 'rfz': must be one of ['mrt', 'phase_mrt', 'zf', 'pzf', 'rzf'," in printed
    assert "200 (200, 4)" in printed
    assert "{'optimal'} (200, 4)" in printed
    assert "standard errors" in printed
