"""Shared structure of the objectives on coefficients (``docs/theory.md`` §8).

Every scheme here reads only :class:`jcas.model.coefficients.Coefficients`, per drop

    SINR_k = a_k x_k / (sum_j b_kj x_j + e_k s + sigma_u^2),      J = sum_k t2[k] x_k + t2[K] s

(``J`` the Fisher information times ``sigma_r_bar^2`` when ``T3 = 0``), with the budget
``sum_k x_k + s <= p = Pt / Nt`` and the sensing constraint ``J >= F0 = sigma_r_bar^2 / CRB0``.
This module holds what the schemes share:

- the requirements a scheme places on the coefficients, as data (:data:`REQUIREMENTS`,
  :func:`structure_problems`), and the check that refuses a design lacking them
  (:func:`check_design`, :class:`jcas.model.params.ConfigError` naming the scheme, the
  requirement, the precoder and the config keys);
- the minimal-power communication vector at SINR targets (:func:`min_power`, §1 of the
  theory draft): ``x(s) = u + v s`` with ``M = diag(a) - diag(t) b``,
  ``u = M^-1 diag(t) sigma_u^2 1``, ``v = M^-1 diag(t) e``;
- the largest Fisher information at SINR targets and a budget (:func:`max_fisher`): a
  knapsack over one constraint, solved in closed form;
- the per-drop validity of the coefficients (:func:`invalid_drops`), the result type of the
  solvers (:class:`Solution`), option specifications (:class:`OptionSpec`), and the map back
  to an :class:`jcas.allocation._types.Allocation` (:func:`to_allocation`).

Shapes: ``D`` drops, ``K`` users; vectors over users ``(D, K)``, matrices ``(D, K, K)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.allocation._types import Allocation, timed
from jcas.model.coefficients import Coefficients
from jcas.model.params import ConfigError, SystemParams

__all__ = [
    "LINEAR_FISHER",
    "LINEAR_FISHER_POWERS",
    "REQUIREMENTS",
    "SPLIT_POWER_RATE",
    "FisherKnapsack",
    "MinPower",
    "OptionSpec",
    "Solution",
    "check_design",
    "empty_solution",
    "fit_budget",
    "int_option",
    "invalid_drops",
    "max_fisher",
    "max_fisher_arrays",
    "min_power",
    "min_power_arrays",
    "per_user_option",
    "real_option",
    "refuse_structure",
    "scheme_coefficients",
    "spectral_radius",
    "split_coefficients",
    "structure_problems",
    "to_allocation",
    "totals_fisher",
]

Float = NDArray[np.float64]
Bool = NDArray[np.bool_]

# ------------------------------------------------------------------------------ requirements
SPLIT_POWER_RATE: Final = "split_power_rate"
"""``b_kj = B_k`` for every stream ``j`` (interference depends on the streams only through
``c = sum_k x_k``) and ``e_k >= B_k`` (sensing power costs each user at least as much as
communications power): the structure of ``optimal`` (``docs/theory.md`` §2, §6)."""

LINEAR_FISHER: Final = "linear_fisher"
"""``T3 = 0`` and the same ``t2[k]`` for every user: ``J = a c + b s`` depends on the powers
only through the totals ``(c, s)`` (the structure of ``optimal``)."""

LINEAR_FISHER_POWERS: Final = "linear_fisher_powers"
"""``T3 = 0``: ``J = sum_k t2[k] x_k + t2[K] s`` is linear in the powers (each user's own
coefficient allowed)."""

REQUIREMENTS: Final = {
    SPLIT_POWER_RATE: (
        "a rate whose interference is the same from every stream (b_kj = B_k for all j) and "
        "whose sensing power costs each user no less than communications power (e_k >= B_k)"
    ),
    LINEAR_FISHER: (
        "a Fisher information linear in the power totals (c, s): T3 = 0 and the same "
        "coefficient t2[k] for every user"
    ),
    LINEAR_FISHER_POWERS: "a Fisher information linear in the powers (T3 = 0 in (36))",
}
"""Every requirement a scheme on coefficients may state, with the words of its errors. A
full interference matrix ``b`` is accepted by every scheme that does not state
:data:`SPLIT_POWER_RATE`."""

_RTOL: Final = 1e-12
"""Relative tolerance of the structure checks (closed forms are exact to rounding)."""


def _holds(ok: NDArray[np.bool_], values: NDArray[Any]) -> bool:
    """``ok`` everywhere ``values`` is finite (non-finite drops are ``invalid_input``)."""
    return bool(np.all(ok | ~np.isfinite(values)))


def _same_interference(coef: Coefficients) -> bool:
    b = coef.rate.interference
    return _holds(np.isclose(b, b[..., :1], rtol=_RTOL, atol=0.0), b)


def split_coefficients(coef: Coefficients) -> tuple[Float, Float, Float] | None:
    """``(A, B, E)`` (each (D, K)) of the split-power form ``SINR_k = A_k x_k / (B_k c + E_k s
    + sigma_u^2)`` when :data:`SPLIT_POWER_RATE` holds on every drop with finite
    coefficients, else None."""
    r = coef.rate
    if not _same_interference(coef):
        return None
    big_b = r.interference[..., 0]
    if not _holds(r.sensing >= big_b * (1.0 - _RTOL), r.sensing - big_b):
        return None
    return r.signal, big_b.copy(), r.sensing


def _linear(coef: Coefficients) -> bool:
    t3 = coef.fisher.t3
    return _holds(t3 == 0, np.abs(t3))


def totals_fisher(coef: Coefficients) -> tuple[Float, Float] | None:
    """``(a, b)`` (each (D,)) of ``J = a c + b s`` when :data:`LINEAR_FISHER` holds on every
    drop with finite coefficients, else None."""
    if not _linear(coef):
        return None
    comm = coef.fisher.t2[:, :-1]
    if not _holds(np.isclose(comm, comm[:, :1], rtol=_RTOL, atol=0.0), comm):
        return None
    return comm[:, 0].copy(), coef.fisher.t2[:, -1].copy()


def _lacks(coef: Coefficients, requirement: str) -> str | None:
    """Why ``coef`` lacks ``requirement`` (a sentence), or None."""
    if requirement == SPLIT_POWER_RATE:
        if not _same_interference(coef):
            return "its interference b_kj differs between the streams j reaching a user"
        if split_coefficients(coef) is None:
            return "its sensing power reaches some user less than communications power (e_k < B_k)"
        return None
    if requirement == LINEAR_FISHER:
        if not _linear(coef):
            return "T3 != 0 in (36) (the array is not centred or T3 was estimated)"
        if totals_fisher(coef) is None:
            return "its Fisher coefficient t2[k] differs between users"
        return None
    if requirement == LINEAR_FISHER_POWERS:
        if not _linear(coef):
            return "T3 != 0 in (36) (the array is not centred or T3 was estimated)"
        return None
    raise ValueError(f"requirement = {requirement!r}: must be one of {sorted(REQUIREMENTS)}")


def structure_problems(coef: Coefficients, requires: Sequence[str]) -> list[tuple[str, str]]:
    """``(requirement, reason)`` for every requirement of ``requires`` the coefficients lack."""
    out = []
    for requirement in requires:
        reason = _lacks(coef, requirement)
        if reason is not None:
            out.append((requirement, reason))
    return out


def check_design(scheme: str, params: SystemParams) -> None:
    """Refuse (:class:`ConfigError`) a design on which ``scheme`` cannot run before building
    its coefficients: the precoder's own validity (e.g. ZF with ``Nt <= K``) and the
    sensing constraint (only the azimuth CRB (36) is modelled by the coefficients)."""
    from jcas.parts.registry import design

    parts = design(params)
    own = parts.precoder.unsupported("", params)
    if own:
        raise ConfigError(f"scheme {scheme!r}: system.precoder = {params.precoder!r}: {own}")
    if params.crb_form != "azimuth":
        raise ConfigError(
            f"scheme {scheme!r} constrains the azimuth CRB (36) only; system.crb_form = "
            f"{params.crb_form!r} is not supported (use crb_form 'azimuth')"
        )


def refuse_structure(
    scheme: str, coef: Coefficients, requires: Sequence[str], params: SystemParams | None
) -> None:
    """Raise :class:`ConfigError` naming the scheme, each lacking requirement and (with
    ``params``) the precoder and array keys, when ``coef`` lacks part of ``requires``."""
    problems = structure_problems(coef, requires)
    if not problems:
        return
    where = (
        f"the coefficients of precoder {params.precoder!r} (system.precoder) and array "
        f"{params.array!r} (system.array)"
        if params is not None
        else f"the coefficients ({coef.source})"
    )
    lines = []
    for name, why in problems:
        line = (
            f"scheme {scheme!r} needs {REQUIREMENTS[name]} (requirement {name!r}); {where}: {why}"
        )
        cause = _part_cause(name, params) if params is not None else None
        lines.append(line + (f" ({cause})" if cause else ""))
    raise ConfigError("; ".join(lines) + " (docs/theory.md §8)")


def _part_cause(requirement: str, params: SystemParams) -> str | None:
    """The parts' own sentence on why they break ``requirement`` (naming the config keys),
    where they have one."""
    from jcas.parts.precoders.base import LINEAR_FISHER as PART_LINEAR_FISHER
    from jcas.parts.precoders.base import split_power_unsupported
    from jcas.parts.registry import design

    parts = design(params)
    if requirement == SPLIT_POWER_RATE:
        return split_power_unsupported(parts.precoder, params)
    if requirement in (LINEAR_FISHER, LINEAR_FISHER_POWERS):
        cause = parts.precoder.unsupported(PART_LINEAR_FISHER, params)
        if cause is None and not (
            parts.tx.orthogonal_derivative and parts.rx.orthogonal_derivative
        ):
            cause = f"array {params.array!r} (system.array) is not centred: a^H a_dot != 0"
        return cause
    return None


# ------------------------------------------------------------------------------ options
@dataclass(frozen=True)
class OptionSpec:
    """One keyword option of a scheme: name, default, type, unit and allowed range (text)."""

    name: str
    default: Any
    kind: str
    unit: str
    allowed: str


def real_option(
    name: str,
    value: Any,
    *,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float in the given interval, else ``ValueError`` naming the
    option and the value."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {value!r}: must be a real number") from None
    lo_ok = v > low if low_open else v >= low
    hi_ok = v < high if high_open else v <= high
    if not (math.isfinite(v) and lo_ok and hi_ok):
        lb = "(" if low_open else "["
        hb = ")" if high_open else "]"
        raise ValueError(f"{name} = {value!r}: must be a finite number in {lb}{low}, {high}{hb}")
    return v


def int_option(name: str, value: Any, *, low: int) -> int:
    """``value`` as an int ``>= low`` (``ValueError`` naming the option and value)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} = {value!r}: must be an integer >= {low}")
    return int(value)


