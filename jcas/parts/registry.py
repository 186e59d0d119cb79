"""Registries of the design parts and allocation schemes: parts that describe themselves.

Every precoder, array, channel and scheme is a :class:`Part`: its name (the config value),
its legend label, a description, what builds it, the config keys it adds (:class:`Param`:
key, type, default, units, range), the capabilities it declares and, for a scheme, the
requirements it places on the other parts. A part registers itself *from its own module*::

    from jcas.parts.registry import PRECODERS, Part

    PRECODERS.register(Part("precoder", "mrt", "MRT", MRT, description="...", order=0))

and each registry finds the modules of its package by listing the package's directory
(:class:`Registry`; modules whose names start with ``_`` and ``base`` are skipped), so that
adding a part is one new module: no file that every stage depends on changes, and a job
depends only on the modules of the parts it uses (``docs/pipeline.md``, "Reruns").

What is derived from the registries: the enums and part keys of the config schema
(:mod:`jcas.config`), the default of each axis (the part with the lowest ``order``), the
scheme options of the ``allocation`` block (:func:`config_defaults`,
:func:`options_from_config`), the figure labels (:attr:`Part.label`), the docs' tables, the
point-key segments (:attr:`Part.segment`) and the check that every scheme of a config is
offered by its parts (:func:`design_problems`).

Capabilities (:data:`CAPABILITIES`) are what the part contract suite
(``tests/contracts/``) verifies for every registered part; a part declares only what it
offers, so a precoder without closed forms runs in the Monte-Carlo stages and is refused,
naming the key, by every scheme that needs them.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from jcas.model.params import ConfigError, SystemParams
from jcas.parts.arrays.base import ArrayPart
from jcas.parts.precoders.base import (
    CLOSED_FORMS,
    LINEAR_FISHER,
    LINEAR_FISHER_POWERS,
    REQUIREMENTS,
    SPLIT_POWER_RATE,
    TOTAL_POWER_RATE,
    Precoder,
    split_power_unsupported,
)

__all__ = [
    "ARRAYS",
    "CAPABILITIES",
    "CHANNELS",
    "PRECODERS",
    "ROUTE_MODULE",
    "SCHEMES_REGISTRY",
    "Design",
    "Param",
    "Part",
    "Registry",
    "SchemeOption",
    "config_defaults",
    "design",
    "design_problems",
    "generation",
    "options_from_config",
    "route",
    "scheme_defaults",
    "scheme_entry",
    "scheme_names",
]

CAPABILITIES: Final = {
    "precoder": {
        CLOSED_FORMS: "closed-form rate terms (14), expected covariance and power (18)",
        TOTAL_POWER_RATE: REQUIREMENTS[TOTAL_POWER_RATE],
        SPLIT_POWER_RATE: REQUIREMENTS[SPLIT_POWER_RATE],
        LINEAR_FISHER: REQUIREMENTS[LINEAR_FISHER],
        "monte_carlo": "a sampler of the actual precoder from simulated estimates",
        "planar_crb": "the two-angle CRBs of planar arrays from its covariance (37)",
    },
    "array": {
        "centred": "a^H a_dot = 0 at every angle (T3 = 0 in (36))",
        "planar": "two angles (azimuth, elevation): steering derivatives and 3 x 3 Gram",
    },
    "channel": {
        "isotropic": "R_k = beta_k I (i.i.d. Rayleigh): the precoders' closed forms hold",
        "planar": "defined for planar arrays (two angles)",
    },
    "scheme": {
        "coefficients": "a solver on coefficients (jcas.model.coefficients): runs on the "
        "Monte-Carlo route, any precoder and channel",
    },
}
"""Capabilities a part of each kind may declare, with their meaning (error messages, docs)."""


@dataclass(frozen=True)
class Param:
    """A config key a part adds, or a keyword option of a scheme.

    Attributes
    ----------
    key : the config key (in ``system`` for a precoder, array or channel parameter; in
        ``allocation`` for a scheme option).
    kind : ``int``, ``float``, ``bool``, ``str`` or ``list`` (numbers, one per user; also
        one number for every user, or None).
    default : the value when the key is not given.
    description : one line for the schema and the docs (with units in words).
    units : UDUNITS string (``"1"`` dimensionless, ``"dB"``, ``"degree"``, ``"W"``).
    minimum, maximum : inclusive bounds (numbers), or None.
    exclusive_minimum, exclusive_maximum : exclusive bounds, or None.
    choices : the allowed values of a ``str`` option, or None.
    option : the keyword name of the scheme function (default: ``key``).
    """

    key: str
    kind: type
    default: Any
    description: str = ""
    units: str = "1"
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    choices: tuple[str, ...] | None = None
    option: str = ""

    @property
    def keyword(self) -> str:
        """The keyword passed to the scheme function."""
        return self.option or self.key

    def coerce(self, value: Any) -> Any:
        """The config value as the option's type (built-in); a ``list`` option keeps a
        number as a number (one value for every user) and ``None`` as ``None``."""
        if value is None:
            return None
        if self.kind is list:
            if isinstance(value, list | tuple):
                return [float(v) for v in value]
            return float(value)
        if self.kind is bool:
            return bool(value)
        if self.kind is str:
            return str(value)
        return int(value) if self.kind is int else float(value)

    def json_schema(self) -> dict[str, Any]:
        """The JSON-schema fragment of the key (type, range, enum, description)."""
        names = {int: "integer", float: "number", bool: "boolean", str: "string"}
        if self.kind is list:  # a list of numbers, one per user (or one number, or null)
            item: dict[str, Any] = {"type": "number"}
            for attr, word in (("minimum", "minimum"), ("maximum", "maximum")):
                if getattr(self, attr) is not None:
                    item[word] = getattr(self, attr)
            out: dict[str, Any] = {
                "type": ["array", "number", "null"],
                "items": item,
                "default": self.default,
            }
            out.update({k: v for k, v in item.items() if k != "type"})
            if self.description:
                out["description"] = self.description
            return out
        out = {"type": names[self.kind], "default": self.default}
        if self.description:
            out["description"] = self.description
        for attr, word in (
            ("minimum", "minimum"),
            ("maximum", "maximum"),
            ("exclusive_minimum", "exclusiveMinimum"),
            ("exclusive_maximum", "exclusiveMaximum"),
        ):
            if getattr(self, attr) is not None:
                out[word] = getattr(self, attr)
        if self.choices is not None:
            out["enum"] = list(self.choices)
        return out


def _no_segment(point: Any) -> str:
    return ""


@dataclass(frozen=True)
class Part:
    """A registered part (precoder, array, channel) or allocation scheme.

    Attributes
    ----------
    kind : ``"precoder"``, ``"array"``, ``"channel"`` or ``"scheme"``.
    name : the registered name (the config value and the results' label).
    label : the name in figure legends and tables (e.g. ``"MRT"``).
    build : precoder: ``() -> Precoder``; array: ``(params, side) -> ArrayPart``; channel:
        its model; scheme: ``(beta, xi, params, **options) -> Allocation``. Calling the part
        calls ``build``.
    description : one sentence (the docs' tables).
    params : config keys the part adds (:class:`Param`; ``system`` keys for a part,
        ``allocation`` keys for a scheme).
    capabilities : what the part offers (:data:`CAPABILITIES`).
    requires : a scheme's requirements on the precoder and arrays.
    order : the axis order (the lowest is the default of the axis).
    segment : ``(point) -> str``, the part's segment of the point's key (arrays: e.g.
        ``"_tx4x4_rx4x4"``); precoders and schemes have the default ``"_<name>"`` for all
        but the default part (:meth:`key_segment`).
    family : a scheme's job family: ``"closed_form"`` (cheap, one job for all such schemes
        of a point) or its own name (jobs of its own, e.g. ``sca``).
    takes_reference : a scheme that accepts ``reference=`` (the ``optimal`` allocation).
    solve : a scheme's solver on coefficients, ``(coef, **options) -> solution`` with
        ``x`` (D, K), ``s`` (D,), ``status`` and ``iterations`` per drop (capability
        ``coefficients``): what runs on the Monte-Carlo route (:func:`route`).
    solve_requires : the structure ``solve`` needs of the coefficients (requirement names,
        e.g. ``linear_fisher_powers``: ``T3 = 0``).
    ignores : a scheme's grid-point keys (``jcas.config.POINT_KEYS``) its allocation does not
        read, e.g. ``("crb0",)`` for ``sensing_centric``, whose CRB is the objective: its
        jobs run at the system's value of them, so an experiment sweeping one computes the
        scheme once (``jcas.config.scheme_point``).
    module : the module that registered the part (set by :meth:`Registry.register`).
    """

    kind: str
    name: str
    label: str
    build: Callable[..., Any]
    description: str = ""
    params: tuple[Param, ...] = ()
    capabilities: frozenset[str] = frozenset()
    requires: tuple[str, ...] = ()
    order: int = 100
    segment: Callable[[Any], str] = field(default=_no_segment)
    family: str = "closed_form"
    takes_reference: bool = False
    solve: Callable[..., Any] | None = None
    solve_requires: tuple[str, ...] = ()
    ignores: tuple[str, ...] = ()
    module: str = ""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.build(*args, **kwargs)

    @property
    def options(self) -> tuple[Param, ...]:
        """A scheme's options (its params)."""
        return self.params

    @property
    def function(self) -> Callable[..., Any]:
        """A scheme's function (its build)."""
        return self.build

    def offers(self, capability: str) -> bool:
        return capability in self.capabilities


_GENERATION = [0]


def _changed() -> None:
    _GENERATION[0] += 1


def generation() -> int:
    """A counter of registrations (and of temporary parts removed) in every registry: what is
    derived from the registries (the config schema's enums) is cached per value of it."""
    return _GENERATION[0]


class Registry(Mapping[str, Part]):
    """Name -> :class:`Part` of one kind, filled by the modules of ``package``.

    The first access imports every module of ``package`` (found by listing its directory,
    :func:`pkgutil.iter_modules`, so a new module needs no edit elsewhere), each of which
    calls :meth:`register`. Iteration is in ``(order, name)`` order: the first part is the
    default of its axis.
    """

    def __init__(self, kind: str, package: str) -> None:
        self.kind = kind
        self.package = package
        self._parts: dict[str, Part] = {}
        self._loaded = False
        self._loading = False

    # ------------------------------------------------------------------ discovery
    def modules(self) -> list[str]:
        """The modules of the package that may register parts (sorted)."""
        pkg = importlib.import_module(self.package)
        return sorted(
            f"{self.package}.{m.name}"
            for m in pkgutil.iter_modules(pkg.__path__)
            if not m.name.startswith("_") and m.name != "base"
        )

    def _load(self) -> None:
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            for module in self.modules():
                importlib.import_module(module)
        finally:
            self._loading = False
        self._loaded = True

    def register(self, part: Part, *, module: str | None = None) -> Part:
        """Add ``part`` (the calling module is recorded as :attr:`Part.module`)."""
        if part.kind != self.kind:
            raise ValueError(f"part {part.name!r} is a {part.kind}, not a {self.kind}")
        if not part.name.isidentifier() or part.name != part.name.lower():
            raise ValueError(f"{self.kind} name {part.name!r}: must be a lower-case identifier")
        if module is None:
            # the caller's frame only (inspect.stack() would read every frame's source)
            module = str(sys._getframe(1).f_globals.get("__name__", ""))
        known = {c for c in CAPABILITIES.get(self.kind, {})}
        unknown = set(part.capabilities) - known
        if known and unknown:
            raise ValueError(f"{self.kind} {part.name!r}: unknown capabilities {sorted(unknown)}")
        old = self._parts.get(part.name)
        if old is not None and old.module != module:
            raise ValueError(
                f"{self.kind} {part.name!r} registered twice ({old.module} and {module})"
            )
        part = _replace(part, module=module)
        self._parts[part.name] = part
        _changed()
        return part

    @contextlib.contextmanager
    def temporary(self, part: Part) -> Iterator[Part]:
        """Register ``part`` for the duration of a ``with`` block (tests, notebooks)."""
        self._load()
        if part.name in self._parts:
            raise ValueError(f"{self.kind} {part.name!r} is already registered")
        added = self.register(part, module=part.module or "<temporary>")
        try:
            yield added
        finally:
            self._parts.pop(part.name, None)
            _changed()

    # ------------------------------------------------------------------ mapping
    def _sorted(self) -> list[Part]:
        self._load()
        return sorted(self._parts.values(), key=lambda p: (p.order, p.name))

    def __getitem__(self, name: str) -> Part:
        self._load()
        try:
            return self._parts[name]
        except KeyError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter([p.name for p in self._sorted()])

    def __len__(self) -> int:
        self._load()
        return len(self._parts)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._parts

    @property
    def default(self) -> str:
        """The default of the axis: the part with the lowest ``order``."""
        return self._sorted()[0].name

    def names(self) -> tuple[str, ...]:
        return tuple(self)

    def get_part(self, name: str, key: str) -> Part:
        """The part ``name``, or a :class:`ConfigError` naming ``key`` and the registered names."""
        if name not in self:
            raise ConfigError(f"{key} = {name!r}: must be one of {list(self)}")
        return self[name]

    def key_segment(self, name: str, point: Any = None) -> str:
        """The part's segment of a job key: ``""`` for the default part, the part's own
        :attr:`Part.segment` where it has one, else ``"_<name>"``."""
        part = self[name]
        if part.segment is not _no_segment:
            return part.segment(point)
        return "" if name == self.default else f"_{name}"

    def params(self) -> dict[str, Param]:
        """Every config key added by a part of this kind (``{key: Param}``)."""
        out: dict[str, Param] = {}
        for part in self._sorted():
            for p in part.params:
                out.setdefault(p.key, p)
        return out


def _replace(part: Part, **changes: Any) -> Part:
    from dataclasses import replace

    return replace(part, **changes)


PRECODERS: Final = Registry("precoder", "jcas.parts.precoders")
"""Registered precoders (``system.precoder``, ``precoders``)."""
ARRAYS: Final = Registry("array", "jcas.parts.arrays")
"""Registered arrays (``system.array``)."""
CHANNELS: Final = Registry("channel", "jcas.parts.channels")
"""Registered channel models (``system.channel``, a grid axis ``channel``)."""
SCHEMES_REGISTRY: Final = Registry("scheme", "jcas.allocation.schemes")
"""Registered allocation schemes (``schemes``); their modules are light (the heavy solver
is imported when a scheme runs)."""

SchemeOption = Param
"""A scheme's keyword option and the ``allocation`` config key that sets it."""


def scheme_names() -> tuple[str, ...]:
    """The registered schemes, in axis order (the config's default ``schemes`` order)."""
    return SCHEMES_REGISTRY.names()


def scheme_entry(name: str) -> Part:
    """The scheme ``name`` (``ValueError`` naming the allowed ones)."""
    if name not in SCHEMES_REGISTRY:
        raise ValueError(f"scheme = {name!r}: must be one of {list(SCHEMES_REGISTRY)}")
    return SCHEMES_REGISTRY[name]


def scheme_defaults(name: str) -> dict[str, Any]:
    """Default keyword options of a scheme (``{option: default}``)."""
    return {o.keyword: o.default for o in scheme_entry(name).params}


def config_defaults() -> dict[str, Any]:
    """Defaults of the ``allocation`` block of the config (``{config key: default}``)."""
    return {o.key: o.default for s in SCHEMES_REGISTRY.values() for o in s.params}


def options_from_config(name: str, allocation: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword options of one scheme from the ``allocation`` block (missing keys: defaults)."""
    return {
        o.keyword: o.coerce(allocation.get(o.key, o.default)) for o in scheme_entry(name).params
    }


@dataclass(frozen=True)
class Design:
    """The parts of one system: its precoder, its transmit and receive arrays and its
    channel model (:mod:`jcas.parts.channels`)."""

    precoder: Precoder
    tx: ArrayPart
    rx: ArrayPart
    channel: Any = None


def design(params: SystemParams) -> Design:
    """The parts named by ``params.precoder`` and ``params.array`` (:class:`ConfigError`
    naming the key and the registered names when one is unknown)."""
    pre = PRECODERS.get_part(params.precoder, "system.precoder")
    arr = ARRAYS.get_part(params.array, "system.array")
    own = {p.key for p in arr.params}
    for other in ARRAYS.params().values():  # another array's key, set: not this array's
        if other.key not in own and getattr(params, other.key, other.default) != other.default:
            owners = [a.name for a in ARRAYS.values() if other.key in {p.key for p in a.params}]
            raise ConfigError(
                f"system.{other.key} = {getattr(params, other.key)!r}: must be "
                f"{other.default!r} ({other.key} needs array {owners[0]!r}; system.array = "
                f"{params.array!r})"
            )
    chan = CHANNELS.get_part(params.channel, "system.channel")
    return Design(pre(), arr(params, "tx"), arr(params, "rx"), chan(params))


ROUTE_MODULE: Final = "jcas.montecarlo.coefficients"
"""The module that estimates the coefficients on the Monte-Carlo route (:func:`route`):
imported by name where a route point runs, so it is a source of the route's jobs only."""


def route(params: SystemParams) -> str:
    """How the rates and the CRB of ``params``' design are evaluated: ``"closed_form"``
    (an isotropic channel, i.e. the paper's i.i.d. fading, and a precoder with closed forms)
    or ``"coefficients"`` (the Monte-Carlo route, :mod:`jcas.montecarlo.coefficients`, or
    MRT's closed forms under correlation, ``docs/theory.md`` §9)."""
    isotropic = CHANNELS[params.channel].offers("isotropic")
    closed = PRECODERS[params.precoder].offers(CLOSED_FORMS)
    return "closed_form" if isotropic and closed else "coefficients"


def _coefficient_problems(scheme: str, params: SystemParams) -> list[str]:
    """Why ``scheme`` cannot run on the coefficients of ``params``' design (the Monte-Carlo
    route): it needs a solver on coefficients, and the structure of the exact optimum (the
    split-power rate, a Fisher information of the power totals) is lost: the estimated
    interference is a full matrix and, under a correlated channel, ``T3 != 0``."""
    part = scheme_entry(scheme)
    where = (
        f"precoder {params.precoder!r} (system.precoder) under channel {params.channel!r} "
        "(system.channel)"
    )
    if part.solve is None:
        return [
            f"scheme {scheme!r} runs on closed forms only (capability {CLOSED_FORMS!r}); "
            f"{where} is evaluated on the Monte-Carlo route (docs/theory.md §9). Use schemes "
            "with a solver on "
            f"coefficients ({[s.name for s in SCHEMES_REGISTRY.values() if s.solve]}) or "
            "channel 'iid' with a precoder that has closed forms"
        ]
    isotropic = CHANNELS[params.channel].offers("isotropic")
    problems = []
    for requirement in part.solve_requires:
        lost = requirement in (SPLIT_POWER_RATE, TOTAL_POWER_RATE, LINEAR_FISHER) or (
            requirement == LINEAR_FISHER_POWERS and not isotropic
        )
        if lost:
            problems.append(
                f"scheme {scheme!r} needs {REQUIREMENTS[requirement]} (capability "
                f"{requirement!r}, docs/theory.md §2); the coefficients of {where} have a "
                "full interference matrix"
                + ("" if isotropic else " and T3 != 0 in (36)")
                + ". Use sca or equal_full (any coefficients), or change these keys"
            )
    return problems


def design_problems(scheme: str, params: SystemParams) -> list[str]:
    """Why ``scheme`` cannot run with the parts of ``params`` (empty list when it can).

    Each message names the scheme, the part, the requirement and the config keys and
    values that break it (used by :func:`jcas.config.load_config` before any job and by
    :func:`jcas.allocation.allocate`). A requirement is met where the part declares the
    capability and does not refuse it at ``params`` (``unsupported``).
    """
    parts = design(params)
    pre_part = PRECODERS[params.precoder]
    arr_part = ARRAYS[params.array]
    problems: list[str] = []
    own = parts.precoder.unsupported("", params)
    if own:
        problems.append(f"system.precoder = {params.precoder!r}: {own}")
    channel = parts.channel.unsupported(params)
    if channel:
        problems.append(f"system.channel = {params.channel!r}: {channel}")
    if route(params) == "coefficients":
        return problems + _coefficient_problems(scheme, params)
    if params.crb_form != "azimuth" and not pre_part.offers("planar_crb"):
        problems.append(
            f"system.crb_form = {params.crb_form!r}: the two-angle CRBs use the MRT "
            f"covariance (37) (docs/theory.md §6); precoder {params.precoder!r} "
            "(system.precoder) does not provide it. Use crb_form 'azimuth' or an MRT "
            "precoder"
        )
    declared = set(pre_part.capabilities)
    if TOTAL_POWER_RATE in declared:
        declared.add(SPLIT_POWER_RATE)  # implied (E_k = B_k)
    if LINEAR_FISHER in declared:
        declared.add(LINEAR_FISHER_POWERS)  # implied (the same coefficient for every user)
    for requirement in scheme_entry(scheme).requires:
        reasons: list[str | None] = []
        if requirement in REQUIREMENTS and requirement != CLOSED_FORMS and CLOSED_FORMS in declared:
            # the part's own explanation, naming the keys, where it gives one
            if requirement == SPLIT_POWER_RATE:
                reasons.append(split_power_unsupported(parts.precoder, params))
            elif requirement == LINEAR_FISHER_POWERS:
                reasons.append(parts.precoder.unsupported(LINEAR_FISHER, params))
            else:
                reasons.append(parts.precoder.unsupported(requirement, params))
        if requirement in REQUIREMENTS and requirement not in declared and not any(reasons):
            reasons.append(
                f"precoder {params.precoder!r} (system.precoder) does not offer it (it declares "
                f"{sorted(pre_part.capabilities)})"
            )
        if requirement in (LINEAR_FISHER, LINEAR_FISHER_POWERS) and not (
            arr_part.offers("centred")
            and parts.tx.orthogonal_derivative
            and parts.rx.orthogonal_derivative
        ):
            reasons.append(
                f"array {params.array!r} (system.array) is not centred: a^H a_dot != 0, so "
                "T3 != 0 in (36)"
            )
        for reason in reasons:
            if reason:
                problems.append(
                    f"scheme {scheme!r} needs {REQUIREMENTS[requirement]} (capability "
                    f"{requirement!r}, docs/theory.md §2); "
                    f"{reason}. Use other schemes (e.g. equal_full) or change these keys"
                )
    return problems
