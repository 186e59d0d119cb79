"""Energy efficiency: the largest sum rate per watt consumed, under CRB0 and the budget.

Per drop (``docs/theory.md`` §8.5)::

    maximise   EE = sum_k R_k(x, s) / (Nt (sum_k x_k + s) / mu + P_circuit)
    subject to J(x, s) >= F0,   sum_k x_k + s <= p = Pt / Nt,   x, s >= 0,

in bit/s/Hz per W (multiply by the bandwidth in Hz for bit/J; the power model below does
not depend on the bandwidth). The consumed power follows the transceiver-chain model of
Björnson, Hoydis and Sanguinetti, *Massive MIMO Networks* (2017), Sec. 5.4, eq. (5.34)
and Table 5.3, value set 1, with their power-amplifier efficiency ``mu = 0.4`` (the
book's Sec. 5 examples)::

    P_consumed = P_tx / mu + P_FIX + P_LO + (Nt + Nr) P_BS + K P_UE

with ``P_FIX = 10 W`` (fixed, site), ``P_LO = 0.2 W`` (local oscillator), ``P_BS = 0.4 W``
per antenna chain and ``P_UE = 0.2 W`` per user. The JCAS transmitter has ``Nt`` transmit
chains and a radar receiver with ``Nr`` receive chains, all powered while it serves the
users and senses, hence ``Nt + Nr`` (option ``receive_chains=False``: ``Nt`` only, a
transmitter whose radar receiver is budgeted elsewhere). The signal-processing,
coding and backhaul terms of the book's model scale with the bandwidth and the rates and
are left out.

The sum rate at a total power factor ``q <= p`` is maximised exactly by ``optimal``'s
solution at budget ``q`` (:func:`jcas.allocation.weighted.sum_rate_at_budget`: ``V(q)``),
feasible for ``q >= q_min = F0 / max(a, b)``; so ``EE* = max_q V(q) / (Nt q / mu + P_c)``
on ``[q_min, p]``, solved by Dinkelbach's method: ``lambda_{n+1} = V(q_n) / P(q_n)`` with
``q_n = argmax_q V(q) - lambda_n P(q)``. ``V`` is not concave in general (theory draft
§5.2), so each inner maximisation is global over a geometric grid of ``q`` and refined by
golden-section search around the best grid point. Requirements: those of ``optimal``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.allocation._structure import (
    OptionSpec,
    Solution,
    check_design,
    empty_solution,
    fit_budget,
    int_option,
    invalid_drops,
    real_option,
    refuse_structure,
    scheme_coefficients,
    to_allocation,
)
from jcas.allocation._types import Allocation
from jcas.allocation.weighted import REQUIRES as WEIGHTED_REQUIRES
from jcas.allocation.weighted import optimal_structure, sum_rate_at_budget
from jcas.model.coefficients import Coefficients
from jcas.model.params import SystemParams

__all__ = [
    "NAME",
    "OPTIONS",
    "REQUIRES",
    "PowerModel",
    "certify_energy",
    "energy",
    "energy_efficiency",
    "power_model",
    "solve_energy",
]

Float = NDArray[np.float64]

NAME: Final = "energy"
REQUIRES: Final = WEIGHTED_REQUIRES
"""The structure of ``optimal`` (its exact sum-rate solver runs inside)."""

AMPLIFIER_EFFICIENCY: Final = 0.4
FIXED_POWER_W: Final = 10.0
OSCILLATOR_POWER_W: Final = 0.2
ANTENNA_POWER_W: Final = 0.4
USER_POWER_W: Final = 0.2
RECEIVE_CHAINS: Final = True
GRID_POINTS: Final = 64
TOL: Final = 1e-10
MAX_ITERATIONS: Final = 50
_GOLDEN_STEPS: Final = 60
"""Golden-section steps of each inner refinement (bracket shrinks by 0.618^60 ~ 3e-13)."""

OPTIONS: Final = (
    OptionSpec("amplifier_efficiency", AMPLIFIER_EFFICIENCY, "float", "1", "(0, 1]"),
    OptionSpec("fixed_power_w", FIXED_POWER_W, "float", "W", ">= 0 (P_FIX)"),
    OptionSpec("oscillator_power_w", OSCILLATOR_POWER_W, "float", "W", ">= 0 (P_LO)"),
    OptionSpec("antenna_power_w", ANTENNA_POWER_W, "float", "W", ">= 0 per chain (P_BS)"),
    OptionSpec("user_power_w", USER_POWER_W, "float", "W", ">= 0 per user (P_UE)"),
    OptionSpec("receive_chains", RECEIVE_CHAINS, "bool", "-", "count the Nr radar receive chains"),
    OptionSpec("grid_points", GRID_POINTS, "int", "1", ">= 8: q grid of each inner step"),
    OptionSpec("tol", TOL, "float", "1", "(0, 1e-3]: relative EE change that stops"),
    OptionSpec("max_iterations", MAX_ITERATIONS, "int", "1", ">= 1 Dinkelbach steps"),
)

_CHECK_RTOL: Final = 1e-9


@dataclass(frozen=True)
class PowerModel:
    """Consumed power ``P = P_tx / amplifier_efficiency + circuit_w`` (W)."""

    amplifier_efficiency: float
    circuit_w: float


def power_model(
    params: SystemParams,
    *,
    amplifier_efficiency: float = AMPLIFIER_EFFICIENCY,
    fixed_power_w: float = FIXED_POWER_W,
    oscillator_power_w: float = OSCILLATOR_POWER_W,
    antenna_power_w: float = ANTENNA_POWER_W,
    user_power_w: float = USER_POWER_W,
    receive_chains: bool = RECEIVE_CHAINS,
) -> PowerModel:
    """The :class:`PowerModel` of ``params`` (module docstring; ``ValueError`` naming a bad
    option and its value)."""
    mu = real_option("amplifier_efficiency", amplifier_efficiency, low=0.0, high=1.0, low_open=True)
    fixed = real_option("fixed_power_w", fixed_power_w, low=0.0)
    lo = real_option("oscillator_power_w", oscillator_power_w, low=0.0)
    ant = real_option("antenna_power_w", antenna_power_w, low=0.0)
    ue = real_option("user_power_w", user_power_w, low=0.0)
    if not isinstance(receive_chains, (bool, np.bool_)):
        raise ValueError(f"receive_chains = {receive_chains!r}: must be True or False")
    chains = params.Nt + (params.Nr if receive_chains else 0)
    return PowerModel(mu, fixed + lo + chains * ant + params.K * ue)


def energy_efficiency(coef: Coefficients, x: ArrayLike, s: ArrayLike, model: PowerModel) -> Float:
    """EE (D,) in bit/s/Hz per W of an allocation's power factors (W per antenna)."""
    consumed = coef.power(x, s) / model.amplifier_efficiency + model.circuit_w
    return coef.rate.sum_rate(x, s) / consumed


