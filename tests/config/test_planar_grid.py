"""Array shape and target direction as grid axes, and the three planar-array experiments.

- Config: ``tx_rows``, ``rx_rows``, ``azimuth_deg``, ``elevation_deg`` as sweep / fixed keys;
  every bad value rejected by :func:`jcas.config.load_config` naming its key path; the
  points of the paper's (ULA, broadside) experiments keep their keys and parameters.
- Pipeline (``tests/data/config_planar.yaml``, a workflow copy of its own): the datasets
  ``ula_vs_upa``, ``crb_map``, ``mle_planar`` and their figures, with their dims, coords and
  units; the heat map's CRBs against the Slepian-Bangs Fisher information computed here
  from the steering vectors (and against :func:`jcas.model.fisher.crb_angles_general`); the 2-D
  MLE at high SNR_sen against the CRB.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import yaml
from conftest import PLANAR_SYSTEM, ROOT, drops, finished_run

from jcas.config import POINT_KEYS, Point, load_config, plan_experiments
from jcas.io.results import read_netcdf
from jcas.model.params import ConfigError, SystemParams

PLANAR = ROOT / "tests" / "data" / "config_planar.yaml"
PAPER_EXPERIMENTS = ("fig1", "fig2", "fig3", "pareto", "crb_mc", "precoders")


@pytest.fixture(scope="module")
def defaults() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def _with_experiment(base: dict[str, Any], exp: dict[str, Any], **system: Any) -> dict[str, Any]:
    """``base`` with one experiment ``x`` (the others removed) and ``system`` changes."""
    cfg = copy.deepcopy(base)
    cfg["experiments"] = {"x": exp}
    cfg["system"].update(system)
    return cfg


def _rejection(cfg: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    return str(err.value)


# --------------------------------------------------------------------------- config
BAD: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    (
        "zero rows",
        {"tie": "Nr=Nt", "sweep": {"tx_rows": [1, 0]}, "fixed": {"Nt": 16}},
        {},
        ["experiments.x.sweep.tx_rows[1] = 0", "must be >= 1"],
    ),
    (
        "negative rows",
        {"sweep": {"snr_com_db": [0]}, "fixed": {"rx_rows": -2}},
        {},
        ["experiments.x.fixed.rx_rows = -2", "must be >= 1"],
    ),
    (
        "rows not dividing N",
        {"tie": "Nr=Nt", "sweep": {"tx_rows": [1, 4, 5]}, "fixed": {"Nt": 16}},
        {},
        ["experiments.x.sweep.tx_rows[2] = 5", "must divide Nt = 16"],
    ),
    (
        "N not a multiple of the rows",
        {"tie": "Nr=Nt", "sweep": {"Nt": [16, 18]}, "fixed": {"tx_rows": 4}},
        {},
        ["experiments.x.sweep.Nt[1] = 18", "must be a multiple of tx_rows = 4"],
    ),
    (
        "elevation at 95 deg",
        {"sweep": {"elevation_deg": [0, 10, 95]}, "fixed": {"tx_rows": 3}},
        {},
        ["experiments.x.sweep.elevation_deg[2] = 95", "must be < 90"],
    ),
    (
        "azimuth at -90 deg",
        {"sweep": {"azimuth_deg": [-90, 0]}},
        {},
        ["experiments.x.sweep.azimuth_deg[0] = -90", "must be > -90"],
    ),
    (
        "fixed elevation at 90 deg",
        {"sweep": {"snr_com_db": [0]}, "fixed": {"elevation_deg": 90}},
        {},
        ["experiments.x.fixed.elevation_deg = 90", "must be < 90"],
    ),
    (
        "direction behind the array",
        {"sweep": {"azimuth_deg": [0, 60], "elevation_deg": [0, 60]}, "fixed": {"tx_rows": 3}},
        {},
        ["experiments.x.sweep.elevation_deg[1] = 60", "in front of the array"],
    ),
    (
        "elevation CRB form with a ULA",
        {"tie": "Nr=Nt", "sweep": {"Nt": [16]}, "fixed": {"tx_rows": 1}},
        {"array": "upa", "tx_rows": 4, "rx_rows": 4, "Nt": 16, "Nr": 16, "crb_form": "per_angle"},
        ["experiments.x.fixed.tx_rows = 1", "crb_form = 'per_angle' names the elevation"],
    ),
    (
        "2-D MLE with a ULA",
        {"kind": "mle_planar", "sweep": {"snr_sen_db": [0]}, "schemes": ["equal_full"]},
        {},
        ["experiments.x.kind = 'mle_planar'", "needs planar arrays"],
    ),
    (
        "rx_rows with a tie and tx_rows",
        {"tie": "Nr=Nt", "sweep": {"tx_rows": [4]}, "fixed": {"Nt": 16, "rx_rows": 4}},
        {},
        ["experiments.x.fixed.rx_rows = 4", "rx_rows follows tx_rows"],
    ),
]


@pytest.mark.parametrize(
    ("exp", "system", "fragments"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_planar_values_are_rejected_naming_the_key_path(
    defaults: dict[str, Any], exp: dict[str, Any], system: dict[str, Any], fragments: list[str]
) -> None:
    message = _rejection(_with_experiment(defaults, exp, **system))
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_paper_points_keep_their_keys_and_params(defaults: dict[str, Any]) -> None:
    """Every point of the paper's experiments is a five-key ULA point at broadside: its key
    is the five-part name and its parameters the five keys (the caches' paths)."""
    plans = plan_experiments(load_config(defaults))
    for name in PAPER_EXPERIMENTS:
        for pt in plans[name].unique_points:
            assert pt.as_dict().keys() == set(POINT_KEYS), name
            expected = (
                f"Nt{pt.Nt}_Nr{pt.Nr}_com{pt.snr_com_db:g}_sen{pt.snr_sen_db:g}_crb{pt.crb0:g}"
            )
            assert pt.key == expected, name
    assert Point(15, 15, 20.0, 5.0, 1e-3).key == "Nt15_Nr15_com20_sen5_crb0.001"


def test_planar_points_name_shape_and_direction(defaults: dict[str, Any]) -> None:
    plans = plan_experiments(load_config(defaults))
    keys = {p.key for p in plans["ula_vs_upa"].unique_points}
    assert "Nt16_Nr16_com20_sen5_crb5e-05_tx1x16_rx1x16_az20_el10" in keys
    assert "Nt64_Nr64_com20_sen5_crb5e-05_tx4x16_rx4x16_az20_el10" in keys
    crb_map = plans["crb_map"]
    assert crb_map.dims == ("azimuth_deg", "elevation_deg")
    assert crb_map.tied == {"Nr": "Nt", "rx_rows": "tx_rows"}
    broadside = Point(64, 64, 20.0, 5.0, 1e-3, "upa", 8, 8)
    assert broadside in crb_map.unique_points
    assert broadside.key == "Nt64_Nr64_com20_sen5_crb0.001_tx8x8_rx8x8"


def test_a_point_is_its_own_system(defaults: dict[str, Any]) -> None:
    """The planar fields travel with the point: a point fixed at broadside over a system
    block pointing elsewhere gets broadside (``point_system``), and a five-key point
    applies to any system block (``Point.system``)."""
    from jcas.config import point_system

    cfg = load_config(
        _with_experiment(
            defaults, {"sweep": {"azimuth_deg": [0, 30]}, "fixed": {"Nt": 8}}, theta_deg=20.0
        )
    )
    points = plan_experiments(cfg)["x"].unique_points
    assert [p.azimuth_deg for p in points] == [0.0, 30.0]
    assert point_system(cfg["system"], points[0]).theta_deg == 0.0
    assert point_system(cfg["system"], points[1]).theta_deg == 30.0
    assert Point(8, 8, 20.0, 5.0, 1e-3).system({"theta_deg": 20.0}).theta_deg == 20.0


# --------------------------------------------------------------------------- pipeline
@pytest.fixture(scope="module")
def planar_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workflow copy on which ``tests/data/config_planar.yaml`` has completed."""
    return finished_run(tmp_path_factory.mktemp("planar_run"), PLANAR)


def _open(run: Path, name: str) -> xr.Dataset:
    return read_netcdf(run / "results" / f"{name}.nc")


@pytest.mark.pipeline
@pytest.mark.slow
def test_planar_run_writes_the_three_datasets_and_figures(planar_run: Path) -> None:
    for name in ("ula_vs_upa", "crb_map", "mle_planar"):
        for ext in ("pdf", "png"):
            assert (planar_run / "results" / "figures" / f"{name}.{ext}").stat().st_size > 0
    shapes = _open(planar_run, "ula_vs_upa")
    assert shapes["sum_rate"].dims == ("Nt", "tx_rows", "scheme", "drop")
    assert shapes["tx_rows"].values.tolist() == [1, 4]
    assert shapes["rx_rows"].dims == ("tx_rows",)
    assert shapes["rx_rows"].values.tolist() == [1, 4]
    assert shapes["Nr"].values.tolist() == [16, 32]
    assert float(shapes["azimuth_deg"]) == 20.0
    assert float(shapes["elevation_deg"]) == 10.0
    assert shapes["azimuth_deg"].attrs["units"] == "degree"
    for angle in ("azimuth", "elevation"):
        assert shapes[f"crb_{angle}"].attrs["units"] == "rad2"
        # monte_carlo: true at planar points: both angles' finite-L CRBs as well
        assert shapes[f"crb_mc_{angle}"].attrs["units"] == "rad2"
        assert shapes[f"crb_mc_{angle}"].dims == shapes["crb_mc"].dims
    # the azimuth's CRB with the elevation unknown is never below the one with it known
    both = np.isfinite(shapes["crb_mc_azimuth"].values)
    assert both.any()
    assert np.all(
        shapes["crb_mc_azimuth"].values[both] >= shapes["crb_mc"].values[both] * (1 - 1e-12)
    )
    # the ULA (one row) has no elevation information; its azimuth CRB is (16)
    ula = shapes.sel(tx_rows=1)
    assert np.all(np.isinf(ula["crb_elevation"].values[np.isfinite(ula["crb"].values)]))
    np.testing.assert_allclose(ula["crb_azimuth"].values, ula["crb"].values, rtol=1e-10)
    # the MRT rate does not depend on the array shape: equal_full (a fixed split) gives the
    # same rate on both arrays; optimal pays for the UPA's smaller azimuth aperture
    a, b = (shapes.sel(scheme="equal_full", tx_rows=r)["sum_rate"].values for r in (1, 4))
    np.testing.assert_allclose(a, b, rtol=1e-12)
    opt = shapes.sel(scheme="optimal")["sum_rate"]
    both = np.isfinite(opt.sel(tx_rows=4).values)
    assert np.all(opt.sel(tx_rows=4).values[both] <= opt.sel(tx_rows=1).values[both] * (1 + 1e-12))
    heat = _open(planar_run, "crb_map")
    assert heat["crb_azimuth"].dims == ("azimuth_deg", "elevation_deg", "scheme", "drop")
    assert heat["azimuth_deg"].values.tolist() == [-30.0, 0.0, 30.0]
    assert heat["elevation_deg"].values.tolist() == [0.0, 20.0]
    assert heat["elevation_deg"].attrs["units"] == "degree"
    assert int(heat["tx_rows"]) == int(heat["rx_rows"]) == 4
    mle = _open(planar_run, "mle_planar")
    assert mle["mle_mse_azimuth"].dims == ("snr_sen_db", "scheme", "drop")
    for name, units in (("mle_mse", "rad2"), ("mle_bias", "rad"), ("crb_mc", "rad2")):
        for angle in ("azimuth", "elevation"):
            assert mle[f"{name}_{angle}"].attrs["units"] == units
    assert mle["scheme"].values.tolist() == ["equal_full"]


def _steering(rows: int, cols: int, az: float, el: float) -> tuple[np.ndarray, np.ndarray]:
    """The centred UPA's steering vector and ``[d/daz, d/del]``, from docs/model.md §8."""
    p = np.repeat(np.arange(rows) - (rows - 1) / 2, cols)
    q = np.tile(np.arange(cols) - (cols - 1) / 2, rows)
    a = np.exp(1j * np.pi * (q * np.sin(az) + p * np.sin(el)))
    d = np.stack([1j * np.pi * q * np.cos(az) * a, 1j * np.pi * p * np.cos(el) * a])
    return a, d


@pytest.mark.pipeline
@pytest.mark.slow
def test_heat_map_crb_equals_the_slepian_bangs_bound(planar_run: Path) -> None:
    """At (az, el) = (30, 20) deg the stored CRBs equal the angle block of the inverse of
    the 4 x 4 Fisher information of (az, el, Re alpha, Im alpha), Slepian-Bangs with the
    MRT covariance ``c I + s a_t a_t^H`` (37) of each drop, computed here from the vectors;
    and :func:`jcas.model.fisher.crb_angles_general` (the general form) agrees."""
    from jcas.model.fisher import crb_angles_general

    heat = _open(planar_run, "crb_map").sel(azimuth_deg=30.0, elevation_deg=20.0)
    one = heat.sel(scheme="equal_full")
    params = SystemParams(Nt=16, Nr=16)  # SNR_sen = 5 dB, Pt = 30 dBm: config.yaml's
    az, el = math.radians(30.0), math.radians(20.0)
    a_t, d_t = _steering(4, 4, az, el)
    a_r, d_r = a_t, d_t
    for d in range(one.sizes["drop"]):
        xi = one["xi"].values[d]
        c = float(np.sum(xi * one["gamma"].values[d]))
        s = float(np.sum(one["eta"].values[d]))
        rx = c * np.eye(16) + s * np.outer(a_t, a_t.conj())
        big_a = np.outer(a_r, a_t.conj())
        m = [np.outer(d_r[i], a_t.conj()) + np.outer(a_r, d_t[i].conj()) for i in (0, 1)] + [
            big_a,
            1j * big_a,
        ]
        fim = (
            np.array([[np.real(np.trace(mk.conj().T @ ml @ rx)) for ml in m] for mk in m])
            / params.sigma_r_bar2
        )
        expected = np.diag(np.linalg.inv(fim))[:2]
        stored = [float(one["crb_azimuth"].values[d]), float(one["crb_elevation"].values[d])]
        np.testing.assert_allclose(stored, expected, rtol=1e-9)
        general = crb_angles_general(rx, a_t, a_r, d_t, d_r, params.sigma_r_bar2)
        np.testing.assert_allclose(stored, general, rtol=1e-9)


@pytest.mark.pipeline
@pytest.mark.slow
def test_mle_reaches_the_crb_at_high_snr(planar_run: Path) -> None:
    """At SNR_sen = 30 dB (far above the threshold, about -5 dB for the 4 x 4 arrays) the
    MSE of each angle over 2 drops x 200 trials is within 10% of the finite-L CRB, up to
    3 standard errors of the MSE (about 7% relative with 400 trials: the check fails if
    the estimator is biased or off the bound by more than ~30%)."""
    mle = _open(planar_run, "mle_planar").sel(snr_sen_db=30.0, scheme="equal_full")
    for angle in ("azimuth", "elevation"):
        mse = float(mle[f"mle_mse_{angle}"].mean("drop"))
        se = float(np.sqrt(np.sum(mle[f"mle_mse_se_{angle}"].values ** 2))) / mle.sizes["drop"]
        crb = float(mle[f"crb_mc_{angle}"].mean("drop"))
        assert abs(mse - crb) <= 0.1 * crb + 3 * se, (angle, mse, crb, se)
        assert se < 0.1 * crb, (angle, se, crb)


# --------------------------------------------------------------------------- the SCA's fixes
@pytest.mark.parametrize("form", ["per_angle", "sum"])
def test_sca_fixes_switch_off_the_users_the_optimum_drops(form: str) -> None:
    """At SNR_com = -10 dB the exact optimum gives no power to most users (water-filling).
    ``sca`` on a two-angle form, with the fixes of Algorithm 1 (active set, extrapolation,
    polish; the defaults), converges on every drop within 1e-9 of the optimum's sum rate in
    a few iterations and gives those users exactly 0 W. The plain algorithm (the paper's,
    no fixes) creeps towards them: it keeps power on them, needs many times more iterations
    and stays below the optimum (the bound (20)-(22) is loose where a user's power tends
    to 0); neither is ever above the optimum."""
    import warnings

    from jcas.allocation import allocate
    from jcas.model.metrics import closed_form_metrics
    from jcas.parts.registry import design

    p = PLANAR_SYSTEM.replace(snr_com_db=-10.0, crb_form=form, crb0_azimuth=1.0, crb0_elevation=1.0)
    beta, xi = drops(p, 20, seed=2026)
    opt = allocate("optimal", beta, xi, p)
    off = opt.gamma == 0
    assert off.sum() >= 20  # the case exercises the active set

    def rate(a: Any) -> np.ndarray:
        return closed_form_metrics(a.gamma, a.eta, xi, beta, p, design(p))["rate"].sum(-1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fixed = allocate("sca", beta, xi, p)
        plain = allocate("sca", beta, xi, p, active_set=False, accelerate=False, polish=False)
    assert set(fixed.status) == {"converged"}
    assert set(plain.status) <= {"converged", "max_iterations"}
    gap_fixed = (rate(opt) - rate(fixed)) / rate(opt)
    gap_plain = (rate(opt) - rate(plain)) / rate(opt)
    assert np.all(np.abs(gap_fixed) < 1e-9), gap_fixed
    assert np.all(gap_plain > -1e-9), gap_plain
    assert np.all(gap_plain < 1e-3), gap_plain
    assert np.all(fixed.gamma[off] == 0.0)
    assert np.max(xi[off] * plain.gamma[off]) > 0.0
    assert plain.iterations.sum() > 5 * fixed.iterations.sum()


@pytest.mark.pipeline
@pytest.mark.slow
def test_planar_files_have_no_cf_errors_or_warnings(planar_run: Path, tmp_path: Path) -> None:
    """The planar experiments' files and their per-job files pass the CF-1.10 checker."""
    from conftest import assert_cf_clean, sample_files

    files = sample_files(planar_run / "results")
    for name in ("ula_vs_upa", "crb_map", "mle_planar"):
        assert planar_run / "results" / f"{name}.nc" in files
    assert_cf_clean(files, tmp_path / "cf")