def per_user_option(name: str, value: Any, k: int, *, unit: str) -> Float:
    """A scalar or a length-``K`` sequence of finite non-negative numbers as a ``(K,)``
    array (``ValueError`` naming the option, the offending value and entry)."""
    arr = np.asarray(value, dtype=object)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != k):
        raise ValueError(
            f"{name} = {value!r}: must be one number or a list of K = {k} numbers ({unit})"
        )
    try:
        out = np.broadcast_to(np.asarray(value, dtype=float), (k,)).copy()
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {value!r}: must be real numbers ({unit})") from None
    bad = ~np.isfinite(out) | (out < 0)
    if np.any(bad):
        i = int(np.argmax(bad))
        entry = float(out[i])
        raise ValueError(
            f"{name} = {value!r}: entry {i} = {entry!r} must be a finite number >= 0 ({unit})"
        )
    return out


# ------------------------------------------------------------------------------ validity
def invalid_drops(coef: Coefficients) -> Bool:
    """(D,) drops whose coefficients cannot define the problems: a non-finite entry, a
    signal ``a_k <= 0``, a negative interference, sensing or Fisher coefficient."""
    r, f = coef.rate, coef.fisher
    bad = ~np.all(np.isfinite(r.signal), axis=-1) | ~np.all(r.signal > 0, axis=-1)
    bad |= ~np.all(np.isfinite(r.interference), axis=(-2, -1))
    bad |= np.any(r.interference < 0, axis=(-2, -1))
    bad |= ~np.all(np.isfinite(r.sensing), axis=-1) | np.any(r.sensing < 0, axis=-1)
    bad |= ~np.all(np.isfinite(f.t2), axis=-1) | np.any(f.t2 < 0, axis=-1)
    if not (math.isfinite(r.noise) and r.noise > 0):
        bad |= True
    return bad


