"""The typed model of the configuration (jcas.config.model) and what is generated from it.

``jcas/config/schema.json`` and the key tables of ``docs/configuration.md`` are generated
(``python -m jcas.config.model``) and must be up to date; the model's ``system`` block is the
fields of ``SystemParams`` (names, types, defaults); every default of the model validates;
the defaults the loader fills in are the model's; an edit to the model that is not
regenerated is caught (the check can fail).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest

from jcas.config import DEFAULTS, config_schema, load_config
from jcas.config import model as config_model
from jcas.model.params import SystemParams

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "python -m jcas.config.model"


def test_schema_file_is_generated_from_the_model() -> None:
    committed = (ROOT / "jcas" / "config" / "schema.json").read_text(encoding="utf-8")
    assert committed == config_model.schema_text(), f"out of date: run {REGENERATE}"


def test_docs_tables_are_generated_from_the_model_and_registries() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert text == config_model.render_docs(text), f"out of date: run {REGENERATE}"
    # every key of the schema has its row
    schema = config_schema()
    for key in schema["properties"]:
        assert f"| `{key}` |" in text, key
    for key in schema["$defs"]["System"]["properties"]:
        assert f"| `system.{key}` |" in text, key
    for key in schema["properties"]["allocation"]["properties"]:
        assert f"| `allocation.{key}` |" in text, key


def test_the_check_fails_on_a_stale_table() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    stale = text.replace("| `system.K` | integer, 1 .. 1024 | `4` |", "| `system.K` | int | 5 |")
    assert stale != text
    assert stale != config_model.render_docs(stale)


def test_system_block_is_systemparams() -> None:
    system = config_schema()["$defs"]["System"]["properties"]
    for f in dataclasses.fields(SystemParams):
        assert f.name in system, f.name
        assert system[f.name].get("default", f.default) == f.default, f.name
        names = {"int": "integer", "float": "number", "str": "string"}
        assert system[f.name]["type"] == names[str(f.type)], f.name


def test_every_default_is_valid_and_is_what_the_loader_fills_in() -> None:
    schema = config_schema()
    validator = jsonschema.Draft202012Validator(schema)

    def check(props: dict, where: str) -> None:
        for key, spec in props.items():
            if "default" in spec and "$ref" not in spec:
                sub = {k: v for k, v in spec.items() if k != "default"}
                errors = list(jsonschema.Draft202012Validator(sub).iter_errors(spec["default"]))
                assert not errors, f"{where}.{key}: {errors[0].message}"

    check(schema["$defs"]["System"]["properties"], "system")
    check(schema["$defs"]["MonteCarlo"]["properties"], "mc")
    check(schema["properties"]["allocation"]["properties"], "allocation")
    assert validator.is_valid(
        {
            "seed": 1,
            "drops": 2,
            "drops_per_job": 2,
            "schemes": ["optimal"],
            "system": {},
            "mc": {"realizations": 10},
            "experiments": {"x": {"sweep": {"Nt": [8]}}},
        }
    )
    mc = schema["$defs"]["MonteCarlo"]["properties"]
    assert {k: v["default"] for k, v in mc.items() if "default" in v} == DEFAULTS["mc"]
    cfg = load_config(
        {
            "seed": 1,
            "drops": 2,
            "drops_per_job": 2,
            "schemes": ["optimal"],
            "system": {},
            "mc": {"realizations": 10},
            "experiments": {"x": {"sweep": {"Nt": [8]}}},
        }
    )
    assert cfg["mc"] == {"realizations": 10, **DEFAULTS["mc"]}
    assert cfg["allocation"] == DEFAULTS["allocation"]


@pytest.mark.parametrize("key", ["K", "tau_c", "crb_form"])
def test_model_keys_are_checked_by_the_loader(key: str) -> None:
    bad = {"K": 0, "tau_c": 1, "crb_form": "both"}[key]
    with pytest.raises(Exception, match=f"system.{key} = "):
        load_config(
            {
                "seed": 1,
                "drops": 2,
                "drops_per_job": 2,
                "schemes": ["optimal"],
                "system": {key: bad},
                "mc": {"realizations": 10},
                "experiments": {"x": {"sweep": {"Nt": [8]}}},
            }
        )


def test_loading_does_not_import_pydantic() -> None:
    from conftest import run_python

    out = run_python(
        "import sys, yaml; from jcas.config import load_config; "
        "load_config(yaml.safe_load(open('config.yaml'))); print('pydantic' in sys.modules)"
    )
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_schema_json_is_plain_json() -> None:
    text = (ROOT / "jcas" / "config" / "schema.json").read_text(encoding="utf-8")
    assert json.loads(text)["$schema"].endswith("2020-12/schema")
