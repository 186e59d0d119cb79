"""Channel model parts: covariances against independent evaluations of their definitions,
sampling, and the rejection of bad parameters and planar arrays.

Local scattering: the exact series is checked against adaptive quadrature of the defining
integral (first column) and the whole matrix against ``E[a a^H]`` by Gauss-Hermite
quadrature built from the steering vector (10) (so the Hermitian arrangement is checked
too); the book's small-angle approximation is shown to differ. Exponential and Rician
against their formulas written out entry by entry; sampled channels against the
covariance and mean (4 standard errors, many entries: count-based, see
``_assert_sample_moments``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from jcas.model.estimation import ChannelStatistics
from jcas.model.params import ConfigError, SystemParams
from jcas.parts.arrays.ula import steering_vector
from jcas.parts.channels.exponential import Exponential
from jcas.parts.channels.iid import IID
from jcas.parts.channels.local_scattering import (
    LocalScattering,
    first_column,
    first_column_small_angle,
)
from jcas.parts.channels.rician import Rician
from jcas.parts.registry import CHANNELS, design


def channel_of(**system: object) -> object:
    """The channel model part of a system (``system.channel`` and its keys)."""
    return design(SystemParams(**system)).channel  # type: ignore[arg-type]


RNG_ANGLES = np.array([[-1.2, 0.3, 1.0], [0.0, -0.4, 1.5]])
BETA = np.array([[1.0, 0.3, 0.02], [0.5, 2.0, 0.1]])


@pytest.mark.parametrize("spread_deg", [0.5, 10.0, 40.0, 90.0])
@pytest.mark.parametrize("theta", [-1.2, 0.3])
def test_local_scattering_series_matches_quadrature(spread_deg: float, theta: float) -> None:
    nt = 64
    sigma = math.radians(spread_deg)
    col = first_column(nt, theta, sigma)
    assert col[0] == 1.0
    for d in (1, 7, 63):

        def f(x: float, part: int, d: int = d) -> float:
            w = math.exp(-x * x / (2 * sigma * sigma)) / (math.sqrt(2 * math.pi) * sigma)
            phase = math.pi * d * math.sin(theta + x)
            return w * (math.cos(phase) if part == 0 else math.sin(phase))

        kw = {"limit": 4000, "epsabs": 1e-14, "epsrel": 1e-13}
        re = quad(f, -12 * sigma, 12 * sigma, args=(0,), **kw)[0]
        im = quad(f, -12 * sigma, 12 * sigma, args=(1,), **kw)[0]
        assert abs(col[d] - (re + 1j * im)) < 1e-12, (d, col[d], re, im)


def test_local_scattering_matrix_is_the_mean_of_a_a_h() -> None:
    """``R = beta E[a(theta + delta) a(theta + delta)^H]`` with the steering vector (10),
    by 160-node Gauss-Hermite quadrature (exact to rounding for these smooth integrands)."""
    nt, sigma = 16, math.radians(10.0)
    nodes, weights = np.polynomial.hermite.hermgauss(160)
    stats = LocalScattering(10.0).statistics(BETA, RNG_ANGLES, nt)
    for d in range(2):
        for k in range(3):
            a = steering_vector(nt, RNG_ANGLES[d, k] + math.sqrt(2) * sigma * nodes)  # (n, Nt)
            ref = np.einsum("n,ni,nj->ij", weights, a, a.conj()) / math.sqrt(math.pi)
            np.testing.assert_allclose(stats.covariance[d, k], BETA[d, k] * ref, atol=1e-12)


def test_no_spread_is_a_single_path_and_the_small_angle_approximation_differs() -> None:
    nt = 64
    stats = LocalScattering(0.0).statistics(BETA, RNG_ANGLES, nt)
    a = steering_vector(nt, RNG_ANGLES)
    ref = BETA[..., None, None] * a[..., :, None] * a[..., None, :].conj()
    np.testing.assert_allclose(stats.covariance, ref, atol=1e-12)
    # the book's approximation is close at 1 deg, off by several percent at 10 deg
    for spread, lo, hi in ((1.0, 1e-4, 1e-2), (10.0, 2e-2, 0.2)):
        s = math.radians(spread)
        gap = np.abs(first_column(nt, 0.3, s) - first_column_small_angle(nt, 0.3, s)).max()
        assert lo < gap < hi, (spread, gap)


def test_exponential_entries() -> None:
    nt, r = 7, 0.6
    stats = Exponential(r).statistics(BETA, RNG_ANGLES, nt)
    for d in range(2):
        for k in range(3):
            s = math.sin(RNG_ANGLES[d, k])
            for m in range(nt):
                for n in range(nt):
                    ref = BETA[d, k] * r ** abs(m - n) * np.exp(1j * (m - n) * math.pi * s)
                    assert abs(stats.covariance[d, k, m, n] - ref) < 1e-14
    zero = Exponential(0.0).statistics(BETA, RNG_ANGLES, nt).covariance
    np.testing.assert_array_equal(zero, BETA[..., None, None] * np.eye(nt))


def test_rician_mean_and_covariance() -> None:
    nt, kdb = 8, 5.0
    kappa = 10 ** (kdb / 10)
    for scattering in (IID(), LocalScattering(15.0)):
        stats = Rician(kdb, scattering).statistics(BETA, RNG_ANGLES, nt)
        a = steering_vector(nt, RNG_ANGLES)
        np.testing.assert_allclose(
            stats.los, np.sqrt(kappa / (kappa + 1) * BETA)[..., None] * a, atol=1e-15
        )
        scat = scattering.statistics(BETA, RNG_ANGLES, nt).total_covariance()
        np.testing.assert_allclose(stats.covariance, scat / (kappa + 1), atol=1e-15)
        los_part = (
            kappa / (kappa + 1) * BETA[..., None, None] * (a[..., :, None] * a[..., None, :].conj())
        )
        np.testing.assert_allclose(
            stats.total_covariance(), los_part + scat / (kappa + 1), atol=1e-14
        )


@pytest.mark.parametrize(
    "model", [IID(), LocalScattering(0.0), LocalScattering(7.0), Exponential(0.9), Rician(-3.0)]
)
def test_every_model_has_trace_nt_beta_and_is_hermitian_psd(model: object) -> None:
    nt = 12
    stats = model.statistics(BETA, RNG_ANGLES, nt)  # type: ignore[attr-defined]
    q = stats.total_covariance()
    np.testing.assert_allclose(np.trace(q, axis1=-2, axis2=-1).real, nt * BETA, rtol=1e-13)
    np.testing.assert_allclose(q, np.conj(np.swapaxes(q, -1, -2)), atol=1e-15)
    assert np.linalg.eigvalsh(q).min() > -1e-13 * BETA.max()


def _assert_sample_moments(h: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> None:
    """Sample mean and covariance of ``h`` (n, Nt) against ``mean``, ``cov``: every entry
    within 5 standard errors and at most 1 % of them beyond 3 (about 0.3 % expected)."""
    n = h.shape[0]
    z = [np.abs(h.mean(0) - mean) / (np.sqrt(np.mean(np.abs(h) ** 2, 0) / n))]
    outer = h[:, :, None] * h[:, None, :].conj()
    for part in (np.real, np.imag):
        x = part(outer)
        se = x.std(0) / math.sqrt(n)
        ok = se > 1e-9 * np.abs(cov).max()  # rounding-level spread: exact entries
        z.append(np.abs(x.mean(0) - part(cov))[ok] / se[ok])
    zs = np.concatenate([a.ravel() for a in z])
    assert zs.max() < 5, zs.max()
    assert np.mean(zs > 3) < 0.01, np.mean(zs > 3)


@pytest.mark.parametrize("model", [IID(), LocalScattering(5.0), Rician(5.0, Exponential(0.5))])
def test_sampled_channels_have_the_statistics(model: object) -> None:
    nt, n = 6, 40000
    stats = model.statistics(BETA[:1, :2], RNG_ANGLES[:1, :2], nt)  # type: ignore[attr-defined]
    rng = np.random.default_rng(5)
    z = (rng.standard_normal((1, 2, nt, n)) + 1j * rng.standard_normal((1, 2, nt, n))) / math.sqrt(
        2
    )
    phase = rng.uniform(0, 2 * math.pi, (1, 2, n))
    h = stats.sample(z, phase)
    if stats.iid:
        np.testing.assert_array_equal(h, np.sqrt(BETA[:1, :2])[..., None, None] * z)
    q = stats.total_covariance()
    for k in range(2):
        _assert_sample_moments(h[0, k].T, np.zeros(nt), q[0, k])


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: LocalScattering(-1.0), r"channel.angular_spread_deg = -1.0: must be in \[0, 90\]"),
        (lambda: LocalScattering(91), r"channel.angular_spread_deg = 91: must be in \[0, 90\]"),
        (lambda: LocalScattering(math.nan), "channel.angular_spread_deg = nan"),
        (lambda: LocalScattering(True), "channel.angular_spread_deg = True"),
        (lambda: Exponential(1.0), r"channel.correlation = 1.0: must be in \[0, 1\)"),
        (lambda: Exponential(-0.1), r"channel.correlation = -0.1: must be in \[0, 1\)"),
        (lambda: Exponential("0.5"), "channel.correlation = '0.5'"),
        (lambda: Rician(math.inf), "channel.k_factor_db = inf: must be a finite number of dB"),
        (lambda: Rician(math.nan), "channel.k_factor_db = nan"),
        (lambda: Rician(4000.0), "channel.k_factor_db = 4000.0: must be within"),
        (lambda: Rician(3.0, Rician()), "channel.scattering = 'rician'"),
        (lambda: channel_of(channel="ray"), r"channel = 'ray': must be one of"),
        (
            lambda: channel_of(channel="rician", scattering="exponential", correlation=2.0),
            r"channel.correlation = 2.0: must be in \[0, 1\)",
        ),
        (
            lambda: channel_of(channel="rician", scattering="rician"),
            r"scattering = 'rician'",
        ),
    ],
)
def test_bad_parameters_are_rejected_naming_key_and_value(build: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build()  # type: ignore[operator]


def test_the_registry_builds_every_model() -> None:
    assert channel_of() == IID()
    assert channel_of(channel="local_scattering", angular_spread_deg=10.0) == LocalScattering(10.0)
    model = channel_of(channel="rician", k_factor_db=5.0, scattering="exponential")
    assert model == Rician(5.0, Exponential())
    assert list(CHANNELS) == ["iid", "local_scattering", "exponential", "rician"]


def test_planar_arrays_refuse_correlated_and_rician_channels() -> None:
    upa = SystemParams(K=2, Nt=16, Nr=16, array="upa", tx_rows=4, rx_rows=4)
    assert IID().unsupported(upa) is None
    for model in (LocalScattering(), Exponential(), Rician()):
        why = model.unsupported(upa)
        assert why is not None
        for part in ("system.array = 'upa'", model.name, "'ula'"):
            assert part in why
        assert model.unsupported(SystemParams()) is None


def test_statistics_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="covariance has shape"):
        ChannelStatistics(BETA, 4, np.zeros((2, 3, 3, 3)))
    with pytest.raises(ValueError, match="line-of-sight part needs"):
        ChannelStatistics(BETA, 4, None, np.zeros((2, 3, 4)))


def test_factor_of_singular_and_regular_covariances() -> None:
    """``L L^H = R`` for rank-one (no spread), numerically singular (1 deg at Nt = 64: the
    pivoted Cholesky path) and positive definite (exponential: the Cholesky path) batches."""
    for model, nt in ((LocalScattering(0.0), 8), (LocalScattering(1.0), 64), (Exponential(0.5), 9)):
        stats = model.statistics(BETA, RNG_ANGLES, nt)
        f = stats.factor()
        rebuilt = f @ np.conj(np.swapaxes(f, -1, -2))
        np.testing.assert_allclose(rebuilt, stats.covariance, atol=1e-12 * BETA.max() * nt)
