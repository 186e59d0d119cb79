"""The precoder part: closed-form rate terms, expected covariance, power, and an MC sampler.

A precoder maps an allocation (its own variables ``gamma``, ``eta``, shape ``(D, K)``)
and the channel statistics of a batch of drops (``beta``, ``xi``) to

- :class:`RateTerms`: the three expectations of the use-and-then-forget bound (14),
  ``|DS_k|^2``, ``E|BU_k|^2`` and ``sum_{j != k} E|UI_kj|^2`` (W), from which
  :func:`jcas.model.metrics.rate_from_terms` gives the rate;
- :class:`Covariance`: the expected transmit covariance ``R_x`` used by the CRB (36),
  given as a weighted sum of components through their quadratic forms on
  ``span{a_t, a_t_dot}`` (all that (36) needs), from which
  :func:`jcas.model.metrics.crb_from_covariance` gives the CRB;
- the average transmit power (18) (W) and the power factors per user and for sensing;
- :meth:`Precoder.sample`: the actual precoder ``F`` from simulated MMSE estimates, used
  by the Monte-Carlo rate (14), the finite-L CRB and the MLE (:mod:`jcas.montecarlo`).

**Structure declared to the allocation layer** (``docs/theory.md`` §2). A precoder
whose rate has the total-power form

    ``SINR_k = A_k x_k / (B_k (c + s) + sigma_u^2)``,

with ``x_k`` the power factor of user ``k`` (W per antenna), ``c = sum_k x_k`` and ``s``
the sensing power factor, and whose expected covariance is ``R_x = c R_c + s R_s``
(so that the CRB depends on the allocation only through ``(c, s)``), declares it in
:meth:`Precoder.unsupported` and gives ``A, B`` by :meth:`Precoder.total_power_sinr`.
The schemes list what they need (:data:`REQUIREMENTS`); :mod:`jcas.parts.registry` checks
every scheme of a config against its precoder and array before any job runs.
"""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.params import SystemParams
from jcas.model.terms import Covariance, RateTerms
from jcas.parts.arrays.base import ArrayPart

__all__ = [
    "CLOSED_FORMS",
    "LINEAR_FISHER",
    "LINEAR_FISHER_POWERS",
    "REQUIREMENTS",
    "SPLIT_POWER_RATE",
    "TOTAL_POWER_RATE",
    "Covariance",
    "Precoder",
    "RateTerms",
    "dual_function",
    "split_power_sinr",
    "split_power_unsupported",
    "totals_covariance",
]

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]

CLOSED_FORMS: Final = "closed_forms"
"""Capability: closed-form rate terms (14), expected covariance and power (18) (the methods
``rate_terms``, ``covariance``, ``transmit_power``, ``power_factors``,
``from_power_factors``, ``equal_split``); every scheme of the paper needs them. A precoder
without them runs in the Monte-Carlo stages only."""

TOTAL_POWER_RATE: Final = "total_power_rate"
"""Requirement: ``SINR_k = A_k x_k / (B_k (c + s) + sigma_u^2)`` (denominators depend on the
powers only through their total), as the water-filling of ``optimal`` and the SCA's bound
(20)-(22) assume."""

LINEAR_FISHER: Final = "linear_fisher"
"""Requirement: the Fisher information ``sigma_r_bar^2 / CRB`` is linear in the power totals
``(c, s)``: ``R_x = c R_c + s R_s`` and a centred array (``T3 = 0`` in (36)), as the exact
optimum and the benchmarks' CRB check assume."""

SPLIT_POWER_RATE: Final = "split_power_rate"
"""Requirement: ``SINR_k = A_k x_k / (B_k c + E_k s + sigma_u^2)`` with ``E_k >= B_k`` (sensing
power costs each user at least as much interference as communications power), the structure
the exact optimum needs (``docs/theory.md`` §2, §6). Implied by :data:`TOTAL_POWER_RATE`
(``E_k = B_k``); a precoder that offers it without the total-power form has a method
``split_power_sinr(beta, xi, params) -> (A, B, E)``."""

LINEAR_FISHER_POWERS: Final = "linear_fisher_powers"
"""Requirement: ``T3 = 0`` in (36), so that the Fisher information is linear in the powers
(each user's own coefficient allowed); offered where :data:`LINEAR_FISHER` is, and checked on
the coefficients themselves by the schemes that need it (``jcas.allocation._structure``)."""

REQUIREMENTS: Final = {
    CLOSED_FORMS: "closed-form rate terms, expected covariance and power",
    TOTAL_POWER_RATE: "a rate whose denominators depend on the powers only through their total",
    SPLIT_POWER_RATE: (
        "a rate whose denominators are linear in the power totals (c, s), sensing power "
        "costing no less than communications power"
    ),
    LINEAR_FISHER: "a CRB whose Fisher information is linear in the power totals (c, s)",
    LINEAR_FISHER_POWERS: "a CRB whose Fisher information is linear in the powers (T3 = 0)",
}
"""Every requirement a scheme may state, with the words used in error messages."""


def totals_covariance(c: ArrayLike, s: ArrayLike, tx_gram: ArrayLike) -> Covariance:
    """``R_x = c I + s a_t a_t^H`` (37) from the transmit Gram matrix ``G`` of ``[a_t, a_t_dot]``.

    Forms: ``I -> G`` and ``a_t a_t^H -> g g^H`` with ``g = G[:, 0]``; ``c``, ``s`` of
    shape ``(...)``, ``tx_gram`` of shape ``(2, 2)``.
    """
    g = np.asarray(tx_gram, dtype=complex)
    col = g[:, 0]
    forms = np.stack([g, col[:, None] * np.conj(col)[None, :]])
    weights = np.stack([np.asarray(c, dtype=float), np.asarray(s, dtype=float)], axis=-1)
    return Covariance(weights, forms)


