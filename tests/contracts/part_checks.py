"""The part contract: the checks every registered part must pass, as plain functions.

Each ``check_*`` function takes a part (a :class:`jcas.parts.registry.Part`) and, where it
needs one, an array part and a :class:`Case`, and raises ``AssertionError`` (with the
numbers) when the part breaks its contract. :func:`precoder_checks`, :func:`array_checks`
and :func:`description_checks` list the checks that apply to a part from the capabilities
it declares (a capability not declared is not checked), so the suite
(``tests/contracts/test_contract_*.py``) is parametrized over the registries and a new part
is checked without an edit here, and a toy part can be checked by calling them
(``tests/contracts/test_contract_toys.py``).

Independent references, never the code under test:

- rate terms (14): sample moments of the gains ``g_kj = h_k^H f_j`` of the part's own
  sampler, driven by simulated uplink pilots and MMSE estimates (6)
  (:func:`jcas.montecarlo.rate.estimated_channels`); the covariance and power: the sample
  mean of ``F F^H`` (its quadratic forms on ``[a_t, a_t_dot]``) and of ``||F||_F^2``;
- the CRB: (36) as the inverse of a Fisher information of ``(theta, Re alpha, Im alpha)``
  built numerically, by finite differences of the echo mean ``alpha a_r a_t^H X`` in theta
  (the arrays' *steering vectors* only), with the sampled covariance (Slepian-Bangs);
- arrays: finite differences of the steering vectors and Gram matrices of the vectors.

Statistics. Each statistical check compares ``m`` estimates with
the closed forms, each within ``z_m`` standard errors (sample standard errors; the delta
method for ``|DS|^2`` and the CRB), with the Bonferroni bound ``z_m = Phi^-1(1 - ALPHA /
(2 m))``: a correct part fails one check with probability at most :data:`ALPHA` (under the
normal approximation), and the suite's family-wise false-failure probability is at most
``ALPHA`` times its number of statistical checks (88 with the parts registered today and
the toys: below 1 %). Seeds are fixed, so a run is reproducible; the bounds are 4.3 to 4.5
standard errors (3 SE per entry would fail correct parts somewhere in the suite's ~700
comparisons with probability about 0.85).

Measured calibration (all registered precoders, the three cases, 483 comparisons): the
z-scores have mean -0.08 and standard deviation 1.04, largest 3.97 (PZF at ``Nt = K + 2``,
where the inverse-Wishart moments of zero-forcing make the sample variances heavy-tailed);
30 reseeded runs of ZF and PZF at ``Nt = K + 2`` give per-entry standard deviations 0.7-1.3.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import keyword
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray
from scipy.stats import norm

from jcas.model.channel import estimate_variance, pilot_assignment
from jcas.model.drops import large_scale_fading
from jcas.model.metrics import covariance_crb_terms, crb_from_covariance, rate_from_terms
from jcas.model.params import SystemParams
from jcas.montecarlo.rate import complex_normal, estimated_channels, mc_rate
from jcas.montecarlo.sensing import mc_crb
from jcas.parts import registry
from jcas.parts.arrays.base import gram_of
from jcas.parts.coefficients import closed_form_coefficients
from jcas.parts.precoders.base import (
    CLOSED_FORMS,
    LINEAR_FISHER,
    REQUIREMENTS,
    SPLIT_POWER_RATE,
    TOTAL_POWER_RATE,
    split_power_sinr,
    split_power_unsupported,
)
from jcas.parts.registry import CAPABILITIES, Design, Part, Registry

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]

ALPHA = 1e-4
"""Family-wise false-failure probability of one statistical check (Bonferroni over its
entries)."""

N_SAMPLES = 20_000
"""Realizations per (precoder, array, case) of the statistical checks."""

ROOT = Path(__file__).resolve().parents[2]
"""The repository root."""

MONTE_CARLO = "monte_carlo"
PLANAR_CRB = "planar_crb"
CENTRED = "centred"
PLANAR = "planar"


def z_bound(m: int) -> float:
    """Per-entry bound (standard errors) of a check of ``m`` comparisons (Bonferroni)."""
    return float(norm.ppf(1.0 - ALPHA / (2.0 * max(1, m))))


def assert_within(
    what: str,
    estimate: Any,
    closed: Any,
    se: Any,
    *,
    rtol: float = 1e-9,
    scale: float = 0.0,
) -> None:
    """``|estimate - closed| <= z_m se + rtol |closed| + 1e-12 scale`` for every entry
    (``m`` the number of entries); the message lists the entries and their z-scores."""
    est = np.ravel(np.asarray(estimate, dtype=float))
    ref = np.ravel(np.asarray(closed, dtype=float))
    err = np.ravel(np.broadcast_to(np.asarray(se, dtype=float), est.shape))
    z = z_bound(est.size)
    tol = z * err + rtol * np.abs(ref) + 1e-12 * scale
    bad = ~(np.abs(est - ref) <= tol)
    if np.any(bad):
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = (est - ref) / err
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {est.size} entries outside {z:.2f} SE "
            f"(Bonferroni, alpha = {ALPHA}):\n  closed form {ref[bad]}\n  Monte-Carlo "
            f"{est[bad]}\n  z-scores {scores[bad]}"
        )


def assert_close(
    what: str, actual: Any, expected: Any, rtol: float = 1e-10, atol: float = 0.0
) -> None:
    """Deterministic agreement within ``rtol`` of the largest magnitude of ``expected``
    (plus ``atol``)."""
    a = np.asarray(actual)
    b = np.asarray(expected)
    if a.shape != b.shape:
        raise AssertionError(f"{what}: shape {a.shape}, expected {b.shape}")
    scale = float(np.max(np.abs(b), initial=0.0)) or 1.0
    worst = float(np.max(np.abs(a - b), initial=0.0))
    if not worst <= rtol * scale + atol:
        raise AssertionError(
            f"{what}: largest difference {worst:.3e} exceeds {rtol:.0e} of {scale:.3e}:\n"
            f"  got {a.ravel()[:8]}\n  expected {b.ravel()[:8]}"
        )


# --------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """One system of the suite: users, antennas, SNR, pilots and the target direction."""

    name: str
    K: int
    Nt: int
    Nr: int
    snr_com_db: float
    tau_p: int
    theta_deg: float
    elevation_deg: float
    seed: int


CASES: tuple[Case, ...] = (
    Case("k4-nt6-snr0", 4, 6, 4, 0.0, 10, 20.0, -10.0, 1),  # Nt = K + 2, low SNR
    Case("k3-nt16-snr30", 3, 16, 12, 30.0, 10, -35.0, 15.0, 2),  # high SNR
    Case("k4-nt8-tau2-snr10", 4, 8, 8, 10.0, 2, 5.0, 0.0, 3),  # reused pilots
)
"""The systems of the suite: ``Nt = K + 2`` at 0 dB, a large array at 30 dB, and reused
pilots (``tau_p < K``: only parts that accept them)."""


def case_params(case: Case, array: Part, precoder: str = "mrt") -> SystemParams:
    """The system of ``case`` with ``array`` and ``precoder`` (names). The array's own
    integer parameters (e.g. a UPA's rows) are set to 2 where its factory accepts that,
    so that a part with shape parameters is not checked in its degenerate default shape."""
    values: dict[str, Any] = {
        "K": case.K,
        "Nt": case.Nt,
        "Nr": case.Nr,
        "snr_com_db": case.snr_com_db,
        "tau_p": case.tau_p,
        "theta_deg": case.theta_deg,
        "elevation_deg": case.elevation_deg,
        "array": array.name,
        "precoder": precoder,
    }
    for param in array.params:
        if param.kind is not int or (param.maximum is not None and param.maximum < 2):
            continue
        trial = {**values, param.key: 2}
        try:
            p = SystemParams(**trial)
            array.build(p, "tx")
            array.build(p, "rx")
        except (ValueError, TypeError):
            continue
        values = trial
    return SystemParams(**values)


@dataclass(frozen=True)
class Setup:
    """A drop and an allocation of one case, with the parts built."""

    params: SystemParams
    precoder: Any
    tx: Any
    rx: Any
    beta: Float  # (1, K)
    xi: Float  # (1, K)
    gamma: Float  # (1, K)
    eta: Float  # (1, K)


def _drop(params: SystemParams, seed: int) -> tuple[Float, Float]:
    beta, _ = large_scale_fading(params, 100 + seed, [0])
    return beta, estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)


def make_setup(precoder: Part, array: Part, case: Case) -> Setup:
    """The parts of ``case`` and a random allocation using the full power budget: power
    factors ``x`` uneven over the users, 20-60 % on sensing, then each user's sensing
    variable scaled by 0.5-1.5 (so that per-user sensing variables are not all equal)."""
    params = case_params(case, array, precoder.name)
    pre = precoder.build()
    beta, xi = _drop(params, case.seed)
    rng = np.random.default_rng([case.seed, 17])
    x = rng.uniform(0.2, 1.0, (1, case.K))
    share = rng.uniform(0.2, 0.6)
    budget = params.pt_w / params.Nt
    x *= (1 - share) * budget / x.sum()
    s = np.array([share * budget])
    if hasattr(pre, "from_power_factors"):
        gamma, eta = (np.array(v, dtype=float) for v in pre.from_power_factors(x, s, xi))
    else:  # a precoder without closed forms: its variables as power factors
        gamma, eta = x, np.full(x.shape, s[0] / case.K)
    eta = eta * rng.uniform(0.5, 1.5, eta.shape)
    return Setup(
        params, pre, array.build(params, "tx"), array.build(params, "rx"), beta, xi, gamma, eta
    )


def applicable(precoder: Part, array: Part, case: Case) -> bool:
    """Whether the parts build at ``case`` and the precoder accepts it (``unsupported("")``)."""
    try:
        params = case_params(case, array, precoder.name)
        array.build(params, "tx")
        array.build(params, "rx")
        pre = precoder.build()
    except (ValueError, TypeError):
        return False
    return pre.unsupported("", params) is None


# --------------------------------------------------------------------------- sampling
@dataclass(frozen=True)
class Samples:
    """Per-realization statistics of the sampled precoder (``n`` realizations).

    gains : ``g_kj = h_k^H f_j``, ``(n, K, K)``.
    forms : ``[a_t, a_t_dot]^H F F^H [a_t, a_t_dot]``, ``(n, 2, 2)``.
    power : ``||F||_F^2``, ``(n,)`` (W).
    fisher : ``Re tr(M_i^H M_j F F^H)`` for ``M = (dA/dtheta, A, j A)``, ``A = a_r a_t^H``
        with ``dA/dtheta`` by finite differences of the steering vectors, ``(n, 3, 3)``.
    forms3 : the 3 x 3 forms on ``[a_t, d_az, d_el]`` of a planar array, or None.
    """

    gains: Complex
    forms: Complex
    power: Float
    fisher: Float
    forms3: Complex | None


FD_STEP = 1e-4
"""Step (rad) of the fourth-order central differences (truncation ~ (k h)^4 / 30 for a
phase slope k; below 1e-10 relative for the arrays of the cases)."""


FD_ATOL = 1e-9
"""Absolute tolerance (per rad, for unit-modulus elements) of a finite-difference
derivative: rounding ``~ eps / h = 2e-12``, where the derivative itself vanishes (an axis
of one element)."""


def finite_difference(fun: Callable[[float], Any], x: float, h: float = FD_STEP) -> Any:
    """Fourth-order central difference of ``fun`` at ``x``."""
    f = [np.asarray(fun(x + k * h)) for k in (-2, -1, 1, 2)]
    return (f[0] - 8.0 * f[1] + 8.0 * f[2] - f[3]) / (12.0 * h)


def echo_matrix(setup: Setup, theta: float) -> Complex:
    """``A(theta) = a_r(theta) a_t(theta)^H`` from the arrays' steering vectors."""
    a_r = np.asarray(setup.rx.steering(theta), dtype=complex)
    a_t = np.asarray(setup.tx.steering(theta), dtype=complex)
    return np.outer(a_r, np.conj(a_t))


def draw(setup: Setup, n: int, seed: int) -> tuple[Complex, Complex]:
    """True channels and MMSE estimates ``(n, Nt, K)`` of the setup's drop, from simulated
    uplink pilots (:func:`jcas.montecarlo.rate.estimated_channels`)."""
    p = setup.params
    rng = np.random.default_rng([seed, 29])
    n_pilots = np.unique(pilot_assignment(p.K, p.tau_p)).size
    hbar = complex_normal(rng, (n, p.Nt, p.K))
    noise = complex_normal(rng, (n, p.Nt, n_pilots))
    return estimated_channels(p, setup.beta[0], hbar, noise)


@functools.lru_cache(maxsize=2)
def samples(precoder: Part, array: Part, case: Case) -> tuple[Setup, Samples]:
    """The setup of ``case`` and the statistics of :data:`N_SAMPLES` realizations of the
    precoder's own sampler (cached: every statistical check of one combination reads them)."""
    setup = make_setup(precoder, array, case)
    p, tx = setup.params, setup.tx
    h, h_hat = draw(setup, N_SAMPLES, case.seed)
    th = p.theta_rad
    a_t = np.asarray(tx.steering(th), dtype=complex)
    f = np.asarray(setup.precoder.sample(h_hat, setup.xi, setup.gamma, setup.eta, a_t))
    gains = np.conj(np.swapaxes(h, -1, -2)) @ f
    basis = np.stack([a_t, np.asarray(tx.derivative(th), dtype=complex)], axis=1)
    proj = basis.conj().T @ f
    forms = proj @ np.conj(np.swapaxes(proj, -1, -2))
    power = np.sum(np.abs(f) ** 2, axis=(-2, -1))
    a_mat = echo_matrix(setup, th)
    a_dot = finite_difference(lambda t: echo_matrix(setup, t), th)
    m = np.stack([a_dot @ f, a_mat @ f, 1j * (a_mat @ f)], axis=1)  # (n, 3, Nr, K)
    fisher = np.einsum("nirk,njrk->nij", np.conj(m), m).real
    forms3 = None
    if hasattr(tx, "steering2"):
        el = p.elevation_rad
        basis3 = np.concatenate(
            [tx.steering2(th, el)[None, :], tx.derivatives2(th, el)], axis=0
        ).T  # (Nt, 3)
        proj3 = basis3.conj().T @ f
        forms3 = proj3 @ np.conj(np.swapaxes(proj3, -1, -2))
    return setup, Samples(gains, forms, power, fisher, forms3)


def _mean_se(x: Any) -> tuple[Any, Any]:
    """Sample mean over the first axis and its standard error (complex input: the SEs of
    the real and imaginary parts as the real and imaginary parts of the result)."""
    x = np.asarray(x)
    root_n = math.sqrt(x.shape[0])
    if np.iscomplexobj(x):
        se = x.real.std(axis=0, ddof=1) + 1j * x.imag.std(axis=0, ddof=1)
        return x.mean(axis=0), se / root_n
    return x.mean(axis=0), x.std(axis=0, ddof=1) / root_n


# --------------------------------------------------------------------------- precoder checks
def check_rate_terms(precoder: Part, array: Part, case: Case) -> None:
    """``|DS_k|^2``, ``E|BU_k|^2`` and ``sum_{j != k} E|UI_kj|^2`` of ``rate_terms`` against
    the sample moments of the part's own sampler (``3 K`` comparisons).

    ``|DS|^2``: ``|mean g|^2 - var(g) / n`` (unbiased), delta-method SE with its second-order
    term; ``E|BU|^2``: the sample variance of ``g_kk``; the interference: the sample mean.
    """
    setup, smp = samples(precoder, array, case)
    p = setup.params
    n = smp.gains.shape[0]
    g = np.diagonal(smp.gains, axis1=-2, axis2=-1)  # (n, K)
    m = g.mean(axis=0)
    dev = g - m
    var = np.sum(np.abs(dev) ** 2, axis=0) / (n - 1)
    c_rr = np.mean(dev.real**2, axis=0)
    c_ii = np.mean(dev.imag**2, axis=0)
    c_ri = np.mean(dev.real * dev.imag, axis=0)
    quad = m.real**2 * c_rr + 2 * m.real * m.imag * c_ri + m.imag**2 * c_ii
    tr2 = c_rr**2 + 2 * c_ri**2 + c_ii**2
    signal = np.abs(m) ** 2 - var / n
    signal_se = np.sqrt(4 * quad / n + 2 * tr2 / n**2)
    u = np.abs(dev) ** 2
    uncertainty_se = u.std(axis=0, ddof=1) / math.sqrt(n)
    power_all = np.sum(np.abs(smp.gains) ** 2, axis=-1)
    interference, interference_se = _mean_se(power_all - np.abs(g) ** 2)
    terms = setup.precoder.rate_terms(setup.gamma, setup.eta, setup.xi, setup.beta, p)
    closed = np.concatenate([np.ravel(terms.signal), np.ravel(terms.uncertainty)])
    closed = np.concatenate([closed, np.ravel(terms.interference)])
    for name, arr in (("signal", terms.signal), ("uncertainty", terms.uncertainty)):
        if np.shape(arr) != (1, p.K):
            raise AssertionError(f"rate_terms().{name}: shape {np.shape(arr)}, expected (1, K)")
    estimate = np.concatenate([signal, var, interference])
    se = np.concatenate([signal_se, uncertainty_se, interference_se])
    assert_within(
        f"{precoder.name} rate terms (|DS|^2, E|BU|^2, interference per user) at {case.name} "
        f"with {array.name}",
        estimate,
        closed,
        se,
        scale=float(np.max(np.abs(closed))),
    )


def check_covariance(precoder: Part, array: Part, case: Case) -> None:
    """``covariance()`` forms against the sample mean of ``[a_t, a_t_dot]^H F F^H [a_t,
    a_t_dot]`` (real and imaginary parts of the 4 entries) and ``transmit_power`` against the
    sample mean of ``||F||_F^2``."""
    setup, smp = samples(precoder, array, case)
    p = setup.params
    cov = setup.precoder.covariance(setup.gamma, setup.eta, setup.xi, p, setup.tx)
    closed = np.einsum("...m,...mij->...ij", cov.weights, cov.forms)
    closed = np.asarray(closed).reshape(2, 2)
    mean, se = _mean_se(smp.forms)
    power, power_se = _mean_se(smp.power)
    expected_power = np.asarray(setup.precoder.transmit_power(setup.gamma, setup.eta, setup.xi, p))
    if expected_power.shape != (1,):
        raise AssertionError(f"transmit_power(): shape {expected_power.shape}, expected (1,)")
    assert_within(
        f"{precoder.name} covariance forms and transmit power at {case.name} with {array.name}",
        np.concatenate([mean.real.ravel(), mean.imag.ravel(), [power]]),
        np.concatenate([closed.real.ravel(), closed.imag.ravel(), expected_power]),
        np.concatenate([se.real.ravel(), se.imag.ravel(), [power_se]]),
        scale=float(np.max(np.abs(closed))),
    )


def check_crb(precoder: Part, array: Part, case: Case) -> None:
    """The CRB (36) of the closed-form covariance (``covariance()`` and the receive array's
    ``gram``, :func:`jcas.model.metrics.crb_from_covariance`) against ``sigma_r_bar^2
    [J^-1]_theta,theta`` of the numerical Fisher information ``J`` (module docstring) with
    the sampled covariance; also the terms ``T1 = J_aa``, ``T2 = J_tt``,
    ``T3 = J_ta - j J_tb`` of (36) (5 comparisons; delta-method SE of the CRB)."""
    setup, smp = samples(precoder, array, case)
    p = setup.params
    s2 = p.sigma_r_bar2
    j_mean = smp.fisher.mean(axis=0)
    j_inv = np.linalg.inv(j_mean)
    crb_num = s2 * j_inv[0, 0]
    v = j_inv[:, 0]
    lin = -s2 * np.einsum("i,nij,j->n", v, smp.fisher, v)  # linearised CRB per realization
    crb_se = lin.std(ddof=1) / math.sqrt(lin.size)
    fis_mean, fis_se = _mean_se(smp.fisher)
    cov = setup.precoder.covariance(setup.gamma, setup.eta, setup.xi, p, setup.tx)
    rx_gram = setup.rx.gram(p.theta_rad)
    t1, t2, t3 = (np.ravel(t)[0] for t in covariance_crb_terms(cov, rx_gram))
    crb = float(np.ravel(crb_from_covariance(cov, rx_gram, s2))[0])
    assert_within(
        f"{precoder.name} T1, T2, Re T3, Im T3 and CRB (36) from covariance() vs the numerical "
        f"Fisher information at {case.name} with {array.name}",
        [fis_mean[1, 1], fis_mean[0, 0], fis_mean[0, 1], -fis_mean[0, 2], crb_num],
        [t1, t2, t3.real, t3.imag, crb],
        [fis_se[1, 1], fis_se[0, 0], fis_se[0, 1], fis_se[0, 2], crb_se],
        rtol=1e-7,  # the finite differences
        scale=float(abs(t2)),
    )


def check_planar_covariance(precoder: Part, array: Part, case: Case) -> None:
    """``planar_crb``: the two-angle CRBs use the covariance (37) ``c I + s a_t a_t^H`` on
    the 3 x 3 forms of a planar array (``jcas.model.fisher``); the sampled 3 x 3 forms of
    ``F F^H`` must match it with the part's power factors (18 comparisons)."""
    setup, smp = samples(precoder, array, case)
    if smp.forms3 is None:
        raise AssertionError(f"array {array.name!r} declares 'planar' but has no steering2")
    p = setup.params
    x, s = setup.precoder.power_factors(setup.gamma, setup.eta, setup.xi)
    c, s = float(np.sum(x)), float(np.ravel(s)[0])
    g3 = np.asarray(setup.tx.gram3(p.theta_rad, p.elevation_rad))
    col = g3[:, 0]
    closed = c * g3 + s * np.outer(col, np.conj(col))
    mean, se = _mean_se(smp.forms3)
    assert_within(
        f"{precoder.name} 3 x 3 covariance forms (37) at {case.name} with {array.name}",
        np.concatenate([mean.real.ravel(), mean.imag.ravel()]),
        np.concatenate([closed.real.ravel(), closed.imag.ravel()]),
        np.concatenate([se.real.ravel(), se.imag.ravel()]),
        scale=float(np.max(np.abs(closed))),
    )


def _random_allocations(setup: Setup, n: int = 6) -> tuple[Float, Float, Float, Float]:
    """``(beta, xi, gamma, eta)`` of ``n`` drops (``(n, K)``): random power factors mapped by
    the precoder, sensing variables scaled unevenly; the first row is the setup's."""
    p = setup.params
    rng = np.random.default_rng([p.K, p.Nt, 5])
    beta, _ = large_scale_fading(p, 7, range(n))
    xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
    x = rng.uniform(0.0, 1.0, (n, p.K)) * p.pt_w / p.Nt / p.K
    s = rng.uniform(0.0, 1.0, n) * p.pt_w / p.Nt
    gamma, eta = (np.array(v, dtype=float) for v in setup.precoder.from_power_factors(x, s, xi))
    eta = eta * rng.uniform(0.0, 2.0, eta.shape)
    beta[0], xi[0], gamma[0], eta[0] = setup.beta[0], setup.xi[0], setup.gamma[0], setup.eta[0]
    return beta, xi, gamma, eta


def _sinr(terms: Any, noise: float) -> Float:
    return np.asarray(terms.signal) / (
        np.asarray(terms.uncertainty) + np.asarray(terms.interference) + noise
    )


def check_power_maps(precoder: Part, array: Part, case: Case) -> None:
    """The allocation hooks are consistent with each other and with the closed forms:

    - ``from_power_factors`` inverts ``power_factors`` (``(x, s)`` round trip, and the
      sensing variables equal, ``s / K`` each);
    - ``transmit_power = Nt (sum_k x_k + s)`` (the budget of every scheme);
    - ``equal_split(c, s)`` has totals ``c``, ``s`` and equal variables over the users;
    - the rates and the CRB depend on the allocation only through the power factors and are
      linear-fractional / linear in them: the coefficients of
      :func:`jcas.parts.coefficients.closed_form_coefficients` reproduce ``rate_terms`` and
      ``covariance`` at random allocations (uneven sensing variables included).
    """
    setup = make_setup(precoder, array, case)
    p, pre = setup.params, setup.precoder
    beta, xi, gamma, eta = _random_allocations(setup)
    x, s = (np.asarray(v, dtype=float) for v in pre.power_factors(gamma, eta, xi))
    if x.shape != xi.shape or s.shape != xi.shape[:1]:
        raise AssertionError(f"power_factors(): shapes {x.shape}, {s.shape}: expected (D, K), (D,)")
    g2, e2 = (np.asarray(v, dtype=float) for v in pre.from_power_factors(x, s, xi))
    x2, s2 = pre.power_factors(g2, e2, xi)
    assert_close("power_factors(from_power_factors(x, s)) = x", x2, x, 1e-12)
    assert_close("power_factors(from_power_factors(x, s)) = s", s2, s, 1e-12)
    assert_close("from_power_factors: eta = s / K each", e2, np.repeat(s[:, None] / p.K, p.K, 1))
    power = pre.transmit_power(gamma, eta, xi, p)
    assert_close("transmit_power = Nt (sum x + s)", power, p.Nt * (x.sum(axis=1) + s), 1e-12)
    c = x.sum(axis=1)
    ge, ee = pre.equal_split(c, s, xi)
    xe, se = pre.power_factors(ge, ee, xi)
    assert_close("equal_split: sum of x = c", np.sum(xe, axis=1), c, 1e-12)
    assert_close("equal_split: s", se, s, 1e-12)
    for name, v in (("gamma", ge), ("eta", ee)):
        v = np.asarray(v, dtype=float)
        assert_close(f"equal_split: {name} equal over users", v, np.repeat(v[:, :1], p.K, 1))
    coef = closed_form_coefficients(beta, xi, p, Design(pre, setup.tx, setup.rx))
    terms = pre.rate_terms(gamma, eta, xi, beta, p)
    assert_close(
        "rates of closed_form_coefficients at the power factors = rates of rate_terms",
        coef.rate.rates(x, s),
        rate_from_terms(terms, p.sigma_u2_w, p.tau_bar),
        1e-9,
    )
    cov = pre.covariance(gamma, eta, xi, p, setup.tx)
    assert_close(
        "CRB of closed_form_coefficients = CRB of covariance()",
        coef.fisher.crb(x, s),
        crb_from_covariance(cov, setup.rx.gram(p.theta_rad), p.sigma_r_bar2),
        1e-9,
    )


def check_total_power_rate(precoder: Part, array: Part, case: Case) -> None:
    """``total_power_sinr -> (A, B)``: ``A_k x_k / (B_k (c + s) + sigma_u^2)`` is the SINR of
    ``rate_terms`` at random allocations."""
    setup = make_setup(precoder, array, case)
    p, pre = setup.params, setup.precoder
    beta, xi, gamma, eta = _random_allocations(setup)
    a, b = (np.asarray(v, dtype=float) for v in pre.total_power_sinr(beta, xi, p))
    x, s = pre.power_factors(gamma, eta, xi)
    total = np.sum(x, axis=1, keepdims=True) + np.asarray(s)[:, None]
    sinr = _sinr(pre.rate_terms(gamma, eta, xi, beta, p), p.sigma_u2_w)
    assert_close("A x / (B (c + s) + sigma^2) = SINR", a * x / (b * total + p.sigma_u2_w), sinr)


def check_split_power_rate(precoder: Part, array: Part, case: Case) -> None:
    """``(A, B, E)`` (``split_power_sinr``, or the total-power form with ``E = B``):
    ``A_k x_k / (B_k c + E_k s + sigma_u^2)`` is the SINR of ``rate_terms``, and ``E >= B``."""
    setup = make_setup(precoder, array, case)
    p, pre = setup.params, setup.precoder
    beta, xi, gamma, eta = _random_allocations(setup)
    a, b, e = split_power_sinr(pre, beta, xi, p)
    x, s = pre.power_factors(gamma, eta, xi)
    c = np.sum(x, axis=1, keepdims=True)
    s = np.asarray(s)[:, None]
    sinr = _sinr(pre.rate_terms(gamma, eta, xi, beta, p), p.sigma_u2_w)
    assert_close("A x / (B c + E s + sigma^2) = SINR", a * x / (b * c + e * s + p.sigma_u2_w), sinr)
    if not np.all(e >= b * (1 - 1e-12)):
        raise AssertionError(f"split-power form needs E >= B: E = {e}, B = {b}")


def check_linear_fisher(precoder: Part, array: Part, case: Case) -> None:
    """``covariance_components -> (R_c, R_s)`` forms: ``covariance()`` is ``c R_c + s R_s``
    at random allocations (``c = sum_k x_k``, ``s``: the power factors)."""
    setup = make_setup(precoder, array, case)
    p, pre = setup.params, setup.precoder
    _, xi, gamma, eta = _random_allocations(setup)
    comp = np.asarray(pre.covariance_components(p, setup.tx))
    if comp.shape != (2, 2, 2):
        raise AssertionError(f"covariance_components(): shape {comp.shape}, expected (2, 2, 2)")
    x, s = pre.power_factors(gamma, eta, xi)
    c = np.sum(x, axis=1)
    cov = pre.covariance(gamma, eta, xi, p, setup.tx)
    full = np.einsum("...m,...mij->...ij", cov.weights, cov.forms)
    linear = c[:, None, None] * comp[0] + np.asarray(s)[:, None, None] * comp[1]
    assert_close("covariance() = c R_c + s R_s", np.broadcast_to(full, linear.shape), linear)


ROUTE_REALIZATIONS = 3000
"""Realizations per drop of the coefficients and of the plain Monte-Carlo rate (14) in
:func:`check_route_sampler`."""


def check_route_sampler(precoder: Part, array: Part, case: Case) -> None:
    """``monte_carlo`` of a precoder without closed forms (the coefficient route): ``sample``
    with the drops' :class:`~jcas.parts.precoders.general.PrecoderContext` (its norms from
    :func:`jcas.montecarlo.coefficients.mc_coefficients`) gives ``(..., Nt, K)`` complex128,
    finite, deterministic, each realization independent of the others in its batch; the
    plain Monte-Carlo rate (14) of the part by name (:func:`mc_rate` with those norms; its
    own streams) equals the rate of the Monte-Carlo coefficients at the same powers within
    ``z_1`` (3.9) combined standard errors (the coefficients' by the delta method), and the
    Monte-Carlo CRB is positive and reproducible."""
    from jcas.model.estimation import mmse_estimation
    from jcas.montecarlo.coefficients import mc_coefficients
    from jcas.parts.precoders.general import precoder_context
    from jcas.pipeline.stages.allocation import _coefficient_ses

    setup = make_setup(precoder, array, case)
    p, pre = setup.params, setup.precoder
    channel = registry.design(p).channel
    zeros = np.zeros_like(setup.beta)
    est = mmse_estimation(channel.statistics(setup.beta, zeros, p.Nt), p.tau_p, p.pp_w,
                          p.sigma_u2_w)  # fmt: skip
    coef = mc_coefficients(p, channel, setup.beta, zeros, pre, seed=5, drops=[0],
                           n_realizations=ROUTE_REALIZATIONS, tx=setup.tx, rx=setup.rx)  # fmt: skip
    _, h_hat = draw(setup, 12, case.seed)
    layout = h_hat.reshape(1, 3, 4, p.Nt, p.K)  # (drops, blocks, size, Nt, K)
    ctx = precoder_context(p, est, setup.tx, batch_axes=2, norms=coef.norms)
    col = (slice(None), None, None, slice(None))
    args = (setup.xi[col], setup.gamma[col], setup.eta[col], ctx.a_t)
    f = pre.sample(layout, *args, context=ctx)
    if not isinstance(f, np.ndarray) or f.shape != layout.shape or f.dtype != np.complex128:
        raise AssertionError(
            f"sample(): {type(f).__name__} {getattr(f, 'shape', None)} "
            f"{getattr(f, 'dtype', None)}, expected complex128 {layout.shape}"
        )
    if not np.all(np.isfinite(f)):
        raise AssertionError("sample(): non-finite entries")
    np.testing.assert_array_equal(pre.sample(layout, *args, context=ctx), f, "deterministic")
    part = pre.sample(layout[:, :1], *args, context=ctx)
    assert_close("sample() of a sub-batch = the batch's rows", part, f[:, :1], 1e-12)
    # the plain Monte-Carlo rate (14) of the simulated precoder against the coefficients
    x, s = pre.power_factors(setup.gamma, setup.eta, est.xi)
    x, s = np.asarray(x, dtype=float), np.atleast_1d(np.asarray(s, dtype=float))
    plain = mc_rate(p, setup.beta, setup.gamma, setup.eta, seed=3, drops=[0],
                    n_realizations=ROUTE_REALIZATIONS, norms=coef.norms)  # fmt: skip
    c = coef.coefficients
    coef_rate = float(c.rate.sum_rate(x, s)[0])
    coef_se = float(_coefficient_ses(c, x, s)[0][0])
    err = math.hypot(float(plain.sum_rate_se[0]), coef_se)
    assert_within("sum rate: plain Monte-Carlo (14) vs the coefficients",
                  float(plain.sum_rate[0]), coef_rate, err)  # fmt: skip
    crbs = [
        mc_crb(p, setup.beta, setup.gamma, setup.eta, seed=3, drops=[0], n_realizations=8,
               frame_length=4, norms=coef.norms)
        for _ in range(2)
    ]  # fmt: skip
    if not np.all(crbs[0].crb > 0) or np.any(np.isnan(crbs[0].crb)):
        raise AssertionError(f"mc_crb: {crbs[0].crb} (expected positive)")
    np.testing.assert_array_equal(crbs[1].crb, crbs[0].crb, err_msg="mc_crb")


def check_sampler(precoder: Part, array: Part, case: Case) -> None:
    """``monte_carlo``: ``sample`` gives ``(..., Nt, K)`` complex128, finite, for the batch
    layouts of the Monte-Carlo stages (drops, blocks, realizations), the same numbers for
    the same input, and each realization independently of the others in its batch; the
    Monte-Carlo rate (14) and CRB of the part (by name, through ``design``) are finite and
    identical under the same seed. A precoder without closed forms that has directions (the
    coefficient route): :func:`check_route_sampler`."""
    if CLOSED_FORMS not in precoder.capabilities and hasattr(precoder.build(), "directions"):
        check_route_sampler(precoder, array, case)
        return
    setup = make_setup(precoder, array, case)
    p, pre = setup.params, setup.precoder
    _, h_hat = draw(setup, 12, case.seed)
    a_t = np.asarray(setup.tx.steering(p.theta_rad), dtype=complex)
    layout = h_hat.reshape(2, 2, 3, p.Nt, p.K)  # (drops, blocks, size, Nt, K)
    col = (slice(None), None, None, slice(None))
    xi2 = np.concatenate([setup.xi, setup.xi * 0.5])
    g2 = np.concatenate([setup.gamma, setup.gamma * 2.0])
    e2 = np.concatenate([setup.eta, setup.eta * 0.5])
    f = pre.sample(layout, xi2[col], g2[col], e2[col], a_t)
    if not isinstance(f, np.ndarray) or f.shape != layout.shape or f.dtype != np.complex128:
        raise AssertionError(
            f"sample(): {type(f).__name__} {getattr(f, 'shape', None)} "
            f"{getattr(f, 'dtype', None)}, expected complex128 {layout.shape}"
        )
    if not np.all(np.isfinite(f)):
        raise AssertionError("sample(): non-finite entries")
    again = pre.sample(layout, xi2[col], g2[col], e2[col], a_t)
    np.testing.assert_array_equal(again, f, err_msg="sample(): not deterministic")
    part = pre.sample(layout[:, :, :1], xi2[col], g2[col], e2[col], a_t)
    assert_close("sample() of a sub-batch = the batch's rows", part, f[:, :, :1], 1e-12)
    flat = pre.sample(h_hat, setup.xi, setup.gamma, setup.eta, a_t)
    if np.shape(flat) != h_hat.shape:
        raise AssertionError(f"sample(): shape {np.shape(flat)} for h_hat {h_hat.shape}")
    beta2 = np.concatenate([setup.beta, setup.beta * 0.5])
    runs = [mc_rate(p, beta2, g2, e2, seed=3, drops=[0, 1], n_realizations=300) for _ in range(2)]
    if runs[0].rate.shape != (2, p.K):
        raise AssertionError(f"mc_rate: rate shape {runs[0].rate.shape}, expected (2, K)")
    for field in ("rate", "rate_se", "sum_rate", "sum_rate_se"):
        value = getattr(runs[0], field)
        if not np.all(np.isfinite(value)):
            raise AssertionError(f"mc_rate: {field} not finite: {value}")
        np.testing.assert_array_equal(getattr(runs[1], field), value, err_msg=field)
    crbs = [
        mc_crb(p, beta2, g2, e2, seed=3, drops=[0, 1], n_realizations=8, frame_length=4)
        for _ in range(2)
    ]
    crb = crbs[0].crb
    if crb.shape != (2,) or np.any(np.isnan(crb)) or not np.all(crb > 0):
        raise AssertionError(f"mc_crb: {crb} (expected positive, inf without angle information)")
    np.testing.assert_array_equal(crbs[1].crb, crbs[0].crb, err_msg="mc_crb")


# --------------------------------------------------------------------------- array checks
ANGLES = np.radians(np.array([[-71.0, -33.0, -4.0], [0.0, 12.5, 58.0]]))
"""Angles (rad) of the array checks, a ``(2, 3)`` batch."""


def _array_params(array: Part, case: Case) -> SystemParams:
    return case_params(case, array)


def check_array_shapes(array: Part, case: Case) -> None:
    """The factory builds ``Nt`` (``"tx"``) and ``Nr`` (``"rx"``) elements and refuses
    another side with a ``ValueError`` naming it; ``steering``, ``derivative`` and ``gram``
    have shapes ``S + (N,)``, ``S + (N,)``, ``S + (2, 2)`` for angles of shape ``S``
    (scalar, ``(2, 3)``), complex and finite; ``gram`` is Hermitian."""
    p = _array_params(array, case)
    for side, n in (("tx", p.Nt), ("rx", p.Nr)):
        arr = array.build(p, side)
        if arr.n_elements != n:
            raise AssertionError(f"{side} array: {arr.n_elements} elements, expected {n}")
        for angles in (np.float64(0.3), ANGLES):
            shape = np.shape(angles)
            for method, tail in (("steering", (n,)), ("derivative", (n,)), ("gram", (2, 2))):
                out = np.asarray(getattr(arr, method)(angles))
                if out.shape != (*shape, *tail) or not np.iscomplexobj(out):
                    raise AssertionError(
                        f"{side}.{method}: shape {out.shape} dtype {out.dtype}, expected "
                        f"complex {(*shape, *tail)}"
                    )
                if not np.all(np.isfinite(out)):
                    raise AssertionError(f"{side}.{method}: non-finite entries")
        g = arr.gram(ANGLES)
        assert_close("gram Hermitian", np.conj(np.swapaxes(g, -1, -2)), g, 1e-14)
    try:
        array.build(p, "sideways")
    except ValueError as err:
        if "sideways" not in str(err):
            raise AssertionError(f"factory error does not name the side: {err}") from None
    else:
        raise AssertionError("factory accepted side = 'sideways'")


def check_array_derivative(array: Part, case: Case) -> None:
    """``derivative`` against fourth-order central differences of ``steering`` (each angle)."""
    p = _array_params(array, case)
    for side in ("tx", "rx"):
        arr = array.build(p, side)
        for theta in ANGLES.ravel():
            fd = finite_difference(arr.steering, float(theta))
            assert_close(
                f"{side} derivative at {theta:.3f} rad", arr.derivative(theta), fd, 1e-8, FD_ATOL
            )


def check_array_gram(array: Part, case: Case) -> None:
    """``gram`` equals the Gram matrix of the vectors ``[steering, derivative]``, batched."""
    p = _array_params(array, case)
    for side in ("tx", "rx"):
        arr = array.build(p, side)
        direct = gram_of(arr.steering(ANGLES), arr.derivative(ANGLES))
        assert_close(f"{side} gram", arr.gram(ANGLES), direct, 1e-11)


def check_array_centred(array: Part, case: Case) -> None:
    """``centred`` declared iff ``orthogonal_derivative``; then ``a^H a_dot = 0`` (vectors
    and Gram matrix) at every angle of a random batch."""
    p = _array_params(array, case)
    declared = array.offers(CENTRED)
    angles = np.random.default_rng(case.seed).uniform(-1.4, 1.4, 25)
    for side in ("tx", "rx"):
        arr = array.build(p, side)
        if bool(arr.orthogonal_derivative) != declared:
            raise AssertionError(
                f"{side}: orthogonal_derivative = {arr.orthogonal_derivative} but 'centred' "
                f"{'is' if declared else 'is not'} declared"
            )
        if not declared:
            continue
        a, d = arr.steering(angles), arr.derivative(angles)
        inner = np.abs(np.sum(np.conj(a) * d, axis=-1))
        bound = 1e-12 * np.linalg.norm(a, axis=-1) * np.linalg.norm(d, axis=-1) + 1e-300
        if not np.all(inner <= bound):
            raise AssertionError(f"{side}: |a^H a_dot| = {inner.max():.3e} (centred declared)")
        off = np.abs(arr.gram(angles)[..., 0, 1])
        if not np.all(off <= bound):
            raise AssertionError(f"{side}: gram[0, 1] = {off.max():.3e} (centred declared)")


def check_array_planar(array: Part, case: Case) -> None:
    """``planar``: ``steering2``, ``derivatives2``, ``gram3`` with shapes ``S + (N,)``,
    ``S + (2, N)``, ``S + (3, 3)`` over batched angles; the derivatives in azimuth and
    elevation against finite differences of ``steering2``; ``gram3`` against the Gram
    matrix of the vectors; the one-angle interface is the azimuth at ``elevation_rad``."""
    p = _array_params(array, case)
    el = np.radians(np.array([[-40.0, 0.0, 8.0], [30.0, -5.0, 20.0]]))
    az = np.radians(np.array([[-30.0, -10.0, 0.0], [5.0, 25.0, 45.0]]))
    for side in ("tx", "rx"):
        arr = array.build(p, side)
        n = arr.n_elements
        a = np.asarray(arr.steering2(az, el))
        d = np.asarray(arr.derivatives2(az, el))
        g3 = np.asarray(arr.gram3(az, el))
        for name, out, shape in (("steering2", a, (n,)), ("derivatives2", d, (2, n))):
            if out.shape != (*az.shape, *shape):
                raise AssertionError(f"{side}.{name}: shape {out.shape}")
        if g3.shape != (*az.shape, 3, 3):
            raise AssertionError(f"{side}.gram3: shape {g3.shape}")
        basis = np.concatenate([a[..., None, :], d], axis=-2)  # (..., 3, N)
        direct = np.conj(basis) @ np.swapaxes(basis, -1, -2)
        assert_close(f"{side} gram3 = Gram of [a, d_az, d_el]", g3, direct, 1e-11)
        for i, j in np.ndindex(az.shape):
            x, y = float(az[i, j]), float(el[i, j])
            fd_az = finite_difference(lambda t, y=y, arr=arr: arr.steering2(t, y), x)
            fd_el = finite_difference(lambda t, x=x, arr=arr: arr.steering2(x, t), y)
            assert_close(f"{side} d/daz at ({x:.2f}, {y:.2f})", d[i, j, 0], fd_az, 1e-8, FD_ATOL)
            assert_close(f"{side} d/del at ({x:.2f}, {y:.2f})", d[i, j, 1], fd_el, 1e-8, FD_ATOL)
        elevation = float(getattr(arr, "elevation_rad", p.elevation_rad))
        assert_close(
            f"{side} steering(az) = steering2(az, elevation)",
            arr.steering(az),
            arr.steering2(az, elevation),
            1e-14,
        )
        assert_close(
            f"{side} derivative(az) = d/daz at the elevation",
            arr.derivative(az),
            np.asarray(arr.derivatives2(az, elevation))[..., 0, :],
            1e-14,
        )


# --------------------------------------------------------------------------- descriptions
def core_system_keys() -> frozenset[str]:
    """The paper's system parameters (the keys of ``config.yaml``'s ``system`` block) and the
    part selectors: ``SystemParams`` fields no part may claim as its own ``Param``."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    return frozenset(config["system"]) | {"precoder", "array", "channel"}


def owners(key: str) -> list[str]:
    """The registered parts (``kind:name``) declaring the config key ``key`` (not schemes)."""
    return [
        f"{part.kind}:{part.name}"
        for reg in registries().values()
        if reg.kind != "scheme"
        for part in reg.values()
        if key in {p.key for p in part.params}
    ]


PRECODER_METHODS: dict[str, tuple[str, ...]] = {
    CLOSED_FORMS: (
        "rate_terms",
        "covariance",
        "transmit_power",
        "power_factors",
        "from_power_factors",
        "equal_split",
    ),
    TOTAL_POWER_RATE: ("total_power_sinr",),
    LINEAR_FISHER: ("covariance_components",),
    MONTE_CARLO: ("sample",),
}
"""The methods each precoder capability needs (besides ``name`` and ``unsupported``)."""

ARRAY_METHODS: dict[str, tuple[str, ...]] = {
    "": ("steering", "derivative", "gram"),
    PLANAR: ("steering2", "derivatives2", "gram3"),
}


def check_description(part: Part) -> None:
    """A label, a description, a lower-case identifier name, ``module`` set (and, for a
    part found by its registry, one of the registry's modules), capabilities of its kind,
    valid ``Param``s (types, defaults within their bounds and choices, config keys that are
    identifiers, not ``SystemParams`` fields unless deliberately owned: a field that is not
    one of the system's parameters (:func:`core_system_keys`), declared by this part only,
    with the field's type and default, e.g. the UPA's ``tx_rows``)."""
    if not (isinstance(part.label, str) and part.label.strip()):
        raise AssertionError(f"{part.kind} {part.name!r}: empty label")
    if not (isinstance(part.description, str) and len(part.description.split()) >= 3):
        raise AssertionError(f"{part.kind} {part.name!r}: no description ({part.description!r})")
    if not part.name.isidentifier() or part.name != part.name.lower():
        raise AssertionError(f"{part.kind} name {part.name!r}: not a lower-case identifier")
    if not part.module:
        raise AssertionError(f"{part.kind} {part.name!r}: module not set")
    if part.module not in sys.modules:
        importlib.import_module(part.module)  # raises if the module does not exist
    own = registries().get(part.kind)
    if (
        own is not None
        and part.module.startswith(own.package + ".")
        and part.module not in own.modules()
    ):
        raise AssertionError(f"{part.kind} {part.name!r}: module {part.module} not found")
    unknown = set(part.capabilities) - set(CAPABILITIES.get(part.kind, {}))
    if unknown:
        raise AssertionError(
            f"{part.kind} {part.name!r}: capabilities {sorted(unknown)} not in "
            f"CAPABILITIES[{part.kind!r}] = {sorted(CAPABILITIES.get(part.kind, {}))}"
        )
    system_fields = {f.name: f for f in fields(SystemParams)}
    keys = [p.key for p in part.params]
    if len(set(keys)) != len(keys):
        raise AssertionError(f"{part.kind} {part.name!r}: repeated param keys {keys}")
    for p in part.params:
        check_param(part, p)
        if part.kind == "scheme" or p.key not in system_fields:
            continue
        # a SystemParams field as the part's own key: deliberately owned (one owner, not a
        # parameter of the paper's system, the field's type and default)
        field = system_fields[p.key]
        if p.key in core_system_keys():
            raise AssertionError(
                f"{part.kind} {part.name!r}: param {p.key!r} is a parameter of the system "
                "(config.yaml's system block), not a part's own key"
            )
        others = [o for o in owners(p.key) if o != f"{part.kind}:{part.name}"]
        if others:
            raise AssertionError(
                f"{part.kind} {part.name!r}: param {p.key!r} is also declared by {others}"
            )
        if p.default != field.default or field.type != p.kind.__name__:
            raise AssertionError(
                f"{part.kind} {part.name!r}: param {p.key!r} ({p.kind.__name__}, default "
                f"{p.default!r}) differs from the SystemParams field ({field.type}, default "
                f"{field.default!r})"
            )


def check_param(part: Part, p: Any) -> None:
    """One ``Param``: key, type, default within bounds and choices, units, schema."""
    where = f"{part.kind} {part.name!r} param {p.key!r}"
    if not p.key.isidentifier() or keyword.iskeyword(p.key):
        raise AssertionError(f"{where}: key is not an identifier")
    if p.kind not in (int, float, bool, str, list):
        raise AssertionError(f"{where}: kind {p.kind!r} not int, float, bool, str or list")
    d = p.default
    ok = isinstance(d, p.kind) and not (p.kind is not bool and isinstance(d, bool))
    if p.kind is float:
        ok = isinstance(d, int | float) and not isinstance(d, bool)
    if p.kind is list:  # per-user numbers: a list, one number for all users, or None
        values = d if isinstance(d, list) else [] if d is None else [d]
        ok = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if ok and values:
            d = min(values)  # the bounds apply to every entry
    if not ok:
        raise AssertionError(f"{where}: default {d!r} is not a {p.kind.__name__}")
    for bound, test in (
        ("minimum", lambda v, b: v >= b),
        ("maximum", lambda v, b: v <= b),
        ("exclusive_minimum", lambda v, b: v > b),
        ("exclusive_maximum", lambda v, b: v < b),
    ):
        b = getattr(p, bound)
        if b is not None and d is not None and not test(d, b):
            raise AssertionError(f"{where}: default {d!r} violates {bound} {b!r}")
    if p.choices is not None and d not in p.choices:
        raise AssertionError(f"{where}: default {d!r} not in choices {p.choices}")
    if not p.units:
        raise AssertionError(f"{where}: no units")
    if not p.description:
        raise AssertionError(f"{where}: no description")
    if p.coerce(p.default) != p.default:
        raise AssertionError(f"{where}: coerce(default) = {p.coerce(p.default)!r}")
    p.json_schema()


def check_precoder_methods(part: Part) -> None:
    """The built precoder has the part's ``name`` and ``unsupported`` (None or a sentence
    for each requirement), and the methods of each capability it declares
    (:data:`PRECODER_METHODS`; ``split_power_rate`` alone: ``split_power_sinr``)."""
    pre = part.build()
    if getattr(pre, "name", None) != part.name:
        raise AssertionError(f"precoder {part.name!r}: instance name {getattr(pre, 'name', None)}")
    needed = ["unsupported"]
    for capability in part.capabilities:
        needed += PRECODER_METHODS.get(capability, ())
    if SPLIT_POWER_RATE in part.capabilities and TOTAL_POWER_RATE not in part.capabilities:
        needed.append("split_power_sinr")
    missing = [m for m in needed if not callable(getattr(pre, m, None))]
    if missing:
        raise AssertionError(f"precoder {part.name!r}: missing methods {missing}")
    if CLOSED_FORMS in part.capabilities and MONTE_CARLO not in part.capabilities:
        raise AssertionError(
            f"precoder {part.name!r}: declares closed forms without a sampler ('monte_carlo'): "
            "its closed forms cannot be checked"
        )
    params = SystemParams(precoder=part.name)
    for requirement in ("", *REQUIREMENTS):
        why = pre.unsupported(requirement, params)
        if why is not None and not (isinstance(why, str) and why.strip()):
            raise AssertionError(f"unsupported({requirement!r}) = {why!r}: None or a sentence")


def check_array_methods(part: Part) -> None:
    """The built arrays have ``n_elements``, ``orthogonal_derivative`` and the methods of
    :data:`ARRAY_METHODS` (the planar ones where ``planar`` is declared)."""
    p = case_params(CASES[0], part)
    arr = part.build(p, "tx")
    needed = list(ARRAY_METHODS[""])
    if part.offers(PLANAR):
        needed += ARRAY_METHODS[PLANAR]
    missing = [m for m in needed if not callable(getattr(arr, m, None))]
    for attr in ("n_elements", "orthogonal_derivative"):
        if not hasattr(arr, attr):
            missing.append(attr)
    if missing:
        raise AssertionError(f"array {part.name!r}: missing {missing}")


def solver_signature(part: Part) -> inspect.Signature:
    """The signature holding a scheme's keyword options: its function's, or, when that only
    forwards ``**options`` (a light module importing its solver on use), the solver it
    wraps (``__wrapped__``, else ``jcas.allocation.<name>.<name>``)."""
    fn = part.function
    sig = inspect.signature(fn)
    named = {
        n for n, q in sig.parameters.items() if q.kind in (q.KEYWORD_ONLY, q.POSITIONAL_OR_KEYWORD)
    }
    if all(o.keyword in named for o in part.params):
        return sig
    wrapped = getattr(fn, "__wrapped__", None)
    if wrapped is not None:
        return inspect.signature(wrapped)
    try:
        module = importlib.import_module(f"jcas.allocation.{part.name}")
        return inspect.signature(getattr(module, part.name))
    except (ImportError, AttributeError):
        raise AssertionError(
            f"scheme {part.name!r}: options {[o.keyword for o in part.params]} are not "
            f"parameters of {fn.__qualname__} and no solver it wraps was found"
        ) from None


def check_scheme(part: Part) -> None:
    """A scheme: its requirements are known requirement names (:data:`REQUIREMENTS`); its
    options' defaults equal the defaults of the solver's signature; its option config keys
    are not another scheme's; ``family`` is a name."""
    unknown = [r for r in part.requires if r not in REQUIREMENTS]
    if unknown:
        raise AssertionError(
            f"scheme {part.name!r}: unknown requirements {unknown} (known: {list(REQUIREMENTS)})"
        )
    if not (isinstance(part.family, str) and part.family.isidentifier()):
        raise AssertionError(f"scheme {part.name!r}: family {part.family!r}")
    sig = solver_signature(part)
    for option in part.params:
        q = sig.parameters.get(option.keyword)
        if q is None:
            raise AssertionError(f"scheme {part.name!r}: option {option.keyword!r} not a parameter")
        if q.default is inspect.Parameter.empty or q.default != option.default:
            raise AssertionError(
                f"scheme {part.name!r}: option {option.keyword!r} default {option.default!r} "
                f"!= the solver's {q.default!r}"
            )
    for other in registry.SCHEMES_REGISTRY.values():
        if other.name == part.name:
            continue
        shared = {o.key for o in other.params} & {o.key for o in part.params}
        if shared:
            raise AssertionError(f"schemes {part.name!r}, {other.name!r} share keys {shared}")


# --------------------------------------------------------------------------- enumeration
@dataclass(frozen=True)
class Check:
    """One check of the suite: ``run()`` calls ``function(*args)``."""

    id: str
    function: Callable[..., None]
    args: tuple[Any, ...]

    def run(self) -> None:
        self.function(*self.args)


def registries() -> dict[str, Registry]:
    """Every registry of :mod:`jcas.parts.registry` (precoders, arrays, schemes and any
    other kind added there), by kind."""
    return {r.kind: r for r in vars(registry).values() if isinstance(r, Registry)}


def precoder_checks(precoder: Part, arrays: list[Part] | None = None) -> list[Check]:
    """The checks of a precoder: for each array and case it accepts, those of the
    capabilities it declares (:data:`CAPABILITIES`)."""
    arrays = list(registry.ARRAYS.values()) if arrays is None else arrays
    caps = precoder.capabilities
    out = [Check(f"{precoder.name}-methods", check_precoder_methods, (precoder,))]
    for array in arrays:
        for case in CASES:
            if not applicable(precoder, array, case):
                continue
            pre = precoder.build()
            params = case_params(case, array, precoder.name)
            tag = f"{precoder.name}-{array.name}-{case.name}"
            args = (precoder, array, case)
            if CLOSED_FORMS in caps and MONTE_CARLO in caps:
                out += [
                    Check(f"{tag}-closed_forms-rate_terms", check_rate_terms, args),
                    Check(f"{tag}-closed_forms-covariance", check_covariance, args),
                    Check(f"{tag}-closed_forms-crb", check_crb, args),
                ]
            if CLOSED_FORMS in caps:
                out.append(Check(f"{tag}-closed_forms-power_maps", check_power_maps, args))
            if PLANAR_CRB in caps and array.offers(PLANAR) and MONTE_CARLO in caps:
                out.append(Check(f"{tag}-planar_crb", check_planar_covariance, args))
            if TOTAL_POWER_RATE in caps and pre.unsupported(TOTAL_POWER_RATE, params) is None:
                out.append(Check(f"{tag}-total_power_rate", check_total_power_rate, args))
            if SPLIT_POWER_RATE in caps | (
                {SPLIT_POWER_RATE} if TOTAL_POWER_RATE in caps else set()
            ) and (split_power_unsupported(pre, params) is None):
                out.append(Check(f"{tag}-split_power_rate", check_split_power_rate, args))
            if LINEAR_FISHER in caps and pre.unsupported(LINEAR_FISHER, params) is None:
                out.append(Check(f"{tag}-linear_fisher", check_linear_fisher, args))
            if MONTE_CARLO in caps:
                out.append(Check(f"{tag}-monte_carlo", check_sampler, args))
    return out


def array_checks(array: Part) -> list[Check]:
    """The checks of an array: shapes, derivative, Gram and ``centred`` (declared or not)
    at each case, ``planar`` where declared."""
    out = [Check(f"{array.name}-methods", check_array_methods, (array,))]
    for case in CASES:
        tag = f"{array.name}-{case.name}"
        args = (array, case)
        out += [
            Check(f"{tag}-shapes", check_array_shapes, args),
            Check(f"{tag}-derivative", check_array_derivative, args),
            Check(f"{tag}-gram", check_array_gram, args),
            Check(f"{tag}-centred", check_array_centred, args),
        ]
        if array.offers(PLANAR):
            out.append(Check(f"{tag}-planar", check_array_planar, args))
    return out


def description_checks(part: Part) -> list[Check]:
    """The description checks of any part (and a scheme's own)."""
    out = [Check(f"{part.kind}-{part.name}-description", check_description, (part,))]
    if part.kind == "scheme":
        out.append(Check(f"scheme-{part.name}-scheme", check_scheme, (part,)))
    return out


def all_checks(part: Part) -> Iterator[Check]:
    """Every check of a part of its kind (what the suite runs for it)."""
    yield from description_checks(part)
    if part.kind == "precoder":
        yield from precoder_checks(part)
    elif part.kind == "array":
        yield from array_checks(part)
        for precoder in registry.PRECODERS.values():
            yield from precoder_checks(precoder, [part])


# --------------------------------------------------------------------------- toys
TOYS = ROOT / "tests" / "data" / "toys"
"""The toy parts (one module each, as a user would write them): ``compact_ula.py`` (an
array), ``normalised_mrt.py`` (a precoder)."""


def load_toy(filename: str) -> Part:
    """The part that the toy module ``filename`` (in :data:`TOYS`) registers, without
    registering it: the module is imported as ``toy_<stem>`` with ``Registry.register``
    capturing the part; register it with ``Registry.temporary``."""
    import importlib.util
    from dataclasses import replace
    from unittest import mock

    path = TOYS / filename
    name = f"toy_{path.stem}"
    captured: list[Part] = []

    def capture(self: Registry, part: Part, *, module: str | None = None) -> Part:
        captured.append(part)
        return part

    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        with mock.patch.object(Registry, "register", capture):
            spec.loader.exec_module(module)
        module.PART = captured[0]  # type: ignore[attr-defined]
    return replace(sys.modules[name].PART, module=name)
