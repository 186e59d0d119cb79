"""The parts' and schemes' own keys as grid axes, and the channel as an axis.

An experiment may sweep (or fix) the channel model and any numeric key a part or scheme
registers (``angular_spread_deg`` of local scattering, ``sensing_rate_target`` of the
sensing-centric scheme, ...): the grid point carries the values, its key names them (so
each value is cached apart, and a point without them keeps its key), its system and its
schemes' options take them, and bad values are rejected before any job naming the key path.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from jcas.config import (
    PART_AXES,
    SWEEP_ORDER,
    ConfigError,
    Point,
    axis_type,
    load_config,
    plan_experiments,
)
from jcas.parts.registry import CHANNELS, SCHEMES_REGISTRY

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def base() -> dict[str, Any]:
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["experiments"] = {}
    return cfg


def _with(base: dict[str, Any], **exp: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(base)
    cfg["experiments"]["x"] = {"tie": "Nr=Nt", "fixed": {"Nt": 16}, **exp}
    return cfg


def test_axes_come_from_the_registries() -> None:
    keys = {p.key for c in CHANNELS.values() for p in c.params if p.kind is not str}
    keys |= {p.key for s in SCHEMES_REGISTRY.values() for p in s.params if p.kind is not str}
    keys -= {p.key for s in SCHEMES_REGISTRY.values() for p in s.params if p.kind is bool}
    assert set(PART_AXES) == keys
    assert "channel" in SWEEP_ORDER
    assert set(PART_AXES) <= set(SWEEP_ORDER)
    assert axis_type("channel") is str
    assert axis_type("angular_spread_deg") is float
    assert axis_type("maxmin_max_iterations") is int


def test_a_point_without_them_keeps_its_key() -> None:
    assert Point(15, 15, 20.0, 5.0, 1e-3).key == "Nt15_Nr15_com20_sen5_crb0.001"


def test_point_carries_the_values_round_trip_system_and_options() -> None:
    pt = Point(
        16,
        16,
        20.0,
        5.0,
        1e-3,
        channel="local_scattering",
        extra={"sensing_rate_target": 0.5, "angular_spread_deg": 20},
    )
    assert pt.key == (
        "Nt16_Nr16_com20_sen5_crb0.001_local_scattering_angular_spread_deg20_sensing_rate_target0.5"
    )
    assert Point(**pt.as_dict()) == pt
    params = pt.system({"K": 4})
    assert params.channel == "local_scattering"
    assert params.angular_spread_deg == 20.0
    assert pt.options("sensing_centric", {})["rate_target"] == 0.5
    assert pt.options("sca", {"sca_tolerance": 1e-3})["tol"] == 1e-3


def test_experiment_sweeps_the_channel_and_its_key(base: dict[str, Any]) -> None:
    cfg = load_config(
        _with(
            base,
            sweep={"channel": ["iid", "local_scattering"], "angular_spread_deg": [5, 20]},
            schemes=["sca", "equal_full"],
        )
    )
    plan = plan_experiments(cfg)["x"]
    assert plan.dims == ("channel", "angular_spread_deg")
    keys = [p.key for p in plan.unique_points]
    # the i.i.d. channel has no use for the spread: one point for both values
    assert keys == [
        "Nt16_Nr16_com20_sen5_crb0.001",
        "Nt16_Nr16_com20_sen5_crb0.001_local_scattering_angular_spread_deg5",
        "Nt16_Nr16_com20_sen5_crb0.001_local_scattering_angular_spread_deg20",
    ]
    assert len(plan.points) == 4


@pytest.mark.parametrize(
    ("exp", "message"),
    [
        (
            {"sweep": {"angular_spread_deg": [10, 95]}},
            r"experiments.x.sweep.angular_spread_deg\[1\] = 95: must be <= 90",
        ),
        (
            {"sweep": {"channel": ["iid", "fading"]}},
            r"experiments.x.sweep.channel\[1\] = 'fading': must be one of",
        ),
        (
            {"sweep": {"sensing_rate_target": [-1.0]}, "schemes": ["sensing_centric"]},
            r"experiments.x.sweep.sensing_rate_target\[0\] = -1.0: must be >= 0",
        ),
        (
            {"sweep": {"channel": ["local_scattering"]}, "schemes": ["optimal"]},
            r"scheme 'optimal' runs on closed forms only",
        ),
    ],
)
def test_bad_values_are_rejected_naming_the_key(
    base: dict[str, Any], exp: dict[str, Any], message: str
) -> None:
    cfg = copy.deepcopy(base)
    cfg["schemes"] = list(dict.fromkeys([*cfg["schemes"], "sensing_centric"]))
    cfg["experiments"]["x"] = {"tie": "Nr=Nt", "fixed": {"Nt": 16}, **exp}
    with pytest.raises(ConfigError, match=message):
        load_config(cfg)


def test_a_correlated_channel_with_a_planar_array_is_refused(base: dict[str, Any]) -> None:
    cfg = _with(base, sweep={"channel": ["local_scattering"]}, schemes=["sca"])
    cfg["experiments"]["x"]["fixed"] = {"Nt": 16, "tx_rows": 4}
    with pytest.raises(ConfigError, match=r"system\.channel = 'local_scattering'"):
        load_config(cfg)
