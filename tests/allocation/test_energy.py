"""jcas.allocation.energy: the EE-optimal allocation, certified.

The reference is independent of the scheme's own sum-rate solver: a one-dimensional search
over the total transmit power ``Nt q`` in which the sum rate at each power is
``jcas.allocation.optimal`` run at budget ``Nt q`` (the noise powers kept: ``pt_dbm``,
``snr_com_db`` and ``snr_sen_db`` shifted together), its rates from the precoder's closed
forms; a geometric grid of 120 powers on ``[q_min, p]`` then a bounded scalar search
(scipy) around the best point. The scheme is never beaten (1e-9) and the search reaches it
(1e-6), for MRT, ZF and PZF, CRB0 free and binding, the default power model (optimum at or
near full power) and a light one (optimum well inside the budget). The CRB holds at the
chosen power; CRB0 out of reach gives ``infeasible``. A branch and bound over the power
(:func:`jcas.allocation.energy.certify_energy`) certifies the optimality gap to 1e-7.
Run time about 4 s.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import drops
from scipy.optimize import minimize_scalar

from jcas.allocation import optimal
from jcas.allocation.energy import (
    PowerModel,
    certify_energy,
    energy,
    power_model,
    solve_energy,
)
from jcas.allocation.weighted import optimal_structure, sum_rate_at_budget
from jcas.model import metrics
from jcas.model.params import ConfigError, SystemParams
from jcas.parts.coefficients import closed_form_coefficients
from jcas.parts.registry import design

LIGHT = {
    "fixed_power_w": 0.5,
    "oscillator_power_w": 0.0,
    "antenna_power_w": 0.005,
    "user_power_w": 0.0,
}
"""A light circuit (0.66 W at Nt = Nr = 16): the EE optimum is well below full power."""


def regime_crb0(params: SystemParams, regime: str) -> float:
    beta, xi = drops(params, 1)
    coef = closed_form_coefficients(beta, xi, params)
    t2, p, sigma = coef.fisher.t2[0], coef.budget, params.sigma_r_bar2
    tight, loose = sigma / (np.max(t2) * p), sigma / (t2[0] * p)
    return float(
        {"free": 1e-3, "binding": np.sqrt(tight * loose), "infeasible": tight / 10}[regime]
    )


def at_budget(params: SystemParams, q: float) -> SystemParams:
    """``params`` with the budget ``Nt q`` (W) and the same noise powers."""
    shift = 10 * math.log10(params.Nt * q / params.pt_w)
    return params.replace(
        pt_dbm=params.pt_dbm + shift,
        snr_com_db=params.snr_com_db + shift,
        snr_sen_db=params.snr_sen_db + shift,
    )


def reference_ee(
    beta: np.ndarray, xi: np.ndarray, params: SystemParams, model: PowerModel, q_min: float
) -> float:
    """Largest EE (bit/s/Hz per W) of one drop by the 1-D search over the power."""

    def ee(q: float) -> float:
        p_q = at_budget(params, q)
        alloc = optimal(beta, xi, p_q)
        if alloc.status[0] != "optimal":
            return -np.inf
        got = metrics.closed_form_metrics(alloc.gamma, alloc.eta, xi, beta, p_q, design(p_q))
        consumed = got["power_total"][0] / model.amplifier_efficiency + model.circuit_w
        return float(got["rate"].sum() / consumed)

    p = params.pt_w / params.Nt
    qs = np.geomspace(q_min * (1 + 1e-12), p, 120)
    values = np.array([ee(q) for q in qs])
    i = int(np.argmax(values))
    lo, hi = qs[max(i - 1, 0)], qs[min(i + 1, len(qs) - 1)]
    res = minimize_scalar(
        lambda q: -ee(q), bounds=(lo, hi), method="bounded", options={"xatol": 1e-13 * p}
    )
    return max(float(values[i]), -float(res.fun))


@pytest.mark.parametrize(
    ("precoder", "regime", "light"),
    [
        ("mrt", "free", False),
        ("zf", "binding", False),
        ("pzf", "binding", True),
        ("mrt", "free", True),
    ],
)
def test_certified_against_a_search_over_the_power(precoder: str, regime: str, light: bool) -> None:
    base = SystemParams(K=3, Nt=16, Nr=16, precoder=precoder)
    params = base.replace(crb0=regime_crb0(base, regime))
    beta, xi = drops(params, 3, seed=31)
    options = LIGHT if light else {}
    alloc = energy(beta, xi, params, **options)
    model = power_model(params, **options)
    coef = closed_form_coefficients(beta, xi, params)
    sol = solve_energy(coef, model)
    assert set(alloc.status) == {"optimal"}
    assert np.all(alloc.iterations <= 10)
    got = metrics.closed_form_metrics(alloc.gamma, alloc.eta, xi, beta, params, design(params))
    consumed = got["power_total"] / model.amplifier_efficiency + model.circuit_w
    np.testing.assert_allclose(got["rate"].sum(-1) / consumed, sol.value, rtol=1e-11)
    assert np.all(got["crb"] <= params.crb0 * (1 + 1e-9))
    assert np.all(got["power_total"] <= params.pt_w * (1 + 1e-12))
    t2 = coef.fisher.t2
    q_min = coef.fisher0 / np.max(t2, axis=1)
    for d in range(len(beta)):
        ref = reference_ee(beta[d : d + 1], xi[d : d + 1], params, model, q_min[d])
        assert sol.value[d] >= ref * (1 - 1e-9), d
        assert sol.value[d] <= ref * (1 + 1e-6), d
    if light:  # the optimum is inside the budget
        assert np.all(got["power_total"] < 0.9 * params.pt_w)


@pytest.mark.parametrize("light", [False, True])
@pytest.mark.parametrize(("precoder", "regime"), [("mrt", "free"), ("zf", "binding")])
def test_branch_and_bound_certifies_the_gap(precoder: str, regime: str, light: bool) -> None:
    """The bound of certify_energy rests on V non-decreasing (checked here on a grid) and
    V = optimal at each budget (the search test above); the gap it certifies is 1e-7."""
    base = SystemParams(K=4, Nt=35, Nr=35, precoder=precoder)
    params = base.replace(crb0=regime_crb0(base, regime))
    beta, xi = drops(params, 6, seed=41)
    coef = closed_form_coefficients(beta, xi, params)
    model = power_model(params, **(LIGHT if light else {}))
    sol = solve_energy(coef, model)
    bound = certify_energy(coef, model, sol.value, rtol=1e-7)
    assert np.all(bound >= sol.value)
    assert np.all(bound <= sol.value * (1 + 1.01e-7))
    split, fisher = optimal_structure("energy", coef)
    q_min = coef.fisher0 / np.max(coef.fisher.t2, axis=1)
    q = np.geomspace(q_min, coef.budget, 400, axis=-1)
    v = sum_rate_at_budget(
        split, fisher, coef.rate.noise, coef.rate.tau_bar, coef.fisher0, q, np.ones(4)
    ).value
    assert np.all(np.isfinite(v))
    assert np.all(np.diff(v, axis=1) >= -1e-12 * np.abs(v[:, 1:]))


def test_infeasible_crb0_and_crb_at_the_chosen_power() -> None:
    base = SystemParams(K=4, Nt=16, Nr=16, precoder="zf")
    beta, xi = drops(base, 5)
    none = energy(beta, xi, base.replace(crb0=regime_crb0(base, "infeasible")))
    assert set(none.status) == {"infeasible"}
    assert np.all(np.isnan(none.gamma))
    params = base.replace(crb0=regime_crb0(base, "binding"))
    alloc = energy(beta, xi, params, **LIGHT)
    got = metrics.closed_form_metrics(alloc.gamma, alloc.eta, xi, beta, params, design(params))
    # the light circuit pulls the power down until CRB0 binds
    np.testing.assert_allclose(got["crb"], params.crb0, rtol=1e-9)


def test_power_model() -> None:
    params = SystemParams(K=4, Nt=35, Nr=20)
    model = power_model(params)
    assert model.amplifier_efficiency == 0.4
    assert model.circuit_w == pytest.approx(10.0 + 0.2 + 55 * 0.4 + 4 * 0.2, rel=1e-15)
    tx_only = power_model(params, receive_chains=False)
    assert tx_only.circuit_w == pytest.approx(10.0 + 0.2 + 35 * 0.4 + 4 * 0.2, rel=1e-15)


def test_bad_options_and_structure_are_refused() -> None:
    params = SystemParams(K=4, Nt=16, Nr=16)
    beta, xi = drops(params, 2)
    for name, bad, msg in (
        (
            "amplifier_efficiency",
            0.0,
            r"amplifier_efficiency = 0.0: must be a finite number in \(0",
        ),
        ("amplifier_efficiency", 1.5, r"amplifier_efficiency = 1.5"),
        ("amplifier_efficiency", float("nan"), r"amplifier_efficiency = nan"),
        ("fixed_power_w", -1.0, r"fixed_power_w = -1.0: must be a finite number in \[0"),
        ("antenna_power_w", "x", r"antenna_power_w = 'x': must be a real number"),
        ("receive_chains", "yes", r"receive_chains = 'yes': must be True or False"),
        ("grid_points", 4, r"grid_points = 4: must be an integer >= 8"),
        ("tol", 0.0, r"tol = 0.0"),
        ("max_iterations", 0, r"max_iterations = 0"),
    ):
        with pytest.raises(ValueError, match=msg):
            energy(beta, xi, params, **{name: bad})
    with pytest.raises(ConfigError, match=r"'energy' needs .*'split_power_rate'.*'phase_mrt'"):
        energy(beta, xi, params.replace(precoder="phase_mrt"))
