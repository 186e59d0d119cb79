"""The one registry of design parts and allocation schemes, selected by name.

- Precoders (``system.precoder``): :data:`PRECODERS`, name -> a
  :class:`jcas.parts.precoders.Precoder` class (instantiated without arguments).
- Arrays (``system.array``): :data:`ARRAYS`, name -> a factory
  ``(params, side) -> ArrayPart`` (:class:`jcas.parts.arrays.ArrayFactory`).
- Schemes (``schemes``): :data:`SCHEMES_TABLE`, with the function that runs the scheme,
  the requirements it places on the parts (:data:`jcas.parts.precoders.REQUIREMENTS`) and its
  options with their defaults and config keys.

Everything derived from the names comes from here: :data:`SCHEMES`, the scheme
options and defaults of the config (:func:`config_defaults`, :func:`options_from_config`),
the enums of the config schema (:func:`jcas.config.config_schema`) and the check that
every scheme of a config is offered by its parts (:func:`design_problems`). The parts'
modules are imported here (NumPy only, so the Snakefile still parses fast, and static
import scans see them); a scheme's module is imported when the scheme runs (``sca``
needs Clarabel). How to add a part or a scheme: ``docs/extending.md``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from jcas.model.params import ConfigError, SystemParams
from jcas.parts.arrays.base import ArrayPart
from jcas.parts.arrays.ula import ula
from jcas.parts.arrays.upa import upa
from jcas.parts.precoders.base import (
    LINEAR_FISHER,
    REQUIREMENTS,
    SPLIT_POWER_RATE,
    Precoder,
    split_power_unsupported,
)
from jcas.parts.precoders.mrt import MRT
from jcas.parts.precoders.phase_mrt import PhaseMRT
from jcas.parts.precoders.zf import PZF, ZF

__all__ = [
    "ARRAYS",
    "PRECODERS",
    "SCA_VARIANTS",
    "SCHEMES",
    "SCHEMES_TABLE",
    "Design",
    "ScaVariant",
    "SchemeEntry",
    "SchemeOption",
    "config_defaults",
    "design",
    "design_problems",
    "load",
    "options_from_config",
    "precoder_sources",
    "sca_variant",
    "scheme_defaults",
    "scheme_entry",
]

PRECODERS: Final[dict[str, Callable[[], Precoder]]] = {
    "mrt": MRT,
    "phase_mrt": PhaseMRT,
    "zf": ZF,
    "pzf": PZF,
}
"""Registered precoders (``system.precoder``); the first is the default."""

ARRAYS: Final[dict[str, Callable[[SystemParams, str], ArrayPart]]] = {
    "ula": ula,
    "upa": upa,
}
"""Registered arrays (``system.array``); the first is the default."""

# Scheme option defaults: the single source of truth (the functions' signatures and the
# pipeline's config defaults both read them).
SCA_TOLERANCE: Final = 1.0e-4
"""``sca``: stop when the (extrapolated) relative sum-rate change is below this."""
SCA_MAX_ITERATIONS: Final = 100
"""``sca``: cap on convex subproblems per drop."""
SCA_BATCH_SIZE: Final = 50
"""``sca``: drops solved together in one compiled program (config ``allocation.sca_group``)."""
SCA_ACTIVE_SET: Final = True
"""``sca``: freeze users whose power vanishes (robustness fix; Algorithm 1 as printed: off)."""
SCA_ACCELERATE: Final = True
"""``sca``: full-power and extrapolation steps (robustness fix; as printed: off)."""
SCA_POLISH: Final = True
"""``sca``: water-filling polish at the stopping point (robustness fix; as printed: off)."""
SCA_STOPPING: Final = "aitken"
"""``sca``: stopping rule, ``"aitken"`` (the extrapolated change; robustness fix) or
Algorithm 1's printed ``"change"`` (the relative sum-rate change)."""
SCA_STOPPING_RULES: Final = ("aitken", "change")
"""The ``sca`` stopping rules (config ``allocation.sca_stopping``)."""
EQUAL_FULL_SENSING_FRACTION: Final = 0.5
"""``equal_full``: fraction of Pt spent on sensing."""


@dataclass(frozen=True)
class SchemeOption:
    """One keyword option of a scheme and the ``allocation`` config key that sets it."""

    option: str
    config_key: str
    default: float | int | bool | str
    kind: type

    def coerce(self, value: Any) -> float | int | bool | str:
        """The config value as the option's type (built-in)."""
        if self.kind is bool:
            return bool(value)
        if self.kind is str:
            return str(value)
        return int(value) if self.kind is int else float(value)


