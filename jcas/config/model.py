"""The typed model of the pipeline configuration, from which the rest is derived.

Pydantic models give every key its type, range, default and description (the ``system``
block's come from the fields of :class:`jcas.model.params.SystemParams`, the one place the
physical parameters are defined). From them come:

- the JSON schema (draft 2020-12), ``jcas/config/schema.json``, package data that
  :func:`jcas.config.config_schema` reads at load time without importing pydantic (the dry
  run stays fast); the registered names (schemes, precoders, arrays, figure functions,
  experiment kinds), the parts' own keys and the schemes' options are added to it at load
  time from the registries, so a new part needs no edit here;
- the defaults of the optional keys (:func:`defaults`, :data:`jcas.config.DEFAULTS`);
- the conversion of numbers written as text (:func:`jcas.config.coerce_config` follows the
  schema's types);
- the key tables of ``docs/configuration.md`` (between ``<!-- generated: ... -->`` markers).

Regenerate both files after editing a model (a test fails until they match)::

    python -m jcas.config.model
"""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from jcas.model.params import SystemParams

__all__ = [
    "Config",
    "Experiment",
    "MonteCarlo",
    "defaults",
    "docs_tables",
    "json_schema",
    "main",
]

SCHEMA_FILE = Path(__file__).with_name("schema.json")
DOCS_FILE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

_Names = Annotated[list[str], Field(min_length=1, json_schema_extra={"uniqueItems": True})]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _grid(item: dict[str, Any], text: str) -> Any:
    return Field(
        None,
        min_length=1,
        description=text,
        json_schema_extra={"uniqueItems": True, "items": item},
    )


_INT_AXIS = {"type": "integer", "minimum": 1, "maximum": 4096}
_DB_AXIS = {"type": "number", "minimum": -100, "maximum": 100}
_CRB_AXIS = {"type": "number", "exclusiveMinimum": 0}
_ANGLE_AXIS = {"type": "number", "exclusiveMinimum": -90, "exclusiveMaximum": 90}
AXES: dict[str, tuple[dict[str, Any], str]] = {
    "N": (
        {"type": "integer", "minimum": 2, "maximum": 8192},
        "antennas in all, with tie Nt=Nr=N/2",
    ),
    "Nt": (_INT_AXIS, "transmit antennas"),
    "Nr": (_INT_AXIS, "receive antennas"),
    "snr_com_db": (_DB_AXIS, "SNR_com (dB)"),
    "snr_sen_db": (_DB_AXIS, "SNR_sen (dB)"),
    "crb0": (_CRB_AXIS, "CRB threshold (rad^2)"),
    "tx_rows": (_INT_AXIS, "rows of the transmit array"),
    "rx_rows": (_INT_AXIS, "rows of the receive array"),
    "azimuth_deg": (_ANGLE_AXIS, "target azimuth (degrees)"),
    "elevation_deg": (_ANGLE_AXIS, "target elevation (degrees)"),
}
"""The sweepable keys of an experiment (in the dataset's dimension order) with the schema
of one value and a description."""


def _axes_model(name: str, many: bool) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for key, (item, text) in AXES.items():
        if many:
            fields[key] = (list[Any] | None, _grid(item, text))
        else:
            fields[key] = (Any, Field(None, description=text, json_schema_extra=item))
    return create_model(name, __base__=_Model, **fields)


SweepValues = _axes_model("SweepValues", many=True)
FixedValues = _axes_model("FixedValues", many=False)


class Experiment(_Model):
    """One experiment: a grid of points, its schemes and precoders, its figure."""

    sweep: Annotated[SweepValues, Field(json_schema_extra={"minProperties": 1})] = Field(  # type: ignore[valid-type]
        description="swept keys and their values (the dimensions of the dataset)"
    )
    fixed: FixedValues = Field(  # type: ignore[valid-type]
        default_factory=FixedValues,
        description="keys held at a value other than the system's (a key is swept or fixed)",
    )
    tie: str = Field(
        "none",
        description="tied antenna counts: none, Nr follows Nt, or Nt = Nr = N/2",
        json_schema_extra={"enum": ["none", "Nr=Nt", "Nt=Nr=N/2"]},
    )
    kind: str = Field("sweep", description="the experiment kind (docs/pipeline.md)")
    schemes: _Names = Field(
        None,  # type: ignore[arg-type]
        description="the experiment's schemes, among the top-level ones (default: all of them)",
    )
    precoders: _Names = Field(
        None,  # type: ignore[arg-type]
        description="the experiment's precoders, replacing the top-level list",
    )
    monte_carlo: bool = Field(False, description="also the Monte-Carlo rate and CRB")
    plot: str = Field(
        None,  # type: ignore[assignment]
        description="the figure function (default: the experiment's name if one, else none)",
    )
    title: str = Field(None, description="figure title (default: the name)")  # type: ignore[assignment]
    enabled: bool = Field(True, description="false skips the experiment (still validated)")


