"""Power allocation: :func:`allocate` and the schemes' solvers (registered one module each in
:mod:`jcas.allocation.schemes`; ``docs/theory.md``).

Every scheme takes a batch of drops and returns an :class:`Allocation`; it reads the
rate and CRB structure from the precoder and array parts of ``params``
(:mod:`jcas.parts.registry`). The public entry point is :func:`allocate`.

Interface shared by the pipeline (keep these names and shapes):

- ``Allocation`` (frozen dataclass) with fields
  ``gamma`` (D, K) float, ``eta`` (D, K) float (NaN where the status is not a success),
  ``status`` (D,) str, one of ``STATUSES``,
  ``iterations`` (D,) int64, ``solve_time_s`` (D,) float64 (seconds per drop).
- ``allocate(scheme, beta, xi, params, *, reference=None, **options) -> Allocation``
  with ``beta``, ``xi`` of shape (D, K), ``params`` a ``jcas.model.params.SystemParams``
  (Nt, Nr, theta, sigma_u^2, sigma_r_bar^2, crb0, Pt and the parts are read from it), and
  ``reference`` the ``optimal`` Allocation of the same drops (used by ``equal``;
  computed when not given).
- ``SCHEMES``: the registered scheme names (:func:`jcas.parts.registry.scheme_names`;
  one module each in :mod:`jcas.allocation.schemes`).

Statuses (:data:`STATUSES`): ``optimal`` (exact optimum), ``converged`` /
``max_iterations`` (``sca``), ``feasible`` (a benchmark meeting CRB0),
``crb_violated`` (``equal_full`` missing CRB0; allocation still returned),
``infeasible`` and ``solver_error`` (NaN allocation). :data:`SUCCESS_STATUSES`
lists those that carry an allocation.

Options per scheme (``**options``; defaults in :mod:`jcas.parts.registry`, the same for the
functions and the pipeline):

- ``sca``: ``tol`` (1e-4, relative sum-rate change), ``stopping`` ("aitken";
  "change" is the paper's plain rule), ``max_iterations`` (100), ``solvers``
  (("CLARABEL", "ECOS", "SCS"), tried in order), ``batch_size`` (50 drops per
  compiled program), ``active_set`` (True), ``accelerate`` (True), ``polish`` (True),
  ``off_threshold`` (1e-5); see :func:`jcas.allocation.sca.sca`. Status ``converged`` or
  ``max_iterations`` (allocation returned), ``infeasible``, ``solver_error``.
- ``equal_full``: ``sensing_fraction`` (0.5).
- ``optimal``, ``equal``: none.

A scheme whose requirements the parts do not offer (for example ``optimal`` with reused
pilots, ``tau_p < K``) raises :class:`jcas.model.params.ConfigError`
(:func:`jcas.parts.registry.design_problems`); the pipeline rejects such configs before any job.
The theory (optimality proof, SCA derivation, benchmark interpretation) is in
``docs/theory.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.allocation._types import STATUSES, SUCCESS_STATUSES, Allocation, is_success
from jcas.allocation.closed_form import (
    Frontier,
    equal,
    equal_full,
    optimal,
    optimal_split,
    power_split,
    rate_crb_frontier,
    water_fill,
)
from jcas.model.params import ConfigError, SystemParams
from jcas.parts.registry import design_problems, route, scheme_entry, scheme_names

__all__ = [
    "STATUSES",
    "SUCCESS_STATUSES",
    "Allocation",
    "Frontier",
    "allocate",
    "equal",
    "equal_full",
    "is_success",
    "optimal",
    "optimal_split",
    "power_split",
    "rate_crb_frontier",
    "water_fill",
]


def allocate(
    scheme: str,
    beta: ArrayLike,
    xi: ArrayLike,
    params: SystemParams,
    *,
    reference: Allocation | None = None,
    **options: Any,
) -> Allocation:
    """Allocate power with one scheme for a batch of drops.

    Parameters
    ----------
    scheme : one of :data:`SCHEMES`.
    beta, xi : (D, K) large-scale fading and MMSE estimate variance (7), dimensionless.
    params : system parameters (Nt, Nr, theta, sigma_u^2, sigma_r_bar^2, crb0, Pt).
    reference : for ``equal``: the ``optimal`` allocation of the same drops
        (computed when None); ignored by the other schemes.
    **options : scheme options (see the module docstring); an unknown option
        raises ``TypeError``.

    Returns
    -------
    :class:`Allocation` with arrays over the D drops.

    Raises
    ------
    ValueError : an unknown scheme; ``beta`` or ``xi`` not of shape (D, K) with
        ``K = params.K`` and the same D, or with an entry that is negative or not finite
        (the message names the array, the index and the value). A drop that a scheme
        cannot serve (infeasible CRB0, solver failure) is not an error: it is reported
        by its status.
    ConfigError : the scheme needs what the parts of ``params`` do not offer.
    TypeError : ``params`` is not a :class:`SystemParams`, or an unknown option.
    """
    spec = scheme_entry(scheme)
    if not isinstance(params, SystemParams):
        raise TypeError(
            f"params = {params!r}: must be a jcas.model.params.SystemParams "
            "(e.g. SystemParams(K=4, Nt=15) or SystemParams.from_dict(config['system']))"
        )
    beta, xi = _check_channel(beta, xi, params)
    problems = design_problems(scheme, params)
    if problems:
        raise ConfigError("; ".join(problems))
    if route(params) != "closed_form":
        raise ConfigError(
            f"scheme {scheme!r}: precoder {params.precoder!r} (system.precoder) under channel "
            f"{params.channel!r} (system.channel) has no closed forms here, so allocate() "
            "cannot evaluate it from (beta, xi): estimate the coefficients "
            "(jcas.montecarlo.coefficients.mc_coefficients) and run the scheme's solver on "
            f"them (jcas.parts.registry.SCHEMES_REGISTRY[{scheme!r}].solve); the pipeline "
            "does this (docs/theory.md §9)"
        )
    if spec.takes_reference:
        options = {**options, "reference": reference}
    result: Allocation = spec.function(beta, xi, params, **options)
    return result


def _check_channel(
    beta: ArrayLike, xi: ArrayLike, params: SystemParams
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``beta`` and ``xi`` as float arrays of shape (D, K), finite and >= 0, or a
    ``ValueError`` naming the array, the shape or the first bad entry and its value."""
    arrays = []
    for name, value in (("beta", beta), ("xi", xi)):
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"{name}: must be an array of real numbers, shape (D, K) ({err})"
            ) from err
        if arr.ndim != 2 or arr.shape[1] != params.K:
            raise ValueError(
                f"{name} has shape {arr.shape}: must be (D, K) = (drops, {params.K}) "
                f"(K = {params.K} users in params)"
            )
        bad = ~np.isfinite(arr) | (arr < 0)
        if bad.any():
            d, k = (int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{name}[{d}, {k}] = {float(arr[d, k])!r}: must be finite and >= 0 "
                f"({int(bad.sum())} such entries; {_MEANING[name]})"
            )
        arrays.append(arr)
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(
            f"beta has shape {arrays[0].shape} and xi {arrays[1].shape}: must be the same (D, K)"
        )
    return arrays[0], arrays[1]


_MEANING = {
    "beta": "large-scale fading, dimensionless",
    "xi": "MMSE estimate variance (7), dimensionless",
}


def __getattr__(name: str) -> Any:
    if name == "SCHEMES":  # the registered scheme names (discovered on first use)
        return scheme_names()
    raise AttributeError(name)