@dataclass(frozen=True)
class SchemeEntry:
    """An allocation scheme: its function, what it needs from the parts, its options.

    Attributes
    ----------
    name : the scheme's name in the config and the results.
    function : ``"module:attribute"`` of ``f(beta, xi, params, **options) -> Allocation``.
    requires : requirements on the precoder and array (:data:`jcas.parts.precoders.REQUIREMENTS`).
    options : options set from the ``allocation`` block of the config.
    takes_reference : the function accepts ``reference=`` (the ``optimal`` allocation).
    """

    name: str
    function: str
    requires: tuple[str, ...]
    options: tuple[SchemeOption, ...] = ()
    takes_reference: bool = False


SCHEMES_TABLE: Final[tuple[SchemeEntry, ...]] = (
    SchemeEntry(
        "sca",
        "jcas.allocation.sca:sca",
        (SPLIT_POWER_RATE,),
        (
            SchemeOption("tol", "sca_tolerance", SCA_TOLERANCE, float),
            SchemeOption("max_iterations", "sca_max_iterations", SCA_MAX_ITERATIONS, int),
            SchemeOption("batch_size", "sca_group", SCA_BATCH_SIZE, int),
            SchemeOption("active_set", "sca_active_set", SCA_ACTIVE_SET, bool),
            SchemeOption("accelerate", "sca_accelerate", SCA_ACCELERATE, bool),
            SchemeOption("polish", "sca_polish", SCA_POLISH, bool),
            SchemeOption("stopping", "sca_stopping", SCA_STOPPING, str),
        ),
    ),
    SchemeEntry(
        "optimal", "jcas.allocation.closed_form:optimal", (SPLIT_POWER_RATE, LINEAR_FISHER)
    ),
    SchemeEntry(
        "equal",
        "jcas.allocation.closed_form:equal",
        (SPLIT_POWER_RATE, LINEAR_FISHER),
        takes_reference=True,
    ),
    SchemeEntry(
        "equal_full",
        "jcas.allocation.closed_form:equal_full",
        (LINEAR_FISHER,),
        (
            SchemeOption(
                "sensing_fraction",
                "equal_full_sensing_fraction",
                EQUAL_FULL_SENSING_FRACTION,
                float,
            ),
        ),
    ),
)
"""Registered allocation schemes, in the order of the config's default ``schemes``."""

SCHEMES: Final = tuple(spec.name for spec in SCHEMES_TABLE)
"""Scheme names (``jcas.config.SCHEMES``, ``jcas.allocation.SCHEMES``)."""


def scheme_entry(name: str) -> SchemeEntry:
    """The :class:`SchemeEntry` of a scheme name (``ValueError`` naming the allowed ones)."""
    for spec in SCHEMES_TABLE:
        if spec.name == name:
            return spec
    raise ValueError(f"scheme = {name!r}: must be one of {SCHEMES}")


def scheme_defaults(name: str) -> dict[str, float | int | bool | str]:
    """Default keyword options of a scheme (``{option: default}``)."""
    return {o.option: o.default for o in scheme_entry(name).options}


def config_defaults() -> dict[str, float | int | bool | str]:
    """Defaults of the ``allocation`` block of the config (``{config key: default}``)."""
    return {o.config_key: o.default for spec in SCHEMES_TABLE for o in spec.options}


def options_from_config(name: str, allocation: dict[str, Any] | Any) -> dict[str, Any]:
    """Keyword options of one scheme from the ``allocation`` block (missing keys: defaults)."""
    return {
        o.option: o.coerce(allocation.get(o.config_key, o.default))
        for o in scheme_entry(name).options
    }