# ------------------------------------------------------------------------------ linear algebra
def spectral_radius(m: ArrayLike) -> Float:
    """Spectral radius of each matrix of a batch ``(..., n, n)`` (its Perron root when
    non-negative); NaN where the eigenvalue solver fails or the input is not finite."""
    m = np.asarray(m, dtype=float)
    out = np.full(m.shape[:-2], np.nan)
    ok = np.all(np.isfinite(m), axis=(-2, -1))
    if np.any(ok):
        out[ok] = np.max(np.abs(np.linalg.eigvals(m[ok])), axis=-1)
    return out


@dataclass(frozen=True)
class MinPower:
    """The least communication powers meeting SINR targets ``t`` at sensing power ``s``.

    ``x(s) = u + v s`` is the componentwise least ``x >= 0`` with ``SINR_k(x, s) >= t_k``
    for every ``k``; every other such ``x`` is ``x(s) + m_inv q`` with ``q >= 0``.

    Attributes
    ----------
    m_inv : (D, K, K) ``M^-1``, ``M = diag(a) - diag(t) b`` (W per antenna per W).
    u : (D, K) ``M^-1 diag(t) sigma_u^2 1`` (W per antenna).
    v : (D, K) ``M^-1 diag(t) e`` (per unit of ``s``).
    ok : (D,) whether the targets are reachable at all: ``rho(diag(t / a) b) < 1``
        (``M`` a non-singular M-matrix, ``M^-1 >= 0``); elsewhere the arrays are NaN.
    """

    m_inv: Float
    u: Float
    v: Float
    ok: Bool


