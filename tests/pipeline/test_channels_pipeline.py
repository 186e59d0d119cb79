"""Correlated and Rician channels with RZF and M-MMSE through the pipeline: the coefficient
route (Monte-Carlo coefficients per drop, the schemes' solvers on them) and the Monte-Carlo
stages that simulate the same precoder under the same channel.

- the allocation stage's results do not depend on how drops are split into jobs (the
  coefficients of a drop come from the streams of its global index), and the stored ``xi``
  is the trace ``tr(Phi_k) / Nt`` of the channel model's MMSE estimate;
- through Snakemake: every allocation a success, the coefficient sum rate equal to the
  independent Monte-Carlo rate (14) of the simulated precoder (another stream) within 4
  combined standard errors (16 comparisons; 4 SE keeps the family-wise false-alarm rate
  below 0.1 %), the CRB0 met by the coefficient CRB, and the ML angle estimate run on the
  route's precoder under a correlated channel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT, run_config, toy_config

from jcas.config import Point
from jcas.io.fields import concat
from jcas.io.results import read_netcdf
from jcas.model.drops import user_angles
from jcas.model.estimation import mmse_estimation
from jcas.model.params import SystemParams
from jcas.parts.channels.local_scattering import LocalScattering
from jcas.parts.registry import options_from_config
from jcas.pipeline.stages.allocation import compute_allocations
from jcas.pipeline.stages.drops import compute_drops

SYSTEM = {
    "K": 3,
    "Nt": 8,
    "Nr": 8,
    "precoder": "rzf",
    "channel": "local_scattering",
    "angular_spread_deg": 10.0,
}


def _allocate(start: int, stop: int, schemes: list[str]) -> object:
    drops = compute_drops(SYSTEM, 7, start, stop)
    point = Point(
        Nt=8,
        Nr=8,
        snr_com_db=20.0,
        snr_sen_db=5.0,
        crb0=1e-3,
        channel="local_scattering",
        extra={"angular_spread_deg": 10.0},
    )
    options = {s: options_from_config(s, {"sca_group": 1}) for s in schemes}
    return compute_allocations(
        drops, SYSTEM, point.as_dict(), schemes, options, {"realizations": 64}
    )


def test_route_results_do_not_depend_on_the_blocks() -> None:
    schemes = ["equal_full", "sca"]
    whole = _allocate(0, 3, schemes)
    parts = concat([_allocate(0, 2, schemes), _allocate(2, 3, schemes)], "drop")
    for name in ("gamma", "eta", "sum_rate", "sum_rate_se", "crb", "crb_se", "direction_norm"):
        np.testing.assert_array_equal(whole[name], parts[name], err_msg=name)
    assert set(np.asarray(whole["status"]).ravel()) <= {"converged", "feasible"}
    # xi is the model's tr(Phi_k) / Nt at the users' angles (not the i.i.d. (7))
    params = SystemParams(**SYSTEM)  # type: ignore[arg-type]
    angles = user_angles(params, 7, [0, 1, 2])[1]
    np.testing.assert_allclose(whole["angle"], angles, rtol=0, atol=0)
    beta = np.asarray(whole["beta"])
    stats = LocalScattering(10.0).statistics(beta, angles, 8)
    est = mmse_estimation(stats, params.tau_p, params.pp_w, params.sigma_u2_w)
    np.testing.assert_allclose(whole["xi"], est.xi, rtol=1e-12)
    # the powers are the solver's: Nt (sum x + s) within the budget Pt
    assert np.all(np.asarray(whole["power_total"]) <= params.pt_w * (1 + 1e-6))


@pytest.mark.pipeline
@pytest.mark.slow
def test_correlated_rzf_and_mmse_through_the_pipeline(tmp_path: Path) -> None:
    config = toy_config({"K": 3}, ["sca", "equal_full"], realizations=300)
    for name in yaml.safe_load((ROOT / "config.yaml").read_text())["experiments"]:
        config["experiments"].setdefault(name, {"enabled": False})
    config["mc"].update(coefficient_realizations=300, mle_trials=40, mle_drops=2)
    config["allocation"] = {"sca_group": 2}
    toy = config["experiments"]["toy"]
    toy["sweep"] = {"channel": ["local_scattering", "rician"]}
    toy["fixed"] = {"Nt": 8, "snr_com_db": 10, "angular_spread_deg": 10, "k_factor_db": 5}
    toy["precoders"] = ["rzf", "mmse"]
    config["experiments"]["toy_mle"] = {
        "kind": "mle",
        "tie": "Nr=Nt",
        "sweep": {"snr_sen_db": [10]},
        "fixed": {"Nt": 8, "channel": "local_scattering", "angular_spread_deg": 10},
        "schemes": ["equal_full"],
        "precoders": ["mmse"],
        "plot": "none",
    }
    ds = run_config(tmp_path, "route", config, "toy")
    assert set(ds["channel"].values.tolist()) == {"local_scattering", "rician"}
    status = ds["status"].values
    assert set(status.ravel().tolist()) <= {"converged", "feasible"}
    coef, coef_se = ds["sum_rate"].values, ds["sum_rate_se"].values
    mc, mc_se = ds["sum_rate_mc"].values, ds["sum_rate_mc_se"].values
    assert np.all(coef_se > 0)
    assert np.all(mc_se > 0)
    z = (coef - mc) / np.sqrt(coef_se**2 + mc_se**2)
    assert np.all(np.abs(z) < 4.0), z
    sca = ds.sel(scheme="sca")
    assert np.all(sca["crb"].values <= 1e-3 * (1 + 1e-6))
    mle = read_netcdf(tmp_path / "route" / "results" / "toy_mle.nc")  # the same run
    assert np.all(np.isfinite(mle["mle_mse"].values))
    assert np.all(np.isfinite(mle["crb_mc"].values))
