"""User azimuths (jcas.model.drops.user_angles): their own random stream, batch invariance,
uniform azimuths, the angle the ULA sees; the distances and shadowing are unchanged."""

from __future__ import annotations

import numpy as np
from scipy import stats

from jcas.model.drops import (
    STREAM_ANGLE,
    STREAM_DROP,
    large_scale_fading,
    rng_for,
    ula_angle,
    user_angles,
    user_distances,
)
from jcas.model.params import SystemParams

P = SystemParams(K=5)


def test_distances_and_shadowing_are_those_of_their_own_stream() -> None:
    """``large_scale_fading`` is still ``K`` uniforms then ``K`` normals of
    ``rng_for(seed, STREAM_DROP, d)``, written out here: the azimuth stream changed nothing."""
    beta, dist = large_scale_fading(P, 7, [0, 3, 11])
    for i, d in enumerate((0, 3, 11)):
        rng = rng_for(7, STREAM_DROP, d)
        u, n = rng.random(P.K), rng.standard_normal(P.K)
        r = user_distances(u, P.r_min_m, P.r_max_m)
        ref = 10.0 ** (P.shadowing_db * n / 10.0) / (r / P.r_min_m) ** P.pathloss_exponent
        np.testing.assert_array_equal(dist[i], r)
        np.testing.assert_array_equal(beta[i], ref)


def test_azimuths_are_batch_invariant_and_from_their_own_stream() -> None:
    az, seen = user_angles(P, 3, np.arange(10))
    assert az.shape == seen.shape == (10, P.K)
    for piece in ([7, 2], [9], [0, 1, 2, 3]):
        np.testing.assert_array_equal(user_angles(P, 3, piece)[0], az[piece])
    np.testing.assert_array_equal(
        az[4], 2 * np.pi * rng_for(3, STREAM_ANGLE, 4).random(P.K) - np.pi
    )
    assert not np.array_equal(az, user_angles(P, 4, np.arange(10))[0])


def test_azimuths_are_uniform_and_the_ula_sees_arcsin_of_their_sine() -> None:
    az, seen = user_angles(P, 1, np.arange(2000))
    assert az.min() >= -np.pi
    assert az.max() < np.pi
    # uniform on [-pi, pi): KS at alpha = 1e-3 (fixed seed)
    assert stats.kstest(az.ravel(), stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3
    # the steering vector depends on sin(angle): front and back are the same
    np.testing.assert_allclose(np.sin(seen), np.sin(az), atol=1e-15)
    assert np.abs(seen).max() <= np.pi / 2
    # sin of a uniform azimuth has the arcsine law F(x) = 1/2 + arcsin(x) / pi
    cdf = lambda x: 0.5 + np.arcsin(np.clip(x, -1, 1)) / np.pi  # noqa: E731
    assert stats.kstest(np.sin(seen).ravel(), cdf).pvalue > 1e-3
    np.testing.assert_allclose(ula_angle([np.pi - 0.3, -np.pi + 0.2, 0.1]), [0.3, -0.2, 0.1])
