"""Max-min fairness: the largest common SINR under the CRB and power constraints.

Per drop (``docs/theory.md`` §8.2)::

    maximise   min_k SINR_k(x, s)
    subject to J(x, s) >= F0 = sigma_r_bar^2 / CRB0,   sum_k x_k + s <= p = Pt / Nt,   x, s >= 0,

on :class:`jcas.model.coefficients.Coefficients` (any interference matrix ``b``; a Fisher
information linear in the powers, ``T3 = 0``). Maximising the smallest SINR maximises the
smallest rate (14) (``tau_bar log2(1 + SINR)`` is increasing).

The feasible set at a common target ``t`` shrinks as ``t`` grows, and at a fixed ``t`` the
largest Fisher information within the budget has a closed form
(:func:`jcas.allocation._structure.max_fisher`: the least communication powers
``x(s) = u + v s`` meeting the targets, the budget left on the item of largest Fisher
gain per unit of power). So the optimum ``t*`` is

- ``t_P``, the power-limited common SINR (``1 / rho`` of an extended interference matrix,
  then Newton on the budget left), when its allocation already meets ``F0``;
- otherwise the root of ``J_max(t) = F0`` on ``(0, t_P)``, found by a safeguarded
  Illinois (regula falsi) iteration with a bisection fallback.

Both are exact up to the bracket's relative width (option ``rtol``); vectorised over drops.
"""

from __future__ import annotations

import time
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.allocation._structure import (
    LINEAR_FISHER_POWERS,
    MinPower,
    OptionSpec,
    Solution,
    check_design,
    empty_solution,
    fit_budget,
    int_option,
    invalid_drops,
    max_fisher_arrays,
    min_power_arrays,
    real_option,
    refuse_structure,
    scheme_coefficients,
    spectral_radius,
    to_allocation,
)
from jcas.allocation._types import Allocation
from jcas.model.coefficients import Coefficients
from jcas.model.params import SystemParams

__all__ = ["NAME", "OPTIONS", "REQUIRES", "maxmin", "solve_maxmin"]

Float = NDArray[np.float64]

NAME: Final = "maxmin"
REQUIRES: Final = (LINEAR_FISHER_POWERS,)
"""Any interference matrix ``b`` (full, e.g. ``phase_mrt`` or reused pilots); ``T3 = 0``."""

RTOL: Final = 1e-10
MAX_ITERATIONS: Final = 200

OPTIONS: Final = (
    OptionSpec("rtol", RTOL, "float", "1", "(0, 1e-3]: relative width of the final bracket of t"),
    OptionSpec("max_iterations", MAX_ITERATIONS, "int", "1", ">= 1: root-finding steps per drop"),
)

_SAFEGUARD: Final = 4
"""Root-finding steps after which a bracket not halved gets a bisection step."""

_CHECK_RTOL: Final = 1e-9
"""Relative slack of the final per-drop check (SINR, CRB, budget) before ``solver_error``."""


def _fisher_at(
    t: Float, a: Float, b: Float, e: Float, noise: float, t2: Float, budget: float, rho_c: Float
) -> tuple[Float, MinPower, Any]:
    """``J_max(t)`` (D,), its least powers and its knapsack at common targets ``t`` (D,)."""
    mp = min_power_arrays(a, b, e, noise, t[:, None], rho=t * rho_c)
    kn = max_fisher_arrays(t2, budget, mp)
    return kn.fisher, mp, kn


def _power_limited(
    a: Float, b: Float, e: Float, noise: float, budget: float, rho_c: Float
) -> tuple[Float, NDArray[np.int64]]:
    """``t_P`` (D,): the common SINR at which the least powers at ``s = 0`` use the whole
    budget, ``1 / rho([[C, sigma^2 / a], [1^T C / p, 1^T sigma^2 / a / p]])`` with
    ``C = diag(1 / a) b``, polished by Newton steps on ``p - 1^T u(t)``; and the steps."""
    n, k = a.shape
    c = b / a[:, :, None]
    ups = np.zeros((n, k + 1, k + 1))
    ups[:, :k, :k] = c
    ups[:, :k, k] = noise / a
    ups[:, k, :k] = np.sum(c, axis=-2) / budget
    ups[:, k, k] = np.sum(noise / a, axis=-1) / budget
    t = 1.0 / spectral_radius(ups)
    steps = np.zeros(n, np.int64)
    for _ in range(3):
        mp = min_power_arrays(a, b, e, noise, t[:, None], rho=t * rho_c)
        left = budget - np.sum(mp.u, axis=-1)
        # d u / d t = M^-1 (sigma^2 1 + b u)
        du = np.einsum("dkj,dj->dk", mp.m_inv, noise + np.einsum("dkj,dj->dk", b, mp.u))
        step = left / np.sum(du, axis=-1)
        new = t + step
        good = mp.ok & np.isfinite(new) & (new > 0) & (np.abs(step) > 1e-16 * t)
        if not np.any(good):
            break
        t = np.where(good, new, t)
        steps += good
    return t, steps


