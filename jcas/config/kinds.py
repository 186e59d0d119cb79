"""Experiment kinds and pipeline stages as specs (``docs/pipeline.md``, "Experiment kinds").

Pure data, importing nothing of jcas: the config layer reads it (the ``kind`` enum of the
schema, the keys a kind adds, fixes or forbids, and its checks), the workflow rules read it
(which per-point files an experiment needs, which ``mc.*`` keys its jobs depend on, the job
entry of each rule, whose import closure is the rule's source set) and the pipeline
resolves the functions named here (:mod:`jcas.pipeline.kinds`). Functions are named as text,
``"<module>:<function>"``, so that reading a spec imports no pipeline code.

A :class:`Stage` is one rule of the workflow: its job entry and the parts its jobs run. A
:class:`Kind` is one value of an experiment's ``kind``: the rules its experiments run, its
own per-point stage (if any) and how its files are laid out, its aggregation, the ``mc.*``
keys its jobs depend on, its fixed schemes and its extra experiment keys. Adding a kind is
one :class:`Kind` (and the :class:`Stage` of its own rule) here, the rule in a
``workflow/rules/*.smk`` file, its job entry ``jcas/pipeline/jobs/<rule>.py`` and its script
``workflow/scripts/<rule>.py``; nothing else names kinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

__all__ = [
    "ALLOCATION_RULES",
    "KINDS",
    "PARTS",
    "STAGES",
    "ExtraKey",
    "Kind",
    "Stage",
    "extra_keys",
    "kind_names",
]

PARTS: Final = ("precoder", "array", "channel", "schemes")
"""What a stage's jobs may run of their point: its precoder part, its array part, its channel
model, the schemes it allocates with (each one module, ``jcas.parts.registry.Part.module``)."""


@dataclass(frozen=True)
class Stage:
    """One rule of the workflow.

    Attributes
    ----------
    rule : the rule's name (its script is ``workflow/scripts/<rule>.py``).
    job : ``"<module>:<function>"``, the job entry the script calls (a module of
        :mod:`jcas.pipeline.jobs`): the import closure of that module is what every job of
        the rule runs.
    parts : the parts of the job's point that the job runs (:data:`PARTS`): their modules'
        import closures join the job's source set.
    """

    rule: str
    job: str
    parts: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        """The module of the job entry."""
        return self.job.partition(":")[0]


@dataclass(frozen=True)
class ExtraKey:
    """An experiment key that only some kinds have.

    Attributes
    ----------
    key : the experiment key.
    default : its value when not given.
    schema : its JSON-schema fragment (without ``description``).
    description : the schema's description.
    what : the words of the error when another kind gives it ("only an experiment of kind
        ``<kind>`` has ``<what>``").
    """

    key: str
    default: Any
    schema: Mapping[str, Any]
    description: str
    what: str


@dataclass(frozen=True)
class Kind:
    """One experiment kind.

    Attributes
    ----------
    name : the config value of ``experiments.<name>.kind``.
    description : one line for the schema.
    rules : the rules its experiments run, in DAG order (the allocation rules
        :data:`ALLOCATION_RULES` stand for the families of its schemes; ``monte_carlo`` runs
        only with ``monte_carlo: true``).
    stage : its own per-point stage, the rule of its own jobs (a :data:`STAGES` key), or None:
        the sweep's allocation (and Monte-Carlo) files are its per-point files.
    per_scheme : one job of ``stage`` per grid point, precoder and scheme (its files are
        ``<directory>/<job key>/<scheme>.nc``); else per grid point, precoder and drop block
        (``<directory>/<job key>/<block>.nc``).
    directory : the cache directory of ``stage``'s files (default: its name).
    drops : the drops its own jobs use: ``"blocks"`` (every block of ``drops_per_job``),
        ``"first"`` (drops ``0 .. mc.<drops_key> - 1`` of the allocation blocks, capped at
        ``drops``) or ``"held_out"`` (``drops .. drops + <drops_key> - 1``, an extra key;
        drawn by the job itself, used by no other experiment).
    drops_key : the key of ``drops`` (``mc.<key>`` for ``"first"``, an extra key for
        ``"held_out"``).
    mc_keys : the ``mc.*`` keys its jobs depend on (the sweep's: its Monte-Carlo jobs').
    aggregation : ``"<module>:<function>"`` combining an experiment's per-job datasets,
        ``(plan, pieces) -> xarray.Dataset`` (:mod:`jcas.pipeline.aggregate`).
    fixed_schemes : the schemes of every experiment of the kind (a given list is checked,
        not merged), with ``fixed_why``; empty: the experiment's (default the top-level
        ones), restricted to the top-level list unless ``own_schemes``.
    own_schemes : the experiment's schemes are kept as given (they say whose echo is
        simulated, not what is compared), whatever the top-level list.
    monte_carlo : whether ``monte_carlo: true`` is allowed (else rejected, ``no_mc_why``).
    extra_keys : experiment keys only this kind has (:class:`ExtraKey`).
    two_angles : its points need planar arrays resolving both angles.
    article : ``"a"`` or ``"an"`` before the name in messages.
    """

    name: str
    description: str
    rules: tuple[str, ...]
    stage: str | None = None
    per_scheme: bool = False
    directory: str = ""
    drops: str = "blocks"
    drops_key: str = ""
    mc_keys: tuple[str, ...] = ()
    aggregation: str = "jcas.pipeline.aggregate:combine"
    fixed_schemes: tuple[str, ...] = ()
    fixed_why: str = ""
    own_schemes: bool = False
    monte_carlo: bool = True
    no_mc_why: str = ""
    extra_keys: tuple[ExtraKey, ...] = ()
    two_angles: bool = False
    article: str = "a"

    @property
    def cache_directory(self) -> str:
        """The cache directory of its own stage's files (empty without one)."""
        return self.directory or (self.stage or "")

    def allocates(self) -> bool:
        """Whether its experiments' schemes are allocated by the allocation rules."""
        return any(r in ALLOCATION_RULES for r in self.rules)


