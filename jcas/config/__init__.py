"""Pipeline configuration: load-time validation and the experiment grid.

The root ``Snakefile`` calls :func:`load_config` on Snakemake's ``config``
before any rule is defined, so a bad configuration stops the run before a job
is scheduled or a file is written under ``results/``. Keys, types, defaults
and how overrides merge are documented in ``docs/configuration.md``.

Loading has three steps, and every problem is reported in one
:class:`jcas.model.params.ConfigError` whose message names the key path, the bad
value and what is allowed:

1. text is converted to the schema's type where it reads unambiguously
   (:func:`coerce_config`): Snakemake's ``--config`` passes nested values as
   text (``mc={realizations: 50}`` gives ``'50'``) and YAML 1.1 reads ``1e-3``
   as text;
2. the JSON schema :func:`config_schema` (package data ``jcas/config/schema.json``,
   generated from the typed model :mod:`jcas.config.model`: types, ranges, enums,
   ``additionalProperties: false``; integers are strict: ``4.0`` is not an
   integer);
3. semantic checks the schema cannot express: the ``system`` block through
   :meth:`jcas.model.params.SystemParams.from_dict` (``tau_p < tau_c``,
   ``r_min_m < r_max_m``, ...), the tied-parameter vocabulary of each
   experiment, and every grid point as a valid :class:`SystemParams`.

A *grid point* (:class:`Point`) is the set of sweepable parameters
(:data:`POINT_KEYS`); its :attr:`Point.key` is the canonical directory name
that keys the cached per-point results, so a point shared by several
experiments is computed once.

The experiment kinds are specs (:mod:`jcas.config.kinds`, pure data): the ``kind`` enum,
each kind's extra keys, fixed schemes and checks come from them. This module imports only
:mod:`jcas.model.params`, the kinds and the part registry (plus PyYAML and jsonschema), so
the Snakefile parses fast.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Final

from jcas.config.figures import figure_names
from jcas.config.kinds import KINDS, Kind, extra_keys
from jcas.model.params import ConfigError, SystemParams
from jcas.parts import registry
from jcas.parts.arrays.upa import system_from_array_specs

__all__ = [
    "AUDIT_DROPS",
    "AUDIT_SCHEMES",
    "INTEGER_KEYS",
    "KINDS",
    "KIND_NAMES",
    "MLE_KINDS",
    "PART_AXES",
    "PLANAR_KEYS",
    "PLOTS",
    "POINT_KEYS",
    "SCHEMES",
    "SWEEP_ORDER",
    "TEXT_KEYS",
    "TIES",
    "ConfigError",
    "ExperimentPlan",
    "Kind",
    "Point",
    "axis_type",
    "block_key",
    "coerce_config",
    "config_schema",
    "drop_blocks",
    "fmt_number",
    "job_key",
    "load_config",
    "part_axes",
    "plan_experiments",
    "plan_routes",
    "point_array",
    "point_system",
    "scheme_options",
    "scheme_point",
]

# ---- scheme / allocation defaults: derived from the one registry (jcas.parts.registry) ----
SCHEMES: Final = registry.scheme_names()
"""Allocation schemes, the registered ones (:func:`jcas.parts.registry.scheme_names`)."""

POINT_KEYS: Final = ("Nt", "Nr", "snr_com_db", "snr_sen_db", "crb0")
"""Parameters that define a grid point (and its cache directory), in path order."""

PLANAR_KEYS: Final = ("tx_rows", "rx_rows", "azimuth_deg", "elevation_deg")
"""Sweepable planar-array keys (``docs/configuration.md``, "Array shape and direction as
grid axes"): rows of each side (columns ``Nt / tx_rows``, ``Nr / rx_rows``) and the target
direction (degrees). A point's key names them only when they differ from the paper's
design (ULA, broadside), so the ULA points keep their paths."""


def part_axes() -> dict[str, registry.Param]:
    """The parts' and schemes' own numeric keys, sweepable like the point's keys (in
    registry order): each channel model's keys (``angular_spread_deg``, ...; ``system``
    keys) and each scheme's options (``sensing_rate_target``, ``energy_antenna_power_w``,
    ...; ``allocation`` keys). A grid point carries the values an experiment gives
    (:attr:`Point.extra`); its key names them, so each value is cached apart. The arrays'
    keys are the planar keys (:data:`PLANAR_KEYS`)."""
    out: dict[str, registry.Param] = {}
    for reg in (registry.CHANNELS, registry.SCHEMES_REGISTRY):
        for part in reg.values():
            for param in part.params:
                if param.kind in (int, float, list) and param.key not in out:
                    out[param.key] = param
    return out


PART_AXES: Final = part_axes()
"""The parts' and schemes' sweepable keys (:func:`part_axes`)."""

SWEEP_ORDER: Final = (
    "N",
    "Nt",
    "Nr",
    "snr_com_db",
    "snr_sen_db",
    "crb0",
    *PLANAR_KEYS,
    "channel",
    *PART_AXES,
)
"""Sweepable config keys, in the fixed order of the experiment dataset's dimensions."""

INTEGER_KEYS: Final = (
    "N",
    "Nt",
    "Nr",
    "tx_rows",
    "rx_rows",
    *(k for k, p in PART_AXES.items() if p.kind is int),
)
"""Sweepable keys whose values (and dataset coordinates) are integers."""

TEXT_KEYS: Final = ("channel",)
"""Sweepable keys whose values (and dataset coordinates) are names."""


def axis_type(key: str) -> type:
    """The Python type of a sweepable key's values: ``int``, ``str`` or ``float``."""
    if key in INTEGER_KEYS:
        return int
    return str if key in TEXT_KEYS else float


KIND_NAMES: Final = tuple(KINDS)
"""The experiment kinds (:data:`jcas.config.kinds.KINDS`), the default first."""

MLE_KINDS: Final = tuple(k.name for k in KINDS.values() if k.own_schemes)
"""Experiment kinds whose schemes say whose echo is simulated (kept as given): the ML
estimates of the target direction (``mle``, ``mle_planar``; :attr:`Kind.own_schemes`)."""

TIES: Final = ("none", "Nr=Nt", "Nt=Nr=N/2")
"""Tied-parameter rules: independent antennas; ``Nr`` follows ``Nt``; ``Nt = Nr = N/2``."""


def __getattr__(name: str) -> Any:
    """``PLOTS``: the figures an experiment may name in ``plot``, those registered in
    :mod:`jcas.report.figures` (read from the figure modules' source on first use,
    :func:`jcas.config.figures.figure_names`, not at import: a job that validates no
    ``plot`` does not pay for the parse)."""
    if name == "PLOTS":
        return figure_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


