"""The exact optimum for zero-forcing (``zf``, split-power form) and protective zero-forcing
(``pzf``, total-power form), ``docs/theory.md`` §6.6: KKT conditions, brute force at K = 2,
the benchmarks, the frontier, and the SCA (``pzf``) against the optimum.

Independent references: the SINR and CRB are written out here from the closed forms of
``docs/theory.md`` §6.2-6.3 (themselves checked against Monte-Carlo in ``tests/parts/test_zf.py``),
with the CRB coefficients of the paper's (16) (``steering_derivative_norm2``) and the PZF
beam moments.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import ROOT, drops

from jcas.allocation import Allocation, allocate
from jcas.allocation.closed_form import rate_crb_frontier
from jcas.model import metrics
from jcas.model.params import SystemParams
from jcas.parts.arrays.ula import steering_derivative_norm2
from jcas.parts.precoders.zf import pzf_beam_moments
from jcas.parts.registry import design

PRECODERS = ("zf", "pzf")


def _coefficients(p: SystemParams) -> tuple[float, float]:
    """``(a, b)`` of ``J = a c + b s`` for the precoder of ``p`` (ZF: the paper's (16))."""
    dr = steering_derivative_norm2(p.Nr, p.theta_rad)
    dt = steering_derivative_norm2(p.Nt, p.theta_rad)
    a, b = p.Nt * dr + p.Nr * dt, p.Nt**2 * dr
    if p.precoder == "pzf":
        k1, k2 = pzf_beam_moments(p.Nt, p.K)
        b = k1 * b + k2 * a
    return float(a), float(b)


def _binding_crb0(p: SystemParams, where: float = 0.4) -> float:
    a, b = _coefficients(p)
    assert b > a
    pw = p.pt_w / p.Nt
    tight, loose = p.sigma_r_bar2 / (b * pw), p.sigma_r_bar2 / (a * pw)
    return float(tight ** (1 - where) * loose**where)


def _evaluate(
    x: np.ndarray, s: np.ndarray, beta: np.ndarray, xi: np.ndarray, p: SystemParams
) -> tuple[np.ndarray, np.ndarray]:
    """Sum rate (bit/s/Hz) and CRB (rad^2) of power factors ``x (n, K)``, ``s (n,)`` of one
    drop (``beta``, ``xi`` of shape (K,)), written out from ``docs/theory.md`` §6."""
    nt, k = p.Nt, p.K
    c = x.sum(axis=-1, keepdims=True)
    eps = beta - xi
    leak = eps if p.precoder == "pzf" else beta
    sinr = nt * (nt - k) * xi * x / (nt * eps * c + nt * leak * s[:, None] + p.sigma_u2_w)
    a, b = _coefficients(p)
    with np.errstate(divide="ignore"):
        crb = p.sigma_r_bar2 / (a * c[:, 0] + b * s)
    return p.tau_bar * np.log2(1.0 + sinr).sum(axis=-1), crb


def _optimum(
    p: SystemParams, beta: np.ndarray, xi: np.ndarray
) -> tuple[Allocation, np.ndarray, np.ndarray]:
    alloc = allocate("optimal", beta, xi, p)
    x, s = design(p).precoder.power_factors(alloc.gamma, alloc.eta, xi)
    return alloc, x, s


@pytest.mark.parametrize("name", PRECODERS)
@pytest.mark.parametrize("binding", [False, True])
@pytest.mark.parametrize("snr_db", [-10.0, 10.0, 30.0])
def test_optimal_meets_power_crb_and_kkt(name: str, binding: bool, snr_db: float) -> None:
    """Full power, CRB0 met (with equality where it binds), and the KKT conditions of the
    water-filling: ``g_k / (1 + g_k x_k)`` equal over the active users and not below any
    inactive user's ``g_k``, with the gains of the fixed totals written out here."""
    p = SystemParams(K=4, Nt=16, Nr=16, snr_com_db=snr_db, precoder=name)
    if binding:
        p = p.replace(crb0=_binding_crb0(p))
    beta, xi = drops(p, 50, seed=3)
    alloc, x, s = _optimum(p, beta, xi)
    assert set(alloc.status) == {"optimal"}
    pw = p.pt_w / p.Nt
    np.testing.assert_allclose(x.sum(axis=1) + s, pw, rtol=1e-12)
    np.testing.assert_allclose(
        metrics.closed_form_metrics(alloc.gamma, alloc.eta, xi, beta, p, design(p))["power_total"],
        p.pt_w,
        rtol=1e-12,
    )
    crb_arr = np.concatenate(
        [_evaluate(x[d : d + 1], s[d : d + 1], beta[d], xi[d], p)[1] for d in range(50)]
    )
    assert np.all(crb_arr <= p.crb0 * (1 + 1e-9))
    if binding:
        np.testing.assert_allclose(crb_arr, p.crb0, rtol=1e-9)
    else:
        np.testing.assert_array_equal(s, 0.0)
    c = x.sum(axis=1, keepdims=True)
    leak = beta - xi if name == "pzf" else beta
    gain = (
        p.Nt
        * (p.Nt - p.K)
        * xi
        / (p.Nt * (beta - xi) * c + p.Nt * leak * s[:, None] + p.sigma_u2_w)
    )
    marginal = gain / (1 + gain * x)
    active = x > 1e-14 * pw
    level = np.max(np.where(active, marginal, -np.inf), axis=1, keepdims=True)
    np.testing.assert_allclose(np.where(active, marginal, level), level + 0 * x, rtol=1e-9)
    assert np.all(np.where(active, True, gain <= level * (1 + 1e-9)))


@pytest.mark.parametrize("name", PRECODERS)
@pytest.mark.parametrize("binding", [False, True])
def test_optimal_brute_force_k2(name: str, binding: bool) -> None:
    """K = 2: no point of a 41^3 grid over ``(x1, x2, s)`` with any total power beats the
    optimum; a 1001^2 grid on the full-power face comes within its resolution of it."""
    p = SystemParams(K=2, Nt=8, Nr=8, snr_com_db=10.0, precoder=name)
    if binding:
        p = p.replace(crb0=_binding_crb0(p, 0.3))
    beta, xi = drops(p, 4, seed=5)
    _, x_opt, s_opt = _optimum(p, beta, xi)
    pw = p.pt_w / p.Nt
    grid = np.linspace(0.0, pw, 41)
    x1, x2, s = (a.ravel() for a in np.meshgrid(grid, grid, grid, indexing="ij"))
    keep = x1 + x2 + s <= pw * (1 + 1e-12)
    x_grid, s_grid = np.stack([x1[keep], x2[keep]], axis=1), s[keep]
    fine = np.linspace(0.0, 1.0, 1001)
    sf, share = (a.ravel() for a in np.meshgrid(fine, fine, indexing="ij"))
    x_face = np.stack([share * (1 - sf) * pw, (1 - share) * (1 - sf) * pw], axis=1)
    for d in range(len(beta)):
        best, best_crb = _evaluate(x_opt[d : d + 1], s_opt[d : d + 1], beta[d], xi[d], p)
        assert best_crb[0] <= p.crb0 * (1 + 1e-9)
        rate, crb = _evaluate(x_grid, s_grid, beta[d], xi[d], p)
        ok = crb <= p.crb0
        assert np.any(ok)
        assert rate[ok].max() <= best[0] * (1 + 1e-12)
        rate, crb = _evaluate(x_face, sf * pw, beta[d], xi[d], p)
        grid_best = rate[crb <= p.crb0].max()
        assert grid_best <= best[0] * (1 + 1e-12)
        assert grid_best >= best[0] * (1 - 2e-3)


@pytest.mark.parametrize("name", PRECODERS)
def test_equal_keeps_the_optimums_powers(name: str) -> None:
    p = SystemParams(K=4, Nt=12, Nr=12, precoder=name)
    p = p.replace(crb0=_binding_crb0(p))
    beta, xi = drops(p, 10, seed=8)
    opt, x, s = _optimum(p, beta, xi)
    eq = allocate("equal", beta, xi, p, reference=opt)
    xe, se = design(p).precoder.power_factors(eq.gamma, eq.eta, xi)
    np.testing.assert_allclose(xe, np.broadcast_to(x.sum(1, keepdims=True) / 4, xe.shape))
    np.testing.assert_allclose(se, s, rtol=1e-12)


@pytest.mark.parametrize("name", PRECODERS)
def test_frontier_is_the_optimum_at_each_crb0(name: str) -> None:
    p = SystemParams(K=3, Nt=10, Nr=10, snr_com_db=15.0, precoder=name)
    beta, xi = drops(p, 3, seed=2)
    front = rate_crb_frontier(beta, xi, p, n_points=5)
    for j, crb0 in enumerate(front.crb0):
        q = p.replace(crb0=float(crb0) * (1 + 1e-12))
        _, x, s = _optimum(q, beta, xi)
        ref = [_evaluate(x[d : d + 1], s[d : d + 1], beta[d], xi[d], q)[0][0] for d in range(3)]
        np.testing.assert_allclose(front.sum_rate[:, j], ref, rtol=1e-9, atol=1e-9)
    assert np.all(np.diff(front.sum_rate, axis=1) >= -1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("name", PRECODERS)
def test_sca_reaches_the_optimum(name: str) -> None:
    """The SCA with its defaults (PZF: total-power form; ZF: the split-power denominators
    in its bound, ``docs/theory.md`` §6.6) reaches the exact optimum (relative gap below
    its tolerance 1e-4) at SNR_com -10..30 dB, binding and free CRB0."""
    worst = 0.0
    for snr in (-10.0, 10.0, 30.0):
        for binding in (False, True):
            p = SystemParams(K=3, Nt=12, Nr=12, snr_com_db=snr, precoder=name)
            if binding:
                p = p.replace(crb0=_binding_crb0(p))
            beta, xi = drops(p, 10, seed=int(snr) + 20)
            opt = allocate("optimal", beta, xi, p)
            ref = metrics.closed_form_metrics(opt.gamma, opt.eta, xi, beta, p, design(p))
            got = allocate("sca", beta, xi, p)
            assert set(got.status) <= {"converged", "max_iterations"}
            out = metrics.closed_form_metrics(got.gamma, got.eta, xi, beta, p, design(p))
            gap = 1 - out["rate"].sum(1) / ref["rate"].sum(1)
            assert np.all(out["crb"] <= p.crb0 * (1 + 1e-6))
            worst = max(worst, float(np.max(gap)))
    assert worst <= 1e-4, worst


@pytest.mark.slow
@pytest.mark.parametrize("name", PRECODERS)
def test_certification_against_an_independent_global_search(name: str) -> None:
    """The certification of ``benchmarks/certify_precoders.py`` with one drop per group
    (36 drops per K over SNR_com -10..30 dB, Nt in {K + 2, 16}, free and binding CRB0):
    no failure, the search within 1e-6 of the optimum and the SCA within its tolerance
    1e-4 (the full run: 1008 drops per precoder and K)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from certify_precoders import certify  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    for k in (2, 3):
        cells = certify(name, k, per_group=1)
        assert len(cells) == 4
        for label, tally in cells.items():
            assert tally.failures == [], (label, tally.failures)
            assert len(tally.gaps) == 18, label
            assert max(tally.gaps) <= (1e-4 if "sca" in label else 1e-6), label


def test_zf_overtakes_mrt_between_low_and_high_snr() -> None:
    """The crossover of ``docs/theory.md`` §6.7 (CRB0 free, N = 15): at the optimum MRT's
    mean sum rate is higher at 0 dB and ZF's at 10 dB (stated crossover: 4.5 dB)."""
    mean = {}
    for name in ("mrt", "zf"):
        for snr in (0.0, 10.0):
            p = SystemParams(Nt=15, Nr=15, snr_com_db=snr, precoder=name)
            beta, xi = drops(p, 200, seed=1)
            alloc = allocate("optimal", beta, xi, p)
            m = metrics.closed_form_metrics(alloc.gamma, alloc.eta, xi, beta, p, design(p))
            mean[(name, snr)] = float(m["rate"].sum(axis=1).mean())
    assert mean[("mrt", 0.0)] > mean[("zf", 0.0)]
    assert mean[("zf", 10.0)] > mean[("mrt", 10.0)]
