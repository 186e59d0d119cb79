"""SystemParams: validation (key and value named), units, round trip."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jcas.model.params import ConfigError, SystemParams, db_to_linear, dbm_to_watt

# (changes, key named in the message). Each case is invalid for exactly the key given.
INVALID = [
    ({"K": 0}, "K"),
    ({"K": -3}, "K"),
    ({"Nt": 0}, "Nt"),
    ({"Nr": 0}, "Nr"),
    ({"L": 0}, "L"),
    ({"tau_p": 0}, "tau_p"),
    ({"tau_p": -1}, "tau_p"),
    ({"tau_c": 10, "tau_p": 10}, "tau_c"),  # tau_c == tau_p
    ({"tau_c": 5, "tau_p": 10}, "tau_c"),  # tau_c < tau_p
    ({"theta_deg": 90.0}, "theta_deg"),
    ({"theta_deg": -90.0}, "theta_deg"),
    ({"theta_deg": 135.0}, "theta_deg"),
    ({"crb0": 0.0}, "crb0"),
    ({"crb0": -1e-3}, "crb0"),
    ({"r_min_m": 0.0}, "r_min_m"),
    ({"r_min_m": -5.0}, "r_min_m"),
    ({"r_min_m": 500.0, "r_max_m": 500.0}, "r_max_m"),  # r_min == r_max
    ({"r_min_m": 600.0, "r_max_m": 500.0}, "r_max_m"),  # r_min > r_max
    ({"pathloss_exponent": 0.0}, "pathloss_exponent"),
    ({"shadowing_db": -1.0}, "shadowing_db"),
    # types: strings (YAML reads 1e-3 as text), bools, floats for ints, non-finite
    ({"crb0": "1e-3"}, "crb0"),
    ({"pt_dbm": "30"}, "pt_dbm"),
    ({"K": "4"}, "K"),
    ({"K": True}, "K"),
    ({"shadowing_db": False}, "shadowing_db"),
    ({"Nt": np.bool_(True)}, "Nt"),
    ({"K": 4.0}, "K"),
    ({"Nt": 15.5}, "Nt"),
    ({"tau_p": np.float64(10.0)}, "tau_p"),
    ({"snr_com_db": math.nan}, "snr_com_db"),
    ({"snr_sen_db": math.inf}, "snr_sen_db"),
    ({"pt_dbm": -math.inf}, "pt_dbm"),
    ({"theta_deg": None}, "theta_deg"),
    ({"K": [4]}, "K"),
    # finite dB values whose linear power is not a finite positive float
    ({"pt_dbm": 1e4}, "pt_dbm"),
    ({"pp_dbm": -1e4}, "pp_dbm"),
    ({"snr_com_db": 1e4}, "snr_com_db"),
    ({"snr_sen_db": 1e4}, "snr_sen_db"),
    # part names: non-empty strings (registered names are checked by jcas.parts.registry)
    ({"precoder": 3}, "precoder"),
    ({"array": ""}, "array"),
    ({"precoder": None}, "precoder"),
]


def _case_id(case: tuple[dict, str]) -> str:
    return ",".join(f"{k}={v!r}" for k, v in case[0].items())


@pytest.mark.parametrize(("changes", "key"), INVALID, ids=[_case_id(c) for c in INVALID])
def test_invalid_value_names_key_and_value(changes: dict, key: str) -> None:
    """Direct construction and from_dict both reject, naming the key and the value."""
    with pytest.raises(ConfigError) as err:
        SystemParams(**changes)
    msg = str(err.value)
    assert msg.startswith(f"{key} = {changes[key]!r}:"), msg
    assert "must" in msg
    with pytest.raises(ConfigError) as err2:
        SystemParams.from_dict(changes, prefix="system")
    assert str(err2.value).startswith(f"system.{key} = {changes[key]!r}:")


def test_string_number_hint_mentions_yaml() -> None:
    with pytest.raises(ConfigError, match=r"YAML reads e\.g\. 1e-3 as text"):
        SystemParams(crb0="1e-3")


def test_float_for_int_suggests_integer() -> None:
    with pytest.raises(ConfigError, match=r"must be an integer \(write 4\)"):
        SystemParams(K=4.0)


def test_unknown_keys_named() -> None:
    with pytest.raises(ConfigError) as err:
        SystemParams.from_dict({"K": 4, "n_users": 3, "snr": 5})
    msg = str(err.value)
    assert msg.startswith("system.n_users = 3: unknown key"), msg
    assert "snr" in msg  # every unknown key is reported
    assert "allowed keys" in msg
    assert "'K'" in msg


def test_from_dict_rejects_non_mapping() -> None:
    with pytest.raises(ConfigError, match=r"^system = \[1, 2\]: must be a mapping"):
        SystemParams.from_dict([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"pt_dbm": -200.0},  # any finite dBm is a valid power
        {"pp_dbm": 0.0},
        {"pt_dbm": 100.0, "pp_dbm": -50.0},
        {"theta_deg": 89.999},
        {"theta_deg": -89.999},
        {"K": 1, "tau_p": 1, "tau_c": 2},
        {"shadowing_db": 0.0},
        {"snr_com_db": -30.0},
        {"snr_com_db": 60.0},
        {"Nt": 512, "Nr": 1},
        {"K": np.int64(3), "Nt": np.int32(64)},  # NumPy integers, e.g. from a swept grid
        {"crb0": np.float32(1e-3), "r_max_m": 700},  # NumPy float; int for a float key
    ],
)
def test_valid_edge_values_accepted(changes: dict) -> None:
    p = SystemParams(**changes)
    for key, value in changes.items():
        stored = getattr(p, key)
        assert type(stored) in (int, float)  # normalised to built-in types
        assert stored == pytest.approx(float(value), rel=1e-7)


def test_dbm_and_db_conversions_against_reference_points() -> None:
    """Reference values written by hand, not produced by the code under test."""
    assert dbm_to_watt(30.0) == pytest.approx(1.0, rel=1e-15)
    assert dbm_to_watt(10.0) == pytest.approx(0.01, rel=1e-15)
    assert dbm_to_watt(0.0) == pytest.approx(1e-3, rel=1e-15)
    assert dbm_to_watt(-30.0) == pytest.approx(1e-6, rel=1e-15)
    assert dbm_to_watt(33.0) == pytest.approx(1.9952623149688795, rel=1e-14)  # 10^0.3
    assert db_to_linear(3.0) == pytest.approx(1.9952623149688795, rel=1e-14)
    assert db_to_linear(-10.0) == pytest.approx(0.1, rel=1e-15)
    assert dbm_to_watt(1e5) == math.inf  # no OverflowError
    assert dbm_to_watt(-1e5) == 0.0


@settings(deadline=None)
@given(x=st.floats(min_value=-300.0, max_value=300.0, allow_nan=False))
def test_dbm_to_watt_matches_log_definition(x: float) -> None:
    """10 log10(P / 1 mW) recovers the dBm value."""
    p_w = dbm_to_watt(x)
    assert p_w > 0
    assert 10.0 * math.log10(p_w / 1e-3) == pytest.approx(x, abs=1e-9)


def test_linear_quantities_of_paper_defaults() -> None:
    """Paper Sec. V: Pt = 30 dBm = 1 W, p_p = 10 dBm = 10 mW, tau_bar = 0.9."""
    p = SystemParams(snr_com_db=20.0, snr_sen_db=5.0, theta_deg=30.0)
    assert p.pt_w == pytest.approx(1.0)
    assert p.pp_w == pytest.approx(0.01)
    assert p.sigma_u2_w == pytest.approx(0.01)  # 1 W / 100
    assert p.sigma_r_bar2 == pytest.approx(1.0 / 10**0.5)
    assert p.theta_rad == pytest.approx(math.pi / 6)
    assert p.tau_bar == pytest.approx(0.9)


@settings(deadline=None)
@given(
    pt=st.floats(-100, 100),
    snr_com=st.floats(-60, 80),
    snr_sen=st.floats(-60, 80),
)
def test_snr_definitions(pt: float, snr_com: float, snr_sen: float) -> None:
    """SNR_com = Pt / sigma_u^2 and SNR_sen = Pt / sigma_r_bar^2 in dB."""
    p = SystemParams(pt_dbm=pt, snr_com_db=snr_com, snr_sen_db=snr_sen)
    assert 10 * math.log10(p.pt_w / p.sigma_u2_w) == pytest.approx(snr_com, abs=1e-9)
    assert 10 * math.log10(p.pt_w / p.sigma_r_bar2) == pytest.approx(snr_sen, abs=1e-9)


def test_round_trip_immutable_and_replace_revalidates() -> None:
    p = SystemParams(K=6, Nt=35, theta_deg=-20.0)
    d = p.to_dict()
    assert all(type(v) in (int, float, str) for v in d.values())
    assert SystemParams.from_dict(d) == p
    assert set(d) == {f.name for f in dataclasses.fields(SystemParams)}
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.K = 3  # type: ignore[misc]
    assert p.replace(K=2).K == 2
    with pytest.raises(ConfigError, match=re.escape("tau_c = 10:")):
        p.replace(tau_c=10)