def solve_energy(
    coef: Coefficients,
    model: PowerModel,
    *,
    grid_points: int = GRID_POINTS,
    tol: float = TOL,
    max_iterations: int = MAX_ITERATIONS,
) -> Solution:
    """The EE-optimal allocation on coefficients by Dinkelbach's method (module docstring).

    Parameters
    ----------
    coef : the drops' coefficients (requirements :data:`REQUIRES`).
    model : consumed-power model (:func:`power_model`).
    grid_points : points of the geometric grid of ``q`` on ``[q_min, p]`` (``>= 8``).
    tol : Dinkelbach stops when ``max_q V(q) - lambda P(q) <= tol lambda P(q_n)`` (the EE
        gained by the step is below ``tol`` relative), in ``(0, 1e-3]``.
    max_iterations : cap on Dinkelbach steps (``>= 1``).

    Returns
    -------
    :class:`Solution` with ``value`` the EE (bit/s/Hz per W) and ``iterations`` the
    Dinkelbach steps; statuses ``optimal``, ``max_iterations`` (the cap reached; the
    allocation is the best found), ``infeasible`` (``q_min > p``: CRB0 unreachable even at
    the full budget), ``invalid_input``, ``solver_error``.

    Raises
    ------
    jcas.model.params.ConfigError : the coefficients lack :data:`REQUIRES`.
    ValueError : a bad option (named with its value).
    """
    grid_points = int_option("grid_points", grid_points, low=8)
    tol = real_option("tol", tol, low=0.0, high=1e-3, low_open=True)
    max_iterations = int_option("max_iterations", max_iterations, low=1)
    split, fisher = optimal_structure(NAME, coef)
    n, k = coef.rate.signal.shape
    out = empty_solution(n, k)
    bad = invalid_drops(coef)
    out["status"][bad] = "invalid_input"
    good = np.flatnonzero(~bad)
    if len(good) == 0:
        return Solution(**out)
    r = coef.rate
    sp = (split[0][good], split[1][good], split[2][good])
    a, b = fisher[0][good], fisher[1][good]
    f0, p = coef.fisher0, coef.budget
    ones = np.ones(k)
    kappa = coef.n_tx / model.amplifier_efficiency  # W consumed per W per antenna of q

    def rate(q: Float, idx: Any = slice(None)) -> Float:
        s3 = (sp[0][idx], sp[1][idx], sp[2][idx])
        return sum_rate_at_budget(
            s3,
            (a[idx], b[idx]),
            r.noise,
            r.tau_bar,
            f0,
            q,
            ones,
        ).value

    with np.errstate(all="ignore"):
        q_min = f0 / np.maximum(a, b)
        feasible = q_min <= p
        lo_q = np.where(feasible, np.minimum(q_min, p), p)
        grid = np.exp(np.linspace(np.log(lo_q), np.log(p), grid_points, axis=-1))  # (D, G)
        grid[:, 0], grid[:, -1] = lo_q, p
        v_grid = rate(grid)
        cost_grid = kappa * grid + model.circuit_w
        q_best = np.full(len(good), p)
        v_best = rate(q_best)
        lam = v_best / (kappa * q_best + model.circuit_w)
        steps = np.zeros(len(good), np.int64)
        done = ~feasible
        for _ in range(max_iterations):
            i = np.flatnonzero(~done)
            if len(i) == 0:
                break
            h = v_grid[i] - lam[i, None] * cost_grid[i]
            j = np.argmax(h, axis=-1)
            lo = grid[i, np.maximum(j - 1, 0)]
            hi = grid[i, np.minimum(j + 1, grid_points - 1)]
            q_new, v_new = _golden(rate, i, lam[i], kappa, model.circuit_w, lo, hi)
            # the grid point itself if the refinement did not beat it
            g_q, g_v = grid[i, j], v_grid[i, j]
            worse = v_new - lam[i] * kappa * q_new < g_v - lam[i] * kappa * g_q
            q_new, v_new = np.where(worse, g_q, q_new), np.where(worse, g_v, v_new)
            cost = kappa * q_new + model.circuit_w
            gain = v_new - lam[i] * cost  # F(lambda) >= 0 when q_n is the inner optimum
            improve = gain > 0
            q_best[i] = np.where(improve, q_new, q_best[i])
            v_best[i] = np.where(improve, v_new, v_best[i])
            lam[i] = np.where(improve, v_new / cost, lam[i])
            steps[i] += 1
            done[i] = ~improve | (gain <= tol * lam[i] * cost)
        converged = done
        opt = sum_rate_at_budget(sp, (a, b), r.noise, r.tau_bar, f0, q_best, ones)
        x, s = fit_budget(p, opt.x, opt.s)
        j_val = a * np.sum(x, axis=-1) + b * s
        value = v_best / (kappa * (np.sum(x, axis=-1) + s) + model.circuit_w)
        ok = (
            np.all(np.isfinite(x), axis=-1)
            & np.isfinite(s)
            & np.isfinite(value)
            & (j_val >= f0 * (1.0 - _CHECK_RTOL))
            & (np.sum(x, axis=-1) + s <= p * (1.0 + _CHECK_RTOL))
        )
    status = np.where(
        ~feasible,
        "infeasible",
        np.where(~ok, "solver_error", np.where(converged, "optimal", "max_iterations")),
    )
    success = np.isin(status, ("optimal", "max_iterations"))
    out["status"][good] = status
    out["iterations"][good] = steps
    out["x"][good] = np.where(success[:, None], x, np.nan)
    out["s"][good] = np.where(success, s, np.nan)
    out["value"][good] = np.where(success, value, np.nan)
    return Solution(**out)