ALLOCATION_RULES: Final = ("closed_form", "sca")
"""The allocation rules, one per job family of the schemes (``jcas.parts.registry.Part.family``)."""

_ALLOCATION: Final = ("precoder", "array", "channel", "schemes")
_SIMULATION: Final = ("precoder", "array", "channel")

STAGES: Final[Mapping[str, Stage]] = MappingProxyType(
    {
        s.rule: s
        for s in (
            Stage("drops", "jcas.pipeline.jobs.drops:run"),
            Stage("closed_form", "jcas.pipeline.jobs.allocation:run", _ALLOCATION),
            Stage("sca", "jcas.pipeline.jobs.sca:run", _ALLOCATION),
            Stage("monte_carlo", "jcas.pipeline.jobs.monte_carlo:run", _SIMULATION),
            Stage("mle", "jcas.pipeline.jobs.mle:run", _SIMULATION),
            Stage("mle_planar", "jcas.pipeline.jobs.mle:run_planar", _SIMULATION),
            Stage("sca_audit", "jcas.pipeline.jobs.sca_audit:run", _ALLOCATION),
            Stage("aggregate", "jcas.pipeline.jobs.aggregate:run"),
            Stage("figure", "jcas.pipeline.jobs.figure:run"),
            Stage("claims", "jcas.pipeline.jobs.claims:run"),
        )
    }
)
"""Every rule that runs jcas code, by name. The aggregation, figure and claims jobs run no
part themselves (every part of an experiment runs in the per-point jobs upstream of them)."""

KINDS: Final[Mapping[str, Kind]] = MappingProxyType(
    {
        k.name: k
        for k in (
            Kind(
                "sweep",
                "allocation + closed forms [+ Monte-Carlo]",
                rules=("drops", *ALLOCATION_RULES, "monte_carlo", "aggregate", "figure"),
                mc_keys=("realizations", "frames"),
                aggregation="jcas.pipeline.aggregate:combine_sweep",
            ),
            Kind(
                "mle",
                "MLE of the angle vs its CRB (like crb_mc)",
                rules=("drops", *ALLOCATION_RULES, "mle", "aggregate", "figure"),
                stage="mle",
                per_scheme=True,
                drops="first",
                drops_key="mle_drops",
                mc_keys=("mle_trials",),
                own_schemes=True,
            ),
            Kind(
                "mle_planar",
                "2-D MLE of azimuth and elevation vs their CRBs",
                rules=("drops", *ALLOCATION_RULES, "mle_planar", "aggregate", "figure"),
                stage="mle_planar",
                per_scheme=True,
                drops="first",
                drops_key="planar_mle_drops",
                mc_keys=("planar_mle_trials",),
                own_schemes=True,
                two_angles=True,
            ),
            Kind(
                "sca_audit",
                "the sca variants against the exact optimum on held-out drops",
                rules=("sca_audit", "aggregate", "figure"),
                stage="sca_audit",
                directory="audit",
                drops="held_out",
                drops_key="audit_drops",
                aggregation="jcas.pipeline.aggregate:combine_variants",
                fixed_schemes=("sca", "optimal"),
                fixed_why="the sca variants against the exact optimum",
                monte_carlo=False,
                no_mc_why="it compares closed-form sum rates",
                extra_keys=(
                    ExtraKey(
                        "audit_drops",
                        40,
                        {"type": "integer", "minimum": 1, "maximum": 100000},
                        "kind sca_audit only: held-out drops per grid point and precoder "
                        "(global drop indices drops .. drops + audit_drops - 1, used by no "
                        "other experiment)",
                        "held-out audit drops",
                    ),
                ),
                article="an",
            ),
        )
    }
)
"""Every experiment kind, by name (the first is the default)."""


def kind_names() -> tuple[str, ...]:
    """The kinds, the default first (the schema's enum)."""
    return tuple(KINDS)


def extra_keys() -> dict[str, tuple[str, ExtraKey]]:
    """Every extra experiment key: ``{key: (kind, ExtraKey)}``."""
    return {e.key: (k.name, e) for k in KINDS.values() for e in k.extra_keys}
