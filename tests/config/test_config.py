"""jcas.config in process: the packaged schema, text conversion, validation, merging, planning.

Configurations are built the way the Snakefile receives them: ``config.yaml`` loaded by
Snakemake's own loader (``snakemake.common.configfile.load_configfile``), ``--configfile``
texts and ``--config`` entries (``snakemake.cli.parse_config``) merged over it by
Snakemake's ``update_config``, then :func:`jcas.config.load_config`. The real ``snakemake``
command on bad and text-valued configs is in ``tests/config/test_config_pipeline.py``.

Every expected message fragment is written from the constraint itself (key path, the value
as YAML or Snakemake gives it, the bound or the allowed set), not copied from the output.
"""

from __future__ import annotations

import copy
import json
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from snakemake.cli import parse_config
from snakemake.common.configfile import load_configfile
from snakemake.utils import update_config

from jcas.config import (
    SCHEMES,
    Point,
    block_key,
    coerce_config,
    config_schema,
    drop_blocks,
    fmt_number,
    load_config,
    plan_experiments,
)
from jcas.model.params import ConfigError

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "config_tiny.yaml"
ALLOWED_SCHEMES = str(list(SCHEMES))


@pytest.fixture(scope="module")
def defaults() -> dict[str, Any]:
    """config.yaml as the Snakefile's ``configfile:`` directive loads it."""
    return load_configfile(str(ROOT / "config.yaml"))


