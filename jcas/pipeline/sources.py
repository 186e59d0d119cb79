"""Each job's source set: the import closure of its entry and of its parts (``docs/pipeline.md``,
"What reruns when").

Snakemake does not track imported code, so the workflow makes a checksum file of every
distinct source set an input of the jobs that run it (rule ``sources``): an edit to one of
its files reruns exactly those jobs. The set is derived, never kept by hand: the package's
import graph, built by grimp (the engine of import-linter) from the sources without
importing them, gives the closure of a job's entry module (:attr:`jcas.config.kinds.Stage.job`:
everything its stage imports, function-level and ``TYPE_CHECKING`` imports included) and of
the modules of the parts its point uses (:attr:`jcas.parts.registry.Part.module`: the
registries find their parts by listing their packages, which no import graph sees). A package
is in the closure of each of its modules (importing ``a.b`` runs ``a/__init__.py``), and
so is whatever its ``__init__`` imports.

So an edit to ``zf.py`` reruns only the jobs that run ZF, a new part module reruns no
job, an edit to a scheme's module reruns only the jobs of that scheme's family, and a
module that a job imports at run time is always among its sources: no stale results.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

__all__ = ["SourceGraph", "digest"]


class SourceGraph:
    """The import graph of one package of a source tree, and closures over it.

    Parameters
    ----------
    root : the directory holding the package (its parent directory), e.g. the repository.
    package : the top-level package.

    The package must be importable from ``root`` (first on ``sys.path``): grimp finds it
    there and parses its modules without running them.
    """

    def __init__(self, root: str | Path, package: str = "jcas") -> None:
        import grimp

        self.root = Path(root)
        self.package = package
        self._graph = grimp.build_graph(package, cache_dir=None)
        self._modules = frozenset(self._graph.modules)
        self._closures: dict[str, frozenset[str]] = {}
        packages = {
            m for m in self._modules if (self.root / Path(*m.split("."), "__init__.py")).is_file()
        }
        if package not in packages:
            raise ValueError(f"package {package!r}: no {package}/__init__.py under {self.root}")
        self._paths = {
            m: Path(*m.split("."), "__init__.py").as_posix()
            if m in packages
            else Path(*m.split(".")).as_posix() + ".py"
            for m in self._modules
        }

    @property
    def modules(self) -> frozenset[str]:
        """Every module of the package."""
        return self._modules

    def closure(self, module: str) -> frozenset[str]:
        """``module``, every module it imports (at any depth, wherever the import statement
        is) and every package above each of them."""
        if module not in self._modules:
            raise ValueError(f"{module!r} is not a module of package {self.package!r}")
        found = self._closures.get(module)
        if found is not None:
            return found
        seen = {module}
        todo = [module]
        while todo:
            current = todo.pop()
            parent = current.rpartition(".")[0]
            near = set(self._graph.find_modules_directly_imported_by(current))
            if parent:
                near.add(parent)
            for other in near - seen:
                seen.add(other)
                todo.append(other)
        out = frozenset(seen)
        self._closures[module] = out
        return out

    def files(self, modules: Iterable[str]) -> tuple[str, ...]:
        """The source files of the union of the closures of ``modules`` (paths relative to the
        root, sorted); ``ValueError`` for a module outside the package."""
        found: set[str] = set()
        for module in modules:
            found |= self.closure(module)
        return tuple(sorted(self._paths[m] for m in found))


def digest(files: Iterable[str]) -> str:
    """A short name of a source set: the first 16 hex digits of the SHA-256 of its sorted
    paths (the checksum file of the set is ``<digest>.sha256``)."""
    text = "\n".join(sorted(files))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