def min_power(coef: Coefficients, t: ArrayLike, *, rho: ArrayLike | None = None) -> MinPower:
    """:class:`MinPower` at SINR targets ``t`` (``(D, K)`` or ``(D, 1)``, ``>= 0``).

    ``rho``: the spectral radius of ``diag(t / a) b`` per drop if known (else computed).
    """
    r = coef.rate
    return min_power_arrays(r.signal, r.interference, r.sensing, r.noise, t, rho=rho)


def min_power_arrays(
    a: Float, b: Float, e: Float, noise: float, t: ArrayLike, *, rho: ArrayLike | None = None
) -> MinPower:
    """:func:`min_power` on the arrays ``a (D, K)``, ``b (D, K, K)``, ``e (D, K)``."""
    t = np.broadcast_to(np.asarray(t, dtype=float), a.shape)
    m = -t[..., :, None] * b
    idx = np.arange(a.shape[-1])
    m[..., idx, idx] += a
    if rho is None:
        rho = spectral_radius((t / a)[..., :, None] * b)
    ok = np.asarray(rho) < 1.0
    m_inv = np.full(m.shape, np.nan)
    if np.any(ok):
        m_inv[ok] = np.linalg.inv(m[ok])
    # M^-1 >= 0 for a non-singular M-matrix; rounding may leave tiny negative entries
    scale = np.max(np.abs(m_inv), axis=(-2, -1), keepdims=True)
    ok &= np.all(m_inv >= -1e-12 * scale, axis=(-2, -1))
    m_inv = np.where(ok[..., None, None], np.maximum(m_inv, 0.0), np.nan)
    u = np.einsum("...kj,...j->...k", m_inv, t * noise)
    v = np.einsum("...kj,...j->...k", m_inv, t * e)
    return MinPower(m_inv, u, v, ok)


@dataclass(frozen=True)
class FisherKnapsack:
    """The largest ``J`` over every allocation meeting SINR targets within the budget.

    Attributes
    ----------
    fisher : (D,) that largest ``J`` (W); where ``left < 0`` the same formula continued
        (no allocation meets the targets there).
    left : (D,) ``R = p - sum_k u_k``, the budget left after the least communication powers
        (W per antenna); the targets are reachable within the budget iff ``R >= 0``.
    item : (D,) where the budget left goes: ``K`` the sensing beam, ``k < K`` user ``k``'s
        stream (``-1``: nowhere, no item adds Fisher information).
    x, s : the allocation reaching ``fisher`` (``(D, K)``, ``(D,)``; W per antenna).
    """

    fisher: Float
    left: Float
    item: NDArray[np.int64]
    x: Float
    s: Float


def max_fisher(coef: Coefficients, mp: MinPower) -> FisherKnapsack:
    """:class:`FisherKnapsack` of the targets of ``mp`` (linear Fisher information, ``T3 = 0``).

    With ``x = u + v s + M^-1 q`` (``s, q >= 0``), the budget is one linear constraint with
    positive weights (``1 + 1^T v`` for ``s``, the column sums of ``M^-1`` for ``q``) and
    ``J`` is linear with non-negative gains, so the maximum puts the whole budget left on
    the item of largest gain per weight (``docs/theory.md`` §8.1).
    """
    return max_fisher_arrays(coef.fisher.t2, coef.budget, mp)


