"""Planar arrays in the config: ``tx_array`` / ``rx_array`` specs, the direction, the CRB
form; today's keys keep working; bad values rejected by ``load_config`` naming key and value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from jcas.config import load_config
from jcas.model.params import ConfigError, SystemParams
from jcas.parts.registry import design

ROOT = Path(__file__).resolve().parents[2]


def _config(**system: Any) -> dict[str, Any]:
    """config.yaml with one small experiment (its default grids sweep Nt freely)."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    for spec, key in (("tx_array", "Nt"), ("rx_array", "Nr")):
        if spec in system and key not in system:
            cfg["system"].pop(key, None)
    cfg["system"].update(system)
    cfg["experiments"] = {"toy": {"sweep": {"snr_com_db": [0, 10]}}}
    return cfg


def test_today_config_is_unchanged() -> None:
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    system = load_config(cfg)["system"]
    assert system == cfg["system"]
    params = SystemParams.from_dict(system)
    assert (params.array, params.tx_rows, params.rx_rows, params.elevation_deg) == ("ula", 1, 1, 0)
    assert params.crb_form == "azimuth"


def test_array_specs_and_direction_are_resolved() -> None:
    cfg = _config(
        tx_array={"kind": "upa", "rows": 4, "cols": 4},
        rx_array={"kind": "ula", "N": 8},
        azimuth_deg=20.0,
        elevation_deg=-10.0,
        crb_form="per_angle",
    )
    for key in ("Nt", "Nr", "theta_deg"):
        cfg["system"].pop(key, None)
    system = load_config(cfg)["system"]
    assert {k: system[k] for k in ("Nt", "tx_rows", "Nr", "rx_rows", "array", "theta_deg")} == {
        "Nt": 16,
        "tx_rows": 4,
        "Nr": 8,
        "rx_rows": 1,
        "array": "upa",
        "theta_deg": 20.0,
    }
    parts = design(SystemParams.from_dict(system))
    assert (parts.tx.rows, parts.tx.cols, parts.rx.rows, parts.rx.cols) == (4, 4, 1, 8)


def test_ula_spec_keeps_the_ula() -> None:
    cfg = _config(tx_array={"kind": "ula", "N": 9}, rx_array={"kind": "ula", "N": 9})
    cfg["system"].pop("Nt", None)
    cfg["system"].pop("Nr", None)
    system = load_config(cfg)["system"]
    assert (system["Nt"], system["Nr"], system.get("array", "ula")) == (9, 9, "ula")


BAD = [
    ({"tx_array": {"kind": "upa", "rows": 0, "cols": 4}}, "system.tx_array.rows = 0"),
    ({"rx_array": {"kind": "upa", "rows": 2, "cols": -3}}, "system.rx_array.cols = -3"),
    ({"tx_array": {"kind": "ula", "N": 0}}, "system.tx_array.N = 0"),
    ({"tx_array": {"kind": "upa", "rows": 2}}, "system.tx_array.cols: required"),
    ({"tx_array": {"kind": "hex", "N": 4}}, "system.tx_array.kind = 'hex'"),
    ({"elevation_deg": 90}, "system.elevation_deg = 90"),
    ({"elevation_deg": -95.0}, "system.elevation_deg = -95.0"),
    ({"azimuth_deg": 90}, "system.azimuth_deg = 90"),
    ({"theta_deg": -90}, "system.theta_deg = -90"),
    ({"crb_form": "per_angle"}, "system.crb_form = 'per_angle': names the elevation"),
    (
        {
            "crb_form": "sum",
            "tx_array": {"kind": "ula", "N": 8},
            "rx_array": {"kind": "ula", "N": 8},
        },
        "system.crb_form = 'sum': names the elevation",
    ),
    (
        {"crb_form": "sum", "array": "upa", "tx_rows": 15, "rx_rows": 15},
        "system.crb_form = 'sum': names the azimuth",
    ),
    ({"tx_rows": 3}, "system.tx_rows = 3: must be 1"),
    ({"array": "upa", "tx_rows": 4}, "system.tx_rows = 4: must be a divisor of Nt = 15"),
    ({"tx_array": {"kind": "upa", "rows": 2, "cols": 4}, "Nt": 15}, "system.Nt = 15: conflicts"),
    ({"azimuth_deg": 10.0, "theta_deg": 0.0}, "system.azimuth_deg = 10.0: conflicts"),
    (
        {"array": "ula", "tx_array": {"kind": "upa", "rows": 3, "cols": 5}},
        "system.array = 'ula': conflicts",
    ),
    (
        {"theta_deg": 60.0, "elevation_deg": 50.0},
        "system.elevation_deg = 50.0: must be sin^2(theta_deg) + sin^2(elevation_deg) < 1",
    ),
    ({"crb0_elevation": 0}, "system.crb0_elevation = 0"),
]


@pytest.mark.parametrize(("system", "message"), BAD)
def test_bad_planar_values_are_rejected_naming_the_key(
    system: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_config(**system))
    assert message in str(err.value)


def test_grid_point_whose_elements_do_not_fill_the_rows_is_rejected() -> None:
    cfg = _config(tx_array={"kind": "upa", "rows": 4, "cols": 4})
    cfg["experiments"] = {"toy": {"sweep": {"Nt": [16, 18]}}}
    with pytest.raises(
        ConfigError,
        match=r"experiments.toy at grid point \{'Nt': 18\}: "
        r"system.tx_rows = 4: must be a divisor of Nt = 18",
    ):
        load_config(cfg)


def test_two_angle_forms_need_the_mrt_covariance() -> None:
    """A precoder without the MRT covariance (37) is refused with crb_form per_angle / sum."""
    from jcas.parts import registry
    from jcas.parts.precoders.mrt import MRT

    class Other:  # any precoder part that is not MRT
        name = "other"

        def unsupported(self, requirement: str, params: SystemParams) -> None:
            return None

    # closed forms (so the scheme's route is not the reason), not the MRT covariance
    other = registry.Part(
        "precoder", "other", "other", Other, capabilities=(registry.CLOSED_FORMS,)
    )
    with registry.PRECODERS.temporary(other):
        p = SystemParams(precoder="other", array="upa", tx_rows=3, crb_form="sum")
        problems = registry.design_problems("optimal", p)
    assert any("system.crb_form = 'sum': the two-angle CRBs use the MRT" in m for m in problems)
    assert registry.design_problems("optimal", p.replace(precoder="mrt")) == []
    assert isinstance(registry.PRECODERS["phase_mrt"](), MRT)