def load(path: str) -> Any:
    """The object named by ``"module:attribute"`` (imported on first use)."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def precoder_sources(name: str) -> list[str]:
    """The source files of precoder ``name``, relative to the package's parent directory.

    The package's ``__init__`` and interface (``jcas/parts/precoders/__init__.py``,
    ``base.py``) and the module of every class in the precoder's class hierarchy
    inside :mod:`jcas.parts.precoders` (``phase_mrt`` extends ``mrt``: both). The workflow
    makes a job depend on the precoder it runs only (``workflow/rules/common.smk``), so
    an edit to ``zf.py`` reruns no MRT job.
    """
    import inspect
    from pathlib import Path

    import jcas.parts.precoders

    if name not in PRECODERS:
        raise ValueError(f"precoder = {name!r}: must be one of {list(PRECODERS)}")
    package = Path(inspect.getfile(jcas.parts.precoders)).resolve().parent
    root = package.parent.parent.parent
    files = {package / "__init__.py", package / "base.py"}
    for cls in inspect.getmro(PRECODERS[name]):  # type: ignore[arg-type]
        if cls.__module__.startswith("jcas.parts.precoders."):
            files.add(Path(inspect.getfile(cls)).resolve())
    return sorted(str(f.relative_to(root)) for f in files)


@dataclass(frozen=True)
class Design:
    """The parts of one system: its precoder and its transmit and receive arrays."""

    precoder: Precoder
    tx: ArrayPart
    rx: ArrayPart


def design(params: SystemParams) -> Design:
    """The parts named by ``params.precoder`` and ``params.array`` (:class:`ConfigError`
    naming the key and the registered names when one is unknown)."""
    if params.precoder not in PRECODERS:
        raise ConfigError(
            f"system.precoder = {params.precoder!r}: must be one of {list(PRECODERS)}"
        )
    if params.array not in ARRAYS:
        raise ConfigError(f"system.array = {params.array!r}: must be one of {list(ARRAYS)}")
    factory = ARRAYS[params.array]
    return Design(PRECODERS[params.precoder](), factory(params, "tx"), factory(params, "rx"))


def design_problems(scheme: str, params: SystemParams) -> list[str]:
    """Why ``scheme`` cannot run with the parts of ``params`` (empty list when it can).

    Each message names the scheme, the part, the requirement and the config keys and
    values that break it (used by :func:`jcas.config.load_config` before any job and by
    :func:`jcas.allocation.allocate`).
    """
    parts = design(params)
    problems: list[str] = []
    own = parts.precoder.unsupported("", params)
    if own:
        problems.append(f"system.precoder = {params.precoder!r}: {own}")
    if params.crb_form != "azimuth" and not isinstance(parts.precoder, MRT):
        problems.append(
            f"system.crb_form = {params.crb_form!r}: the two-angle CRBs use the MRT covariance "
            f"(37) (docs/theory.md §6); precoder {params.precoder!r} (system.precoder) does "
            "not provide it. Use crb_form 'azimuth' or an MRT precoder"
        )
    for requirement in scheme_entry(scheme).requires:
        if requirement == SPLIT_POWER_RATE:
            reasons = [split_power_unsupported(parts.precoder, params)]
        else:
            reasons = [parts.precoder.unsupported(requirement, params)]
        if requirement == LINEAR_FISHER and not (
            parts.tx.orthogonal_derivative and parts.rx.orthogonal_derivative
        ):
            reasons.append(
                f"array {params.array!r} (system.array) is not centred: a^H a_dot != 0, so "
                "T3 != 0 in (36)"
            )
        for reason in reasons:
            if reason:
                problems.append(
                    f"scheme {scheme!r} needs {REQUIREMENTS[requirement]} (docs/theory.md §2); "
                    f"{reason}. Use other schemes (e.g. equal_full) or change these keys"
                )
    return problems


# --------------------------------------------------------------------------- sca variants
@dataclass(frozen=True)
class ScaVariant:
    """One variant of ``sca`` audited against the exact optimum (experiment kind
    ``sca_audit``, ``docs/theory.md`` §6.8).

    Attributes
    ----------
    name : the variant's label in the results (``variant`` coordinate; a CF-valid name).
    label : the legend name, saying which robustness fixes run.
    options : keyword options of :func:`jcas.allocation.sca.sca` that define the variant
        (every feature flag and the stopping rule; ``tol``, ``max_iterations`` and
        ``batch_size`` come from the config).
    """

    name: str
    label: str
    options: dict[str, Any]


_SCA_PRINTED: Final[dict[str, Any]] = {
    "stopping": "change",
    "active_set": False,
    "accelerate": False,
    "polish": False,
}

SCA_VARIANTS: Final[tuple[ScaVariant, ...]] = (
    ScaVariant("printed", "Alg. 1 as printed (relative-change stop)", _SCA_PRINTED),
    ScaVariant("aitken", "+ Aitken stop", {**_SCA_PRINTED, "stopping": "aitken"}),
    ScaVariant("active_set", "+ active set", {**_SCA_PRINTED, "active_set": True}),
    ScaVariant("accelerate", "+ extrapolation", {**_SCA_PRINTED, "accelerate": True}),
    ScaVariant("polish", "+ polish", {**_SCA_PRINTED, "polish": True}),
    ScaVariant(
        "default",
        "default: Alg. 1 + Aitken stop, active set, extrapolation, polish",
        {
            "stopping": SCA_STOPPING,
            "active_set": SCA_ACTIVE_SET,
            "accelerate": SCA_ACCELERATE,
            "polish": SCA_POLISH,
        },
    ),
)
"""The ``sca`` variants of the ``sca_audit`` experiment, in legend order: Algorithm 1 as
printed, each robustness fix alone on top of it, and the default (every fix on)."""


def sca_variant(name: str) -> ScaVariant:
    """The :class:`ScaVariant` named ``name`` (``ValueError`` naming the allowed ones)."""
    for variant in SCA_VARIANTS:
        if variant.name == name:
            return variant
    raise ValueError(f"variant = {name!r}: must be one of {[v.name for v in SCA_VARIANTS]}")