def max_fisher_arrays(t2: Float, budget: float, mp: MinPower) -> FisherKnapsack:
    """:func:`max_fisher` on the Fisher coefficients ``t2 (D, K + 1)`` and the budget."""
    k = t2.shape[-1] - 1
    t2x, t2s = t2[:, :k], t2[:, k]
    base = np.einsum("dk,dk->d", t2x, mp.u)
    left = budget - np.sum(mp.u, axis=-1)
    w_s = 1.0 + np.sum(mp.v, axis=-1)
    g_s = np.einsum("dk,dk->d", t2x, mp.v) + t2s
    w_q = np.sum(mp.m_inv, axis=-2)  # (D, K): 1^T M^-1
    g_q = np.einsum("dk,dkj->dj", t2x, mp.m_inv)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.concatenate([g_q / w_q, (g_s / w_s)[:, None]], axis=-1)
    ratios = np.where(np.isfinite(ratios), ratios, -np.inf)
    item = np.argmax(ratios, axis=-1)
    best = np.take_along_axis(ratios, item[:, None], axis=-1)[:, 0]
    useful = best > 0
    fisher = base + left * np.where(useful, best, 0.0)
    item = np.where(useful & mp.ok, item, -1)
    amount = np.maximum(left, 0.0)
    on_sensing = item == k
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(on_sensing, amount / w_s, 0.0)
    x = mp.u + mp.v * s[:, None]
    comm = (item >= 0) & (item < k)
    if np.any(comm):
        d = np.flatnonzero(comm)
        j = item[d]
        q = amount[d] / w_q[d, j]
        x[d] += mp.m_inv[d, :, j] * q[:, None]
    return FisherKnapsack(fisher, left, item.astype(np.int64), x, s)


# ------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class Solution:
    """The solution of a scheme on coefficients, per drop.

    Attributes
    ----------
    x : (D, K) communications power factors (W per antenna); NaN where not a success.
    s : (D,) sensing power factor (W per antenna); NaN where not a success.
    status : (D,) str, one of :data:`jcas.allocation._types.STATUSES`.
    iterations : (D,) int64, the scheme's iterations (bisection / Dinkelbach steps).
    value : (D,) the objective at the solution (unit in the scheme's docstring); NaN where
        not a success.
    """

    x: Float
    s: Float
    status: NDArray[np.str_]
    iterations: NDArray[np.int64]
    value: Float

    def __post_init__(self) -> None:
        for name in ("x", "s", "value"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=float))
        object.__setattr__(self, "status", np.asarray(self.status, dtype="<U16"))
        object.__setattr__(self, "iterations", np.asarray(self.iterations, dtype=np.int64))


def empty_solution(n_drops: int, n_users: int) -> dict[str, Any]:
    """Mutable arrays of a :class:`Solution` with every drop a ``solver_error`` (NaN)."""
    return {
        "x": np.full((n_drops, n_users), np.nan),
        "s": np.full(n_drops, np.nan),
        "status": np.full(n_drops, "solver_error", dtype="<U16"),
        "iterations": np.zeros(n_drops, np.int64),
        "value": np.full(n_drops, np.nan),
    }


def fit_budget(budget: float, x: Float, s: Float) -> tuple[Float, Float]:
    """Scale each drop's ``(x, s)`` down onto the budget (W per antenna) where rounding put
    it above (by a few ulps in the schemes; never up)."""
    total = np.sum(x, axis=-1) + s
    scale = np.where(total > budget, budget / np.where(total > 0, total, 1.0), 1.0)
    return x * scale[:, None], s * scale


def scheme_coefficients(beta: ArrayLike, xi: ArrayLike, params: SystemParams) -> Coefficients:
    """:func:`jcas.parts.coefficients.closed_form_coefficients` after the shape checks of
    the schemes (``ValueError`` naming the shapes)."""
    from jcas.parts.coefficients import closed_form_coefficients

    beta = np.asarray(beta, dtype=float)
    xi = np.asarray(xi, dtype=float)
    if beta.ndim != 2 or xi.shape != beta.shape:
        raise ValueError(f"beta {beta.shape} and xi {xi.shape} must both be (D, K)")
    if beta.shape[1] != params.K:
        raise ValueError(f"beta has K = {beta.shape[1]} users but params.K = {params.K}")
    with np.errstate(all="ignore"):
        return closed_form_coefficients(beta, xi, params)


def to_allocation(
    solution: Solution, xi: ArrayLike, params: SystemParams, start: float
) -> Allocation:
    """The :class:`Allocation` of a :class:`Solution`: the precoder's
    ``from_power_factors`` of ``(x, s)``, NaN where the status is not a success."""
    from jcas.allocation._types import is_success
    from jcas.parts.registry import design

    xi = np.asarray(xi, dtype=float)
    ok = is_success(solution.status)
    x = np.where(ok[:, None], solution.x, 0.0)
    s = np.where(ok, solution.s, 0.0)
    with np.errstate(all="ignore"):
        gamma, eta = design(params).precoder.from_power_factors(x, s, xi)
    gamma = np.where(ok[:, None], gamma, np.nan)
    eta = np.where(ok[:, None], eta, np.nan)
    return Allocation(gamma, eta, solution.status, solution.iterations, timed(start, len(ok)))