def certify_energy(
    coef: Coefficients,
    model: PowerModel,
    value: ArrayLike,
    *,
    rtol: float = 1e-7,
    max_evaluations: int = 200_000,
) -> Float:
    """A certified upper bound on the largest EE of each drop (bit/s/Hz per W).

    Branch and bound over the total power factor ``q`` on ``[q_min, p]``. ``V`` (the exact
    sum-rate optimum at budget ``q``) is non-decreasing (a feasible allocation scaled up is
    feasible and no worse, ``docs/theory.md`` §2 step 1), so on a cell ``[q_i, q_j]``
    ``EE(q) <= V(q_j) / (kappa q_i + P_c)``. Cells whose bound exceeds the best EE found
    (``value`` or any point evaluated) by more than ``rtol`` relative are split in eight,
    until none is left or ``max_evaluations`` of ``V`` per drop are spent. The bound
    returned is the largest cell bound (``>= EE*``): ``bound / value - 1`` is a certified
    optimality gap of ``value``. NaN for drops that are not solvable (invalid or
    infeasible). A diagnostic (a Python loop over drops), not a solver.
    """
    split, fisher = optimal_structure(NAME, coef)
    value = np.asarray(value, dtype=float)
    bad = invalid_drops(coef)
    r, f0, p = coef.rate, coef.fisher0, coef.budget
    kappa = coef.n_tx / model.amplifier_efficiency
    ones = np.ones(r.n_users)
    out = np.full(len(value), np.nan)
    for d in np.flatnonzero(~bad):
        sp = (split[0][d : d + 1], split[1][d : d + 1], split[2][d : d + 1])
        fd = (fisher[0][d : d + 1], fisher[1][d : d + 1])
        q_min = f0 / max(fd[0][0], fd[1][0])
        if not q_min <= p:
            continue

        def v_at(q: Float, sp: Any = sp, fd: Any = fd) -> Float:
            with np.errstate(all="ignore"):
                return sum_rate_at_budget(sp, fd, r.noise, r.tau_bar, f0, q[None, :], ones).value[0]

        q = np.geomspace(q_min, p, 257)
        q[0], q[-1] = q_min, p
        v = v_at(q)
        best = max(float(np.nanmax(v / (kappa * q + model.circuit_w))), float(value[d]))
        lo, hi, v_hi = q[:-1], q[1:], v[1:]
        spent = len(q)
        while True:
            bound = v_hi / (kappa * lo + model.circuit_w)
            open_ = bound > best * (1.0 + rtol)
            if not np.any(open_) or spent >= max_evaluations:
                out[d] = max(float(np.max(bound)), best)
                break
            keep_lo, keep_hi, keep_v = lo[~open_], hi[~open_], v_hi[~open_]
            edges = np.linspace(lo[open_], hi[open_], 9, axis=-1)  # (n, 9)
            inner = edges[:, 1:-1].ravel()
            v_in = v_at(inner).reshape(-1, 7)
            spent += inner.size
            best = max(best, float(np.max(v_in / (kappa * edges[:, 1:-1] + model.circuit_w))))
            v_edges = np.concatenate([v_in, v_hi[open_][:, None]], axis=-1)  # right ends
            lo = np.concatenate([keep_lo, edges[:, :-1].ravel()])
            hi = np.concatenate([keep_hi, edges[:, 1:].ravel()])
            v_hi = np.concatenate([keep_v, v_edges.ravel()])
    return out


