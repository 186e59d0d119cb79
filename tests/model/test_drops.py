"""User drops: batch invariance, geometry (uniform in area) and shadowing statistics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from jcas.model.drops import (
    STREAM_DROP,
    STREAM_MC_CRB,
    STREAM_MC_RATE,
    STREAM_MLE,
    large_scale_fading,
    rng_for,
    user_distances,
)
from jcas.model.params import SystemParams

P = SystemParams()
ALPHA = 1e-3  # significance level of the fixed-seed goodness-of-fit tests below


def test_same_drops_in_one_batch_or_several_in_any_order() -> None:
    beta_all, dist_all = large_scale_fading(P, 17, np.arange(12))
    assert beta_all.shape == dist_all.shape == (12, P.K)
    order = np.random.default_rng(0).permutation(12)
    pieces = np.array_split(order, 5)  # uneven batches, shuffled drop order
    for piece in pieces:
        beta, dist = large_scale_fading(P, 17, piece)
        assert np.array_equal(beta, beta_all[piece])
        assert np.array_equal(dist, dist_all[piece])
    for d in (0, 5, 11):  # single drops, as a list, a scalar and a numpy int
        assert np.array_equal(large_scale_fading(P, 17, [d])[0][0], beta_all[d])
        assert np.array_equal(large_scale_fading(P, 17, d)[0][0], beta_all[d])
        assert np.array_equal(large_scale_fading(P, 17, np.int64(d))[0][0], beta_all[d])


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    drops=st.lists(st.integers(0, 10**9), min_size=1, max_size=8, unique=True),
)
def test_drop_depends_only_on_seed_and_index(seed: int, drops: list[int]) -> None:
    beta, _ = large_scale_fading(P, seed, drops)
    for i, d in enumerate(drops):
        assert np.array_equal(large_scale_fading(P, seed, [d])[0][0], beta[i])


def test_same_drop_across_snr_and_antenna_counts() -> None:
    """Common random numbers: the placement does not depend on Nt, Nr or the SNRs."""
    b0, _ = large_scale_fading(P, 3, range(4))
    b1, _ = large_scale_fading(P.replace(Nt=35, Nr=35, snr_com_db=-10.0), 3, range(4))
    assert np.array_equal(b0, b1)


def test_seeds_drops_and_streams_differ() -> None:
    b, _ = large_scale_fading(P, 1, range(3))
    assert not np.array_equal(b[0], b[1])
    assert not np.array_equal(b, large_scale_fading(P, 2, range(3))[0])
    draws = {s: rng_for(1, s, 0).random(4) for s in (STREAM_DROP, STREAM_MC_RATE, STREAM_MC_CRB)}
    draws[STREAM_MLE] = rng_for(1, STREAM_MLE, 0).random(4)
    assert len({tuple(v) for v in draws.values()}) == 4
    # rng_for is a pure function of its triple
    assert np.array_equal(rng_for(9, 2, 5).random(3), rng_for(9, 2, 5).random(3))


def test_negative_seed_stream_or_index_rejected() -> None:
    for args in [(-1, 0, 0), (0, -1, 0), (0, 0, -1)]:
        with pytest.raises(ValueError, match="must all be >= 0"):
            rng_for(*args)


def test_distance_map_endpoints() -> None:
    r = user_distances(np.array([0.0, 0.25, 1.0]), 100.0, 500.0)
    assert r[0] == 100.0
    assert r[2] == pytest.approx(500.0, rel=1e-15)
    # a quarter of the annulus area lies inside sqrt(100^2 + 0.25 (500^2 - 100^2))
    assert r[1] == pytest.approx(np.sqrt(100.0**2 + 0.25 * (500.0**2 - 100.0**2)), rel=1e-15)


def test_distances_uniform_in_area_ks() -> None:
    """8000 users (2000 drops x 4): the area fraction (r^2 - r_min^2) / (R^2 - r_min^2)
    is U(0, 1) by a KS test at alpha = 1e-3 (fixed seed), while the same sample is
    clearly not uniform in radius (KS p < 1e-10): the test has power."""
    _, r = large_scale_fading(P, 2026, np.arange(2000))
    r = r.ravel()
    assert np.all(r >= P.r_min_m)
    assert np.all(r <= P.r_max_m)
    frac_area = (r**2 - P.r_min_m**2) / (P.r_max_m**2 - P.r_min_m**2)
    assert stats.kstest(frac_area, "uniform").pvalue > ALPHA
    frac_radius = (r - P.r_min_m) / (P.r_max_m - P.r_min_m)
    assert stats.kstest(frac_radius, "uniform").pvalue < 1e-10


def test_shadowing_statistics() -> None:
    """10 log10(beta (r / r_min)^nu) / sigma_sh ~ N(0, 1): KS at alpha = 1e-3; mean within
    4 standard errors (1/sqrt(n)); std within 4 standard errors (~1/sqrt(2n))."""
    beta, r = large_scale_fading(P, 77, np.arange(2000))
    z_db = 10 * np.log10(beta * (r / P.r_min_m) ** P.pathloss_exponent)
    n = z_db.size
    std_normal = z_db.ravel() / P.shadowing_db
    assert stats.kstest(std_normal, "norm").pvalue > ALPHA
    assert abs(std_normal.mean()) < 4 / np.sqrt(n)
    assert abs(std_normal.std(ddof=1) - 1) < 4 / np.sqrt(2 * n)
    # users and drops are independent: correlation between user 0 and user 1 ~ 0
    zz = z_db / P.shadowing_db
    assert abs(np.corrcoef(zz[:, 0], zz[:, 1])[0, 1]) < 4 / np.sqrt(zz.shape[0])


def test_no_shadowing_is_pure_path_loss() -> None:
    """shadowing 0 dB: beta = (r / r_min)^-nu, in [(R / r_min)^-nu, 1]."""
    p = P.replace(shadowing_db=0.0)
    beta, r = large_scale_fading(p, 5, np.arange(50))
    assert np.allclose(beta, (r / p.r_min_m) ** -p.pathloss_exponent, rtol=1e-14)
    assert np.all(beta <= 1.0)
    assert np.all(beta >= (p.r_max_m / p.r_min_m) ** -p.pathloss_exponent)


def test_empty_drop_list() -> None:
    beta, r = large_scale_fading(P, 0, [])
    assert beta.shape == r.shape == (0, P.K)
