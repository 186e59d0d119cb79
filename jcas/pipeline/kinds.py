"""The functions the experiment kinds and stages name (:mod:`jcas.config.kinds`), resolved.

The specs name functions as text, ``"<module>:<function>"``, so that the config layer reads
them without importing the pipeline; this module imports the named module when a function
is asked for. The workflow derives each job's sources from the same names
(:mod:`jcas.pipeline.sources`: the import closure of each named module), so a function
resolved here is never missing from the sources of the jobs that call it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from jcas.config.kinds import KINDS, STAGES

__all__ = ["aggregation", "job", "resolve"]


def resolve(ref: str) -> Callable[..., Any]:
    """The function named ``"<module>:<function>"`` (``ValueError`` naming a bad reference)."""
    module, sep, name = ref.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"{ref!r}: not a function reference '<module>:<function>'")
    function = getattr(importlib.import_module(module), name, None)
    if not callable(function):
        raise ValueError(f"{ref!r}: {module} has no function {name!r}")
    return function  # type: ignore[no-any-return]


def aggregation(kind: str) -> Callable[..., Any]:
    """The aggregation of experiment kind ``kind`` (:attr:`jcas.config.kinds.Kind.aggregation`)."""
    if kind not in KINDS:
        raise ValueError(f"kind = {kind!r}: must be one of {list(KINDS)}")
    return resolve(KINDS[kind].aggregation)


def job(rule: str) -> Callable[..., Any]:
    """The job entry of rule ``rule`` (:attr:`jcas.config.kinds.Stage.job`)."""
    if rule not in STAGES:
        raise ValueError(f"rule = {rule!r}: must be one of {list(STAGES)}")
    return resolve(STAGES[rule].job)