def _golden(
    rate: Callable[[Float, NDArray[np.int64]], Float],
    idx: NDArray[np.int64],
    lam: Float,
    kappa: float,
    circuit: float,
    lo: Float,
    hi: Float,
) -> tuple[Float, Float]:
    """Golden-section maximisation of ``V(q) - lam (kappa q + circuit)`` on ``[lo, hi]``
    per drop; returns ``(q, V(q))`` at the best point evaluated."""
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    f = rate
    a, b = lo.copy(), hi.copy()
    c = b - ratio * (b - a)
    d = a + ratio * (b - a)
    vc, vd = f(c, idx), f(d, idx)
    hc, hd = vc - lam * kappa * c, vd - lam * kappa * d
    for _ in range(_GOLDEN_STEPS):
        left = hc >= hd  # the maximum is in [a, d]
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        new_c = b - ratio * (b - a)
        new_d = a + ratio * (b - a)
        # keep the interior point that survives, evaluate one new point per drop
        q_eval = np.where(left, new_c, new_d)
        v_eval = f(q_eval, idx)
        h_eval = v_eval - lam * kappa * q_eval
        c, vc, hc, d, vd, hd = (
            np.where(left, new_c, d),
            np.where(left, v_eval, vd),
            np.where(left, h_eval, hd),
            np.where(left, c, new_d),
            np.where(left, vc, v_eval),
            np.where(left, hc, h_eval),
        )
    best_c = hc >= hd
    return np.where(best_c, c, d), np.where(best_c, vc, vd)