AUDIT_SCHEMES: Final = KINDS["sca_audit"].fixed_schemes
"""The schemes of a ``kind: sca_audit`` experiment: the sca variants
(:data:`jcas.allocation.schemes.sca.SCA_VARIANTS`) against the exact optimum."""

AUDIT_DROPS: Final = extra_keys()["audit_drops"][1].default
"""Default held-out drops per grid point and precoder of an ``sca_audit`` experiment."""


def _defaults() -> dict[str, Any]:
    """The defaults of the optional keys, from the schema (the typed model's defaults,
    :mod:`jcas.config.model`) and the schemes' options (the registry)."""
    import json

    schema = json.loads(_schema_text())
    mc = schema["$defs"]["MonteCarlo"]["properties"]
    return {
        "allocation": registry.config_defaults(),
        "mc": {k: v["default"] for k, v in mc.items() if "default" in v},
        "claims": schema["properties"]["claims"]["default"],
    }


DEFAULTS: Final[dict[str, Any]] = {}  # filled below (the schema's reader is defined later)
"""Values of the optional keys (the required ones are in ``config.yaml``)."""

_PATH_PREFIX: Final = {
    "Nt": "Nt",
    "Nr": "Nr",
    "snr_com_db": "com",
    "snr_sen_db": "sen",
    "crb0": "crb",
}

SCHEMA_RESOURCE: Final = "schema.json"
"""File name of the JSON schema (YAML) inside the ``jcas`` package."""


# --------------------------------------------------------------------------- numbers
def fmt_number(x: float | int) -> str:
    """Canonical text of a number in paths: ``20``, ``-10``, ``2.5``, ``0.001``, ``1e-07``.

    Integral values print without a decimal point whether given as int or
    float (``20`` and ``20.0`` are one point); other floats print as Python's
    shortest round-trip ``repr``, so the text identifies the value exactly.
    """
    v = float(x)
    if not math.isfinite(v):
        raise ValueError(f"{x!r}: not a finite number")
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


