"""The top-level API (jcas.api): the numbers are the lower-level modules' and the paper's
closed forms, the Monte-Carlo check agrees with the closed form, files round-trip with
their names as indexes, and every bad call raises naming the key and the value.

Fixed seeds; about 5 s on 2 cores (the import test starts two interpreters).
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from conftest import ROOT, run_python

import jcas
from jcas.allocation import allocate as low_allocate
from jcas.model.channel import estimate_variance
from jcas.model.drops import large_scale_fading
from jcas.model.metrics import crb_closed_form
from jcas.model.metrics import rate as paper_rate
from jcas.model.params import ConfigError, SystemParams
from jcas.montecarlo import mc_rate as low_mc_rate

SYSTEM = jcas.System(K=4, Nt=35, Nr=35, snr_com_db=20)
DROPS = jcas.drops(SYSTEM, 40, seed=11)


@pytest.fixture(scope="module")
def optimal() -> jcas.allocation.Allocation:  # type: ignore[name-defined]
    return jcas.allocate(SYSTEM, DROPS, "optimal")


# --------------------------------------------------------------------------- numbers
def test_import_is_light_and_the_api_imports_what_it_uses() -> None:
    """``import jcas`` imports neither numpy nor xarray; a closed-form session (system,
    drops, allocate, rate, crb) never imports xarray, pandas or the solver."""
    code = (
        "import sys, jcas\n"
        "heavy = ('numpy', 'xarray', 'pandas', 'scipy', 'cvxpy', 'clarabel', 'matplotlib')\n"
        "assert not [m for m in heavy if m in sys.modules], sorted(sys.modules)\n"
        "s = jcas.System(K=4, Nt=16, Nr=16)\n"
        "d = jcas.drops(s, 8)\n"
        "a = jcas.allocate(s, d, 'optimal')\n"
        "jcas.rate(s, d, a), jcas.crb(s, d, a)\n"
        "late = ('xarray', 'pandas', 'cvxpy', 'clarabel', 'matplotlib')\n"
        "print([m for m in late if m in sys.modules])\n"
    )
    assert run_python(code).stdout.strip() == "[]"


def test_drops_are_the_pipelines_drops() -> None:
    beta, distance = large_scale_fading(SYSTEM, 11, np.arange(40))
    np.testing.assert_array_equal(DROPS.beta, beta)
    np.testing.assert_array_equal(DROPS.distance_m, distance)
    assert DROPS.index.tolist() == list(range(40))
    assert DROPS.seed == 11
    assert len(DROPS) == 40
    later = jcas.drops(SYSTEM, 10, seed=11, start=30)  # drop d is drop d, however batched
    np.testing.assert_array_equal(later.beta, DROPS.beta[30:40])
    np.testing.assert_array_equal(DROPS[30:].beta, later.beta)
    xi = estimate_variance(beta, SYSTEM.tau_p, SYSTEM.pp_w, SYSTEM.sigma_u2_w)
    np.testing.assert_array_equal(DROPS.xi(SYSTEM), xi)


def test_allocation_rate_and_crb_are_the_papers_closed_forms(optimal: Any) -> None:
    """MRT and the centred ULA: the API's rate is (15) and its CRB (16), written out
    independently of the precoder parts (jcas.model.metrics.rate, crb_closed_form)."""
    xi = DROPS.xi(SYSTEM)
    ref = low_allocate("optimal", DROPS.beta, xi, SYSTEM)
    np.testing.assert_array_equal(optimal.gamma, ref.gamma)
    assert set(optimal.status) == {"optimal"}
    r = jcas.rate(SYSTEM, DROPS, optimal)
    expected = paper_rate(
        optimal.gamma, optimal.eta, xi, DROPS.beta, SYSTEM.Nt, SYSTEM.sigma_u2_w, SYSTEM.tau_bar
    )
    np.testing.assert_allclose(r, expected, rtol=1e-12)
    c = jcas.crb(SYSTEM, DROPS, optimal)
    np.testing.assert_allclose(
        c,
        crb_closed_form(
            optimal.gamma, optimal.eta, xi, SYSTEM.Nt, SYSTEM.Nr, 0.0, SYSTEM.sigma_r_bar2
        ),
        rtol=1e-12,
    )
    assert np.all(c <= SYSTEM.crb0 * (1 + 1e-9))  # the constraint (19b) holds
    # your own powers as a (gamma, eta) pair give the same numbers
    np.testing.assert_array_equal(jcas.rate(SYSTEM, DROPS, (optimal.gamma, optimal.eta)), r)


def test_options_by_config_key_or_keyword_are_the_same() -> None:
    d = DROPS[:8]
    a = jcas.allocate(SYSTEM, d, "equal_full", equal_full_sensing_fraction=0.3)
    b = jcas.allocate(SYSTEM, d, "equal_full", sensing_fraction=0.3)
    np.testing.assert_array_equal(a.eta, b.eta)
    c = jcas.allocate(SYSTEM, d, "equal_full")  # the default, 0.5, spends more on sensing
    assert np.all(a.eta.sum(axis=1) < c.eta.sum(axis=1))


def test_monte_carlo_matches_the_closed_form_and_uses_the_pipelines_streams(
    optimal: Any,
) -> None:
    """The mean over drops of (MC - closed form) sum rate is within 3 standard errors of
    that mean (one comparison; the per-drop SEs are independent across drops)."""
    mc = jcas.mc_rate(SYSTEM, DROPS, optimal, realizations=200)
    closed = jcas.rate(SYSTEM, DROPS, optimal).sum(axis=1)
    diff = np.mean(mc.sum_rate - closed)
    se = np.sqrt(np.sum(mc.sum_rate_se**2)) / len(DROPS)
    assert abs(diff) <= 3 * se, (diff, se)
    assert np.all(mc.sum_rate_se > 0)
    # the drops' seed and global indices: the lower-level call, and any subset of drops
    ref = low_mc_rate(
        SYSTEM,
        DROPS.beta,
        optimal.gamma,
        optimal.eta,
        seed=11,
        drops=list(range(40)),
        n_realizations=200,
    )
    np.testing.assert_array_equal(mc.sum_rate, ref.sum_rate)
    part = jcas.mc_rate(
        SYSTEM, DROPS[5:9], (optimal.gamma[5:9], optimal.eta[5:9]), realizations=200
    )
    np.testing.assert_allclose(part.sum_rate, mc.sum_rate[5:9], rtol=1e-12)


def test_zf_system_and_a_failed_drop_is_a_status_not_an_error() -> None:
    zf = jcas.System(K=4, Nt=16, Nr=16, precoder="zf", crb0=1e-9)  # CRB0 out of reach
    d = jcas.drops(zf, 4)
    a = jcas.allocate(zf, d, "optimal")
    assert set(a.status) == {"infeasible"}
    assert np.isnan(jcas.rate(zf, d, a)).all()
    assert np.isnan(jcas.crb(zf, d, a)).all()


# --------------------------------------------------------------------------- results
def _dataset() -> xr.Dataset:
    d = DROPS[:6]
    per = []
    for precoder in ("mrt", "zf"):
        s = SYSTEM.replace(precoder=precoder)
        allocs = {k: jcas.allocate(s, d, k) for k in ("optimal", "equal")}
        per.append(jcas.to_dataset(s, d, allocs).expand_dims(precoder=[precoder]))
    return xr.concat(per, "precoder", data_vars="minimal", coords="minimal", compat="equals")


def test_results_round_trip_with_names_as_indexes(tmp_path: Path) -> None:
    ds = _dataset()
    path = jcas.save_results(ds, tmp_path / "mine.nc")
    out = jcas.open_results(path)
    assert out["sum_rate"].dims == ("precoder", "scheme", "drop")
    zf_opt = out["sum_rate"].sel(precoder="zf", scheme="optimal")
    np.testing.assert_array_equal(zf_opt.values, ds["sum_rate"].sel(precoder="zf")[0].values)
    assert out["sum_rate"].attrs["units"] == "bit/s/Hz"
    # the optimum is at least as good as the equal-power benchmark on every drop
    gain = out["sum_rate"].sel(scheme="optimal") - out["sum_rate"].sel(scheme="equal")
    assert float(gain.min()) >= -1e-9
    # xarray's own engine keeps the CF file's positions: the reason for open_results
    with xr.open_dataset(path) as raw, pytest.raises(KeyError):
        raw.sel(scheme="optimal")
    from jcas.api.xarray_backend import JcasBackendEntrypoint

    via = xr.open_dataset(path, engine=JcasBackendEntrypoint, drop_variables=["distance"])
    assert "distance" not in via
    assert float(via["crb"].sel(scheme="equal").max()) > 0


def test_engine_jcas_opens_result_files_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``xr.open_dataset(path, engine="jcas")`` through xarray's plugin discovery, with the
    entry point pyproject.toml declares: the installed package's (CI installs this tree),
    else the same declaration in a distribution made here on sys.path."""
    from xarray.backends import plugins

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    target = declared["xarray.backends"]["jcas"]
    assert target == "jcas.api.xarray_backend:JcasBackendEntrypoint"
    installed = {e.name for e in importlib.metadata.entry_points(group="xarray.backends")}
    if "jcas" not in installed:  # an install from a tree without it: declare it here
        dist = tmp_path / "site" / "jcas_backend_test-0.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: jcas-backend-test\n")
        (dist / "entry_points.txt").write_text(f"[xarray.backends]\njcas = {target}\n")
        monkeypatch.syspath_prepend(str(tmp_path / "site"))
    plugins.list_engines.cache_clear()
    try:
        path = jcas.save_results(_dataset(), tmp_path / "x.nc")
        with xr.open_dataset(path, engine="jcas") as ds:
            assert ds.sel(scheme="equal", precoder="zf").sizes["drop"] == 6
    finally:
        plugins.list_engines.cache_clear()


