"""Monte-Carlo estimators with a leading scheme axis: the numbers of one call per scheme.

``mc_rate`` and ``mc_crb`` accept ``gamma``, ``eta`` of shape ``(S, D, K)`` and draw each
drop's channels, estimates, noise and symbols once for the ``S`` schemes
(``jcas.montecarlo.rate.sample_moments_schemes``). The reference is the independent
evaluation the job ran before: one call per scheme with ``(D, K)`` allocations. Equality
is exact (``np.array_equal``), also for a scheme with failed (NaN) drops: such a scheme
is evaluated on the chunks of the drops valid in any scheme, so its valid drops share
their chunk with other drops than in its own call; every operation of the estimators
acts on each drop separately (elementwise, or one matrix product / reduction per drop),
so that changes no bit, which these tests check. ``compute_monte_carlo`` gives the same
dataset with and without sharing, keeps a failing scheme's error to that scheme, and its
fallback (per scheme, when the shared call raises) leaves the other schemes' numbers as
they are.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import xarray as xr

from jcas.model.channel import estimate_variance
from jcas.model.params import SystemParams
from jcas.montecarlo import mc_crb, mc_rate
from jcas.pipeline.stages import allocation, montecarlo
from jcas.pipeline.stages.drops import compute_drops

PRECODERS = ("mrt", "zf", "pzf")


def compute_allocations(*args: object, **kwargs: object) -> xr.Dataset:
    """:func:`jcas.pipeline.stages.allocation.compute_allocations` as xarray."""
    return allocation.compute_allocations(*args, **kwargs).to_xarray()  # type: ignore[arg-type]


def compute_monte_carlo(*args: object, **kwargs: object) -> xr.Dataset:
    """:func:`jcas.pipeline.stages.montecarlo.compute_monte_carlo` as xarray."""
    return montecarlo.compute_monte_carlo(*args, **kwargs).to_xarray()  # type: ignore[arg-type]


N_DROPS = 7
DROPS = [4, 9, 11, 12, 20, 31, 40]


def _schemes(params: SystemParams, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``beta (D, K)`` and 4 allocations ``(4, D, K)``: three random ones using Pt, one of
    them with failed (NaN) drops, and one that failed everywhere."""
    rng = np.random.default_rng(seed)
    k, nt = params.K, params.Nt
    beta = 10.0 ** rng.uniform(np.log10(0.05), 0.0, (N_DROPS, k))
    xi = estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)
    gammas, etas = [], []
    for frac in (0.2, 0.5, 0.8):
        g = rng.uniform(0.2, 1.0, (N_DROPS, k))
        e = rng.uniform(0.2, 1.0, (N_DROPS, k))
        g *= (1 - frac) * params.pt_w / (nt * np.sum(xi * g, axis=1, keepdims=True))
        e *= frac * params.pt_w / (nt * np.sum(e, axis=1, keepdims=True))
        gammas.append(g)
        etas.append(e)
    gammas[1][[0, 3, 4]] = np.nan  # an `infeasible` scheme on some drops
    etas[1][[0, 3, 4]] = np.nan
    gammas.append(np.full((N_DROPS, k), np.nan))  # failed on every drop
    etas.append(np.full((N_DROPS, k), np.nan))
    return beta, np.stack(gammas), np.stack(etas)


def _params(precoder: str) -> SystemParams:
    """MRT with reused pilots (tau_p < K: pilot contamination); ZF and PZF, which are
    undefined with reused pilots (parallel estimates: a singular Gram matrix, which
    LAPACK detects or not depending on the CPU's rounding), with orthonormal ones."""
    tau_p = 2 if precoder == "mrt" else 3
    return SystemParams(Nt=10, Nr=12, K=3, tau_p=tau_p, L=9, snr_com_db=10.0, precoder=precoder)