def energy(
    beta: ArrayLike,
    xi: ArrayLike,
    params: SystemParams,
    *,
    amplifier_efficiency: float = AMPLIFIER_EFFICIENCY,
    fixed_power_w: float = FIXED_POWER_W,
    oscillator_power_w: float = OSCILLATOR_POWER_W,
    antenna_power_w: float = ANTENNA_POWER_W,
    user_power_w: float = USER_POWER_W,
    receive_chains: bool = RECEIVE_CHAINS,
    grid_points: int = GRID_POINTS,
    tol: float = TOL,
    max_iterations: int = MAX_ITERATIONS,
) -> Allocation:
    """The EE-optimal allocation (bit/s/Hz per W) under CRB0 and the budget.

    Builds the closed-form coefficients of the precoder and arrays of ``params``, runs
    :func:`solve_energy` with :func:`power_model` of the options and maps the power factors
    back with the precoder's ``from_power_factors``. The transmit power of the result may
    be below ``Pt``; ``iterations`` are Dinkelbach steps.

    Parameters
    ----------
    beta, xi : (D, K) large-scale fading and MMSE estimate variance (7), dimensionless.
    params : the system.
    amplifier_efficiency, fixed_power_w, oscillator_power_w, antenna_power_w, user_power_w,
    receive_chains : the power model (:func:`power_model`; defaults of Björnson, Hoydis,
        Sanguinetti (2017), Table 5.3 value set 1, ``mu = 0.4``).
    grid_points, tol, max_iterations : see :func:`solve_energy`.

    Raises
    ------
    jcas.model.params.ConfigError : the design lacks :data:`REQUIRES` or is invalid.
    ValueError : a bad option.
    """
    start = time.perf_counter()
    model = power_model(
        params,
        amplifier_efficiency=amplifier_efficiency,
        fixed_power_w=fixed_power_w,
        oscillator_power_w=oscillator_power_w,
        antenna_power_w=antenna_power_w,
        user_power_w=user_power_w,
        receive_chains=receive_chains,
    )
    int_option("grid_points", grid_points, low=8)
    real_option("tol", tol, low=0.0, high=1e-3, low_open=True)
    int_option("max_iterations", max_iterations, low=1)
    check_design(NAME, params)
    coef = scheme_coefficients(beta, xi, params)
    refuse_structure(NAME, coef, REQUIRES, params)
    solution = solve_energy(
        coef, model, grid_points=grid_points, tol=tol, max_iterations=max_iterations
    )
    return to_allocation(solution, xi, params, start)