# --------------------------------------------------------------------------- bad calls
D = DROPS[:3]
A = jcas.allocate(SYSTEM, D, "optimal")

BAD: list[tuple[Callable[[], Any], type[Exception], str]] = [
    (
        lambda: jcas.System(precoder="rfz"),
        ConfigError,
        r"^precoder = 'rfz': must be one of \['mrt', 'phase_mrt', 'zf', 'pzf', 'rzf',",
    ),
    (lambda: jcas.System(array="circle"), ConfigError, r"^array = 'circle': must be one of \["),
    (lambda: jcas.System(Nt=16, tx_rows=4), ConfigError, r"^tx_rows = 4: .*needs array 'upa'"),
    (lambda: jcas.System(K=0), ConfigError, r"^K = 0: must be an integer >= 1"),
    (lambda: jcas.drops(SYSTEM, 0), ConfigError, r"^n = 0: must be an integer in 1 \.\."),
    (lambda: jcas.drops(SYSTEM, 2.0), ConfigError, r"^n = 2\.0: must be an integer \(write 2\)"),
    (lambda: jcas.drops(SYSTEM, 5, seed=-1), ConfigError, r"^seed = -1: must be an integer in 0"),
    (
        lambda: jcas.drops(SYSTEM, beta=-DROPS.beta),
        ValueError,
        r"^beta\[0, 0\] = -[0-9.e-]+: must be finite and >= 0",
    ),
    (
        lambda: jcas.drops(SYSTEM, beta=np.ones((3, 5))),
        ValueError,
        r"^beta has shape \(3, 5\): must be \(D, K\) = \(drops, 4\)",
    ),
    (
        lambda: jcas.drops(SYSTEM, beta=np.where(D.beta > 0, np.inf, 0)),
        ValueError,
        r"^beta\[0, 0\] = inf: must be finite",
    ),
    (lambda: jcas.allocate(SYSTEM, D, "opt"), ConfigError, r"^scheme = 'opt': must be one of \["),
    (
        lambda: jcas.allocate(SYSTEM, D, "sca", sca_tolerance=-1.0),
        ConfigError,
        r"^sca_tolerance = -1\.0: must be > 0",
    ),
    (
        lambda: jcas.allocate(SYSTEM, D, "sca", sca_max_iterations=2.5),
        ConfigError,
        r"^sca_max_iterations = 2\.5: must be an integer",
    ),
    (
        lambda: jcas.allocate(SYSTEM, D, "sca", tolerance=1e-3),
        ConfigError,
        r"^tolerance = 0\.001: not an option of scheme .sca.; its options: sca_tolerance \(or tol",
    ),
    (
        lambda: jcas.allocate(SYSTEM, D, "optimal", tol=1e-3),
        ConfigError,
        r"^tol = 0\.001: scheme 'optimal' takes no options",
    ),
    (
        lambda: jcas.allocate(SYSTEM, D, "equal_full", sensing_fraction=1.5),
        ConfigError,
        r"^sensing_fraction = 1\.5: must be <= 1",
    ),
    (
        lambda: jcas.allocate(SYSTEM.replace(tau_p=3), D, "optimal"),
        ConfigError,
        r"scheme 'optimal' needs",
    ),
    (
        lambda: jcas.allocate(SYSTEM.replace(K=8), D, "optimal"),
        ValueError,
        r"^drops have K = 4 users but system\.K = 8",
    ),
    (
        lambda: jcas.allocate(SYSTEM.to_dict(), D),
        TypeError,
        r"^system = dict \(\{'K': 4.*\.\.\.\): must be a jcas\.System",
    ),
    (
        lambda: jcas.allocate(SYSTEM, D.beta),
        TypeError,
        r"^drops = ndarray of shape \(3, 4\): must be jcas\.Drops",
    ),
    (
        lambda: jcas.rate(SYSTEM, D, (A.gamma[:2], A.eta)),
        ValueError,
        r"^gamma has shape \(2, 4\): must be \(3, 4\)",
    ),
    (
        lambda: jcas.crb(SYSTEM, D, (A.gamma, -A.gamma)),
        ValueError,
        r"^eta\[0, 0\] = -[0-9.e-]+: must be >= 0 or NaN",
    ),
    (
        lambda: jcas.rate(SYSTEM, D, A.gamma),
        TypeError,
        r"^allocation = ndarray of shape \(3, 4\): must be a jcas\.allocation\.Allocation",
    ),
    (
        lambda: jcas.mc_rate(SYSTEM, D, A, realizations=1),
        ConfigError,
        r"^realizations = 1: must be an integer in 2 \.\.",
    ),
    (
        lambda: jcas.mc_rate(SYSTEM, D, A, n_realizations=10),
        TypeError,
        r"unexpected keyword argument 'n_realizations'",
    ),
    (
        lambda: jcas.open_results("no/such/file.nc"),
        OSError,
        r"^result file 'no/such/file\.nc': no such file",
    ),
    (lambda: jcas.to_dataset(SYSTEM, D, {}), TypeError, r"^allocations = \{\}: must be a non-emp"),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD, ids=[m for _, _, m in BAD])
