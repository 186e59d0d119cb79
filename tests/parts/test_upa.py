"""Planar arrays: the UPA part, the ULA as its 1 x N case, the two-angle Fisher information.

The closed-form CRBs of the centred UPA with the MRT covariance are checked against the
general form (any covariance, any array), and the general form against a Fisher
information computed numerically from the echo mean alone (finite differences of
``alpha a_r a_t^H X``; no derivative formula shared with the code).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from jcas.model.fisher import (
    angle_fisher,
    crb_angles,
    crb_angles_general,
    crb_upa_mrt,
    fisher_full,
    mrt_planar_forms,
    planar_crb_from_forms,
    planar_terms_general,
)
from jcas.model.metrics import closed_form_metrics, crb_closed_form
from jcas.model.params import SystemParams
from jcas.parts.arrays.ula import ULA
from jcas.parts.arrays.upa import UPA, as_planar
from jcas.parts.registry import design

DEG = np.pi / 180.0
SHAPES = [(1, 4), (1, 5), (2, 3), (3, 3), (4, 2), (5, 4), (4, 6)]
# directions in front of the array (sin^2 az + sin^2 el < 1), broadside included
DIRECTIONS = [(0.0, 0.0), (30.0, 0.0), (0.0, -40.0), (45.0, 40.0), (-60.0, 20.0), (10.0, -75.0)]
SPLITS = [(1.0, 0.0), (0.0, 1.0), (0.3, 0.7), (2.5e-3, 4.0)]


# --------------------------------------------------------------------------- geometry
@pytest.mark.parametrize("n", [1, 2, 7, 8, 64])
def test_ula_is_the_one_row_upa_bit_for_bit(n: int) -> None:
    theta = np.linspace(-1.4, 1.4, 23)
    ula, planar = ULA(n), UPA(1, n, elevation_rad=0.3)
    assert np.array_equal(ula.steering(theta), planar.steering(theta))
    assert np.array_equal(ula.derivative(theta), planar.derivative(theta))
    assert np.array_equal(ula.gram(theta), planar.gram(theta))
    assert as_planar(ula) == UPA(1, n)
    # no elevation information at all
    assert np.all(planar.derivatives2(theta, 0.3)[..., 1, :] == 0)


@pytest.mark.parametrize(("rows", "cols"), SHAPES)
def test_gram3_is_the_gram_of_the_vectors(rows: int, cols: int) -> None:
    arr = UPA(rows, cols)
    for az_deg, el_deg in DIRECTIONS:
        az, el = az_deg * DEG, el_deg * DEG
        basis = np.concatenate([arr.steering2(az, el)[None], arr.derivatives2(az, el)]).T
        numeric = basis.conj().T @ basis
        assert np.allclose(arr.gram3(az, el), numeric, rtol=0, atol=1e-10 * np.abs(numeric).max())


def test_steering_is_the_plane_wave_of_the_element_positions() -> None:
    """``a_n = exp(j pi (y_n d_y + z_n d_z))`` for the unit direction ``d`` of (az, el)."""
    rows, cols = 3, 4
    az, el = 35 * DEG, -20 * DEG
    d_y, d_z = np.sin(az), np.sin(el)
    y = np.tile(np.arange(cols) - (cols - 1) / 2, rows)
    z = np.repeat(np.arange(rows) - (rows - 1) / 2, cols)
    expected = np.exp(1j * np.pi * (y * d_y + z * d_z))
    assert np.allclose(UPA(rows, cols).steering2(az, el), expected, atol=1e-13)


def test_bad_sides_are_rejected() -> None:
    for rows, cols in [(0, 3), (3, 0), (-1, 2)]:
        with pytest.raises(ValueError, match="must be an integer >= 1"):
            UPA(rows, cols)
    with pytest.raises(ValueError, match="elevation_rad"):
        UPA(2, 2, elevation_rad=np.pi / 2)


# --------------------------------------------------------------------------- the pipeline's path
def test_upa_design_with_one_row_gives_the_ula_results() -> None:
    """``array: upa`` with one row on both sides reproduces ``array: ula`` exactly."""
    rng = np.random.default_rng(3)
    beta = rng.uniform(0.1, 1.0, (5, 4))
    xi = beta * rng.uniform(0.3, 0.9, (5, 4))
    gamma = rng.uniform(0.0, 0.01, (5, 4))
    eta = rng.uniform(0.0, 0.01, (5, 4))
    for theta in (0.0, 25.0):
        ula = SystemParams(Nt=12, Nr=9, theta_deg=theta)
        planar = ula.replace(array="upa", elevation_deg=-30.0)
        m_ula = closed_form_metrics(gamma, eta, xi, beta, ula, design(ula))
        m_upa = closed_form_metrics(gamma, eta, xi, beta, planar, design(planar))
        for key in m_ula:
            assert np.array_equal(m_ula[key], m_upa[key]), key


# --------------------------------------------------------------------------- closed vs general
def _mrt_covariance(tx: UPA, az: float, el: float, c: float, s: float) -> np.ndarray:
    a = tx.steering2(az, el)
    return c * np.eye(tx.n_elements) + s * np.outer(a, a.conj())


def test_closed_form_equals_general_form() -> None:
    """Relative agreement 1e-10 over directions, odd and even sides, power splits."""
    sigma = 0.37
    worst = 0.0
    count = 0
    for (tr, tc), (rr, rc) in itertools.product(SHAPES, SHAPES[::2]):
        tx, rx = UPA(tr, tc), UPA(rr, rc)
        for (az_deg, el_deg), (c, s) in itertools.product(DIRECTIONS, SPLITS):
            az, el = az_deg * DEG, el_deg * DEG
            closed = crb_upa_mrt(c, s, tx, rx, az, el, sigma)
            general = crb_angles_general(
                _mrt_covariance(tx, az, el, c, s),
                tx.steering2(az, el),
                rx.steering2(az, el),
                tx.derivatives2(az, el),
                rx.derivatives2(az, el),
                sigma,
            )
            forms = planar_crb_from_forms(
                [c, s], mrt_planar_forms(tx, az, el), rx.gram3(az, el), sigma
            )
            for other in (general, forms):
                assert np.array_equal(np.isinf(closed), np.isinf(other))
                finite = np.isfinite(closed)
                rel = np.abs(other[finite] - closed[finite]) / closed[finite]
                worst = max(worst, float(rel.max(initial=0.0)))
            count += 1
    assert count == len(SHAPES) * len(SHAPES[::2]) * len(DIRECTIONS) * len(SPLITS)
    print(f"closed vs general: {count} cases, worst relative difference {worst:.2e}")
    assert worst < 1e-10, worst


def test_one_row_upa_azimuth_crb_is_the_paper_closed_form() -> None:
    """(16) of the ULA is the azimuth CRB of the 1 x N arrays; their elevation CRB is inf."""
    gamma = np.array([[0.01, 0.02]])
    eta = np.array([[0.005, 0.001]])
    xi = np.array([[0.5, 0.8]])
    for nt, nr, theta in [(8, 5, 0.0), (15, 15, 0.4), (3, 1, -1.0)]:
        paper = crb_closed_form(gamma, eta, xi, nt, nr, theta, 0.2)
        c, s = float(np.sum(xi * gamma)), float(eta.sum())
        crb = crb_upa_mrt(c, s, UPA(1, nt), UPA(1, nr), theta, 0.3, 0.2)
        assert crb[1] == np.inf
        assert crb[0] == pytest.approx(paper[0], rel=1e-13)


# --------------------------------------------------------------------------- independent FIM
def _numerical_fim(
    steer_t, steer_r, x: np.ndarray, alpha: complex, sigma2: float, az: float, el: float
) -> np.ndarray:
    """``(2 / sigma^2) Re(dmu^H dmu)`` with 4th-order central differences of the mean."""

    def mean(p: np.ndarray) -> np.ndarray:
        a_t, a_r = steer_t(p[0], p[1]), steer_r(p[0], p[1])
        return (p[2] + 1j * p[3]) * np.outer(a_r, a_t.conj()) @ x

    p0 = np.array([az, el, alpha.real, alpha.imag])
    h = 1e-4
    grads = []
    for k in range(4):
        e = np.zeros(4)
        e[k] = h
        d = (-mean(p0 + 2 * e) + 8 * mean(p0 + e) - 8 * mean(p0 - e) + mean(p0 - 2 * e)) / (12 * h)
        grads.append(d.ravel())
    g = np.array(grads)
    return 2.0 / sigma2 * (g.conj() @ g.T).real


def _random_array(rng: np.random.Generator, n: int):
    """A non-centred array of random positions (half wavelengths) in the y-z plane."""
    y, z = rng.uniform(-3, 3, n), rng.uniform(-2, 2, n)

    def steer(az: float, el: float) -> np.ndarray:
        return np.exp(1j * np.pi * (y * np.sin(az) + z * np.sin(el)))

    def deriv(az: float, el: float) -> np.ndarray:
        a = steer(az, el)
        return np.stack([1j * np.pi * y * np.cos(az) * a, 1j * np.pi * z * np.cos(el) * a])

    return steer, deriv


@pytest.mark.parametrize("geometry", ["upa", "random"])
def test_general_form_equals_a_numerical_fisher_information(geometry: str) -> None:
    """The 4 x 4 FIM and the angle CRBs against finite differences of the echo mean, with
    a real frame (sample covariance, not (37)), for the UPA and a non-centred array."""
    rng = np.random.default_rng(11)
    if geometry == "upa":
        tx, rx = UPA(3, 4), UPA(2, 3)
        steer_t, deriv_t, steer_r, deriv_r = (
            tx.steering2,
            tx.derivatives2,
            rx.steering2,
            rx.derivatives2,
        )
        nt = tx.n_elements
    else:
        nt = 9
        steer_t, deriv_t = _random_array(rng, nt)
        steer_r, deriv_r = _random_array(rng, 6)
    frame = 12
    x = (rng.standard_normal((nt, frame)) + 1j * rng.standard_normal((nt, frame))) / np.sqrt(2)
    alpha, sigma2 = 0.8 - 0.5j, 0.3
    for az, el in [(0.0, 0.0), (0.5, -0.3), (-0.9, 0.6)]:
        numeric = _numerical_fim(steer_t, steer_r, x, alpha, sigma2, az, el)
        args = (
            x @ x.conj().T / frame,
            steer_t(az, el),
            steer_r(az, el),
            deriv_t(az, el),
            deriv_r(az, el),
        )
        analytic = fisher_full(*args, alpha, sigma2, frame)
        assert np.allclose(analytic, numeric, rtol=1e-7, atol=1e-7 * np.abs(numeric).max())
        crb_block = np.diag(np.linalg.inv(numeric))[:2]
        sigma_bar2 = sigma2 / (2 * abs(alpha) ** 2 * frame)
        crb = crb_angles(angle_fisher(*planar_terms_general(*args)), sigma_bar2)
        assert crb == pytest.approx(crb_block, rel=1e-6)


# --------------------------------------------------------------------------- remarks 1-2
def test_remark1_interference_vanishes_as_the_upa_grows() -> None:
    """Beamforming uncertainty + interference over the signal of (14) (MRT, UPA of n x n)
    decreases as 1 / N and is below 1e-2 at 64 x 64."""
    beta = np.array([[1.0, 0.3, 0.05]])
    xi = 0.8 * beta
    gamma = np.array([[0.2, 0.5, 1.0]])
    eta = np.array([[0.1, 0.1, 0.1]])
    ratios = []
    for n in (2, 4, 8, 16, 32, 64):
        p = SystemParams(K=3, Nt=n * n, Nr=n * n, array="upa", tx_rows=n, rx_rows=n)
        t = design(p).precoder.rate_terms(gamma, eta, xi, beta, p)
        ratios.append(float(np.max((t.uncertainty + t.interference) / t.signal)))
    assert np.all(np.diff(ratios) < 0)
    assert ratios[-1] < 1e-2
    assert ratios[0] / ratios[-1] == pytest.approx((64 / 2) ** 2, rel=1e-12)


def test_remark2_both_crbs_vanish_as_the_upa_grows() -> None:
    """At fixed (c, s) both CRBs decrease with n for n x n arrays (as N^-4 = n^-8 for
    large n with s > 0: the sensing term Nt^2 S_q^r of the Fisher information)
    and are below 1e-8 rad^2 at 64 x 64, at broadside and off broadside."""
    for az, el in [(0.0, 0.0), (0.6, -0.4)]:
        crbs = np.array(
            [
                crb_upa_mrt(0.01, 0.01, UPA(n, n), UPA(n, n), az, el, 1.0)
                for n in (2, 4, 8, 16, 32, 64)
            ]
        )
        assert np.all(np.diff(crbs, axis=0) < 0)
        assert np.all(crbs[-1] < 1e-8)
        assert crbs[-2] / crbs[-1] == pytest.approx(2.0**8, rel=0.01)
