"""The SCA on general coefficients: speed, and certification against independent searches.

Three parts, all in one run (ratios measured in the same run, on the same drops):

1. **Split-form drops** (MRT closed forms, orthonormal pilots, K = 4, 8, 16, SNR_com 0 and
   20 dB, CRB0 free and binding): ms per drop and failures of ``sca_general``
   (:mod:`jcas.allocation.sca.general`) against today's ``sca`` and ``optimal`` (through
   the precoder) and :func:`jcas.allocation.coefficient_optimum.optimal_coefficients`; the
   gap of ``sca_general`` to the optimum (a failure is a gap above 1e-6).
2. **Full interference matrix, K = 4, 8, 16** against a multi-start of a different local
   method (:func:`multistart`: scipy SLSQP on the exact nonconvex problem, written out
   here, from ``N_STARTS`` random feasible starts) on three families of coefficients
   (:func:`cases`): MRT with reused pilots (``tau_p = K / 2``: the pilot contamination makes
   ``b`` full), random positive coefficients with a diagonally dominant ``b`` and unequal
   user columns of the Fisher terms (``T3 = 0`` and ``T3 != 0``), and MRT with reused
   pilots on a non-centred array (``T3 != 0``). Gap ``(reference - sca) / reference``
   (negative: the SCA is better); a failure is a gap above 1e-6, a CRB0 or budget
   violation, or a failed status where the reference is feasible.
3. **Full interference matrix, K = 2, 3** against a dense grid over the whole power simplex
   (unused power included; step 1/100 for K = 2, 1/40 for K = 3) refined by a pattern search
   from the 5 best grid points (moves of up to two steps per coordinate, step halved when
   nothing improves, down to 2^-24 of the grid step): :func:`grid_search`.

Writes ``benchmarks/out/sca_general.txt``. Run ``python benchmarks/sca_general.py``
(``--quick``: fewer drops; ``--stress 2 3 4 8``: only a wider sweep over SNR_com, CRB0
regimes including infeasible ones, and a fifth family, MRT with reused pilots at a small
Nt, printed). The tests (``tests/allocation/test_sca_general.py``) import the
references and case generators from here.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize  # type: ignore[import-untyped]

from jcas.allocation import allocate
from jcas.allocation.coefficient_optimum import optimal_coefficients
from jcas.allocation.sca.general import PowerAllocation, sca_general
from jcas.model.channel import estimate_variance
from jcas.model.coefficients import Coefficients, FisherCoefficients, RateCoefficients
from jcas.model.drops import large_scale_fading
from jcas.model.params import SystemParams
from jcas.parts.arrays.base import FixedArray
from jcas.parts.arrays.ula import element_positions
from jcas.parts.coefficients import closed_form_coefficients as cf_coefficients
from jcas.parts.registry import Design, design

OUT = Path(__file__).parent / "out" / "sca_general.txt"
N_STARTS = 50
GAP_FAIL = 1e-6
"""A reference (or the optimum) above the SCA by more than this (relative) is a failure."""


# ----------------------------------------------------------------------------- the problem
@dataclasses.dataclass(frozen=True)
class Drop:
    """One drop's problem written out from the coefficients (fractions ``z = (u, v)`` of the
    budget ``p``): sum rate (nats) and ``CRB / CRB0``, independent of the SCA's code."""

    a: np.ndarray
    b: np.ndarray
    e: np.ndarray
    noise: float
    t1: np.ndarray
    t2: np.ndarray
    t3: np.ndarray
    p: float
    fisher0: float

    @classmethod
    def of(cls, coef: Coefficients, d: int) -> Drop:
        r, f = coef.rate, coef.fisher
        return cls(
            r.signal[d],
            r.interference[d],
            r.sensing[d],
            r.noise,
            f.t1[d],
            f.t2[d],
            f.t3[d],
            coef.budget,
            coef.fisher0,
        )

    @property
    def k(self) -> int:
        return len(self.a)

    def rate(self, z: np.ndarray) -> np.ndarray:
        """Sum of ``ln(1 + SINR_k)`` (nats) at fractions ``z`` (m, K + 1)."""
        x, s = self.p * z[:, : self.k], self.p * z[:, self.k]
        den = x @ self.b.T + s[:, None] * self.e + self.noise
        return np.sum(np.log(den + self.a * x) - np.log(den), axis=1)

    def rate_grad(self, z: np.ndarray) -> np.ndarray:
        """Gradient of :meth:`rate` in ``z`` (K + 1,) at one point ``z`` (K + 1,)."""
        k = self.k
        x, s = self.p * z[:k], self.p * z[k]
        den = self.b @ x + self.e * s + self.noise
        rows = np.concatenate([self.b, self.e[:, None]], axis=1)  # d den_k / d (x, s)
        num_rows = rows.copy()
        num_rows[np.arange(k), np.arange(k)] += self.a
        g = num_rows / (den + self.a * x)[:, None] - rows / den[:, None]
        return self.p * g.sum(axis=0)

    def fisher(self, z: np.ndarray) -> np.ndarray:
        """``J / F0`` (m,) at ``z`` (m, K + 1): feasible iff >= 1."""
        t1, t2, t3 = (self.p * z @ t for t in (self.t1, self.t2, self.t3))
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = np.where(t1 > 0, np.abs(t3) ** 2 / np.where(t1 > 0, t1, 1.0), 0.0)
        return (t2 - loss) / self.fisher0

    def fisher_grad(self, z: np.ndarray) -> np.ndarray:
        t1, t3 = self.p * z @ self.t1, self.p * z @ self.t3
        t1 = max(t1, 1e-300)
        g = self.t2 - (2 * np.real(np.conj(t3) * self.t3) * t1 - abs(t3) ** 2 * self.t1) / t1**2
        return self.p * g / self.fisher0

    def crb_ratio(self, z: np.ndarray) -> np.ndarray:
        j = self.fisher(z)
        with np.errstate(divide="ignore"):
            return np.where(j > 0, 1.0 / np.where(j > 0, j, 1.0), np.inf)