def test_bad_calls_raise_naming_the_key_and_value(
    call: Callable[[], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as err:
        call()
    assert re.search(message, str(err.value)), str(err.value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-DROPS.beta[:3], DROPS.beta[:3]), r"^beta\[0, 0\] = -[0-9.e-]+: must be finite and >= 0"),
        ((DROPS.beta[:3], np.full((3, 4), np.nan)), r"^xi\[0, 0\] = nan: must be finite"),
        ((DROPS.beta[:3], DROPS.beta[:2]), r"^beta has shape \(3, 4\) and xi \(2, 4\)"),
        ((DROPS.beta[:3, :2], DROPS.beta[:3, :2]), r"^beta has shape \(3, 2\): must be \(D, K\)"),
        ((DROPS.beta[0], DROPS.beta[0]), r"^beta has shape \(4,\): must be \(D, K\)"),
    ],
)
def test_low_level_allocate_checks_its_inputs(args: tuple[Any, Any], message: str) -> None:
    """``jcas.allocation.allocate`` (the pipeline's call) refuses negative, non-finite or
    mis-shaped ``beta``/``xi`` instead of returning status ``optimal`` for them."""
    with pytest.raises(ValueError, match=message):
        low_allocate("optimal", *args, SYSTEM)
    with pytest.raises(TypeError, match=r"^params = \{"):
        low_allocate("optimal", DROPS.beta, DROPS.beta, SYSTEM.to_dict())  # type: ignore[arg-type]


def test_system_is_systemparams_and_names_match_the_config() -> None:
    assert jcas.System is SystemParams
    cfg = {"K": 4, "Nt": 35, "Nr": 35, "snr_com_db": 20.0, "precoder": "zf"}
    assert jcas.System(**cfg) == SystemParams.from_dict(cfg)
    assert "jcas" in sys.modules
    assert {"System", "mc_rate", "open_results"} <= set(dir(jcas))
