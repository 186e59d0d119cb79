"""The exact optimum of (19) on coefficients, wherever its structure holds.

:func:`optimal_coefficients` is :func:`jcas.allocation.closed_form.optimal` written on a
:class:`jcas.model.coefficients.Coefficients` batch (``docs/theory.md`` §2 and §6.6): full
power, the least sensing power meeting CRB0, water-filling of the rest. The proof needs, per
drop (:func:`optimum_structure` names what is missing):

1. a split-form rate, ``b_kj = B_k`` for every ``j``
   (:meth:`jcas.model.coefficients.RateCoefficients.split_form`): at fixed totals
   ``(c, s)`` the denominators are constants, so the rate is separable and concave;
2. ``E_k >= B_k``: on the full-power face ``c + s = p`` every denominator
   ``B_k c + E_k (p - c) + sigma_u^2`` is non-increasing in ``c``, so more communications
   power never hurts (§6.6 step 3; the total-power form has ``E = B``);
3. a linear Fisher information, ``T3 = 0``
   (:attr:`jcas.model.coefficients.FisherCoefficients.linear`), so CRB0 is the linear
   constraint ``J = T2 >= sigma_r_bar^2 / CRB0``;
4. a Fisher information that depends on the users' powers only through their sum
   (equal user columns of ``T2``): ``J = a c + b s``, so CRB0 bounds the split ``(c, s)``
   and not the users' shares.

Closed-form coefficients of every precoder part (MRT, ZF, PZF) with orthonormal pilots and
a centred array have all four; reused pilots break 1, a non-centred array breaks 3, and
Monte-Carlo estimates break 1 and 4 (their user columns differ by the sampling error).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from jcas.allocation.closed_form import water_fill
from jcas.model.coefficients import Coefficients

__all__ = ["OptimumStructureError", "optimal_coefficients", "optimum_structure"]

Float = NDArray[np.float64]

_RTOL = 1e-12
"""Relative tolerance of the structure tests (that of ``RateCoefficients.split_form``)."""


class OptimumStructureError(ValueError):
    """The coefficients lack a structure the exact optimum needs (the message names it)."""


def optimum_structure(coef: Coefficients) -> list[str]:
    """What the exact optimum needs and ``coef`` lacks (empty when it applies to every drop).

    Each entry names the missing structure and the first drop lacking it.
    """
    missing: list[str] = []
    r, f = coef.rate, coef.fisher
    k = r.n_users

    def first(bad: NDArray[np.bool_]) -> str:
        return f"drop {int(np.flatnonzero(bad)[0])}"

    b = r.interference
    not_split = ~np.all(np.abs(b - b[..., :1]) <= _RTOL * np.abs(b[..., :1]), axis=(1, 2))
    if np.any(not_split):
        missing.append(
            "split-form rate (interference b_kj = B_k for every j; "
            f"RateCoefficients.split_form() is None): {first(not_split)}"
        )
    else:
        worse = np.any(r.sensing < b[..., 0] * (1 - _RTOL), axis=1)
        if np.any(worse):
            missing.append(
                "sensing leakage E_k >= communications interference B_k "
                f"(more communications power must not hurt): {first(worse)}"
            )
    if not f.linear:
        missing.append(
            "linear Fisher information (T3 = 0; FisherCoefficients.linear is False): "
            f"{first(np.any(f.t3 != 0, axis=1))}"
        )
    cols = f.t2[:, :k]
    uneven = ~np.all(np.abs(cols - cols[:, :1]) <= _RTOL * np.abs(cols[:, :1]), axis=1)
    if np.any(uneven):
        missing.append(
            "Fisher information through the users' total power only "
            f"(equal user columns of T2): {first(uneven)}"
        )
    return missing


def optimal_coefficients(coef: Coefficients) -> tuple[Float, Float, NDArray[np.str_]]:
    """The exact global optimum of (19) on coefficients (module doc), per drop.

    With ``J = a c + b s`` (``a`` the common user entry of ``T2``, ``b`` its sensing entry),
    ``p = Pt / Nt`` and ``F0 = sigma_r_bar^2 / CRB0``: infeasible when ``max(a, b) p < F0``;
    else ``c* = min(p, (b p - F0) / (b - a))`` if ``b > a``, ``c* = p`` otherwise,
    ``s* = p - c*``, and ``x = water_fill(A / (B c* + E s* + sigma_u^2), c*)``.

    Parameters
    ----------
    coef : coefficients with the structure of the module doc on every drop.

    Returns
    -------
    x : (D, K) users' power factors (W per antenna), NaN where infeasible.
    s : (D,) sensing power factor (W per antenna), NaN where infeasible.
    status : (D,) ``"optimal"`` or ``"infeasible"``.

    Raises
    ------
    OptimumStructureError : naming each missing structure (and a drop lacking it).
    """
    missing = optimum_structure(coef)
    if missing:
        raise OptimumStructureError(
            "the exact optimum needs structure these coefficients lack: " + "; ".join(missing)
        )
    r, f = coef.rate, coef.fisher
    k = r.n_users
    a, b = f.t2[:, 0], f.t2[:, k]
    p, fisher0 = coef.budget, coef.fisher0
    feasible = np.maximum(a, b) * p >= fisher0
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(b > a, np.minimum(p, (b * p - fisher0) / (b - a)), p)
    c = np.maximum(np.where(feasible, c, 0.0), 0.0)
    s = p - c
    big_a, big_b, big_e = r.signal, r.interference[..., 0], r.sensing
    gain = big_a / (big_b * c[:, None] + big_e * s[:, None] + r.noise)
    x = water_fill(gain, c)
    x = np.where(feasible[:, None], x, np.nan)
    s = np.where(feasible, s, np.nan)
    status = np.where(feasible, "optimal", "infeasible")
    return x, s, status