class MonteCarlo(_Model):
    """Monte-Carlo sizes."""

    realizations: int = Field(
        ge=2, le=100_000_000, description="small-scale fading realizations per drop (MC rate)"
    )
    frames: int = Field(
        20, ge=1, le=100_000_000, description="finite-L frames per drop (sample-covariance CRB)"
    )
    mle_trials: int = Field(
        200, ge=2, le=100_000_000, description="echo realizations per drop (ML angle estimate)"
    )
    mle_drops: int = Field(
        50, ge=1, le=10_000_000, description="drops 0 .. n-1 used by kind mle experiments"
    )
    planar_mle_trials: int = Field(
        200, ge=2, le=100_000_000, description="echo realizations per drop (2-D ML estimate)"
    )
    planar_mle_drops: int = Field(
        5, ge=1, le=10_000_000, description="drops 0 .. n-1 used by kind mle_planar experiments"
    )
    coefficient_realizations: int = Field(
        1000,
        ge=2,
        le=100_000_000,
        description="realizations per drop of the Monte-Carlo coefficients (the coefficient "
        "route: a correlated or Rician channel, or a precoder without closed forms)",
    )


def _system_model() -> type[BaseModel]:
    """The ``system`` block from the fields of :class:`SystemParams` (their metadata), the
    array specs and the azimuth alias; the array parts' own keys are added at load time."""
    names = {"int": int, "float": float, "str": str}
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(SystemParams):
        meta = f.metadata
        if meta.get("part"):
            continue  # declared by the array part (jcas.parts.registry.Param)
        extra: dict[str, Any] = {}
        if meta.get("exclusive_minimum") is not None:
            extra["exclusiveMinimum"] = meta["exclusive_minimum"]
        if meta.get("exclusive_maximum") is not None:
            extra["exclusiveMaximum"] = meta["exclusive_maximum"]
        if meta.get("choices"):
            extra["enum"] = list(meta["choices"])
        if meta.get("units", "1") != "1":
            extra["units"] = meta["units"]
        fields[f.name] = (
            names[str(f.type)],
            Field(
                f.default,
                ge=meta.get("minimum"),
                le=meta.get("maximum"),
                description=meta.get("description", ""),
                json_schema_extra=extra or None,
            ),
        )
    spec: dict[str, Any] = {"x-array-spec": True}  # replaced by a $ref to $defs.array_spec
    fields["tx_array"] = (
        Any,
        Field(None, description="transmit array spec", json_schema_extra=spec),
    )
    fields["rx_array"] = (
        Any,
        Field(None, description="receive array spec", json_schema_extra=spec),
    )
    fields["azimuth_deg"] = (
        float,
        Field(
            None,  # type: ignore[arg-type]
            gt=-90,
            lt=90,
            description="target azimuth (an alias of theta_deg; docs/model.md §8)",
            json_schema_extra={"units": "degree"},
        ),
    )
    return create_model("System", __base__=_Model, **fields)


System = _system_model()


class Config(_Model):
    """The whole configuration (``config.yaml`` merged with ``--configfile``/``--config``)."""

    seed: int = Field(
        ge=0,
        le=4_294_967_295,
        description="base seed: drop d of seed s is the same drop everywhere",
    )
    drops: int = Field(ge=1, le=10_000_000, description="user drops per grid point")
    drops_per_job: int = Field(
        ge=1, le=10_000_000, description="drops computed by one job (no result depends on it)"
    )
    schemes: _Names = Field(description="allocation schemes computed at every grid point")
    precoders: _Names = Field(
        None,  # type: ignore[arg-type]
        description="the precoder axis (default: [system.precoder])",
    )
    system: System = Field(description="physical parameters (units in docs/model.md)")  # type: ignore[valid-type]
    allocation: dict[str, Any] = Field(
        default_factory=dict,
        description="options of the allocation schemes (each scheme's own keys)",
    )
    mc: MonteCarlo = Field(description="Monte-Carlo sizes")
    experiments: dict[str, Experiment] = Field(
        min_length=1,
        description="named experiments; each writes results/<name>.nc",
        json_schema_extra={"propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"}},
    )
    claims: bool = Field(True, description="write results/claims.csv (paper claims vs ours)")