@pytest.mark.parametrize("precoder", PRECODERS)
@pytest.mark.parametrize("chunk_size", [None, 512])
def test_mc_rate_schemes_equal_separate_calls(precoder: str, chunk_size: int | None) -> None:
    """Every field of the batched ``mc_rate`` equals the per-scheme call bit for bit.

    300 realizations: one full block of 256 and a partial one; ``chunk_size = 512``
    puts two drops in a chunk, so the scheme with NaN drops is chunked differently
    than in its own call.
    """
    params = _params(precoder)
    beta, gamma, eta = _schemes(params, seed=1)
    kw = {"seed": 3, "drops": DROPS, "n_realizations": 300, "chunk_size": chunk_size}
    both = mc_rate(params, beta, gamma, eta, **kw)
    assert both.rate.shape == (4, N_DROPS, params.K)
    assert both.sum_rate.shape == (4, N_DROPS)
    for s in range(gamma.shape[0]):
        one = mc_rate(params, beta, gamma[s], eta[s], **kw)
        for field in ("rate", "rate_se", "sum_rate", "sum_rate_se"):
            a, b = getattr(both, field)[s], getattr(one, field)
            assert np.array_equal(a, b, equal_nan=True), (precoder, s, field)
    assert np.all(np.isnan(both.sum_rate[1, [0, 3, 4]]))
    assert np.all(np.isfinite(both.sum_rate[1, [1, 2, 5, 6]]))
    assert np.all(np.isnan(both.sum_rate[3]))
    # the schemes' numbers differ (each used its own allocation)
    assert not np.allclose(both.sum_rate[0], both.sum_rate[2])


@pytest.mark.parametrize("precoder", PRECODERS)
@pytest.mark.parametrize(
    ("method", "frame_length"), [("sample", None), ("symbol_average", None), ("sample", 0)]
)
def test_mc_crb_schemes_equal_separate_calls(
    precoder: str, method: str, frame_length: int | None
) -> None:
    """The batched ``mc_crb`` equals the per-scheme call bit for bit, for every method."""
    params = _params(precoder)
    beta, gamma, eta = _schemes(params, seed=2)
    kw = {
        "seed": 5,
        "drops": DROPS,
        "n_realizations": 300,
        "frame_length": frame_length,
        "method": method,
        "chunk_size": 512,
    }
    both = mc_crb(params, beta, gamma, eta, **kw)
    assert both.crb.shape == (4, N_DROPS)
    for s in range(gamma.shape[0]):
        one = mc_crb(params, beta, gamma[s], eta[s], **kw)
        assert np.array_equal(both.crb[s], one.crb, equal_nan=True), (precoder, method, s)
        assert np.array_equal(both.crb_se[s], one.crb_se, equal_nan=True), (precoder, method, s)
    assert np.all(np.isnan(both.crb[3]))
    assert np.all(np.isfinite(both.crb[1, [1, 2, 5, 6]]))


def test_scheme_axis_shapes_and_errors() -> None:
    """Zero schemes give empty outputs; mismatched shapes and a bad scheme raise."""
    params = _params("mrt")
    beta, gamma, eta = _schemes(params, seed=4)
    none = mc_rate(params, beta, gamma[:0], eta[:0], seed=0, drops=DROPS, n_realizations=10)
    assert none.rate.shape == (0, N_DROPS, params.K)
    assert mc_crb(params, beta, gamma[:0], eta[:0], seed=0, drops=DROPS, n_realizations=10)[
        0
    ].shape == (0, N_DROPS)
    with pytest.raises(ValueError, match="gamma has shape"):
        mc_rate(params, beta, gamma, eta[0], seed=0, drops=DROPS, n_realizations=10)
    bad = gamma.copy()
    bad[2, 1, 0] = -1.0
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        mc_rate(params, beta, bad, eta, seed=0, drops=DROPS, n_realizations=10)


def _allocation(precoder: str) -> tuple[xr.Dataset, dict, dict]:
    """A 4-scheme allocation dataset: ``optimal``, ``equal``, ``equal_full`` and a copy of
    ``equal`` marked ``infeasible`` (NaN) on drops 1 and 4."""
    system = {"K": 3, "Nt": 12, "Nr": 12, "L": 10, "tau_p": 10, "precoder": precoder}
    point = {"Nt": 12, "Nr": 12, "snr_com_db": 10.0, "snr_sen_db": 5.0, "crb0": 1e-3}
    drops = compute_drops(system, 7, 0, 6)
    schemes = ["optimal", "equal", "equal_full"]
    alloc = compute_allocations(drops, system, point, schemes, {})
    extra = alloc.sel(scheme=["equal"]).assign_coords(scheme=["equal_infeasible"])
    for name in ("gamma", "eta"):
        extra[name][0, [1, 4]] = np.nan
    status = extra["status"].values.astype(object)
    status[0, [1, 4]] = "infeasible"
    extra["status"] = (("scheme", "drop"), status.astype(str))
    alloc = xr.concat([alloc, extra], dim="scheme", data_vars="minimal", coords="minimal")
    return alloc, system, point