# --------------------------------------------------------------------------- points
@dataclass(frozen=True, order=True)
class Point:
    """One grid point: the sweepable parameters (antennas, SNRs, CRB threshold) and the
    planar-array ones (array part, rows of each side, target direction).

    The planar fields default to the paper's design (``array = "ula"``, one row on each
    side, broadside), which :attr:`key` and :meth:`as_dict` leave out, so a ULA point at
    broadside has the same key and parameters as before the planar fields existed.
    :meth:`system` always sets them (the point is complete: its array, rows and
    direction override the ``system`` block's).
    """

    Nt: int
    Nr: int
    snr_com_db: float
    snr_sen_db: float
    crb0: float
    array: str = "ula"
    tx_rows: int = 1
    rx_rows: int = 1
    azimuth_deg: float = 0.0
    elevation_deg: float = 0.0
    channel: str = "iid"
    extra: Any = ()

    def __post_init__(self) -> None:
        # the parts' and schemes' keys the experiment gives, in the order of the axes (a
        # mapping from as_dict() or a tuple of pairs), as a hashable tuple of pairs
        items = dict(self.extra).items() if self.extra else ()
        order = list(PART_AXES)
        pairs = sorted(
            ((str(k), _plain(v)) for k, v in items),
            key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order),
        )
        object.__setattr__(self, "extra", tuple(pairs))

    @property
    def key(self) -> str:
        """Canonical directory name, e.g. ``Nt15_Nr15_com-10_sen5_crb0.001``; a planar
        array adds ``_tx<rows>x<cols>_rx<rows>x<cols>`` (any array part but ``ula``), a
        direction other than broadside ``_az<deg>`` and/or ``_el<deg>``, e.g.
        ``Nt16_Nr16_com20_sen5_crb0.001_tx4x4_rx4x4_az20_el-10``."""
        out = "_".join(_PATH_PREFIX[k] + fmt_number(getattr(self, k)) for k in POINT_KEYS)
        out += registry.ARRAYS.key_segment(self.array, self)  # the array part's own segment
        if self.azimuth_deg != 0.0:
            out += "_az" + fmt_number(self.azimuth_deg)
        if self.elevation_deg != 0.0:
            out += "_el" + fmt_number(self.elevation_deg)
        if self.channel != registry.CHANNELS.default:
            out += f"_{self.channel}"
        for k, v in self.extra:
            out += f"_{k}" + (
                "-".join(fmt_number(x) for x in v) if isinstance(v, tuple) else fmt_number(v)
            )
        return out

    def as_dict(self) -> dict[str, Any]:
        """Built-in types in the fixed order of :data:`POINT_KEYS` (Snakemake params),
        then the planar fields that differ from their defaults."""
        out: dict[str, Any] = {
            "Nt": int(self.Nt),
            "Nr": int(self.Nr),
            "snr_com_db": float(self.snr_com_db),
            "snr_sen_db": float(self.snr_sen_db),
            "crb0": float(self.crb0),
        }
        if self.array != registry.ARRAYS.default:
            out["array"] = str(self.array)
        for k in ("tx_rows", "rx_rows"):
            if getattr(self, k) != 1:
                out[k] = int(getattr(self, k))
        for k in ("azimuth_deg", "elevation_deg"):
            if getattr(self, k) != 0.0:
                out[k] = float(getattr(self, k))
        if self.channel != registry.CHANNELS.default:
            out["channel"] = str(self.channel)
        if self.extra:
            out["extra"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.extra}
        return out

    def options(self, scheme: str, allocation: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword options of ``scheme`` at this point: the ``allocation`` block with
        the scheme options the point gives (:attr:`extra`) over it."""
        own = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.extra}
        return scheme_options(scheme, {**dict(allocation), **own})

    def planar(self) -> bool:
        """Whether the point's array part resolves two angles (declares ``planar``)."""
        return registry.ARRAYS[self.array].offers("planar")

    def system_values(self) -> dict[str, int | float | str]:
        """Every planar field as ``SystemParams`` keys (the azimuth as ``theta_deg``):
        ``array``, ``tx_rows``, ``rx_rows``, ``theta_deg``, ``elevation_deg``."""
        fields = set(SystemParams.__dataclass_fields__)
        return {
            "array": str(self.array),
            "tx_rows": int(self.tx_rows),
            "rx_rows": int(self.rx_rows),
            "theta_deg": float(self.azimuth_deg),
            "elevation_deg": float(self.elevation_deg),
            "channel": str(self.channel),
            **{k: v for k, v in self.extra if k in fields},
        }

    def system(self, system: Mapping[str, Any]) -> SystemParams:
        """The system parameters of this point: ``system`` with the point's values.

        The planar fields that differ from their defaults (those of :meth:`as_dict`)
        override ``system``'s; the others are ``system``'s, so a five-key point applies to
        any system block. The pipeline passes ``{**system, **point.system_values()}``
        (``workflow/rules/common.smk``), so every point's direction and arrays are its own.
        """
        values = {**dict(system), **self.as_dict()}
        extra = values.pop("extra", {})
        fields = set(SystemParams.__dataclass_fields__)
        values.update({k: v for k, v in extra.items() if k in fields})  # a channel's keys
        if "azimuth_deg" in values:
            values["theta_deg"] = values.pop("azimuth_deg")
        return SystemParams.from_dict(values)


def _plain(value: Any) -> Any:
    """A key's value as a hashable built-in: a number, a name, or a tuple of numbers."""
    if isinstance(value, list | tuple):
        return tuple(float(v) for v in value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return value
    return int(value) if float(value).is_integer() and isinstance(value, int) else float(value)


def point_system(system: Mapping[str, Any], point: Point) -> SystemParams:
    """The complete system of a grid point: ``system`` with every value of the point,
    the planar fields included (:meth:`Point.system_values`)."""
    return point.system({**dict(system), **point.system_values()})


@dataclass(frozen=True)
class ExperimentPlan:
    """The resolved grid of one experiment.

    Attributes
    ----------
    name, kind (a :data:`jcas.config.kinds.KINDS` key), tie, schemes, monte_carlo,
    plot (or "none"), enabled.
    extra : the values of the kind's extra keys (:attr:`Kind.extra_keys`, e.g.
        ``audit_drops`` of ``sca_audit``).
    precoders : the precoder axis (``precoders`` of the experiment, else the top-level
        list); a ``precoder`` dimension of the dataset when it has several.
    dims : swept keys in :data:`SWEEP_ORDER` (the dataset's dimensions besides
        scheme, drop and user).
    coords : values of each swept key, in config order.
    points : ``(swept values, Point)`` for every combination of the swept values.
    tied : tied keys and the swept key they follow (``{"Nr": "Nt"}``,
        ``{"Nt": "N", "Nr": "N"}``), non-dimension coordinates.
    """

    name: str
    kind: str
    tie: str
    dims: tuple[str, ...]
    coords: dict[str, list[int | float]]
    points: tuple[tuple[dict[str, int | float], Point], ...]
    tied: dict[str, str]
    schemes: tuple[str, ...]
    monte_carlo: bool
    plot: str
    enabled: bool
    title: str = field(default="")
    precoders: tuple[str, ...] = ("mrt",)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> Kind:
        """The experiment's kind (:data:`jcas.config.kinds.KINDS`)."""
        return KINDS[self.kind]

    @property
    def unique_points(self) -> list[Point]:
        """The distinct points, sorted (a tie can map two swept values to one point)."""
        return sorted({p for _, p in self.points})


def job_key(point: Point, precoder: str) -> str:
    """Directory name of the per-job files of a grid point with one precoder.

    The point's :attr:`Point.key` for the default precoder (the first registered one,
    ``mrt``: the paper's paths unchanged), ``<point key>_<precoder>`` for the others, so
    each precoder's jobs are cached apart and adding one computes only its jobs.
    """
    return point.key + registry.PRECODERS.key_segment(precoder)


def scheme_point(point: Point, scheme: str, system: Mapping[str, Any]) -> Point:
    """The grid point whose jobs compute ``scheme`` for ``point``: ``point`` without what the
    scheme does not read, so that a value swept for one scheme computes no other one again.

    - The other schemes' options among the point's keys (:attr:`Point.extra`) are left
      out: an experiment sweeping ``sensing_rate_target`` computes ``optimal`` at the point
      without it (once, and shared with every experiment at that point).
    - The grid-point keys the scheme does not read (:attr:`jcas.parts.registry.Part.ignores`,
      e.g. ``crb0`` of ``sensing_centric``) take the ``system`` block's value.

    For every other scheme and point (no scheme option among the point's keys, a scheme
    reading every key) this is ``point`` itself: its key and paths are unchanged.
    """
    part = registry.scheme_entry(scheme)
    own = {p.key for p in part.params}
    others = {p.key for s in registry.SCHEMES_REGISTRY.values() for p in s.params} - own
    changes: dict[str, Any] = {}
    extra = tuple((k, v) for k, v in point.extra if k not in others)
    if extra != point.extra:
        changes["extra"] = extra
    for key in part.ignores:
        if key not in POINT_KEYS:
            raise ValueError(
                f"scheme {scheme!r}: ignores {key!r}, which is not a grid-point key {POINT_KEYS}"
            )
        kind = type(getattr(point, key))
        value = kind(system.get(key, getattr(SystemParams, key)))
        if value != getattr(point, key):
            changes[key] = value
    return dataclasses.replace(point, **changes) if changes else point


def plan_routes(
    plan: ExperimentPlan, system: Mapping[str, Any]
) -> dict[Point, dict[Point, tuple[str, ...]]]:
    """Where each scheme of an experiment is computed: for every distinct point of ``plan``,
    ``{job point: its schemes}`` (:func:`scheme_point`; in the plan's scheme order).

    A kind without allocation jobs (its own per-point stage computes all its schemes at once,
    e.g. ``sca_audit``) computes them at the point itself.
    """
    out: dict[Point, dict[Point, tuple[str, ...]]] = {}
    for pt in plan.unique_points:
        if not plan.spec.allocates():
            out[pt] = {pt: tuple(plan.schemes)}
            continue
        routes: dict[Point, list[str]] = {}
        for s in plan.schemes:
            routes.setdefault(scheme_point(pt, s, system), []).append(s)
        out[pt] = {jp: tuple(schemes) for jp, schemes in routes.items()}
    return out


def scheme_options(scheme: str, allocation: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword options of ``jcas.allocation.allocate`` for one scheme, from the
    ``allocation`` block of the config (built-in types, fixed order; the keys and
    defaults are the scheme's in :data:`jcas.parts.registry.SCHEMES_REGISTRY`)."""
    return registry.options_from_config(scheme, dict(allocation))


def _with_registry_enums(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with what the registries define (see :func:`config_schema`): the names of
    the schemes, precoders, arrays, experiment kinds and figure functions, each array part's
    own ``system`` keys and each scheme's ``allocation`` options."""
    defs = schema["$defs"]
    defs["scheme"]["enum"] = list(registry.scheme_names())
    defs["precoder"]["enum"] = list(registry.PRECODERS)
    defs["array_spec"]["properties"]["kind"]["enum"] = list(registry.ARRAYS)
    allocation = schema["properties"]["allocation"]
    allocation["additionalProperties"] = False
    allocation["properties"] = {
        option.key: option.json_schema()
        for scheme in registry.SCHEMES_REGISTRY.values()
        for option in scheme.params
    }
    system = defs["System"]["properties"]
    system["precoder"]["enum"] = list(registry.PRECODERS)
    system["array"]["enum"] = list(registry.ARRAYS)
    system["channel"]["enum"] = list(registry.CHANNELS)
    for reg in (registry.ARRAYS, registry.CHANNELS):  # each part's own keys (a UPA's rows)
        for part in reg.values():
            for param in part.params:
                system.setdefault(param.key, param.json_schema())
    # the sweepable keys of the parts and schemes, and the channel as an axis
    for name, many in (("SweepValues", True), ("FixedValues", False)):
        props = defs[name]["properties"]
        axes = {"channel": {"type": "string", "enum": list(registry.CHANNELS)}}
        for key, param in PART_AXES.items():
            one = param.json_schema()
            one.pop("default", None)
            if param.kind is list:  # one number per point (the same for every user)
                number = {k: v for k, v in one.items() if k not in ("items", "type")}
                one = {**number, "type": "number"}
                if not many:  # a fixed value may also give one number per user
                    bounds = {k: v for k, v in number.items() if k != "description"}
                    one = {
                        "description": number.get("description", key),
                        "anyOf": [
                            {"type": "number", **bounds},
                            {"type": "array", "minItems": 1,
                             "items": {"type": "number", **bounds}},
                        ],
                    }  # fmt: skip
            axes[key] = one
        for key, one in axes.items():
            text = one.pop("description", key)
            props[key] = (
                {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": one,
                    "description": text,
                }
                if many
                else {**one, "description": text}
            )
    experiment = defs["Experiment"]["properties"]
    experiment["plot"]["enum"] = [*figure_names(), "none"]
    return schema


def _with_kinds(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the experiment kinds injected (:data:`jcas.config.kinds.KINDS`): the
    ``kind`` enum, its description, and the extra keys of each kind."""
    experiment = schema["$defs"]["Experiment"]["properties"]
    experiment["kind"]["enum"] = list(KINDS)
    experiment["kind"]["description"] = (
        "; ".join(f"{k.name}: {k.description}" for k in KINDS.values())
        + f" (default {next(iter(KINDS))})"
    )
    for key, (_, extra) in extra_keys().items():
        experiment[key] = {
            "description": extra.description,
            **dict(extra.schema),
            "default": extra.default,
        }
    return schema


def design_problems(cfg: Mapping[str, Any]) -> list[str]:
    """Every scheme of the config checked against its precoder and array parts
    (:func:`jcas.parts.registry.design_problems`): the top-level schemes with each top-level
    precoder at the system parameters, and each experiment's schemes with each of its
    precoders at each of its grid points (a part may depend on the swept values, e.g.
    the antenna count). Repeated messages are listed once. A disabled experiment
    (``enabled: false``) runs no job and is not checked here (its grid still is), so
    switching it off is a way out; each message of an experiment names it, and the
    precoders of the experiment that can run.
    """
    system = dict(cfg["system"])
    source: dict[str, tuple[str, str]] = {}  # experiment problem -> (experiment, precoder)
    problems = [
        f"{where}: {p}"
        for precoder in cfg["precoders"]
        for where in [_precoder_where("precoders", cfg["precoders"], precoder)]
        for s in cfg["schemes"]
        for p in registry.design_problems(
            s, SystemParams.from_dict({**system, "precoder": precoder}, prefix="system")
        )
    ]
    for name, exp in cfg["experiments"].items():
        if not exp["enabled"]:
            continue  # runs no job: its parts need not run with this system
        try:
            points = [_point(system, {**exp["fixed"], **v}, exp["tie"]) for v in _grid(exp)]
            unique = sorted(set(points))
        except (ConfigError, KeyError, ValueError):
            continue  # reported by the grid checks
        for precoder in exp["precoders"]:
            try:
                systems = [point_system({**system, "precoder": precoder}, pt) for pt in unique]
            except ConfigError:
                continue  # reported by the grid checks
            where = _precoder_where(f"experiments.{name}", exp["precoders"], precoder)
            for scheme in exp["schemes"]:
                for params in systems:
                    found = [f"{where}: {p}" for p in registry.design_problems(scheme, params)]
                    problems += found
                    source.update({p: (name, precoder) for p in found})
    top = {p.split(": ", 1)[1] for p in problems if not p.startswith("experiments.")}
    kept = [
        p for p in problems if not p.startswith("experiments.") or p.split(": ", 1)[1] not in top
    ]
    failing: dict[str, set[str]] = {}
    for name, precoder in source.values():
        failing.setdefault(name, set()).add(precoder)
    out = []
    for p in dict.fromkeys(kept):
        if p in source:
            name = source[p][0]
            p += _experiment_way_out(name, cfg["experiments"][name]["precoders"], failing[name])
        out.append(p)
    return out


def _experiment_way_out(name: str, precoders: Sequence[str], failing: set[str]) -> str:
    """How to keep the rest of the config when some precoders of an experiment cannot
    run: keep only those that can (``precoders``), or switch the experiment off."""
    prefix = f"experiments.{name}"
    off = f"switch the experiment off ({prefix}.enabled: false)"
    rest = [p for p in precoders if p not in failing]
    if rest:
        return f"; or keep only the precoders that can run ({prefix}.precoders: {rest!r}), or {off}"
    return f"; or {off}"


def _precoder_where(prefix: str, precoders: Sequence[str], precoder: str) -> str:
    """Where a design problem comes from: ``prefix`` and, with several, the precoder."""
    if len(precoders) == 1:
        return prefix
    return f"{prefix} (precoder {precoder!r} of precoders {list(precoders)!r})"


# --------------------------------------------------------------------------- blocks
def drop_blocks(drops: int, per_job: int) -> list[tuple[int, int]]:
    """Global drop ranges ``[start, stop)`` of the jobs: ``[0, per_job), [per_job, ...)``."""
    if drops < 1 or per_job < 1:
        raise ValueError(f"drops = {drops!r}, per_job = {per_job!r}: must be >= 1")
    return [(s, min(s + per_job, drops)) for s in range(0, drops, per_job)]


def block_key(start: int, stop: int) -> str:
    """File stem of a drop block, ``d<start>-<stop>`` (global indices)."""
    return f"d{int(start)}-{int(stop)}"


# --------------------------------------------------------------------------- schema
@lru_cache(maxsize=1)
def _schema_text() -> str:
    return resources.files("jcas.config").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")


def config_schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of the pipeline configuration.

    The package data ``jcas/config/schema.json``, generated from the typed model
    (:mod:`jcas.config.model`; a test checks it is up to date), with what the registries
    define added (:func:`_with_registry_enums`): the names of the schemes, precoders,
    arrays, kinds and figures, the array parts' keys and the schemes' options, so a new
    part or scheme needs no schema edit. Read through :mod:`importlib.resources`, so an
    installed wheel finds it as well as a source tree; pydantic is not imported. Each call
    returns a new dict (callers may modify it).
    """
    import json

    schema = json.loads(_schema_text())
    if not isinstance(schema, dict):
        raise TypeError(f"jcas/config/{SCHEMA_RESOURCE}: not a mapping")
    return _with_kinds(_with_registry_enums(schema))


DEFAULTS.update(_defaults())


# --------------------------------------------------------------------------- text
_INT_TEXT: Final = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_NUMBER_TEXT: Final = re.compile(
    r"[+-]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
)
_LEADING_ZERO: Final = re.compile(r"[+-]?0[0-9]")
_BOOL_TEXT: Final = {
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
}
_YAML11_BOOL: Final = frozenset({"yes", "no", "on", "off", "y", "n"})


def _text_value(text: str, kinds: frozenset[str]) -> Any:
    """``text`` as the scalar type ``kinds`` allows, or ``text`` itself if it does
    not read as that type unambiguously (then the schema rejects it, naming it).

    integer: optional sign and decimal digits without leading zeros (``50``,
    ``-3``; not ``1e3``, ``2.0``, ``010``, ``1_000``). number: an integer as
    above, or a finite decimal with optional exponent (``1e-3``, ``1.0e-3``,
    ``.5``). boolean: ``true``/``false`` in lower, title or upper case (not
    YAML 1.1's ``yes``/``no``/``on``/``off``). A type list that allows text
    (``string``) or mixes kinds otherwise converts nothing.
    """
    kinds = kinds - {"array", "object", "null"}  # text can only be a scalar
    if kinds == {"boolean"}:
        return _BOOL_TEXT.get(text, text)
    if kinds == {"integer"}:
        return int(text) if _INT_TEXT.fullmatch(text) else text
    if "number" in kinds and kinds <= {"integer", "number"}:
        if _INT_TEXT.fullmatch(text):
            return int(text)
        if _NUMBER_TEXT.fullmatch(text):
            number = float(text)
            return number if math.isfinite(number) else text
    return text


def _text_hint(value: Any, kinds: Sequence[str]) -> str:
    """Why a value that looks like the wanted type was not converted (or "")."""
    if "integer" in kinds and isinstance(value, float) and value.is_integer():
        return f" (write {int(value)}: an integer has no decimal point or exponent)"
    if not isinstance(value, str):
        return ""
    if "boolean" in kinds and value.lower() in _YAML11_BOOL:
        return " (YAML 1.1's yes/no/on/off are not read as booleans from text)"
    if _LEADING_ZERO.match(value) and _NUMBER_TEXT.fullmatch(value.lstrip("+-").lstrip("0")):
        return " (a leading zero is ambiguous: YAML 1.1 reads 010 as octal 8)"
    if "integer" in kinds and _NUMBER_TEXT.fullmatch(value):
        number = float(value)
        if math.isfinite(number) and number.is_integer():
            return f" (write {int(number)}: an integer has no decimal point or exponent)"
    return ""


def _branches(schemas: Sequence[Any], root: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """``schemas`` with every local ``$ref`` and ``allOf`` member added (all apply)."""
    out: list[Mapping[str, Any]] = []
    for schema in schemas:
        if not isinstance(schema, Mapping):
            continue
        out.append(schema)
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            node: Any = root
            for part in ref[2:].split("/"):
                node = node[part]
            out += _branches([node], root)
        out += _branches(schema.get("allOf", []), root)
    return out


def _coerce(value: Any, schemas: Sequence[Any], root: Mapping[str, Any]) -> Any:
    branches = _branches(schemas, root)
    if isinstance(value, str):
        kinds: frozenset[str] | None = None
        for branch in branches:
            kind = branch.get("type")
            if kind is not None:
                these = frozenset([kind] if isinstance(kind, str) else kind)
                kinds = these if kinds is None else kinds & these
        return _text_value(value, kinds) if kinds else value
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            sub: list[Any] = []
            for branch in branches:
                properties = branch.get("properties", {})
                if key in properties:
                    sub.append(properties[key])
                elif isinstance(branch.get("additionalProperties"), Mapping):
                    sub.append(branch["additionalProperties"])
            out[key] = _coerce(item, sub, root)
        return out
    if isinstance(value, list):
        items = [b["items"] for b in branches if isinstance(b.get("items"), Mapping)]
        return [_coerce(item, items, root) for item in value]
    return value


def coerce_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with text converted to the type the schema gives its key.

    Snakemake's ``--config`` parses a top-level value as int, float, ``True``/``False``
    or else YAML text, but every value *inside* a mapping or list as a string
    (``mc={realizations: 50}`` gives ``{'realizations': '50'}``), and YAML 1.1
    reads ``1e-3`` (no decimal point) as a string. Each string whose schema
    type is integer, number or boolean is converted when it reads unambiguously
    as that type (integer: ``50``, not ``1e3``, ``2.0`` or ``010``; number: also
    ``1e-3``, ``1.0e-3``; boolean: ``true``/``false`` in lower, title or upper
    case, not ``yes``/``on``); anything else is left as it is, for the schema
    to reject with the key and the value named. Values that are not strings
    are never converted (``4.0`` stays a float, not an integer). Local
    ``$ref`` and ``allOf`` are followed; ``anyOf``/``oneOf`` convert nothing.

    Parameters
    ----------
    config : the configuration mapping (not modified).

    Returns
    -------
    A new dict (nested mappings and lists copied).
    """
    schema = _validator().schema
    out = _coerce(config, [schema], schema)
    return dict(out)


# --------------------------------------------------------------------------- errors
def _path(parts: Sequence[Any]) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out or "<config>"


def _describe(error: Any) -> str:
    """One line for a jsonschema error: key path, value, what is allowed."""
    where = list(error.absolute_path)
    value = error.instance
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    v = error.validator
    if v == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(value) - set(allowed)) if isinstance(value, Mapping) else []
        key = extra[0] if extra else "?"
        shown = value.get(key) if isinstance(value, Mapping) else None
        return f"{_path([*where, key])} = {shown!r}: unknown key; allowed keys are {allowed}"
    if v == "required":
        missing = [k for k in error.validator_value if k not in value]
        return f"{_path([*where, missing[0]])}: required key is missing"
    if v == "type":
        kind = error.validator_value
        kinds: list[str] = list(kind) if isinstance(kind, list) else [str(kind)]
        names = {
            "integer": "an integer",
            "number": "a number",
            "string": "a string",
            "boolean": "true or false",
            "object": "a mapping",
            "array": "a list",
        }
        want = " or ".join(names.get(k, k) for k in kinds)
        return f"{_path(where)} = {value!r}: must be {want}{_text_hint(value, kinds)}"
    if v == "enum":
        return f"{_path(where)} = {value!r}: must be one of {list(error.validator_value)}"
    bounds = {
        "minimum": ">=",
        "maximum": "<=",
        "exclusiveMinimum": ">",
        "exclusiveMaximum": "<",
    }
    if v in bounds:
        return f"{_path(where)} = {value!r}: must be {bounds[v]} {error.validator_value}"
    if v == "minItems":
        n = error.validator_value
        return f"{_path(where)} = {value!r}: must be a list of at least {n} value(s)"
    if v == "uniqueItems":
        return f"{_path(where)} = {value!r}: values must not repeat"
    if v == "minProperties":
        return f"{_path(where)} = {value!r}: must not be empty"
    if v == "propertyNames":
        return (
            f"{_path(where)}: key {error.instance!r} is not allowed: names must match "
            f"{error.validator_value.get('pattern', '?')} (lower case, digits, underscores)"
        )
    if v == "pattern":
        return (
            f"{_path([*where, str(value)])}: the name {value!r} must match "
            f"{error.validator_value} (lower case, digits, underscores)"
        )
    return f"{_path(where)} = {value!r}: {error.message}"


def _validator() -> Any:
    """The validator of :func:`config_schema` as the registries are now (cached while no
    part is registered or removed: a temporary part changes the enums)."""
    return _validator_at(registry.generation())


@lru_cache(maxsize=1)
def _validator_at(generation: int) -> Any:
    import jsonschema

    schema = config_schema()
    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine(
        "integer", lambda _c, x: isinstance(x, int) and not isinstance(x, bool)
    )
    cls = jsonschema.validators.extend(base, type_checker=checker)
    # the schema itself is checked against the 2020-12 meta-schema by the tests
    # (tests/config/test_config.py), not on every load: that check costs 30 ms of each dry run
    return cls(schema)


def _schema_errors(config: Mapping[str, Any]) -> list[str]:
    validator = _validator()
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    out: list[str] = []
    for e in errors:
        line = _describe(e)
        if line not in out:
            out.append(line)
    return out


# --------------------------------------------------------------------------- semantics
def _merge(defaults: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(defaults))
    for k, v in config.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _resolve_experiment(
    name: str, exp: Mapping[str, Any], schemes: Sequence[str], precoders: Sequence[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "enabled": True,
        "kind": next(iter(KINDS)),
        "tie": "none",
        "fixed": {},
        "schemes": list(schemes),
        "precoders": list(precoders),
        "monte_carlo": False,
        "plot": name if name in figure_names() else "none",
        "title": name,
    }
    out.update(copy.deepcopy(dict(exp)))
    kind = KINDS[out["kind"]]
    for extra in kind.extra_keys:
        out.setdefault(extra.key, extra.default)
    if kind.own_schemes and "schemes" in exp:
        # e.g. an MLE experiment's schemes say whose echo is simulated (a parameter of the
        # experiment, not a comparison): kept as given, whatever the top-level list
        out["schemes"] = [s for s in SCHEMES if s in out["schemes"]]
    elif kind.fixed_schemes:
        # the schemes are fixed by the kind (a given list is checked, not merged)
        given = out["schemes"] if "schemes" in exp else list(kind.fixed_schemes)
        out["schemes"] = [s for s in SCHEMES if s in given]
    else:
        # the experiment's schemes, restricted to the top-level ones (in top-level order)
        out["schemes"] = [s for s in schemes if s in out["schemes"]]
    # sweep keys in the canonical order (dataset dimension order)
    out["sweep"] = {k: list(exp["sweep"][k]) for k in SWEEP_ORDER if k in exp["sweep"]}
    out["fixed"] = {k: out["fixed"][k] for k in SWEEP_ORDER if k in out["fixed"]}
    return out


def _tie_problems(prefix: str, exp: Mapping[str, Any]) -> list[str]:
    tie, sweep, fixed = exp["tie"], exp["sweep"], exp["fixed"]
    given = {
        **{k: ("sweep", v) for k, v in sweep.items()},
        **{k: ("fixed", v) for k, v in fixed.items()},
    }
    problems = [
        f"{prefix}.fixed.{k} = {fixed[k]!r}: {k} is also swept; a key is either swept or fixed"
        for k in fixed
        if k in sweep
    ]
    if tie == "Nr=Nt" and "Nr" in given:
        where, v = given["Nr"]
        problems.append(
            f"{prefix}.{where}.Nr = {v!r}: Nr is tied to Nt (tie: Nr=Nt); "
            "remove it or use tie: none"
        )
    if tie == "Nt=Nr=N/2":
        if "N" not in given:
            problems.append(f"{prefix}.tie = 'Nt=Nr=N/2': needs N in sweep or fixed")
        for k in ("Nt", "Nr"):
            if k in given:
                where, v = given[k]
                problems.append(
                    f"{prefix}.{where}.{k} = {v!r}: {k} is tied to N (tie: Nt=Nr=N/2); "
                    "set N instead"
                )
        if "N" in given:
            where, v = given["N"]
            values = v if isinstance(v, list) else [v]
            odd = [n for n in values if n % 2 or n < 2]
            if odd:
                problems.append(
                    f"{prefix}.{where}.N = {v!r}: must be even numbers >= 2 "
                    f"(Nt = Nr = N/2), not {odd}"
                )
    elif "N" in given:
        where, v = given["N"]
        problems.append(
            f"{prefix}.{where}.N = {v!r}: N is only allowed with tie: Nt=Nr=N/2 (tie is {tie!r})"
        )
    if _rows_follow(tie, given) and "rx_rows" in given:
        where, v = given["rx_rows"]
        problems.append(
            f"{prefix}.{where}.rx_rows = {v!r}: rx_rows follows tx_rows with tie: {tie} "
            "(the same array shape on both sides); remove it or use tie: none"
        )
    return problems


def _kind_problems(prefix: str, exp: Mapping[str, Any]) -> list[str]:
    """The keys of a resolved experiment that contradict its kind (:data:`KINDS`): another
    kind's extra keys, schemes other than the kind's fixed ones, Monte-Carlo where the kind
    has none."""
    kind = KINDS[exp["kind"]]
    own = {e.key for e in kind.extra_keys}
    problems = [
        f"{prefix}.{key} = {exp[key]!r}: only an experiment of kind {owner} has {extra.what} "
        f"(kind is {kind.name!r})"
        for key, (owner, extra) in extra_keys().items()
        if key in exp and key not in own
    ]
    noun = f"{kind.article} {kind.name} experiment"
    if kind.fixed_schemes and sorted(exp["schemes"]) != sorted(kind.fixed_schemes):
        problems.append(
            f"{prefix}.schemes = {exp['schemes']!r}: {noun} runs {list(kind.fixed_schemes)} "
            f"({kind.fixed_why}); remove the key"
        )
    if exp["monte_carlo"] and not kind.monte_carlo:
        problems.append(
            f"{prefix}.monte_carlo = True: {noun} has no Monte-Carlo stage ({kind.no_mc_why}); "
            "remove the key"
        )
    return problems


def _rows_follow(tie: str, given: Collection[str]) -> bool:
    """Whether ``rx_rows`` follows ``tx_rows``: a tie of the antenna counts, and
    ``tx_rows`` among the keys an experiment gives (swept or fixed)."""
    return tie != "none" and "tx_rows" in given


def _rows_tied(exp: Mapping[str, Any]) -> bool:
    """:func:`_rows_follow` for a resolved experiment."""
    return _rows_follow(exp["tie"], {*exp["sweep"], *exp["fixed"]})


def point_array(array: str, keys: Iterable[str]) -> str:
    """The array part of a grid point whose experiment gives ``keys`` over a system with
    ``array``: a key of another array part (e.g. ``tx_rows`` of ``upa``), given without any
    key of ``array`` itself, makes the point that part's."""
    keys = list(keys)
    owners = {p.key: a.name for a in registry.ARRAYS.values() for p in a.params}
    given = [owners[k] for k in keys if k in owners]
    if (
        given
        and array in registry.ARRAYS
        and not any(k in keys for k in (p.key for p in registry.ARRAYS[array].params))
    ):
        return given[0]
    return array


def _point(system: Mapping[str, Any], values: Mapping[str, Any], tie: str) -> Point:
    """The grid point of the experiment values ``values`` (swept and fixed) over ``system``.

    Keys not given take ``system``'s values (the planar ones: ``array``, ``tx_rows``,
    ``rx_rows``, ``theta_deg`` as the azimuth, ``elevation_deg``). Giving ``tx_rows`` or
    ``rx_rows`` makes the point planar (``array = "upa"``, also with one row: the
    ``1 x N`` array, whose results equal the ULA's, with both angles' CRBs); with a tie
    of the antenna counts ``rx_rows`` follows ``tx_rows``.
    """
    v = {k: system.get(k, getattr(SystemParams, k)) for k in POINT_KEYS}
    v.update({k: values[k] for k in values if k in POINT_KEYS})
    if tie == "Nr=Nt":
        v["Nr"] = v["Nt"]
    elif tie == "Nt=Nr=N/2":
        v["Nt"] = v["Nr"] = int(values["N"]) // 2
    array = point_array(str(system.get("array", SystemParams.array)), values)
    channel = str(values.get("channel", system.get("channel", registry.CHANNELS.default)))
    # an isotropic channel (i.i.d. fading) has no use for a channel model's keys: the
    # values swept for another channel give one point here
    isotropic = channel in registry.CHANNELS and registry.CHANNELS[channel].offers("isotropic")
    channel_keys = {p.key for c in registry.CHANNELS.values() for p in c.params}
    tx_rows = int(values.get("tx_rows", system.get("tx_rows", SystemParams.tx_rows)))
    rx_rows = int(values.get("rx_rows", system.get("rx_rows", SystemParams.rx_rows)))
    if _rows_follow(tie, values):
        rx_rows = tx_rows
    return Point(
        Nt=int(v["Nt"]),
        Nr=int(v["Nr"]),
        snr_com_db=float(v["snr_com_db"]),
        snr_sen_db=float(v["snr_sen_db"]),
        crb0=float(v["crb0"]),
        array=array,
        tx_rows=tx_rows,
        rx_rows=rx_rows,
        azimuth_deg=float(
            values.get("azimuth_deg", system.get("theta_deg", SystemParams.theta_deg))
        ),
        elevation_deg=float(
            values.get("elevation_deg", system.get("elevation_deg", SystemParams.elevation_deg))
        ),
        channel=channel,
        extra={
            k: values[k] for k in values if k in PART_AXES and not (k in channel_keys and isotropic)
        },
    )


def _grid(exp: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [{}]
    for k, values in exp["sweep"].items():
        rows = [{**r, k: v} for r in rows for v in values]
    return rows


def _semantic_problems(cfg: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    try:
        SystemParams.from_dict(cfg["system"], prefix="system")
    except ConfigError as err:
        return [str(err)]
    problems += design_problems(cfg)
    problems += _per_user_problems(cfg)
    group, per_job = cfg["allocation"]["sca_group"], cfg["drops_per_job"]
    if "sca" in cfg["schemes"] and per_job % group and per_job < cfg["drops"]:
        problems.append(
            f"drops_per_job = {per_job}: must be a multiple of allocation.sca_group = {group} "
            f"(or >= drops = {cfg['drops']}), so that the sca results do not depend on it"
        )
    for name, exp in cfg["experiments"].items():
        prefix = f"experiments.{name}"
        if exp["enabled"] and not exp["schemes"]:
            problems.append(
                f"{prefix}.schemes: none of the experiment's schemes is in the top-level "
                f"schemes {cfg['schemes']!r}"
            )
        problems += _kind_problems(prefix, exp)
        tie_problems = _tie_problems(prefix, exp)
        problems += tie_problems
        if tie_problems:
            continue
        for values in _grid(exp):
            full = {**exp["fixed"], **values}
            point = _point(cfg["system"], full, exp["tie"])
            planar = _planar_problems(prefix, exp, values, point, cfg["system"])
            if planar:
                problems += planar
                break
            try:
                point_system(cfg["system"], point)
            except ConfigError as err:
                problems.append(f"{prefix} at grid point {full}: {err}")
                break
    return list(dict.fromkeys(problems))


def _per_user_problems(cfg: Mapping[str, Any]) -> list[str]:
    """The schemes' per-user options (``list`` options: one number for every user, or one
    per user) given as a list whose length is not ``system.K``: in the ``allocation`` block or
    at the points of an enabled experiment (``fixed`` or ``sweep``)."""
    k = int(cfg["system"].get("K", SystemParams.K))
    problems = []
    for part in registry.SCHEMES_REGISTRY.values():
        for param in part.params:
            if param.kind is not list:
                continue
            given = [(f"allocation.{param.key}", cfg["allocation"].get(param.key))]
            for name, exp in cfg["experiments"].items():  # the enabled experiments' points
                if not exp.get("enabled", True):
                    continue
                where = f"experiments.{name}"
                if param.key in exp.get("fixed", {}):
                    given.append((f"{where}.fixed.{param.key}", exp["fixed"][param.key]))
                for i, v in enumerate(exp.get("sweep", {}).get(param.key, [])):
                    given.append((f"{where}.sweep.{param.key}[{i}]", v))
            for path, value in given:
                if isinstance(value, list) and len(value) != k:
                    problems.append(
                        f"{path} = {value!r}: must give one number per user, a list of K = {k} "
                        f"(system.K), or one number for every user (scheme {part.name!r})"
                    )
    return problems


def _where(prefix: str, exp: Mapping[str, Any], values: Mapping[str, Any], key: str) -> str:
    """The key path of a grid point's value of ``key``: ``<prefix>.sweep.<key>[i] = v``,
    ``<prefix>.fixed.<key> = v``, or the system key it comes from."""
    if key in exp["sweep"]:
        i = list(exp["sweep"][key]).index(values[key])
        return f"{prefix}.sweep.{key}[{i}] = {values[key]!r}"
    if key in exp["fixed"]:
        return f"{prefix}.fixed.{key} = {exp['fixed'][key]!r}"
    return f"system.{'theta_deg' if key == 'azimuth_deg' else key}"


def _planar_problems(
    prefix: str,
    exp: Mapping[str, Any],
    values: Mapping[str, Any],
    point: Point,
    system: Mapping[str, Any],
) -> list[str]:
    """The planar checks of one grid point, each naming the experiment's key path:
    rows dividing the element counts, the direction in front of the array, a CRB form
    naming only angles the arrays resolve, a 2-D MLE with arrays resolving both angles."""
    full = {**exp["fixed"], **values}
    where = functools.partial(_where, prefix, exp, full)
    at = f" (at grid point {full})" if full else ""
    problems: list[str] = []
    tied = _rows_tied(exp)
    for rows_key, n_key in (("tx_rows", "Nt"), ("rx_rows", "Nr")):
        rows, n = getattr(point, rows_key), getattr(point, n_key)
        if rows < 1 or n % rows == 0 or (problems and tied):
            continue  # (tied: the receive side repeats the transmit side's problem)
        key = "tx_rows" if rows_key == "rx_rows" and tied else rows_key
        n_given = next(
            (k for k in ((n_key, "N", "Nt") if n_key == "Nr" else (n_key, "N")) if k in full),
            None,
        )
        if key not in full:
            continue  # the system's rows: the grid-point check below names them
        if key in exp["sweep"] or n_given not in exp["sweep"]:
            problems.append(f"{where(key)}: must divide {n_key} = {n}{at}")
        else:
            path = where(n_given) if n_given else f"system.{n_key} = {n}"
            problems.append(f"{path}: {n_key} = {n} must be a multiple of {rows_key} = {rows}{at}")
    if problems:
        return problems
    u = math.sin(math.radians(point.azimuth_deg))
    v = math.sin(math.radians(point.elevation_deg))
    if not u * u + v * v < 1.0:
        key = "elevation_deg" if "elevation_deg" in full else "azimuth_deg"
        problems.append(
            f"{where(key)}: the direction must lie in front of the array, "
            f"sin^2(azimuth) + sin^2(elevation) < 1 (azimuth_deg = {point.azimuth_deg:g}, "
            f"elevation_deg = {point.elevation_deg:g}){at}"
        )
        return problems
    tx_cols, rx_cols = point.Nt // point.tx_rows, point.Nr // point.rx_rows
    elevation = max(point.tx_rows, point.rx_rows) > 1
    azimuth = max(tx_cols, rx_cols) > 1
    shape = [k for k in ("tx_rows", "rx_rows", "Nt", "Nr", "N") if k in full]
    form = system.get("crb_form", SystemParams.crb_form)
    if form != "azimuth" and shape and not (elevation and azimuth):
        angle = "elevation" if not elevation else "azimuth"
        problems.append(
            f"{where(shape[0])}: system.crb_form = {form!r} names the {angle}, which the "
            f"arrays cannot resolve (transmit {point.tx_rows} x {tx_cols}, receive "
            f"{point.rx_rows} x {rx_cols}){at}"
        )
    kind = KINDS[exp["kind"]]
    if kind.two_angles and not (point.planar() and elevation and azimuth):
        path = where(shape[0]) if shape else f"{prefix}.kind = {kind.name!r}"
        problems.append(
            f"{path}: {kind.article} {kind.name} experiment estimates both angles and needs "
            "planar arrays "
            f"resolving them (rows > 1 and columns > 1 on a side; give tx_rows; here "
            f"transmit {point.tx_rows} x {tx_cols}, receive {point.rx_rows} x {rx_cols}, "
            f"array {point.array!r}){at}"
        )
    return problems


# --------------------------------------------------------------------------- public
def load_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a pipeline configuration and return it resolved (defaults filled).

    Parameters
    ----------
    config : the configuration mapping (Snakemake's ``config`` after
        ``configfile:``, ``--configfile`` and ``--config``, which Snakemake merges
        mapping by mapping: a nested override changes only the keys it names).

    Returns
    -------
    A new dict: ``config`` with text converted to the schema's types
    (:func:`coerce_config`), merged over the optional keys (:data:`DEFAULTS`,
    again mapping by mapping), every experiment's optional fields filled in,
    sweep keys in :data:`SWEEP_ORDER`.

    Raises
    ------
    ConfigError : listing every problem found, one per line, each naming the
        key path, the value and what is allowed.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"invalid configuration: {config!r}: must be a mapping")
    config = coerce_config(config)
    problems = _schema_errors(config)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    cfg = _merge(DEFAULTS, config)
    cfg["system"], problems = system_from_array_specs(cfg["system"])
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    # the precoder axis: default the one precoder of the system block (mrt)
    cfg.setdefault("precoders", [cfg["system"].get("precoder", SystemParams.precoder)])
    cfg["experiments"] = {
        name: _resolve_experiment(name, exp, cfg["schemes"], cfg["precoders"])
        for name, exp in cfg["experiments"].items()
    }
    problems = _semantic_problems(cfg)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return cfg


def plan_experiments(cfg: Mapping[str, Any]) -> dict[str, ExperimentPlan]:
    """The grid of every experiment of a resolved config (:func:`load_config`)."""
    plans: dict[str, ExperimentPlan] = {}
    for name, exp in cfg["experiments"].items():
        tie = exp["tie"]
        tied: dict[str, str] = {}
        if tie == "Nr=Nt":
            tied = {"Nr": "Nt"}
        elif tie == "Nt=Nr=N/2":
            tied = {"Nt": "N", "Nr": "N"}
        if _rows_tied(exp):
            tied["rx_rows"] = "tx_rows"
        points = tuple(
            (values, _point(cfg["system"], {**exp["fixed"], **values}, tie))
            for values in _grid(exp)
        )
        plans[name] = ExperimentPlan(
            name=name,
            kind=exp["kind"],
            tie=tie,
            dims=tuple(exp["sweep"]),
            coords={k: list(v) for k, v in exp["sweep"].items()},
            points=points,
            tied=tied,
            schemes=tuple(exp["schemes"]),
            precoders=tuple(exp["precoders"]),
            monte_carlo=bool(exp["monte_carlo"]),
            plot=str(exp["plot"]),
            enabled=bool(exp["enabled"]),
            title=str(exp["title"]),
            extra={e.key: exp[e.key] for e in KINDS[exp["kind"]].extra_keys},
        )
    return plans