# --------------------------------------------------------------------------- the schema
_NAMED = {
    # key path in the schema -> $defs entry filled with the registered names at load time
    ("properties", "schemes", "items"): "scheme",
    ("properties", "precoders", "items"): "precoder",
}


def _clean(node: Any, names: bool = False) -> Any:
    """Pydantic's schema without titles, defaults of None and ``anyOf [X, null]``
    (``names``: ``node`` maps property names to schemas, none of them dropped)."""
    if isinstance(node, list):
        return [_clean(x) for x in node]
    if not isinstance(node, dict):
        return node
    if names:
        return {k: _clean(v) for k, v in node.items()}
    out = {
        k: _clean(v, names=k in ("properties", "$defs"))
        for k, v in node.items()
        if not (k == "title" and isinstance(v, str))
    }
    if "anyOf" in out and any(b == {"type": "null"} for b in out["anyOf"]):
        rest = [b for b in out.pop("anyOf") if b != {"type": "null"}]
        if len(rest) == 1:
            out = {**rest[0], **out}
        elif rest:
            out["anyOf"] = rest
    if out.get("default", 0) is None:
        del out["default"]
    if out.pop("x-array-spec", False):
        out = {"$ref": "#/$defs/array_spec", "description": out.get("description", "")}
    return out


def json_schema() -> dict[str, Any]:
    """The configuration's JSON schema (draft 2020-12) without the registered names (which
    :func:`jcas.config.config_schema` adds at load time)."""
    schema = _clean(Config.model_json_schema(ref_template="#/$defs/{model}"))
    defs = schema.setdefault("$defs", {})
    defs["scheme"] = {"type": "string"}
    defs["precoder"] = {"type": "string"}
    defs["array_spec"] = {
        "description": "one side's array, {kind: <array>, N} or {kind: <planar array>, rows, "
        "cols}; sets Nt or Nr and tx_rows or rx_rows",
        "type": "object",
        "additionalProperties": False,
        "required": ["kind"],
        "properties": {
            "kind": {"type": "string"},
            "N": {"type": "integer"},
            "rows": {"type": "integer"},
            "cols": {"type": "integer"},
        },
    }
    for path, name in _NAMED.items():
        node = schema
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = {"$ref": f"#/$defs/{name}"}
    exp = defs["Experiment"]["properties"]
    exp["schemes"]["items"] = {"$ref": "#/$defs/scheme"}
    exp["precoders"]["items"] = {"$ref": "#/$defs/precoder"}
    # a sweep has at least one key; a fixed value's type is the axis's
    for key in AXES:
        fixed = defs["FixedValues"]["properties"][key]
        fixed.pop("default", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "jcas pipeline configuration"
    schema["description"] = (
        "Generated from jcas/config/model.py (python -m jcas.config.model); the registered "
        "names and the parts' keys are added at load time. Keys, types and defaults: "
        "docs/configuration.md."
    )
    return schema


def defaults() -> dict[str, Any]:
    """The values of the optional keys of the top level, ``mc`` and ``claims``
    (:data:`jcas.config.DEFAULTS`; the schemes' options come from the registry)."""
    mc = {name: f.default for name, f in MonteCarlo.model_fields.items() if not f.is_required()}
    return {"mc": mc, "claims": Config.model_fields["claims"].default}


# --------------------------------------------------------------------------- docs tables
def _num(x: float) -> str:
    if float(x).is_integer() and abs(x) >= 1e5:
        exponent = len(str(int(abs(x)))) - 1
        if int(abs(x)) == 10**exponent:
            return f"10^{exponent}"
        return str(int(x))
    return f"{x:g}"


def _range(spec: dict[str, Any], defs: dict[str, Any] | None = None) -> str:
    """A schema fragment in words: type, range, allowed names."""
    if "$ref" in spec and defs is not None:
        target = defs.get(spec["$ref"].rsplit("/", 1)[-1], {})
        return _range({**target, **{k: v for k, v in spec.items() if k != "$ref"}}, defs)
    if "enum" in spec:
        return ", ".join(f"`{v}`" for v in spec["enum"])
    kind = spec.get("type", "")
    if isinstance(kind, list):  # e.g. a per-user list option: a list, one number or null
        item = _range(spec.get("items", {}), defs)
        return f"{item}, or a list of K such numbers (one per user)"
    if kind == "array":
        items = spec.get("items", {})
        text = "list of " + _range(items, defs)
        if spec.get("uniqueItems"):
            text += ", no repeats"
        if spec.get("minItems"):
            text += f", at least {spec['minItems']}"
        return text
    if kind == "object" or not kind:
        return "mapping"
    parts = [kind]
    lo, hi = spec.get("minimum"), spec.get("maximum")
    xlo, xhi = spec.get("exclusiveMinimum"), spec.get("exclusiveMaximum")
    if lo is not None and hi is not None:
        parts.append(f"{_num(lo)} .. {_num(hi)}")
    elif lo is not None:
        parts.append(f">= {_num(lo)}")
    elif hi is not None:
        parts.append(f"<= {_num(hi)}")
    if xlo is not None and xhi is not None:
        parts.append(f"{_num(xlo)} < x < {_num(xhi)}")
    elif xlo is not None:
        parts.append(f"> {_num(xlo)}")
    elif xhi is not None:
        parts.append(f"< {_num(xhi)}")
    return ", ".join(parts)


def _default(spec: dict[str, Any], required: bool) -> str:
    if required:
        return "required"
    if "default" not in spec:
        return "see meaning"
    value = spec["default"]
    return f"`{json.dumps(value)}`"


def _rows(
    prefix: str, props: dict[str, Any], required: set[str], defs: dict[str, Any]
) -> list[str]:
    rows = []
    for key, spec in props.items():
        units = spec.get("units")
        text = spec.get("description", "") + (f" ({units})" if units else "")
        kind = _range(spec, defs)
        rows.append(f"| `{prefix}{key}` | {kind} | {_default(spec, key in required)} | {text} |")
    return rows


def docs_tables() -> dict[str, str]:
    """The generated key tables of ``docs/configuration.md``, by marker name: the model's
    keys with what the registries add (:func:`jcas.config.config_schema`)."""
    from jcas.config import config_schema
    from jcas.parts.registry import ARRAYS, PRECODERS, SCHEMES_REGISTRY

    schema = config_schema()
    defs = schema["$defs"]
    head = "| key | type, range | default | meaning |\n|---|---|---|---|"
    top = _rows("", schema["properties"], set(schema.get("required", [])), defs)
    system = _rows("system.", defs["System"]["properties"], set(), defs)
    mc_def = defs["MonteCarlo"]
    mc = _rows("mc.", mc_def["properties"], set(mc_def.get("required", [])), defs)
    exp_def = defs["Experiment"]
    exp = _rows("", exp_def["properties"], set(exp_def.get("required", [])), defs)
    allocation_props = schema["properties"]["allocation"]["properties"]
    allocation = _rows("allocation.", allocation_props, set(), defs)
    axes = [f"| `{key}` | {_range(item)} | {text} |" for key, (item, text) in AXES.items()]

    def names(registry: Any) -> str:
        return ", ".join(f"`{p.name}` ({p.label})" for p in registry.values())

    return {
        "top": "\n".join([head, *top]),
        "names": f"{names(SCHEMES_REGISTRY)}; precoders {names(PRECODERS)}; arrays {names(ARRAYS)}",
        "system": "\n".join([head, *system]),
        "allocation": "\n".join([head, *allocation]),
        "mc": "\n".join([head, *mc]),
        "experiment": "\n".join([head, *exp]),
        "axes": "\n".join(["| key | one value | meaning |", "|---|---|---|", *axes]),
    }


def render_docs(text: str) -> str:
    """``text`` (docs/configuration.md) with every generated table replaced."""
    out = text
    for name, table in docs_tables().items():
        begin, end = f"<!-- generated: {name} -->", f"<!-- end generated: {name} -->"
        if begin not in out or end not in out:
            raise ValueError(f"docs/configuration.md has no {begin} ... {end} block")
        a = out.index(begin) + len(begin)
        b = out.index(end)
        inline = "\n" not in table
        out = out[:a] + (f" {table} " if inline else "\n" + table + "\n") + out[b:]
    return out


def schema_text() -> str:
    """The content of ``jcas/config/schema.json``."""
    return json.dumps(json_schema(), indent=1, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write ``jcas/config/schema.json`` and the tables of ``docs/configuration.md``."""
    argv = sys.argv[1:] if argv is None else argv
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
    if DOCS_FILE.is_file():
        DOCS_FILE.write_text(render_docs(DOCS_FILE.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE} and the tables of {DOCS_FILE}")
    return 0


def _copy(x: Any) -> Any:
    return copy.deepcopy(x)


if __name__ == "__main__":
    raise SystemExit(main())