def point(x: np.ndarray, s: float, drop: Drop) -> np.ndarray:
    """Fractions ``z`` (1, K + 1) of power factors ``x`` (K,), ``s`` (W per antenna)."""
    return np.concatenate([x, [s]])[None] / drop.p


# ----------------------------------------------------------------------------- references
@functools.cache
def _simplex(dim: int, m: int) -> np.ndarray:
    """Points of ``{z >= 0, sum z <= 1}`` in ``dim`` coordinates, step ``1 / m``."""
    pts = np.indices((m + 1,) * dim).reshape(dim, -1).T
    return pts[pts.sum(axis=1) <= m].astype(float) / m


def _feasible_anchor(drop: Drop) -> np.ndarray | None:
    """The vertex of the full-power simplex with the largest Fisher information, if feasible."""
    vertices = np.eye(drop.k + 1)
    j = drop.fisher(vertices)
    i = int(np.argmax(j))
    return vertices[i] if j[i] >= 1.0 else None


def _into_feasible(drop: Drop, z: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """``z`` (K + 1,) clipped to ``>= 0``, scaled into the budget, and moved towards the
    feasible ``anchor`` by the least step (bisection) that meets CRB0 exactly."""
    z = np.maximum(z, 0.0)
    z = z / max(1.0, z.sum())
    if drop.crb_ratio(z[None])[0] <= 1.0:
        return z
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if drop.crb_ratio(((1 - mid) * z + mid * anchor)[None])[0] <= 1.0:
            hi = mid
        else:
            lo = mid
    return (1 - hi) * z + hi * anchor


def slsqp(drop: Drop, z0: np.ndarray) -> tuple[float, np.ndarray]:
    """SLSQP (scipy) on the exact problem from ``z0``; the end point made exactly feasible
    (:func:`_into_feasible`). Returns its sum rate (nats) and the point; ``-inf`` if no
    feasible anchor exists."""
    anchor = _feasible_anchor(drop)
    k1 = drop.k + 1
    if anchor is None:
        return -np.inf, np.full(k1, np.nan)
    scale = max(float(drop.rate(z0[None])[0]), 1e-300)
    cons = [
        {"type": "ineq", "fun": lambda z: 1.0 - z.sum(), "jac": lambda z: -np.ones(k1)},
        {"type": "ineq", "fun": lambda z: drop.fisher(z[None])[0] - 1.0, "jac": drop.fisher_grad},
    ]
    res = minimize(
        lambda z: -drop.rate(z[None])[0] / scale,
        z0,
        jac=lambda z: -drop.rate_grad(z) / scale,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * k1,
        constraints=cons,
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    z = _into_feasible(drop, np.asarray(res.x, dtype=float), anchor)
    return float(drop.rate(z[None])[0]), z


def _pattern(
    drop: Drop, z: np.ndarray, r: float, step: float, halvings: int
) -> tuple[float, np.ndarray]:
    """Pattern search from ``z``: moves of up to two steps per coordinate, the step halved
    when no feasible move improves, ``halvings`` times."""
    moves = np.array(list(itertools.product((-2, -1, 0, 1, 2), repeat=drop.k + 1)), float)
    final = step / 2.0**halvings
    for _ in range(40 * halvings):
        if step < final:
            break
        cand = np.clip(z + step * moves, 0.0, None)
        cand = cand[cand.sum(axis=1) <= 1.0 + 1e-15]
        rc = np.where(drop.crb_ratio(cand) <= 1.0, drop.rate(cand), -np.inf)
        j = int(np.argmax(rc))
        if rc[j] > r:
            z, r = cand[j].copy(), float(rc[j])
        else:
            step /= 2.0
    return r, z


def grid_search(drop: Drop, m: int | None = None, halvings: int = 24) -> tuple[float, np.ndarray]:
    """Best feasible sum rate (nats) over a grid of the simplex of ``(u, v)`` (unused power
    included, step ``1 / m``: 1/100 for K = 2, 1/40 for K = 3), refined from each of the 5
    best grid points by a pattern search (:func:`_pattern`) and by SLSQP (:func:`slsqp`);
    ``(-inf, nan)`` when no grid point meets CRB0. Without the refinements the result is
    the grid's: the best point of a grid of that step."""
    k = drop.k
    m = m or (100 if k == 2 else 40)
    grid = _simplex(k + 1, m)
    rate = np.where(drop.crb_ratio(grid) <= 1.0, drop.rate(grid), -np.inf)
    order = np.argsort(rate)[::-1][:5]
    best, best_z = -np.inf, np.full(k + 1, np.nan)
    for i in order:
        if not np.isfinite(rate[i]):
            break
        for r, z in (
            _pattern(drop, grid[i].copy(), float(rate[i]), 1.0 / m, halvings),
            slsqp(drop, grid[i]),
        ):
            if r > best:
                best, best_z = r, z
    return best, best_z


def random_feasible_starts(drop: Drop, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random feasible points (n, K + 1): uniform on ``{z >= 0, sum z <= 1}``, each moved
    towards the feasible anchor (:func:`_feasible_anchor`) just past the CRB0 boundary."""
    anchor = _feasible_anchor(drop)
    if anchor is None:
        return np.zeros((0, drop.k + 1))
    z = rng.dirichlet(np.ones(drop.k + 2), size=n)[:, : drop.k + 1]
    lo, hi = np.zeros(n), np.ones(n)
    ok0 = drop.crb_ratio(z) <= 1.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        zm = (1 - mid)[:, None] * z + mid[:, None] * anchor
        good = drop.crb_ratio(zm) <= 1.0
        hi, lo = np.where(good, mid, hi), np.where(good, lo, mid)
    mu = np.where(ok0, 0.0, hi + 0.05 * (1 - hi))
    return (1 - mu)[:, None] * z + mu[:, None] * anchor


def multistart(drop: Drop, n_starts: int = N_STARTS, seed: int = 0) -> tuple[float, np.ndarray]:
    """Best sum rate (nats) of SLSQP (:func:`slsqp`) on the exact problem from ``n_starts``
    random feasible starts (:func:`random_feasible_starts`), each end point made exactly
    feasible; ``(-inf, nan)`` when no start exists (no vertex meets CRB0)."""
    rng = np.random.default_rng(seed)
    starts = random_feasible_starts(drop, n_starts, rng)
    best, best_z = -np.inf, np.full(drop.k + 1, np.nan)
    for z0 in starts:
        r, z = slsqp(drop, z0)
        if r > best:
            best, best_z = r, z
    return best, best_z


# ----------------------------------------------------------------------------- test cases
def _crb0_for(coef: Coefficients, regime: str) -> float:
    """CRB0 of a regime from drop 0's Fisher terms: ``binding`` the geometric middle of the
    CRBs of all power on sensing and all power equally on the users; ``free`` twice the
    largest CRB over the full-power vertices; ``infeasible`` half the smallest."""
    drop = Drop.of(dataclasses.replace(coef, crb0=1.0), 0)
    k = drop.k
    sens = drop.crb_ratio(np.eye(k + 1)[k : k + 1])[0]
    comm = drop.crb_ratio(np.concatenate([np.full(k, 1.0 / k), [0.0]])[None])[0]
    vertices = drop.crb_ratio(np.eye(k + 1))
    if regime == "binding":
        return float(np.sqrt(sens * comm))
    if regime == "free":
        return float(2.0 * max(vertices.max(), comm))
    return float(0.5 * vertices.min())


def non_centred_parts(params: SystemParams) -> Design:
    """The parts of ``params`` with both arrays replaced by a ULA referenced at its first
    element (positions 0 .. N - 1, not centred: ``a^H a_dot != 0``, so ``T3 != 0``)."""
    parts = design(params)
    arrays = []
    for n in (params.Nt, params.Nr):
        m = element_positions(n) + (n - 1) / 2.0
        a = np.exp(1j * np.pi * np.sin(params.theta_rad) * m)
        arrays.append(FixedArray(a, 1j * np.pi * np.cos(params.theta_rad) * m * a))
    return Design(parts.precoder, arrays[0], arrays[1])


def reused_pilot_case(
    k: int,
    n: int,
    seed: int,
    regime: str,
    *,
    snr_com_db: float = 10.0,
    nt: int = 16,
    non_centred: bool = False,
) -> Coefficients:
    """MRT closed-form coefficients with reused pilots (``tau_p = max(1, K // 2)``: users
    ``j`` and ``j + tau_p`` share a pilot and ``b`` is full), optionally on the non-centred
    array (``T3 != 0``); drops of :func:`jcas.model.drops.large_scale_fading`."""
    p = SystemParams(K=k, Nt=nt, Nr=nt, tau_p=max(1, k // 2), snr_com_db=snr_com_db, theta_deg=20.0)
    beta, _ = large_scale_fading(p, seed, range(n))
    xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
    parts = non_centred_parts(p) if non_centred else None
    coef = cf_coefficients(beta, xi, p, parts)
    return dataclasses.replace(coef, crb0=_crb0_for(coef, regime))


def split_form_case(
    k: int, n: int, seed: int, regime: str, *, snr_com_db: float = 10.0, nt: int = 35
) -> tuple[Coefficients, np.ndarray, np.ndarray, SystemParams]:
    """MRT closed-form coefficients with orthonormal pilots (split form, linear Fisher), and
    the drops ``beta, xi`` and system they came from (to run ``sca`` and ``optimal``)."""
    p = SystemParams(K=k, Nt=nt, Nr=nt, tau_p=max(10, k), snr_com_db=snr_com_db)
    beta, _ = large_scale_fading(p, seed, range(n))
    xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
    coef = cf_coefficients(beta, xi, p)
    crb0 = _crb0_for(coef, regime)
    return dataclasses.replace(coef, crb0=crb0), beta, xi, p.replace(crb0=crb0)


def random_case(k: int, n: int, seed: int, regime: str, *, with_t3: bool) -> Coefficients:
    """Random positive coefficients, per drop: signal gains ``a_k p / sigma^2`` from 0.1 to
    1e3 (SNR -10 .. 30 dB), a diagonally dominant ``b`` (``b_kk >= sum_{j != k} b_kj``,
    cross terms 1e-3 .. 1e-1 of ``a_k``), sensing leakage 1e-3 .. 1e-1 of ``a_k``; Fisher
    terms with unequal user columns (``t2`` of the sensing beam 2-10x the users'), with
    ``|t3|^2 <= 0.64 t1 t2`` per column if ``with_t3``; scaled per drop so that CRB0 = 1
    is in the ``regime`` (binding: the geometric middle of the CRBs of the sensing vertex and
    of the equal users' split; free: half the smallest Fisher information of a vertex)."""
    rng = np.random.default_rng(seed)
    a = 10 ** rng.uniform(-1, 3, (n, k))
    cross = a[:, :, None] * 10 ** rng.uniform(-3, -1, (n, k, k))
    cross[:, np.arange(k), np.arange(k)] = 0.0
    diag = cross.sum(axis=2) + a * 10 ** rng.uniform(-3, -1, (n, k))
    b = cross.copy()
    b[:, np.arange(k), np.arange(k)] = diag
    e = a * 10 ** rng.uniform(-3, -1, (n, k))
    t1 = rng.uniform(0.5, 1.5, (n, k + 1))
    t2 = rng.uniform(0.5, 1.5, (n, k + 1))
    t2[:, k] = rng.uniform(2.0, 10.0, n)
    t3 = np.zeros((n, k + 1), complex)
    if with_t3:
        rho = rng.uniform(0.0, 0.8, (n, k + 1))
        t3 = rho * np.sqrt(t1 * t2) * np.exp(2j * np.pi * rng.uniform(size=(n, k + 1)))
    fisher = FisherCoefficients(t1, t2, t3, 1.0)
    rate = RateCoefficients(a, b, e, 1.0, 0.9)
    probe = Coefficients(rate, fisher, 1, 1.0, 1.0)
    z_s = np.zeros((n, k + 1))
    z_s[:, k] = 1.0
    z_c = np.concatenate([np.full((n, k), 1.0 / k), np.zeros((n, 1))], axis=1)
    j_s = probe.fisher.fisher(z_s[:, :k], z_s[:, k])
    j_c = probe.fisher.fisher(z_c[:, :k], z_c[:, k])
    j_v = np.stack(
        [
            probe.fisher.fisher(np.eye(k + 1)[i, :k] * np.ones((n, 1)), np.full(n, float(i == k)))
            for i in range(k + 1)
        ]
    )
    if regime == "binding":
        level = np.sqrt(j_s * j_c)
    elif regime == "free":
        level = 0.5 * np.minimum(j_v.min(axis=0), j_c)
    else:
        level = 2.0 * j_v.max(axis=0)
    scale = (1.0 / level)[:, None]
    fisher = FisherCoefficients(t1 * scale, t2 * scale, t3 * scale, 1.0)
    return Coefficients(rate, fisher, 1, 1.0, 1.0, source="random")


def cases(k: int, n: int, seed: int, regime: str) -> dict[str, Coefficients]:
    """The full-``b`` families of the certification (module doc), ``n`` drops each."""
    return {
        "reused pilots": reused_pilot_case(k, n, seed, regime),
        "random, T3 = 0": random_case(k, n, seed + 1, regime, with_t3=False),
        "random, T3 != 0": random_case(k, n, seed + 2, regime, with_t3=True),
        "reused, non-centred": reused_pilot_case(k, n, seed + 3, regime, non_centred=True),
    }


# ----------------------------------------------------------------------------- comparison
@dataclasses.dataclass
class Tally:
    """Gaps, failures and times of one cell."""

    gaps: list[float] = dataclasses.field(default_factory=list)
    failures: list[str] = dataclasses.field(default_factory=list)
    drops: int = 0
    seconds: float = 0.0
    ref_seconds: float = 0.0


def certify(
    coef: Coefficients,
    result: PowerAllocation,
    reference: Any,
    tally: Tally,
    label: str,
) -> None:
    """Compare ``result`` with ``reference(drop) -> (rate, z)`` on every drop of ``coef``."""
    for d in range(len(result.s)):
        drop = Drop.of(coef, d)
        t0 = time.perf_counter()
        best, _ = reference(drop)
        tally.ref_seconds += time.perf_counter() - t0
        tally.drops += 1
        where = f"{label} drop {d}"
        if result.status[d] not in ("converged", "max_iterations"):
            if np.isfinite(best) or result.status[d] != "infeasible":
                tally.failures.append(f"{where}: status {result.status[d]}, reference {best:.4g}")
            continue
        z = point(result.x[d], result.s[d], drop)
        got = float(drop.rate(z)[0])
        if drop.crb_ratio(z)[0] > 1 + 1e-9 or z.sum() > 1 + 1e-9:
            tally.failures.append(f"{where}: infeasible allocation")
        if not np.isfinite(best):
            continue  # the reference found nothing: the SCA cannot be beaten
        gap = (best - got) / best if best > 0 else 0.0
        tally.gaps.append(gap)
        if gap > GAP_FAIL:
            tally.failures.append(f"{where}: reference above the SCA by {gap:.2e}")


def row(label: str, t: Tally) -> str:
    g = np.array(t.gaps) if t.gaps else np.array([np.nan])
    ms = 1e3 * t.seconds / max(t.drops, 1)
    ref = 1e3 * t.ref_seconds / max(t.drops, 1)
    return (
        f"{label:<40} {t.drops:>5} {len(t.failures):>4} {np.max(g):>10.2e} "
        f"{np.median(g):>10.2e} {np.min(g):>10.2e} {ms:>9.2f} {ref:>10.1f}"
    )


def _best_of(repeats: int, fn: Any, *args: Any) -> tuple[Any, float]:
    """``fn(*args)`` run ``repeats`` times: its (last) result and the smallest wall time (s)."""
    best = np.inf
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return out, best


def part_split(n: int, lines: list[str], repeats: int) -> list[str]:
    """Part 1 (module doc); returns the failures."""
    failures: list[str] = []
    lines += [
        "1. Split-form drops (MRT, orthonormal pilots, Nt = Nr = 35): ms per drop (best of "
        f"{repeats} runs of the batch), mean iterations, failures of sca_general, its largest",
        "   gap to the optimum (optimal_coefficients) and that of sca",
        f"{'cell':<24} {'drops':>5} {'general':>8} {'sca':>8} {'optimal':>8} {'opt(coef)':>9} "
        f"{'gen/sca':>7} {'it gen':>6} {'it sca':>6} {'fail':>4} {'max gap':>9} {'sca gap':>9}",
    ]
    sca_general(split_form_case(4, 4, 99, "binding")[0])  # build the programs once
    for k, snr, regime in itertools.product((4, 8, 16), (0.0, 20.0), ("free", "binding")):
        coef, beta, xi, p = split_form_case(k, n, 7 + k, regime, snr_com_db=snr)
        allocate("sca", beta[:2], xi[:2], p)
        gen, t_gen = _best_of(repeats, sca_general, coef)
        ref, t_sca = _best_of(repeats, allocate, "sca", beta, xi, p)
        _, t_opt = _best_of(repeats, allocate, "optimal", beta, xi, p)
        (x, s, _), t_oc = _best_of(repeats, optimal_coefficients, coef)
        r_opt = coef.rate.sum_rate(x, s)
        r_gen = coef.rate.sum_rate(gen.x, gen.s)
        xs, ss = design(p).precoder.power_factors(ref.gamma, ref.eta, xi)
        r_sca = coef.rate.sum_rate(xs, ss)
        gap = np.where(r_opt > 0, (r_opt - r_gen) / r_opt, 0.0)
        gap_sca = np.where(r_opt > 0, (r_opt - r_sca) / r_opt, 0.0)
        label = f"K={k} {snr:g} dB {regime}"
        bad = (gen.status != "converged") | (gap > GAP_FAIL)
        bad |= coef.fisher.crb(gen.x, gen.s) > coef.crb0 * (1 + 1e-9)
        failures += [
            f"{label} drop {d}: gap {gap[d]:.2e} {gen.status[d]}" for d in np.flatnonzero(bad)
        ]
        lines.append(
            f"{label:<24} {n:>5} {1e3 * t_gen / n:>8.2f} {1e3 * t_sca / n:>8.2f} "
            f"{1e3 * t_opt / n:>8.4f} {1e3 * t_oc / n:>9.4f} {t_gen / t_sca:>7.2f} "
            f"{gen.iterations.mean():>6.2f} {ref.iterations.mean():>6.2f} "
            f"{int(bad.sum()):>4} {np.max(gap):>9.1e} {np.max(gap_sca):>9.1e}"
        )
    return failures


def part_full(
    ks: tuple[int, ...], n: int, n_speed: int, lines: list[str], reference: str
) -> list[str]:
    """Parts 2 and 3 (module doc): ``sca_general`` timed on ``n_speed`` drops of each family
    (one batch; statuses other than ``converged`` counted), its first ``n`` drops compared
    with the reference (timed per drop). Returns the failures."""
    failures: list[str] = []
    name = "multi-start SLSQP" if reference == "multistart" else "grid + pattern search + SLSQP"
    lines += [
        f"{'cell':<36} {'ms/drop':>8} {'not conv':>8} {'it':>5} {'certified':>9} {'fail':>4} "
        f"{'max gap':>10} {'median':>10} {'min':>10} {'ref ms':>9}",
    ]
    search = multistart if reference == "multistart" else grid_search
    for k, regime in itertools.product(ks, ("free", "binding")):
        for family, coef in cases(k, n_speed, 100 * k, regime).items():
            res, seconds = _best_of(1, sca_general, coef)
            label = f"K={k} {regime} {family}"
            first = PowerAllocation(
                res.x[:n], res.s[:n], res.status[:n], res.iterations[:n], res.solve_time_s[:n]
            )
            tally = Tally()
            certify(coef.select(np.arange(n)), first, search, tally, label)
            g = np.array(tally.gaps) if tally.gaps else np.array([np.nan])
            lines.append(
                f"{label:<36} {1e3 * seconds / n_speed:>8.2f} "
                f"{int(np.sum(res.status != 'converged')):>8} {res.iterations.mean():>5.1f} "
                f"{tally.drops:>9} {len(tally.failures):>4} {np.max(g):>10.2e} "
                f"{np.median(g):>10.2e} {np.min(g):>10.2e} "
                f"{1e3 * tally.ref_seconds / max(tally.drops, 1):>9.1f}"
            )
            failures += tally.failures
    lines.append(
        f"   (reference: {name}; gap = (reference - sca) / reference; ms/drop and "
        f"'not conv' over {n_speed} drops in one call, 'it' their mean iterations)"
    )
    return failures


def stress(k: int, n: int) -> list[str]:
    """The stress sweep (``--stress K``): SNR_com in {-10, 0, 10, 20, 30} dB x CRB0 free /
    binding / infeasible x five full-b families (MRT with reused pilots at Nt = 16, on the
    non-centred array, and at Nt = max(8, K + 2); random with T3 = 0 and T3 != 0), ``n``
    drops each, against the grid search (K <= 3) or the multi-start; returns printed lines."""
    search = grid_search if k <= 3 else multistart
    lines, gaps, failures = [], [], []
    for snr, regime in itertools.product((-10.0, 0.0, 10.0, 20.0, 30.0), REGIMES):
        s0 = int(snr) + k
        families = {
            "reused": reused_pilot_case(k, n, s0 + 50, regime, snr_com_db=snr),
            "reused nc": reused_pilot_case(
                k, n, s0 + 150, regime, snr_com_db=snr, non_centred=True
            ),
            "reused small Nt": reused_pilot_case(
                k, n, s0 + 250, regime, snr_com_db=snr, nt=max(8, k + 2)
            ),
            "random": random_case(k, n, s0 + 350, regime, with_t3=False),
            "random t3": random_case(k, n, s0 + 450, regime, with_t3=True),
        }
        for family, coef in families.items():
            res = sca_general(coef)
            tally = Tally()
            certify(coef, res, search, tally, f"K={k} {snr:g} dB {regime} {family}")
            gaps += tally.gaps
            failures += tally.failures
            g = max(tally.gaps) if tally.gaps else float("nan")
            statuses = sorted(str(x) for x in set(res.status))
            lines.append(
                f"K={k} {snr:>5g} dB {regime:<10} {family:<15} {statuses} "
                f"iterations <= {res.iterations.max()} max gap {g:.2e} failures "
                f"{len(tally.failures)}"
            )
    lines.append(
        f"K={k}: {len(gaps)} feasible drops compared, largest gap {max(gaps):.2e}, "
        f"failures {len(failures)}"
    )
    return lines + failures


REGIMES = ("free", "binding", "infeasible")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer drops")
    parser.add_argument(
        "--stress", type=int, nargs="+", metavar="K", help="only the stress sweep, these K"
    )
    parser.add_argument("--drops", type=int, default=6, help="drops per stress cell")
    args = parser.parse_args()
    if args.stress:
        for k in args.stress:
            print("\n".join(stress(k, args.drops)), flush=True)
        return
    t0 = time.perf_counter()
    n_split, n_full, n_small, n_speed, repeats = (
        (20, 3, 5, 20, 1) if args.quick else (200, 10, 25, 200, 3)
    )
    lines = [
        "SCA on general coefficients (benchmarks/sca_general.py)",
        f"{platform.processor() or platform.machine()}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start; "
        f"{n_split} split-form drops a cell; {n_full} (K = 4, 8, 16) and {n_small} (K = 2, 3) "
        "full-b drops a cell and family certified",
        "",
    ]
    failures = part_split(n_split, lines, repeats)
    lines += ["", f"2. Full interference matrix, K = 4, 8, 16 ({N_STARTS} starts)"]
    failures += part_full((4, 8, 16), n_full, n_speed, lines, "multistart")
    lines += ["", "3. Full interference matrix, K = 2, 3"]
    failures += part_full((2, 3), n_small, n_speed, lines, "grid")
    lines += ["", f"failures: {len(failures)}", *failures]
    lines.append(f"load average {os.getloadavg()[0]:.1f} at the end")
    lines.append(f"wall time {time.perf_counter() - t0:.1f} s")
    text = "\n".join(lines) + "\n"
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)


if __name__ == "__main__":
    main()
