"""jcas.config: load-time validation of the pipeline configuration and the grid plan.

Table-driven: each invalid case must raise one ConfigError whose message names the key
path and the offending value. Fast (no Snakemake); the Snakemake-level check that an
invalid config stops the run before any job is in tests/test_pipeline.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from jcas.config import (
    Point,
    block_key,
    drop_blocks,
    fmt_number,
    load_config,
    plan_experiments,
)
from jcas.params import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    with open(ROOT / "config.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    keys = path.split(".")

    def edit(cfg: dict[str, Any]) -> None:
        node = cfg
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value

    return edit


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    keys = path.split(".")

    def edit(cfg: dict[str, Any]) -> None:
        node = cfg
        for k in keys[:-1]:
            node = node[k]
        del node[keys[-1]]

    return edit


INVALID = [
    # (edit, fragment that must appear in the message)
    (_set("drops", 0), "drops = 0: must be >= 1"),
    (_set("drops", 2.5), "drops = 2.5: must be an integer"),
    (_set("drops", 4.0), "drops = 4.0: must be an integer"),
    (_set("drops", "20"), "drops = '20': must be an integer"),
    (_set("drops", True), "drops = True: must be an integer"),
    (_set("seed", -1), "seed = -1: must be >= 0"),
    (_set("drops_per_job", 0), "drops_per_job = 0"),
    (_set("schemes", []), "schemes = []"),
    (_set("schemes", ["sca", "magic"]), "schemes[1] = 'magic': must be one of"),
    (_set("schemes", ["sca", "sca"]), "values must not repeat"),
    (_set("unknown_key", 1), "unknown_key = 1: unknown key"),
    (_drop("mc"), "mc: required key is missing"),
    (_drop("experiments"), "experiments: required key is missing"),
    (_set("experiments", {}), "experiments = {}: must not be empty"),
    (_set("system.crb0", "1e-3"), "system.crb0 = '1e-3': must be a number"),
    (_set("system.crb0", 0.0), "system.crb0 = 0.0: must be > 0"),
    (_set("system.K", 0), "system.K = 0: must be >= 1"),
    (_set("system.tau_p", 100), "system.tau_c = 100: must be an integer > tau_p = 100"),
    (_set("system.r_min_m", 600.0), "system.r_max_m = 500.0: must be a number > r_min_m"),
    (_set("system.theta_deg", 90.0), "system.theta_deg = 90.0: must be < 90"),
    (_set("system.foo", 1), "system.foo = 1: unknown key"),
    (_set("system.shadowing_db", -1.0), "system.shadowing_db = -1.0: must be >= 0"),
    (_set("mc.realizations", 1), "mc.realizations = 1: must be >= 2"),
    (_set("mc.realisations", 10), "mc.realisations = 10: unknown key"),
    (_set("allocation.equal_full_sensing_fraction", 1.5), "must be <= 1"),
    (_set("experiments.fig1.sweep.snr_com_db", []), "experiments.fig1.sweep.snr_com_db = []"),
    (_set("experiments.fig1.sweep.snr_com_db", [0, 0]), "values must not repeat"),
    (_set("experiments.fig1.sweep", {}), "experiments.fig1.sweep = {}: must not be empty"),
    (_set("experiments.fig1.sweep.Nt", [15, 0]), "experiments.fig1.sweep.Nt[1] = 0"),
    (_set("experiments.fig1.sweep.Nr", [15]), "Nr is tied to Nt"),
    (_set("experiments.fig1.sweep.N", [30]), "N is only allowed with tie: Nt=Nr=N/2"),
    (_set("experiments.fig1.tie", "Nr=2Nt"), "experiments.fig1.tie = 'Nr=2Nt': must be one of"),
    (_set("experiments.fig1.swep", {}), "experiments.fig1.swep = {}: unknown key"),
    (_set("experiments.fig1.plot", "fig9"), "experiments.fig1.plot = 'fig9'"),
    (_set("experiments.fig1.monte_carlo", "yes"), "must be true or false"),
    (_set("experiments.fig3.sweep.N", [20, 31]), "experiments.fig3.sweep.N = [20, 31]"),
    (_set("experiments.fig3.sweep.Nt", [10]), "Nt is tied to N"),
    (_set("experiments.pareto.fixed.crb0", 1e-3), "crb0 is also swept"),
    (_set("experiments.pareto.sweep.crb0", [1e-4, -1e-3]), "sweep.crb0[1] = -0.001"),
    (_set("experiments.Fig4", {"sweep": {"Nt": [4]}}), "'Fig4' must match"),
    (_set("experiments.fig1.sweep.snr_com_db", ["20"]), "snr_com_db[0] = '20'"),
    (_set("claims", "yes"), "claims = 'yes': must be true or false"),
    (_set("drops_per_job", 120), "drops_per_job = 120: must be a multiple of allocation.sca_group"),
    (_set("allocation.sca_group", 0), "allocation.sca_group = 0: must be >= 1"),
]


@pytest.mark.parametrize(("edit", "fragment"), INVALID)
def test_invalid_config_names_key_and_value(
    base: dict[str, Any], edit: Callable[[dict[str, Any]], None], fragment: str
) -> None:
    cfg = copy.deepcopy(base)
    edit(cfg)
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert fragment in str(info.value), str(info.value)


def test_every_problem_is_listed(base: dict[str, Any]) -> None:
    cfg = copy.deepcopy(base)
    cfg["drops"] = 0
    cfg["schemes"] = ["nope"]
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    msg = str(info.value)
    assert "drops = 0" in msg
    assert "schemes[0] = 'nope'" in msg


def test_default_config_is_valid_and_planned(base: dict[str, Any]) -> None:
    cfg = load_config(base)
    plans = plan_experiments(cfg)
    assert set(plans) == {"fig1", "fig2", "fig3", "pareto", "crb_mc"}
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


def test_overrides_merge_like_snakemake(base: dict[str, Any]) -> None:
    """`--config drops=20` style overrides: only the given key changes."""
    cfg = copy.deepcopy(base)
    cfg["drops"] = 20
    out = load_config(cfg)
    assert out["drops"] == 20
    assert out["mc"]["mle_drops"] == base["mc"]["mle_drops"]


def test_experiment_schemes_restricted_to_top_level(base: dict[str, Any]) -> None:
    cfg = copy.deepcopy(base)
    cfg["schemes"] = ["optimal", "equal"]
    plans = plan_experiments(load_config(cfg))
    assert plans["fig1"].schemes == ("optimal", "equal")
    # an MLE experiment keeps its own scheme (whose echo it simulates)
    assert plans["crb_mc"].schemes == ("equal_full",)
    cfg["schemes"] = ["sca"]
    cfg["experiments"]["fig1"]["schemes"] = ["optimal"]
    with pytest.raises(ConfigError, match=r"experiments\.fig1\.schemes"):
        load_config(cfg)


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


def test_drop_blocks_cover_drops_once() -> None:
    blocks = drop_blocks(1000, 300)
    assert blocks == [(0, 300), (300, 600), (600, 900), (900, 1000)]
    assert drop_blocks(5, 10) == [(0, 5)]
    assert block_key(0, 300) == "d0-300"
    with pytest.raises(ValueError, match="must be >= 1"):
        drop_blocks(0, 1)
