"""Power allocation schemes (``SPEC.md`` §3): ``sca``, ``optimal``, ``equal``, ``equal_full``.

Every scheme takes a batch of drops and returns an :class:`Allocation`.
The public entry point is :func:`allocate`.

INTERFACE CONTRACT (shared by the pipeline; keep these names and shapes):

- ``Allocation`` (frozen dataclass) with fields
  ``gamma`` (D, K) float, ``eta`` (D, K) float (NaN where the status is not a success),
  ``status`` (D,) str, one of ``STATUSES``,
  ``iterations`` (D,) int64, ``solve_time_s`` (D,) float64 (seconds per drop).
- ``allocate(scheme, beta, xi, params, *, reference=None, **options) -> Allocation``
  with ``beta``, ``xi`` of shape (D, K), ``params`` a ``jcas.params.SystemParams``
  (Nt, Nr, theta, sigma_u^2, sigma_r_bar^2, crb0, Pt are read from it), and
  ``reference`` the ``optimal`` Allocation of the same drops (used by ``equal``;
  computed when not given).
- ``SCHEMES = ("sca", "optimal", "equal", "equal_full")``.

Statuses (:data:`STATUSES`): ``optimal`` (exact optimum), ``converged`` /
``max_iterations`` (``sca``), ``feasible`` (a benchmark meeting CRB0),
``crb_violated`` (``equal_full`` missing CRB0; allocation still returned),
``infeasible`` and ``solver_error`` (NaN allocation). :data:`SUCCESS_STATUSES`
lists those that carry an allocation.

Options per scheme (``**options``):

- ``sca``: ``tol`` (1e-4, relative sum-rate change), ``stopping`` ("aitken";
  "change" is the paper's plain rule), ``max_iterations`` (300), ``solvers``
  (("CLARABEL", "ECOS", "SCS"), tried in order), ``batch_size`` (64 drops per
  compiled program), ``active_set`` (True), ``accelerate`` (True), ``polish`` (True),
  ``off_threshold`` (1e-5), ``arrays`` (non-centred arrays), ``trace``;
  see :func:`jcas.allocation.sca.sca`. Status ``converged`` or
  ``max_iterations`` (allocation returned), ``infeasible``, ``solver_error``.
- ``equal_full``: ``sensing_fraction`` (0.5).
- ``optimal``, ``equal``: none.

The theory (optimality proof, SCA derivation, benchmark interpretation) is in
``docs/theory.md``.
"""

from __future__ import annotations

from typing import Any, Final

from numpy.typing import ArrayLike

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
from jcas.params import SystemParams

__all__ = [
    "SCHEMES",
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

SCHEMES: Final = ("sca", "optimal", "equal", "equal_full")


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
    """
    if scheme == "optimal":
        return optimal(beta, xi, params, **options)
    if scheme == "equal":
        return equal(beta, xi, params, reference=reference, **options)
    if scheme == "equal_full":
        return equal_full(beta, xi, params, **options)
    if scheme == "sca":
        from jcas.allocation.sca import sca  # heavy (cvxpy) import on demand

        return sca(beta, xi, params, **options)
    raise ValueError(f"scheme = {scheme!r}: must be one of {SCHEMES}")