@runtime_checkable
class Precoder(Protocol):
    """The precoder part (``docs/extending.md``). All arrays are batched over drops ``(D, K)``."""

    @property
    def name(self) -> str:
        """The registered name (``system.precoder``)."""
        ...

    def unsupported(self, requirement: str, params: SystemParams) -> str | None:
        """Why the precoder does not offer ``requirement`` (:data:`REQUIREMENTS`) at
        ``params`` (a sentence naming the keys and values), or None when it does.

        The requirement ``""`` is the precoder's own validity: None when its closed
        forms hold at ``params``."""
        ...

    def rate_terms(
        self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, beta: ArrayLike, params: SystemParams
    ) -> RateTerms:
        """Closed-form terms of the bound (14), each ``(D, K)`` (W)."""
        ...

    def covariance(
        self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, params: SystemParams, tx: ArrayPart
    ) -> Covariance:
        """Expected transmit covariance for the target angle ``params.theta_rad``."""
        ...

    def power_factors(self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike) -> tuple[Float, Float]:
        """``(x, s)``: power factor of each user ``(D, K)`` and of sensing ``(D,)`` (W per
        antenna); the transmit power (18) is ``Nt (sum_k x_k + s)``."""
        ...

    def covariance_components(self, params: SystemParams, tx: ArrayPart) -> Complex:
        """Forms ``(2, 2, 2)`` of ``R_c`` and ``R_s`` in ``R_x = c R_c + s R_s`` (only where
        :data:`LINEAR_FISHER` is offered by the precoder)."""
        ...

    def transmit_power(
        self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, params: SystemParams
    ) -> Float:
        """Average transmit power ``E ||F||_F^2`` (18), shape ``(D,)`` (W)."""
        ...

    def from_power_factors(self, x: ArrayLike, s: ArrayLike, xi: ArrayLike) -> tuple[Float, Float]:
        """The allocation ``(gamma, eta)`` (each ``(D, K)``) with power factors ``x``, ``s``."""
        ...

    def equal_split(self, c: ArrayLike, s: ArrayLike, xi: ArrayLike) -> tuple[Float, Float]:
        """The benchmarks' allocation: the precoder's variables equal over the users, with
        totals ``sum_k x_k = c`` and sensing ``s`` (``c``, ``s`` of shape ``(D,)``)."""
        ...

    def total_power_sinr(
        self, beta: ArrayLike, xi: ArrayLike, params: SystemParams
    ) -> tuple[Float, Float]:
        """``(A, B)``, each ``(D, K)``: ``SINR_k = A_k x_k / (B_k (c + s) + sigma_u^2)``.
        Only where :data:`TOTAL_POWER_RATE` is offered."""
        ...

    def sample(
        self,
        h_hat: NDArray[np.complexfloating],
        xi: ArrayLike,
        gamma: ArrayLike,
        eta: ArrayLike,
        a_t: ArrayLike,
    ) -> Complex:
        """The precoder ``F`` (``sqrt(W)``), shape ``(..., Nt, K)``, from MMSE estimates
        ``h_hat (..., Nt, K)``; ``xi``, ``gamma``, ``eta`` broadcast as ``(..., K)``;
        ``a_t`` the transmit steering vector ``(Nt,)``."""
        ...


def dual_function(comm: ArrayLike, beam: ArrayLike, eta: ArrayLike) -> Complex:
    """The dual-function precoder ``f_i = w_i + sqrt(eta_i) b`` (the form of (12)).

    ``comm`` the communication columns ``w_i`` ``(..., Nt, K)`` (``sqrt(W)``), ``beam`` the
    sensing beam ``b`` ``(..., Nt)`` (``a_t`` for MRT), ``eta`` ``(..., K)`` (W). Returns
    ``F`` of shape ``(..., Nt, K)`` (``sqrt(W)``).
    """
    beam = np.asarray(beam, dtype=complex)
    eta = np.asarray(eta, dtype=float)
    return np.asarray(comm + beam[..., :, None] * np.sqrt(eta)[..., None, :], dtype=complex)


def split_power_unsupported(precoder: Precoder, params: SystemParams) -> str | None:
    """Why ``precoder`` does not offer :data:`SPLIT_POWER_RATE` at ``params`` (None if it does).

    Offered when the total-power form is (``E_k = B_k``), or when the precoder has a
    ``split_power_sinr`` method and does not refuse the requirement itself.
    """
    total = precoder.unsupported(TOTAL_POWER_RATE, params)
    if total is None or not hasattr(precoder, "split_power_sinr"):
        return total
    return precoder.unsupported(SPLIT_POWER_RATE, params)


def split_power_sinr(
    precoder: Precoder, beta: ArrayLike, xi: ArrayLike, params: SystemParams
) -> tuple[Float, Float, Float]:
    """``(A, B, E)``, each ``(D, K)``, of ``SINR_k = A_k x_k / (B_k c + E_k s + sigma_u^2)``.

    The precoder's own ``split_power_sinr`` where it has one, else its total-power form
    with ``E = B``.
    """
    own = getattr(precoder, "split_power_sinr", None)
    if own is not None:
        a, b, e = own(beta, xi, params)
        return np.asarray(a, float), np.asarray(b, float), np.asarray(e, float)
    a, b = precoder.total_power_sinr(beta, xi, params)
    return np.asarray(a, float), np.asarray(b, float), np.asarray(b, float)
