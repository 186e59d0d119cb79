"""The exact optimum on coefficients (jcas.allocation.coefficient_optimum).

References: ``jcas.allocation.closed_form.optimal`` (certified by brute force and KKT in
``test_allocation.py`` and ``test_allocation_zf.py``) through each precoder's power factors,
and an independent grid search over the whole power simplex (``benchmarks/sca_general.py``,
rate and CRB written out there from the coefficients). Run time about 2 s.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import sys
from types import ModuleType

import numpy as np
import pytest
from conftest import ROOT, drops

from jcas.allocation import allocate, rate_crb_frontier
from jcas.allocation.coefficient_optimum import (
    OptimumStructureError,
    optimal_coefficients,
    optimum_structure,
)
from jcas.model.coefficients import Coefficients
from jcas.model.params import SystemParams
from jcas.parts.coefficients import closed_form_coefficients
from jcas.parts.registry import design


@functools.cache
def bench() -> ModuleType:
    """``benchmarks/sca_general.py`` (the references and case generators)."""
    name = "bench_sca_general"
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "sca_general.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _crb0(p: SystemParams, regime: str) -> float:
    fr = rate_crb_frontier(np.ones((1, p.K)), np.ones((1, p.K)), p, 3)
    return {"free": 1e-3, "binding": float(fr.crb0[1]), "infeasible": 0.5 * float(fr.crb0[0])}[
        regime
    ]


@pytest.mark.parametrize("precoder", ["mrt", "zf", "pzf"])
@pytest.mark.parametrize("regime", ["free", "binding", "infeasible"])
def test_equals_optimal_through_the_power_factors(precoder: str, regime: str) -> None:
    """On closed-form coefficients (K = 4, Nt = 16, SNR_com -10 dB and 20 dB) the optimum on
    coefficients is today's ``optimal`` mapped to power factors, to 1e-12 of the budget."""
    for snr in (-10.0, 20.0):
        p = SystemParams(K=4, Nt=16, Nr=16, snr_com_db=snr, precoder=precoder)
        p = p.replace(crb0=_crb0(p, regime))
        beta, xi = drops(p, 40, seed=5)
        x, s, status = optimal_coefficients(closed_form_coefficients(beta, xi, p))
        ref = allocate("optimal", beta, xi, p)
        np.testing.assert_array_equal(status, ref.status)
        if regime == "infeasible":
            assert np.all(status == "infeasible")
            assert np.all(np.isnan(x))
            assert np.all(np.isnan(s))
            continue
        xr, sr = design(p).precoder.power_factors(ref.gamma, ref.eta, xi)
        budget = p.pt_w / p.Nt
        np.testing.assert_allclose(x, xr, rtol=0, atol=1e-12 * budget)
        np.testing.assert_allclose(s, sr, rtol=0, atol=1e-12 * budget)


def test_not_beaten_by_an_independent_grid_search() -> None:
    """ZF (split form with ``E > B``), K = 2, binding CRB0, SNR_com 0 and 20 dB: no point of a
    grid + local search over the whole power simplex beats the optimum by more than 1e-9,
    and the search comes within 1e-6 of it (its resolution)."""
    b = bench()
    for snr in (0.0, 20.0):
        p = SystemParams(K=2, Nt=8, Nr=8, snr_com_db=snr, precoder="zf")
        p = p.replace(crb0=_crb0(p, "binding"))
        beta, xi = drops(p, 2, seed=8)
        coef = closed_form_coefficients(beta, xi, p)
        x, s, status = optimal_coefficients(coef)
        assert np.all(status == "optimal")
        assert np.all(coef.fisher.crb(x, s) <= coef.crb0 * (1 + 1e-12))
        for d in range(len(s)):
            drop = b.Drop.of(coef, d)
            got = float(drop.rate(b.point(x[d], s[d], drop))[0])
            found, _ = b.grid_search(drop)
            assert found <= got * (1 + 1e-9)
            assert found >= got * (1 - 1e-6)


def _with(coef: Coefficients, **fisher: np.ndarray) -> Coefficients:
    return dataclasses.replace(coef, fisher=dataclasses.replace(coef.fisher, **fisher))


def test_refuses_coefficients_without_the_structure() -> None:
    """Each missing structure is named: reused pilots (full ``b``), a non-centred array
    (``T3 != 0``), unequal user columns of ``T2``, sensing leakage below the interference."""
    p = SystemParams(K=4, Nt=12, Nr=12, tau_p=2)
    beta, xi = drops(p, 3)
    with pytest.raises(OptimumStructureError, match=r"split-form rate .*drop 0"):
        optimal_coefficients(closed_form_coefficients(beta, xi, p))
    p = SystemParams(K=3, Nt=12, Nr=12, theta_deg=20.0)
    beta, xi = drops(p, 3)
    coef = closed_form_coefficients(beta, xi, p, bench().non_centred_parts(p))
    with pytest.raises(OptimumStructureError, match=r"linear Fisher information \(T3 = 0"):
        optimal_coefficients(coef)
    coef = closed_form_coefficients(beta, xi, p)
    assert optimum_structure(coef) == []
    t2 = coef.fisher.t2.copy()
    t2[2, 1] *= 1 + 1e-6
    with pytest.raises(OptimumStructureError, match=r"users' total power only .*drop 2"):
        optimal_coefficients(_with(coef, t2=t2))
    rate = dataclasses.replace(coef.rate, sensing=0.5 * coef.rate.interference[..., 0])
    with pytest.raises(OptimumStructureError, match=r"E_k >= communications interference B_k"):
        optimal_coefficients(dataclasses.replace(coef, rate=rate))
    assert issubclass(OptimumStructureError, ValueError)