def _illinois(
    f: Any, lo: Float, hi: Float, flo: Float, fhi: Float, rtol: float, max_iterations: int
) -> tuple[Float, NDArray[np.int64]]:
    """The largest ``t`` with ``f(t) >= 0`` of a continuous decreasing ``f`` on ``[lo, hi]``
    (``f(lo) >= 0 > f(hi)``), to ``hi - lo <= rtol hi``; returns ``lo`` (the feasible end)
    and the steps per drop.

    Illinois steps (regula falsi, halving the value at the end kept twice in a row), each
    at least ``rtol hi / 4`` from both ends (so that a step landing on the root is followed
    by one bracketing it within the tolerance); a bisection step whenever the last
    :data:`_SAFEGUARD` steps did not halve the bracket. ``f(t, index)`` evaluates the drops
    ``index`` at ``t``."""
    lo, hi, flo, fhi = (np.array(v, dtype=float) for v in (lo, hi, flo, fhi))
    n = len(lo)
    steps = np.zeros(n, np.int64)
    last = np.zeros(n, np.int64)  # +1: lo moved last, -1: hi moved last
    checkpoint = hi - lo  # the width _SAFEGUARD steps ago
    for _ in range(max_iterations):
        active = (hi - lo) > rtol * hi
        if not np.any(active):
            break
        i = np.flatnonzero(active)
        w = hi[i] - lo[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            y = (lo[i] * fhi[i] - hi[i] * flo[i]) / (fhi[i] - flo[i])
        due = (steps[i] > 0) & (steps[i] % _SAFEGUARD == 0)
        slow = due & (w > 0.5 * checkpoint[i])
        checkpoint[i] = np.where(due, w, checkpoint[i])
        bad = ~np.isfinite(y) | (y < lo[i]) | (y > hi[i]) | slow
        y = np.where(bad, 0.5 * (lo[i] + hi[i]), y)
        margin = np.minimum(0.25 * rtol * hi[i], 0.25 * w)
        y = np.clip(y, lo[i] + margin, hi[i] - margin)
        fy = f(y, i)
        steps[i] += 1
        up = fy >= 0
        # Illinois: the end kept twice in a row has its value halved
        fhi[i] = np.where(up & (last[i] == 1), 0.5 * fhi[i], fhi[i])
        flo[i] = np.where(~up & (last[i] == -1), 0.5 * flo[i], flo[i])
        lo[i] = np.where(up, y, lo[i])
        flo[i] = np.where(up, fy, flo[i])
        hi[i] = np.where(up, hi[i], y)
        fhi[i] = np.where(up, fhi[i], fy)
        last[i] = np.where(up, 1, -1)
    return lo, steps


def solve_maxmin(
    coef: Coefficients, *, rtol: float = RTOL, max_iterations: int = MAX_ITERATIONS
) -> Solution:
    """Max-min SINR allocation on coefficients (see the module docstring).

    Parameters
    ----------
    coef : the drops' coefficients (requirement :data:`REQUIRES`: ``T3 = 0``).
    rtol : relative width of the final bracket of the common SINR ``t``, in ``(0, 1e-3]``.
    max_iterations : cap on root-finding steps per drop (``>= 1``).

    Returns
    -------
    :class:`Solution` with ``value`` the smallest SINR (dimensionless) and ``iterations``
    the Newton and root-finding steps; statuses ``optimal``, ``infeasible`` (even all power
    on the most Fisher-efficient use misses ``F0``), ``invalid_input`` (non-finite or
    non-positive signal coefficients, negative ones elsewhere), ``solver_error`` (the final
    check of SINR, CRB or budget failed).

    Raises
    ------
    jcas.model.params.ConfigError : the coefficients lack :data:`REQUIRES`.
    ValueError : a bad option (named with its value).
    """
    rtol = real_option("rtol", rtol, low=0.0, high=1e-3, low_open=True)
    max_iterations = int_option("max_iterations", max_iterations, low=1)
    refuse_structure(NAME, coef, REQUIRES, None)
    n, k = coef.rate.signal.shape
    out = empty_solution(n, k)
    bad = invalid_drops(coef)
    out["status"][bad] = "invalid_input"
    good = np.flatnonzero(~bad)
    if len(good) == 0:
        return Solution(**out)
    r, fc = coef.rate, coef.fisher
    a, b, e = r.signal[good], r.interference[good], r.sensing[good]
    t2 = fc.t2[good]
    noise, budget, f0 = r.noise, coef.budget, coef.fisher0
    with np.errstate(all="ignore"):
        rho_c = spectral_radius(b / a[:, :, None])
        f_zero = budget * np.max(t2, axis=-1) - f0  # J_max(0) - F0: any allocation
        feasible = f_zero >= 0
        t_p, newton = _power_limited(a, b, e, noise, budget, rho_c)
        j_p, _, _ = _fisher_at(t_p, a, b, e, noise, t2, budget, rho_c)
        f_p = j_p - f0
        binding = feasible & np.isfinite(f_p) & (f_p < 0)
        t_star = np.where(binding, np.nan, t_p)
        steps = newton.copy()
        if np.any(binding):
            i = np.flatnonzero(binding)

            def margin(t: Float, idx: NDArray[np.int64]) -> Float:
                j = i[idx]
                fisher, _, _ = _fisher_at(t, a[j], b[j], e[j], noise, t2[j], budget, rho_c[j])
                return np.where(np.isfinite(fisher), fisher - f0, -np.inf)

            lo, root_steps = _illinois(
                margin, np.zeros(len(i)), t_p[i], f_zero[i], f_p[i], rtol, max_iterations
            )
            t_star[i] = lo
            steps[i] += root_steps
        _, _, kn = _fisher_at(np.where(feasible, t_star, 0.0), a, b, e, noise, t2, budget, rho_c)
        x, s = fit_budget(budget, kn.x, kn.s)
        value = np.min(_sinr(a, b, e, noise, x, s), axis=-1)
        fisher = np.einsum("dk,dk->d", t2[:, :k], x) + t2[:, k] * s
        total = np.sum(x, axis=-1) + s
        ok = (
            np.all(np.isfinite(x), axis=-1)
            & np.isfinite(s)
            & (value >= t_star * (1.0 - _CHECK_RTOL))
            & (fisher >= f0 * (1.0 - _CHECK_RTOL))
            & (total <= budget * (1.0 + _CHECK_RTOL))
        )
    status = np.where(~feasible, "infeasible", np.where(ok, "optimal", "solver_error"))
    success = status == "optimal"
    out["status"][good] = status
    out["iterations"][good] = steps
    out["x"][good] = np.where(success[:, None], x, np.nan)
    out["s"][good] = np.where(success, s, np.nan)
    out["value"][good] = np.where(success, value, np.nan)
    return Solution(**out)


def _sinr(a: Float, b: Float, e: Float, noise: float, x: Float, s: Float) -> Float:
    den = np.einsum("dkj,dj->dk", b, x) + e * s[:, None] + noise
    return a * x / den


def maxmin(
    beta: ArrayLike,
    xi: ArrayLike,
    params: SystemParams,
    *,
    rtol: float = RTOL,
    max_iterations: int = MAX_ITERATIONS,
) -> Allocation:
    """Max-min fairness (largest smallest rate) under CRB0 and the budget, exact.

    Builds the closed-form coefficients of the precoder and arrays of ``params``
    (:func:`jcas.parts.coefficients.closed_form_coefficients`), runs :func:`solve_maxmin` and
    maps the power factors back with the precoder's ``from_power_factors``.

    Parameters
    ----------
    beta, xi : (D, K) large-scale fading and MMSE estimate variance (7), dimensionless.
    params : the system (``crb0``, ``pt_dbm`` and the parts are read from it).
    rtol, max_iterations : see :func:`solve_maxmin`.

    Returns
    -------
    :class:`Allocation`; ``iterations`` are the Newton and root-finding steps per drop.

    Raises
    ------
    jcas.model.params.ConfigError : the design lacks :data:`REQUIRES` (naming the precoder
        and the array) or is invalid for its precoder.
    """
    start = time.perf_counter()
    check_design(NAME, params)
    coef = scheme_coefficients(beta, xi, params)
    refuse_structure(NAME, coef, REQUIRES, params)
    solution = solve_maxmin(coef, rtol=rtol, max_iterations=max_iterations)
    return to_allocation(solution, xi, params, start)
