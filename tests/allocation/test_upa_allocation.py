"""Allocation with two angles: exact optimum of the per-angle and sum CRB forms (brute force
at K = 2, KKT/binding structure), SCA certified against it, infeasible targets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from jcas.allocation import allocate
from jcas.allocation.planar import crb_pair, feasible_interval, planar_split
from jcas.model.channel import estimate_variance
from jcas.model.drops import large_scale_fading
from jcas.model.metrics import closed_form_metrics
from jcas.model.params import SystemParams
from jcas.parts.registry import design

BASE = SystemParams(
    K=2, Nt=16, Nr=12, array="upa", tx_rows=4, rx_rows=3, theta_deg=20.0, elevation_deg=-10.0
)
# CRBs at full power: all on communications / all on sensing (rad^2)
P = BASE.pt_w / BASE.Nt
CRB_COMM = crb_pair(P, 0.0, BASE)
CRB_SENS = crb_pair(0.0, P, BASE)


def _forms() -> list[tuple[str, SystemParams]]:
    """Binding and free cases of both forms."""
    mid = np.sqrt(CRB_COMM * CRB_SENS)  # between the two extremes: binds
    return [
        (
            "per_angle binding",
            BASE.replace(crb_form="per_angle", crb0_azimuth=mid[0], crb0_elevation=mid[1]),
        ),
        (
            "per_angle one binding",
            BASE.replace(crb_form="per_angle", crb0_azimuth=mid[0], crb0_elevation=1.0),
        ),
        (
            "per_angle free",
            BASE.replace(crb_form="per_angle", crb0_azimuth=1.0, crb0_elevation=1.0),
        ),
        ("sum binding", BASE.replace(crb_form="sum", crb0=float(mid.sum()))),
        ("sum free", BASE.replace(crb_form="sum", crb0=1.0)),
    ]


def _drops(params: SystemParams, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    beta, _ = large_scale_fading(params, seed, range(n))
    return beta, estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)


def _sum_rate(
    gamma: np.ndarray, eta: np.ndarray, xi: np.ndarray, beta: np.ndarray, p: SystemParams
) -> np.ndarray:
    return closed_form_metrics(gamma, eta, xi, beta, p, design(p))["rate"].sum(axis=-1)


def _meets(crb: np.ndarray, p: SystemParams, rtol: float = 1e-9) -> np.ndarray:
    if p.crb_form == "per_angle":
        return np.all(crb <= np.array([p.crb0_azimuth, p.crb0_elevation]) * (1 + rtol), axis=-1)
    return crb.sum(axis=-1) <= p.crb0 * (1 + rtol)


@pytest.mark.parametrize(("name", "params"), _forms(), ids=[n for n, _ in _forms()])
def test_exact_optimum_beats_a_brute_force_search_at_k2(name: str, params: SystemParams) -> None:
    """Over a 201 x 2001 grid of (user-1 share, sensing share) at and below full power, no
    feasible point has a higher sum rate than the optimum, and the best is within the grid
    resolution of it."""
    beta, xi = _drops(params, 3, 5)
    opt = allocate("optimal", beta, xi, params)
    assert np.all(opt.status == "optimal")
    r_opt = _sum_rate(opt.gamma, opt.eta, xi, beta, params)
    share, sens = np.meshgrid(np.linspace(0, 1, 201), np.linspace(0, 1, 2001), indexing="ij")
    for scale in (1.0, 0.9):  # full power and below
        s = scale * P * sens.ravel()
        c = scale * P - s
        x = np.stack([c * share.ravel(), c * (1 - share.ravel())], axis=-1)
        ok = _meets(crb_pair(c, s, params), params, rtol=0.0)
        for d in range(len(beta)):
            gamma, eta = design(params).precoder.from_power_factors(
                x, s, np.broadcast_to(xi[d], x.shape)
            )
            r = _sum_rate(
                gamma,
                eta,
                np.broadcast_to(xi[d], x.shape),
                np.broadcast_to(beta[d], x.shape),
                params,
            )
            best = r[ok].max()
            assert best <= r_opt[d] * (1 + 1e-12)
            if scale == 1.0:
                assert best >= r_opt[d] * (1 - 1e-3)


@pytest.mark.parametrize(("name", "params"), _forms(), ids=[n for n, _ in _forms()])
def test_optimum_structure_least_sensing_that_meets_the_constraint(
    name: str, params: SystemParams
) -> None:
    """Full power; s* = 0 when free, otherwise the constraint is active at s* (KKT: its
    multiplier is positive) and any smaller s violates it."""
    c, s, feasible = planar_split(params)
    assert feasible
    assert c + s == pytest.approx(P, rel=1e-14)
    crb = crb_pair(c, s, params)
    assert _meets(crb, params)
    if "free" in name:
        assert s == 0.0
        return
    assert s > 0
    assert not _meets(crb_pair(c + 1e-6 * s, s * (1 - 1e-6), params), params, rtol=0.0)
    if params.crb_form == "sum":
        assert crb.sum() == pytest.approx(params.crb0, rel=1e-12)
    else:
        bound = np.array([params.crb0_azimuth, params.crb0_elevation])
        assert np.max(crb / bound) == pytest.approx(1.0, rel=1e-12)


def test_sum_form_feasible_interval_is_the_sublevel_set() -> None:
    """The interval of sensing powers meeting the sum form matches a dense scan."""
    p = BASE.replace(crb_form="sum", crb0=float(np.sqrt(CRB_COMM * CRB_SENS).sum()))
    lo, hi = feasible_interval(p)
    s = np.linspace(0.0, P, 200001)
    ok = _meets(crb_pair(P - s, s, p), p, rtol=0.0)
    assert s[ok].min() == pytest.approx(lo, abs=P / 1e5)
    assert s[ok].max() == pytest.approx(hi, abs=P / 1e5)


@pytest.mark.parametrize(
    "params",
    [
        BASE.replace(crb_form="per_angle", crb0_azimuth=0.5 * CRB_SENS[0], crb0_elevation=1.0),
        BASE.replace(crb_form="sum", crb0=0.9 * float(CRB_SENS.sum())),
    ],
)
@pytest.mark.parametrize("scheme", ["optimal", "sca"])
def test_infeasible_targets_are_recorded_as_infeasible(params: SystemParams, scheme: str) -> None:
    beta, xi = _drops(params, 4, 1)
    result = allocate(scheme, beta, xi, params)
    assert np.all(result.status == "infeasible")
    assert np.all(np.isnan(result.gamma))
    assert np.all(np.isnan(result.eta))


def test_azimuth_form_of_a_upa_is_the_ula_path() -> None:
    """The default form keeps the one-angle code path (a 1 x N UPA gives the ULA's allocation)."""
    ula = SystemParams(K=3, Nt=10, Nr=10, crb0=1e-4)
    planar = ula.replace(array="upa", elevation_deg=30.0)
    beta, xi = _drops(ula, 5, 2)
    for scheme in ("optimal", "equal", "equal_full"):
        a, b = allocate(scheme, beta, xi, ula), allocate(scheme, beta, xi, planar)
        assert np.array_equal(a.gamma, b.gamma)
        assert np.array_equal(a.eta, b.eta)


@pytest.mark.slow
def test_sca_is_certified_against_the_exact_optimum() -> None:
    """SCA vs optimal on 5 cases x 4 SNR_com x 15 drops (the full >= 1000-drop table:
    benchmarks/upa_allocation.py): every drop converges, relative gap < 1e-6, no
    constraint violated."""
    gaps = []
    for (_, params), snr in itertools.product(_forms(), (-10.0, 0.0, 15.0, 30.0)):
        p = params.replace(K=4, snr_com_db=snr)
        beta, xi = _drops(p, 15, 3)
        opt = allocate("optimal", beta, xi, p)
        sca = allocate("sca", beta, xi, p)
        assert set(sca.status) == {"converged"}
        r_opt, r_sca = (
            _sum_rate(opt.gamma, opt.eta, xi, beta, p),
            _sum_rate(sca.gamma, sca.eta, xi, beta, p),
        )
        gaps.append((r_opt - r_sca) / r_opt)
        c, s = design(p).precoder.power_factors(sca.gamma, sca.eta, xi)
        assert np.all(_meets(crb_pair(c.sum(axis=-1), s, p), p, rtol=1e-6))
    gap = np.concatenate(gaps)
    assert np.all(gap > -1e-6), gap.min()
    assert np.all(gap < 1e-6), gap.max()


@pytest.mark.parametrize(("name", "params"), _forms(), ids=[n for n, _ in _forms()])
def test_benchmarks_check_the_two_angle_constraint(name: str, params: SystemParams) -> None:
    """``equal`` keeps the optimum's totals (same CRBs); ``equal_full`` is classified on
    the form's constraint (both CRBs), not on the azimuth alone."""
    beta, xi = _drops(params, 3, 4)
    opt = allocate("optimal", beta, xi, params)
    eq = allocate("equal", beta, xi, params, reference=opt)
    assert set(eq.status) == {"feasible"}
    pre = design(params).precoder
    for a in (opt, eq):
        c, s = pre.power_factors(a.gamma, a.eta, xi)
        assert np.all(_meets(crb_pair(c.sum(axis=-1), s, params), params))
    for fraction in (0.0, 0.5, 1.0):
        full = allocate("equal_full", beta, xi, params, sensing_fraction=fraction)
        crb = crb_pair((1 - fraction) * P, fraction * P, params)
        expected = "feasible" if _meets(crb, params) else "crb_violated"
        assert set(full.status) == {expected}