def merged(
    base: dict[str, Any], *, files: tuple[str, ...] = (), cli: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``base`` with ``--configfile`` texts, then ``--config`` entries, merged as Snakemake does."""
    cfg = copy.deepcopy(base)
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(files):
            path = Path(tmp) / f"override{i}.yaml"
            path.write_text(text + "\n", encoding="utf-8")
            update_config(cfg, load_configfile(str(path)))
    update_config(cfg, parse_config(list(cli)))
    return cfg


def rejection(cfg: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    msg = str(info.value)
    assert msg.startswith("invalid configuration:"), msg
    return msg


# --------------------------------------------------------------------------- schema
def test_schema_is_package_data_loaded_by_config_schema() -> None:
    resource = resources.files("jcas.config").joinpath("schema.json")
    assert resource.is_file()
    schema = config_schema()
    packaged = json.loads(resource.read_text(encoding="utf-8"))
    assert schema["$schema"] == packaged["$schema"]
    assert schema["required"] == packaged["required"]
    assert set(schema["properties"]) == set(packaged["properties"])
    # a new dict per call: a caller's edit changes neither the next call nor validation
    schema["properties"].clear()
    assert config_schema()["properties"]
    assert "seed" in config_schema()["required"]


def test_schema_is_a_valid_2020_12_schema() -> None:
    """The check ``load_config`` leaves out at run time: the schema (with the registry's
    enums) against the draft 2020-12 meta-schema, which catches a broken schema."""
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(config_schema())
    broken = config_schema()
    broken["properties"]["seed"] = {"type": "no-such-type"}
    with pytest.raises(jsonschema.SchemaError):
        jsonschema.Draft202012Validator.check_schema(broken)


def test_default_and_tiny_configs_are_valid(defaults: dict[str, Any]) -> None:
    load_config(defaults)
    tiny = merged(defaults, files=(TINY.read_text(encoding="utf-8"),))
    out = load_config(tiny)
    assert out["drops"] == 6
    assert out["allocation"]["sca_group"] == 3


# --------------------------------------------------------------------------- text conversion
# (key path, text, expected value): text at a key of that schema type reads unambiguously
CONVERTED: list[tuple[str, str, Any]] = [
    ("mc.realizations", "50", 50),
    ("mc.realizations", "+7", 7),
    ("seed", "0", 0),
    ("system.snr_com_db", "-3", -3),
    ("system.crb0", "1e-3", 1e-3),
    ("system.crb0", "1.0e-3", 1e-3),
    ("system.crb0", "2E-4", 2e-4),
    ("system.theta_deg", "-2.5", -2.5),
    ("system.pathloss_exponent", ".5", 0.5),
    ("system.pathloss_exponent", "5.", 5.0),
    ("system.pt_dbm", "30", 30),
    ("claims", "true", True),
    ("claims", "True", True),
    ("claims", "TRUE", True),
    ("claims", "false", False),
    ("claims", "False", False),
    ("claims", "FALSE", False),
]

# (key path, text, what the message must say besides the key and the text)
NOT_CONVERTED: list[tuple[str, str, str]] = [
    ("mc.realizations", "1e3", "must be an integer (write 1000"),
    ("mc.realizations", "2.0", "must be an integer (write 2"),
    ("mc.realizations", "010", "must be an integer (a leading zero is ambiguous"),
    ("mc.realizations", "1_000", "must be an integer"),
    ("mc.realizations", "0x10", "must be an integer"),
    ("mc.realizations", "abc", "must be an integer"),
    ("mc.realizations", "", "must be an integer"),
    ("mc.realizations", "true", "must be an integer"),
    ("system.crb0", "010", "must be a number (a leading zero is ambiguous"),
    ("system.crb0", "00.5", "must be a number (a leading zero is ambiguous"),
    ("system.crb0", "inf", "must be a number"),
    ("system.crb0", "nan", "must be a number"),
    ("system.crb0", "1e999", "must be a number"),
    ("system.crb0", "1,5", "must be a number"),
    ("system.pt_dbm", "30 dBm", "must be a number"),
    ("claims", "yes", "must be true or false (YAML 1.1"),
    ("claims", "off", "must be true or false (YAML 1.1"),
    ("claims", "1", "must be true or false"),
    ("claims", "0", "must be true or false"),
]


def _with(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(base)
    node = cfg
    *parents, last = path.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    return cfg


def _get(cfg: dict[str, Any], path: str) -> Any:
    node: Any = cfg
    for key in path.split("."):
        node = node[key]
    return node


@pytest.mark.parametrize(("path", "text", "value"), CONVERTED)
def test_text_is_converted_to_the_schema_type(
    defaults: dict[str, Any], path: str, text: str, value: Any
) -> None:
    out = _get(load_config(_with(defaults, path, text)), path)
    assert out == value
    assert type(out) is type(value)


@pytest.mark.parametrize(("path", "text", "says"), NOT_CONVERTED)
def test_ambiguous_text_is_rejected_naming_key_and_value(
    defaults: dict[str, Any], path: str, text: str, says: str
) -> None:
    msg = rejection(_with(defaults, path, text))
    assert f"{path} = {text!r}: {says}" in msg, msg


def test_text_in_lists_and_nested_mappings_is_converted(defaults: dict[str, Any]) -> None:
    cfg = copy.deepcopy(defaults)
    cfg["experiments"]["pareto"]["sweep"]["crb0"] = ["1e-4", "1.0e-5", 2e-6]  # allOf + $ref
    cfg["experiments"]["fig3"]["fixed"] = {"snr_com_db": "20"}  # $ref
    cfg["experiments"]["new"] = {  # an experiment under additionalProperties
        "tie": "none",
        "sweep": {"Nt": ["8", "16"]},
        "monte_carlo": "true",
        "title": "50",
    }
    original = copy.deepcopy(cfg)
    out = load_config(cfg)
    assert cfg == original  # the input is not modified
    assert out["experiments"]["pareto"]["sweep"]["crb0"] == [1e-4, 1e-5, 2e-6]
    assert out["experiments"]["fig3"]["fixed"] == {"snr_com_db": 20}
    new = out["experiments"]["new"]
    assert new["sweep"] == {"Nt": [8, 16]}
    assert new["monte_carlo"] is True
    assert new["title"] == "50"  # a string key keeps its text
    assert [p.Nt for p in plan_experiments(out)["new"].unique_points] == [8, 16]


def test_text_in_a_list_is_rejected_with_its_index(defaults: dict[str, Any]) -> None:
    cfg = copy.deepcopy(defaults)
    cfg["experiments"]["pareto"]["sweep"]["crb0"] = ["1e-4", "abc"]
    assert "experiments.pareto.sweep.crb0[1] = 'abc': must be a number" in rejection(cfg)


def test_only_text_is_converted() -> None:
    """coerce_config leaves non-text values, text at string keys and unknown keys alone."""
    cfg = {
        "drops": 4.0,
        "seed": True,
        "schemes": ["sca"],
        "experiments": {"fig1": {"title": "1e-3", "tie": "none"}},
        "unknown": "50",
        "system": {"unknown": "50", "K": "4"},
    }
    out = coerce_config(cfg)
    assert out == {**cfg, "system": {"unknown": "50", "K": 4}}
    assert type(out["drops"]) is float
    assert out["seed"] is True


def test_non_text_is_never_converted(defaults: dict[str, Any]) -> None:
    msg = rejection(_with(_with(defaults, "drops", 4.0), "seed", True))
    assert "drops = 4.0: must be an integer (write 4" in msg
    assert "seed = True: must be an integer" in msg


# --------------------------------------------------------------------------- bad values
# (YAML text of a --configfile merged over config.yaml, fragments the message must contain)
BAD_FILES: list[tuple[str, list[str]]] = [
    # wrong type
    ("drops: twenty", ["drops = 'twenty'", "must be an integer"]),
    ("drops: 2.5", ["drops = 2.5", "must be an integer"]),
    ("drops: true", ["drops = True", "must be an integer"]),
    ("drops:", ["drops = None", "must be an integer"]),
    ("mc:", ["mc = None", "must be a mapping"]),
    ("system:\n  K: four", ["system.K = 'four'", "must be an integer"]),
    ("experiments:\n  fig1:\n    sweep:\n      Nt: [15, 35.5]", ["sweep.Nt[1] = 35.5", "integer"]),
    (
        "experiments:\n  fig1:\n    monte_carlo: 'yes'",
        ["fig1.monte_carlo = 'yes'", "true or false"],
    ),
    ("claims: maybe", ["claims = 'maybe'", "must be true or false"]),
    # out of range
    ("drops: 0", ["drops = 0", "must be >= 1"]),
    ("seed: -5", ["seed = -5", "must be >= 0"]),
    ("drops_per_job: 0", ["drops_per_job = 0", "must be >= 1"]),
    ("system:\n  K: 0", ["system.K = 0", "must be >= 1"]),
    ("system:\n  crb0: 0.0", ["system.crb0 = 0.0", "must be > 0"]),
    ("system:\n  theta_deg: 90.0", ["system.theta_deg = 90.0", "must be < 90"]),
    ("system:\n  shadowing_db: -3.0", ["system.shadowing_db = -3.0", "must be >= 0"]),
    ("mc:\n  realizations: 1", ["mc.realizations = 1", "must be >= 2"]),
    ("allocation:\n  sca_tolerance: -1.0e-4", ["allocation.sca_tolerance = -0.0001", "> 0"]),
    ("allocation:\n  sca_group: 0", ["allocation.sca_group = 0", "must be >= 1"]),
    (
        "allocation:\n  equal_full_sensing_fraction: 1.5",
        ["allocation.equal_full_sensing_fraction = 1.5", "must be <= 1"],
    ),
    (
        "experiments:\n  fig1:\n    sweep:\n      snr_com_db: [0, 200]",
        ["experiments.fig1.sweep.snr_com_db[1] = 200", "must be <= 100"],
    ),
    (
        "experiments:\n  fig1:\n    sweep:\n      Nt: [15, 0]",
        ["experiments.fig1.sweep.Nt[1] = 0", "must be >= 1"],
    ),
    (
        "experiments:\n  pareto:\n    sweep:\n      crb0: [1.0e-4, -1.0e-3]",
        ["experiments.pareto.sweep.crb0[1] = -0.001", "must be > 0"],
    ),
    # unknown key (the message lists the allowed keys)
    ("sytem:\n  K: 4", ["sytem = {'K': 4}", "unknown key", "'system'"]),
    ("system:\n  Pt_dbm: 30.0", ["system.Pt_dbm = 30.0", "unknown key", "'pt_dbm'"]),
    ("mc:\n  realisations: 10", ["mc.realisations = 10", "unknown key", "'realizations'"]),
    (
        "experiments:\n  fig1:\n    sweeps:\n      Nt: [8]",
        ["experiments.fig1.sweeps = {'Nt': [8]}", "unknown key", "'sweep'"],
    ),
    (
        "experiments:\n  fig1:\n    sweep:\n      K: [2, 4]",
        ["experiments.fig1.sweep.K = [2, 4]", "unknown key", "'snr_com_db'"],
    ),
    # empty or repeated grid values, unknown names
    (
        "experiments:\n  fig1:\n    sweep:\n      snr_com_db: []",
        ["experiments.fig1.sweep.snr_com_db = []", "at least 1 value"],
    ),
    ("experiments:\n  fig3:\n    sweep:\n      N: []", ["fig3.sweep.N = []", "at least 1 value"]),
    ("experiments:\n  fig1:\n    sweep:\n      snr_com_db: [0, 0]", ["values must not repeat"]),
    ("schemes: []", ["schemes = []", "at least 1 value"]),
    ("schemes: [sca, sca]", ["schemes = ['sca', 'sca']", "values must not repeat"]),
    ("schemes: [sca, waterfilling]", ["schemes[1] = 'waterfilling'", ALLOWED_SCHEMES]),
    ("experiments:\n  crb_mc:\n    schemes: [mle]", ["crb_mc.schemes[0] = 'mle'", ALLOWED_SCHEMES]),
    ("experiments:\n  fig1:\n    tie: Nr=2Nt", ["experiments.fig1.tie = 'Nr=2Nt'", "one of"]),
    ("experiments:\n  fig1:\n    plot: fig9", ["experiments.fig1.plot = 'fig9'", "one of"]),
    ("experiments:\n  Fig4:\n    sweep:\n      Nt: [4]", ["'Fig4' must match"]),
    # inconsistent values
    ("system:\n  tau_p: 100", ["system.tau_c = 100", "> tau_p = 100"]),
    ("system:\n  r_min_m: 500.0", ["system.r_max_m = 500.0", "> r_min_m = 500.0"]),
    ("experiments:\n  fig1:\n    sweep:\n      Nr: [15]", ["fig1.sweep.Nr = [15]", "tied to Nt"]),
    (
        "experiments:\n  fig1:\n    sweep:\n      N: [30]",
        ["fig1.sweep.N = [30]", "N is only allowed with tie: Nt=Nr=N/2"],
    ),
    (
        "experiments:\n  fig3:\n    sweep:\n      N: [20, 31]",
        ["experiments.fig3.sweep.N = [20, 31]", "even", "[31]"],
    ),
    ("experiments:\n  fig3:\n    sweep:\n      Nt: [10]", ["fig3.sweep.Nt = [10]", "tied to N"]),
    ("experiments:\n  pareto:\n    fixed:\n      crb0: 1.0e-3", ["crb0 is also swept"]),
    ("drops_per_job: 120", ["drops_per_job = 120", "multiple of allocation.sca_group = 50"]),
    ("schemes: [sca]\nexperiments:\n  fig1:\n    schemes: [optimal]", ["fig1.schemes: none"]),
]

# (--config entries, fragments): Snakemake parses a top-level value as int, float,
# True/False, else YAML text; nested values and list items arrive as text
BAD_CLI: list[tuple[list[str], list[str]]] = [
    (["drops=-3"], ["drops = -3", "must be >= 1"]),
    (["drops=1.5"], ["drops = 1.5", "must be an integer"]),
    (["drops=1e3"], ["drops = 1000.0", "must be an integer (write 1000"]),
    (["drops=abc"], ["drops = 'abc'", "must be an integer"]),
    (["seed=1e-3"], ["seed = 0.001", "must be an integer"]),
    (["drops_per_job=true"], ["drops_per_job = 'true'", "must be an integer"]),
    (["schemes=[sca,magic]"], ["schemes[1] = 'magic'", ALLOWED_SCHEMES]),
    (["unknown_key=1"], ["unknown_key = 1", "unknown key"]),
    (["system={K: 0}"], ["system.K = 0", "must be >= 1"]),
    (["system={tau_p: 100}"], ["system.tau_c = 100", "> tau_p = 100"]),
    (["mc={realizations: 1e3}"], ["mc.realizations = '1e3'", "(write 1000"]),
    (["mc={frames: ten}"], ["mc.frames = 'ten'", "must be an integer"]),
    (["experiments={fig1: {sweep: {Nt: [8, x]}}}"], ["fig1.sweep.Nt[1] = 'x'", "integer"]),
]


@pytest.mark.parametrize(("text", "fragments"), BAD_FILES, ids=[t for t, _ in BAD_FILES])
def test_bad_configfile_is_rejected_naming_key_value_and_allowed(
    defaults: dict[str, Any], text: str, fragments: list[str]
) -> None:
    msg = rejection(merged(defaults, files=(text,)))
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)


@pytest.mark.parametrize(("entries", "fragments"), BAD_CLI, ids=[" ".join(e) for e, _ in BAD_CLI])
def test_bad_config_override_is_rejected_naming_key_value_and_allowed(
    defaults: dict[str, Any], entries: list[str], fragments: list[str]
) -> None:
    msg = rejection(merged(defaults, cli=tuple(entries)))
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("mc", "mc: required key is missing"),
        ("experiments", "experiments: required key is missing"),
        ("mc.realizations", "mc.realizations: required key is missing"),
    ],
)
def test_missing_required_key_is_named(defaults: dict[str, Any], path: str, fragment: str) -> None:
    cfg = copy.deepcopy(defaults)
    *parents, last = path.split(".")
    node = cfg
    for key in parents:
        node = node[key]
    del node[last]
    assert fragment in rejection(cfg)


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("experiments", "experiments = {}: must not be empty"),
        ("experiments.fig1.sweep", "experiments.fig1.sweep = {}: must not be empty"),
    ],
)
def test_empty_mapping_is_rejected(defaults: dict[str, Any], path: str, fragment: str) -> None:
    # (a --configfile cannot empty a mapping: Snakemake merges it key by key)
    assert fragment in rejection(_with(defaults, path, {}))


def test_not_a_mapping_is_rejected() -> None:
    assert "must be a mapping" in rejection(["drops", 3])


def test_every_problem_is_listed(defaults: dict[str, Any]) -> None:
    msg = rejection(merged(defaults, cli=("drops=0", "schemes=[nope]", "system={K: 0}")))
    assert "drops = 0" in msg
    assert "schemes[0] = 'nope'" in msg
    assert "system.K = 0" in msg


# --------------------------------------------------------------------------- merging
def test_nested_override_changes_only_the_keys_it_names(defaults: dict[str, Any]) -> None:
    tiny = merged(defaults, files=(TINY.read_text(encoding="utf-8"),))
    before = load_config(tiny)
    after = load_config(
        merged(
            tiny,
            cli=(
                "mc={realizations: 50}",
                "system={crb0: 1e-3, K: 2}",
                "experiments={fig1: {sweep: {snr_com_db: [0, 10]}}}",
                "drops=12",
                "claims=false",
            ),
        )
    )
    assert after["mc"] == {**before["mc"], "realizations": 50}
    assert before["mc"]["frames"] == 4  # the tiny config's, not config.yaml's or a default
    assert after["system"] == {**before["system"], "crb0": 1e-3, "K": 2}
    assert after["experiments"]["fig1"]["sweep"] == {"Nt": [8], "snr_com_db": [0, 10]}
    assert {k: v for k, v in after["experiments"].items() if k != "fig1"} == {
        k: v for k, v in before["experiments"].items() if k != "fig1"
    }
    assert (after["drops"], after["claims"]) == (12, False)
    rest = {k: v for k, v in after.items() if k not in ("mc", "system", "experiments")}
    assert rest == {
        **{k: v for k, v in before.items() if k not in ("mc", "system", "experiments")},
        "drops": 12,
        "claims": False,
    }


def test_lists_are_replaced_not_extended(defaults: dict[str, Any]) -> None:
    out = load_config(merged(defaults, cli=("schemes=[sca,optimal]",)))
    assert out["schemes"] == ["sca", "optimal"]


def test_missing_optional_keys_take_defaults_key_by_key(defaults: dict[str, Any]) -> None:
    cfg = copy.deepcopy(defaults)
    cfg["allocation"] = {"sca_group": 25}
    cfg["mc"] = {"realizations": "40"}
    del cfg["claims"]
    out = load_config(cfg)
    full = config_schema()
    schema = full["properties"]
    assert set(out["allocation"]) == set(schema["allocation"]["properties"])
    assert out["allocation"]["sca_group"] == 25
    assert set(out["mc"]) == set(full["$defs"]["MonteCarlo"]["properties"])
    assert out["mc"]["realizations"] == 40
    assert out["claims"] is True


def test_experiment_can_be_switched_off_from_the_command_line(defaults: dict[str, Any]) -> None:
    out = load_config(merged(defaults, cli=("experiments={fig3: {enabled: false}}",)))
    plans = plan_experiments(out)
    assert plans["fig3"].enabled is False
    assert all(p.enabled for name, p in plans.items() if name != "fig3")


# --------------------------------------------------------------------------- planning
def test_default_config_is_planned(defaults: dict[str, Any]) -> None:
    plans = plan_experiments(load_config(defaults))
    assert set(plans) == set(defaults["experiments"])
    assert plans["fig1"].dims == ("Nt", "snr_com_db")
    assert plans["fig1"].tied == {"Nr": "Nt"}
    assert len(plans["fig1"].points) == 2 * 9
    assert all(p.Nr == p.Nt for _, p in plans["fig1"].points)
    fig3 = plans["fig3"]
    assert all(p.Nt == p.Nr == v["N"] // 2 for v, p in fig3.points)
    assert all(p.snr_com_db == 20.0 for _, p in fig3.points)
    # fig1 and fig2 share every point; fig3's N = 30 and 70 are fig1's Nt = 15, 35 at 20 dB
    fig1 = set(plans["fig1"].unique_points)
    assert fig1 == set(plans["fig2"].unique_points)
    assert len(fig1 & set(fig3.unique_points)) == 2
    assert plans["crb_mc"].schemes == ("equal_full",)
    assert plans["crb_mc"].kind == "mle"


def test_experiment_schemes_restricted_to_top_level(defaults: dict[str, Any]) -> None:
    # the channel experiments run on the coefficient route, where optimal and equal cannot
    # run: with only those two top-level schemes they have none and are refused
    defaults = {
        **defaults,
        "experiments": {
            k: v for k, v in defaults["experiments"].items() if not k.startswith("channels_")
        },
    }
    plans = plan_experiments(load_config(merged(defaults, cli=("schemes=[optimal,equal]",))))
    assert plans["fig1"].schemes == ("optimal", "equal")
    # an MLE experiment keeps its own scheme (whose echo it simulates)
    assert plans["crb_mc"].schemes == ("equal_full",)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (20, "20"),
        (20.0, "20"),
        (-10, "-10"),
        (-0.0, "0"),
        (2.5, "2.5"),
        (1e-3, "0.001"),
        (1e-7, "1e-07"),
        (10**-6.75, repr(10**-6.75)),
    ],
)
def test_canonical_number_text(value: float, text: str) -> None:
    assert fmt_number(value) == text
    assert float(fmt_number(value)) == float(value)


def test_point_key_is_canonical() -> None:
    a = Point(15, 15, 20, 5, 1e-3)
    b = Point(15, 15, 20.0, 5.0, 0.001)
    assert a.key == b.key == "Nt15_Nr15_com20_sen5_crb0.001"
    assert Point(35, 35, -10.0, 5.0, 1e-3).key == "Nt35_Nr35_com-10_sen5_crb0.001"


def test_text_and_number_give_the_same_point(defaults: dict[str, Any]) -> None:
    as_text = merged(defaults, cli=("experiments={pareto: {sweep: {crb0: [1e-4, 1.0e-5]}}}",))
    as_number = _with(defaults, "experiments.pareto.sweep.crb0", [1e-4, 1e-5])
    keys = [
        [p.key for p in plan_experiments(load_config(c))["pareto"].unique_points]
        for c in (as_text, as_number)
    ]
    assert keys[0] == keys[1]
    assert len(keys[0]) == 2 * 2


def test_drop_blocks_cover_drops_once() -> None:
    blocks = drop_blocks(1000, 300)
    assert blocks == [(0, 300), (300, 600), (600, 900), (900, 1000)]
    assert drop_blocks(5, 10) == [(0, 5)]
    assert block_key(0, 300) == "d0-300"
    with pytest.raises(ValueError, match="must be >= 1"):
        drop_blocks(0, 1)
