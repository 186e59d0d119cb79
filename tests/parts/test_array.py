"""Centred ULA, eq. (10), (17), (38)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jcas.parts.arrays.ula import (
    element_positions,
    steering_derivative,
    steering_derivative_norm2,
    steering_vector,
)

N_VALUES = [1, 2, 3, 4, 15, 16, 35, 64, 255, 512]
THETAS = np.radians([-89.0, -60.0, -12.5, 0.0, 7.0, 30.0, 45.0, 80.0])


@pytest.mark.parametrize("n", N_VALUES)
def test_positions_centred_half_wavelength(n: int) -> None:
    m = element_positions(n)
    assert m.shape == (n,)
    assert np.allclose(np.diff(m), 1.0)  # half-wavelength spacing in units of pi
    assert m[0] == -(n - 1) / 2
    assert m[-1] == (n - 1) / 2
    assert m.sum() == 0.0


def test_matches_printed_form_of_eq10() -> None:
    """(10): first element exp(-j (N-1)/2 pi sin theta), last exp(+j (N-1)/2 pi sin theta)."""
    n, theta = 6, 0.4
    a = steering_vector(n, theta)
    phase = np.pi * np.sin(theta)
    expected = np.array([np.exp(1j * k / 2 * phase) for k in (-5, -3, -1, 1, 3, 5)])
    assert np.allclose(a, expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("n", N_VALUES)
def test_norm_and_orthogonality(n: int) -> None:
    """(38): ||a||^2 = N and a^H a_dot = 0, for odd and even N and every theta."""
    a = steering_vector(n, THETAS)
    a_dot = steering_derivative(n, THETAS)
    assert a.shape == (THETAS.size, n)
    assert np.allclose(np.sum(np.abs(a) ** 2, axis=-1), n, rtol=1e-13)
    inner = np.sum(a.conj() * a_dot, axis=-1)
    scale = np.sqrt(n) * np.linalg.norm(a_dot, axis=-1) + 1e-300
    assert np.all(np.abs(inner) <= 1e-13 * scale)


@pytest.mark.parametrize("n", [2, 3, 16, 35])
@pytest.mark.parametrize("theta", THETAS)
def test_derivative_against_finite_difference(n: int, theta: float) -> None:
    """Central difference, step h = 1e-6: truncation ~ (pi N/2)^3 h^2 / 6, rounding ~ 1e-16 / h."""
    h = 1e-6
    fd = (steering_vector(n, theta + h) - steering_vector(n, theta - h)) / (2 * h)
    tol = (np.pi * n / 2) ** 3 * h**2 + 1e-9
    assert np.max(np.abs(fd - steering_derivative(n, theta))) < tol


@settings(deadline=None)
@given(
    n=st.integers(min_value=1, max_value=600),
    theta=st.floats(min_value=-np.pi / 2, max_value=np.pi / 2),
)
def test_norm2_closed_form_vs_direct_sum(n: int, theta: float) -> None:
    """pi^2 cos^2 N (N^2 - 1) / 12 equals sum |a_dot_m|^2 (direct, from the vector)."""
    direct = np.sum(np.abs(steering_derivative(n, theta)) ** 2)
    closed = steering_derivative_norm2(n, theta)
    assert closed == pytest.approx(direct, rel=1e-12, abs=1e-300)
    # and the sum of squared centred indices, independently: sum_m m^2
    m = np.arange(n) - (n - 1) / 2
    assert closed == pytest.approx(np.pi**2 * np.cos(theta) ** 2 * np.sum(m * m), rel=1e-12)


def test_norm2_broadcasts_over_n_and_theta() -> None:
    n = np.array([[1], [2], [35]])
    theta = np.array([0.0, 0.5])
    out = steering_derivative_norm2(n, theta)
    assert out.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            assert out[i, j] == pytest.approx(
                steering_derivative_norm2(int(n[i, 0]), theta[j]), rel=1e-15
            )


def test_degenerate_cases_are_zero() -> None:
    """N = 1: a_dot = 0. cos(theta) = 0 at +/- 90 deg: a_dot ~ 0 (CRB = inf there)."""
    assert steering_derivative_norm2(1, 0.3) == 0.0
    assert np.all(steering_derivative(1, 0.3) == 0)
    assert steering_derivative_norm2(64, np.pi / 2) < 1e-25


def test_shapes_follow_theta() -> None:
    theta = np.zeros((2, 3))
    assert steering_vector(5, theta).shape == (2, 3, 5)
    assert steering_derivative(5, theta).shape == (2, 3, 5)
    assert steering_derivative_norm2(5, theta).shape == (2, 3)


def test_invalid_size() -> None:
    with pytest.raises(ValueError, match="n_antennas = 0"):
        element_positions(0)