@pytest.mark.parametrize("precoder", PRECODERS)
def test_compute_monte_carlo_shared_equals_per_scheme(precoder: str) -> None:
    """The job's dataset is the same with shared draws and with one call per scheme."""
    alloc, system, point = _allocation(precoder)
    mc = {"realizations": 40, "frames": 12}
    shared = compute_monte_carlo(alloc, system, point, mc, 11)
    alone = compute_monte_carlo(alloc, system, point, mc, 11, share_draws=False)
    assert set(shared.data_vars) == set(alone.data_vars)
    for name in shared.data_vars:
        a, b = shared[name].values, alone[name].values
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
    assert shared.attrs["errors"] == alone.attrs["errors"] == ""
    assert (shared["mc_status"].values == "ok").all()
    bad = shared.sel(scheme="equal_infeasible")
    assert np.isnan(bad["sum_rate_mc"].values[[1, 4]]).all()
    assert np.isfinite(bad["crb_mc"].values[[0, 2, 3, 5]]).all()


def test_compute_monte_carlo_failure_stays_with_its_scheme() -> None:
    """A scheme that makes the estimators raise (negative power) is recorded as
    ``mc_status = error`` with its message; the other schemes' numbers are those of the
    run without it, and the dataset equals the per-scheme run."""
    alloc, system, point = _allocation("mrt")
    broken = alloc.copy(deep=True)
    broken["gamma"][2, 0, 0] = -1.0  # equal_full, drop 0: not a power
    mc = {"realizations": 30, "frames": 10}
    shared = compute_monte_carlo(broken, system, point, mc, 3)
    alone = compute_monte_carlo(broken, system, point, mc, 3, share_draws=False)
    clean = compute_monte_carlo(alloc, system, point, mc, 3)
    for name in shared.data_vars:
        a, b = shared[name].values, alone[name].values
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
    assert shared.attrs["errors"] == alone.attrs["errors"]
    assert shared.attrs["errors"].count("gamma must be >= 0") == 2  # rate and CRB
    status = shared["mc_status"].values
    assert (status[2] == "error").all()
    assert (status[[0, 1, 3]] == "ok").all()
    assert np.isnan(shared["sum_rate_mc"].values[2]).all()
    assert np.isnan(shared["crb_mc"].values[2]).all()
    for name in ("sum_rate_mc", "sum_rate_mc_se", "crb_mc"):
        a, b = shared[name].values[[0, 1, 3]], clean[name].values[[0, 1, 3]]
        assert np.array_equal(a, b, equal_nan=True), name


@pytest.mark.parametrize("estimator", [mc_rate, mc_crb])
def test_shared_draws_do_not_multiply_memory(estimator) -> None:
    """Three schemes in one call peak at the memory of one (plus the per-drop accumulators):
    the chunk's draws and channels are shared and the schemes' precoders are formed one
    after the other. 2 drops x 4096 realizations at Nt = 64 span several default chunks."""
    params = SystemParams(Nt=64, Nr=64, K=3, tau_p=2, L=9, snr_com_db=10.0)
    beta, gamma, eta = _schemes(params, seed=6)
    beta, gamma, eta = beta[:2], gamma[[0, 2, 0], :2], eta[[0, 2, 0], :2]
    peaks = []
    for g, e in ((gamma[0], eta[0]), (gamma, eta)):
        tracemalloc.start()
        estimator(params, beta, g, e, seed=0, drops=[0, 1], n_realizations=4096)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[0] > 16 * 2**20  # the chunks are the dominant allocation
    assert peaks[1] < 1.02 * peaks[0], peaks
