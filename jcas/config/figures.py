"""The figure names an experiment may give in ``plot``, read from the figure modules'
source (``@figure("<name>", ...)`` decorators in ``jcas/report/figures/*.py``) as files,
without importing them: the config (below the report layer) and the dry run stay free of
plotting code, and adding a figure module needs no edit here. The figures themselves
register in :mod:`jcas.report.figures` when drawn.
"""

from __future__ import annotations

import ast
import pkgutil
from functools import lru_cache
from pathlib import Path

__all__ = ["FIGURES_DIR", "figure_modules", "figure_names"]

FIGURES_DIR = Path(__file__).resolve().parents[1] / "report" / "figures"
"""The figure family modules' directory (package ``jcas.report.figures``)."""


def _modules() -> list[str]:
    here = FIGURES_DIR
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(here)])
        if not m.name.startswith("_") and m.name not in ("style", "common")
    )


@lru_cache(maxsize=1)
def figure_modules() -> dict[str, str]:
    """``{figure name: its family module}`` (``jcas.report.figures.<module>``), read from
    the family modules' source (``@figure("...")`` decorators) without importing them, in
    module then source order. A figure job runs its own family's module only, so it is a
    source of that job (and of no other figure's)."""
    here = FIGURES_DIR
    out: dict[str, str] = {}
    for module in _modules():
        tree = ast.parse((here / f"{module}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                if (
                    isinstance(deco, ast.Call)
                    and isinstance(deco.func, ast.Name)
                    and deco.func.id == "figure"
                    and deco.args
                    and isinstance(deco.args[0], ast.Constant)
                    and isinstance(deco.args[0].value, str)
                ):
                    out[deco.args[0].value] = f"jcas.report.figures.{module}"
    return out


def figure_names() -> tuple[str, ...]:
    """The figure names, read from the family modules' source (``@figure("...")``
    decorators) without importing them, in module then source order."""
    return tuple(figure_modules())
