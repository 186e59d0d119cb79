"""What every precoder offers the Monte-Carlo route, for any channel: its directions.

The coefficients of :mod:`jcas.model.coefficients` describe a precoder

    ``f_k = sqrt(x_k) w_k + sqrt(s / K) b``,   ``E ||w_k||^2 = E ||b||^2 = Nt``,

(power factors ``x_k``, ``s``, W per antenna; transmit power ``Nt (sum_k x_k + s)``). A
precoder gives, per realization of the estimates, *directions* ``v_k`` and a sensing beam
``b`` (:meth:`DirectionPrecoder.directions`) that are scaled to ``w_k = v_k sqrt(Nt /
E||v_k||^2)`` and ``b sqrt(Nt / E||b||^2)``; the means ``E||v_k||^2``, ``E||b||^2`` come
from :meth:`DirectionPrecoder.expected_norms` where the precoder knows them (MRT:
``tr Phi_k``; ZF and PZF under the i.i.d. channel; the precoders normalised per
realization: ``Nt``), and are estimated with the coefficients otherwise
(:mod:`jcas.montecarlo.coefficients`). The directions must not depend on the powers (the
coefficients are per unit power), and ``w_k``, ``b`` must be odd and even functions of the
estimates (``H_hat -> -H_hat``), so that the cross terms between the streams and the beam
vanish in every expectation of (14) and in ``E[F F^H]``: true of every precoder here.

:class:`PrecoderContext` carries what directions may need besides the estimates: the
transmit steering vector, the RZF regularisation ``K sigma_u^2 / Pt`` and the estimation
statistics of the drops (error covariances for M-MMSE). :class:`NoClosedForms` is the base
of the precoders that have no closed forms (RZF, M-MMSE): their closed-form methods raise
:class:`NotImplementedError`, and ``closed_forms = False`` declares it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.estimation import Estimation
from jcas.model.params import ConfigError, SystemParams
from jcas.parts.arrays.base import ArrayPart
from jcas.parts.precoders.base import Covariance, RateTerms, dual_function

__all__ = [
    "NORMALISATIONS",
    "DirectionPrecoder",
    "NoClosedForms",
    "PrecoderContext",
    "directions_sample",
    "null_space_beam",
    "per_realization",
    "precoder_context",
    "rzf_regularisation",
]

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]


def rzf_regularisation(params: SystemParams) -> float:
    """``K sigma_u^2 / Pt`` (dimensionless, in units of the channel gain): the book's RZF
    regularisation ``sigma^2 P^{-1}`` with the budget shared equally, ``p = Pt / K``."""
    return params.K * params.sigma_u2_w / params.pt_w


@dataclass(frozen=True)
class PrecoderContext:
    """Per-drop inputs of :meth:`DirectionPrecoder.directions` besides the estimates.

    Attributes
    ----------
    estimation : the estimation statistics of the ``D`` drops (row ``d`` for the drop of
        the estimates' leading index ``d``).
    a_t : transmit steering vector (Nt,).
    regularisation : the RZF regularisation (:func:`rzf_regularisation`).
    batch_axes : axes between the drop axis and ``(Nt, K)`` in the estimates (e.g. 1 for
        ``(D, S, Nt, K)``).
    norms : (D, K + 1) ``E||v_k||^2`` and ``E||b||^2`` of the drops, for ``sample`` of a
        statistically normalised precoder without closed-form norms (from
        :attr:`jcas.montecarlo.coefficients.CoefficientEstimate.norms`), or None.
    cache : per-drop matrices a precoder computes once (e.g. M-MMSE's inverse).
    """

    estimation: Estimation
    a_t: Complex
    regularisation: float
    batch_axes: int = 1
    norms: Float | None = None
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def per_drop(self, a: ArrayLike) -> NDArray[Any]:
        """``a`` (D, ...) with :attr:`batch_axes` unit axes after the drop axis."""
        a = np.asarray(a)
        return a.reshape(a.shape[0], *([1] * self.batch_axes), *a.shape[1:])


def precoder_context(
    params: SystemParams,
    estimation: Estimation,
    tx: ArrayPart | None = None,
    batch_axes: int = 1,
    norms: ArrayLike | None = None,
) -> PrecoderContext:
    """The :class:`PrecoderContext` of ``params`` (ULA of ``Nt`` elements unless ``tx``)."""
    from jcas.parts.arrays.ula import ULA

    tx = ULA(params.Nt) if tx is None else tx
    a_t = np.asarray(tx.steering(params.theta_rad), dtype=complex)
    n = None if norms is None else np.asarray(norms, dtype=float)
    return PrecoderContext(estimation, a_t, rzf_regularisation(params), batch_axes, n)


def per_realization(v: ArrayLike, axis: int = -2) -> Complex:
    """``v sqrt(Nt / ||v||^2)`` along ``axis`` (``Nt``): exactly ``Nt`` in every realization
    (zero vectors stay zero)."""
    v = np.asarray(v, dtype=complex)
    nt = v.shape[axis]
    norm2 = np.sum(v.real**2 + v.imag**2, axis=axis, keepdims=True)
    scale = np.zeros_like(norm2)
    np.divide(math.sqrt(nt), np.sqrt(norm2), out=scale, where=norm2 > 0)
    return np.asarray(v * scale, dtype=complex)


def null_space_beam(h_hat: ArrayLike, a_t: ArrayLike) -> Complex:
    """``P a_t``, ``P`` the orthogonal projection onto the complement of the estimates'
    span: ``a_t - H_hat G^+ H_hat^H a_t`` with ``G = H_hat^H H_hat`` inverted on its
    numerical range (eigenvalues above ``1e-10`` of the largest), so that parallel estimates
    (users sharing a pilot under the i.i.d. channel) are handled. ``h_hat (..., Nt, K)``,
    ``a_t (Nt,)``; returns ``(..., Nt)``."""
    h_hat = np.asarray(h_hat, dtype=complex)
    a_t = np.asarray(a_t, dtype=complex)
    h_h = np.conj(np.swapaxes(h_hat, -1, -2))
    lam, u = np.linalg.eigh(h_h @ h_hat)
    keep = lam > 1e-10 * lam[..., -1:]
    inv = np.zeros_like(lam)
    np.divide(1.0, lam, out=inv, where=keep)
    proj = h_h @ a_t  # (..., K)
    coef = u @ (inv * (np.conj(np.swapaxes(u, -1, -2)) @ proj[..., None])[..., 0])[..., None]
    return np.asarray(a_t - (h_hat @ coef)[..., 0], dtype=complex)


@runtime_checkable
class DirectionPrecoder(Protocol):
    """A precoder the Monte-Carlo route can evaluate under any channel."""

    @property
    def name(self) -> str: ...

    closed_forms: ClassVar[bool]

    def directions(self, h_hat: Complex, context: PrecoderContext) -> tuple[Complex, Complex]:
        """``(V, b)``: directions ``(..., Nt, K)`` and sensing beam ``(..., Nt)`` from the
        estimates ``h_hat (..., Nt, K)`` (leading axis: the drops of ``context``)."""
        ...

    def expected_norms(self, context: PrecoderContext) -> tuple[Float | None, Float | None]:
        """``(E||v_k||^2 (D, K), E||b||^2 (D,))``, each None where unknown in closed form."""
        ...

    def unsupported(self, requirement: str, params: SystemParams) -> str | None: ...


NORMALISATIONS: Final = ("statistical", "realization")
"""How a precoder without closed forms scales its directions: ``statistical``
(``w_k = v_k sqrt(Nt / E||v_k||^2)``, as MRT, ZF and PZF and the closed forms of this
project) or ``realization`` (``w_k = sqrt(Nt) v_k / ||v_k||`` in every realization, as the
book's code evaluates its downlink precoders)."""


class NoClosedForms:
    """Base of precoders without closed forms (``closed_forms = False``).

    Variables as ZF's: ``gamma_k = x_k`` (W per antenna) and ``eta_k`` with ``s = sum_k
    eta_k``. The closed-form methods of :class:`jcas.parts.precoders.Precoder` raise
    :class:`NotImplementedError` naming the Monte-Carlo route to use instead; ``sample``
    needs the :class:`PrecoderContext` of the drops. Subclasses give
    :meth:`raw_directions` and the attributes ``name``, ``normalisation``
    (:data:`NORMALISATIONS`) and ``protective``.
    """

    closed_forms: ClassVar[bool] = False
    name: str = ""
    normalisation: str = "statistical"

    @property
    def protective(self) -> bool:
        """Whether the sensing beam is projected away from the estimates."""
        return False

    def check_normalisation(self) -> None:
        """:class:`jcas.model.params.ConfigError` for an unknown normalisation."""
        if self.normalisation not in NORMALISATIONS:
            raise ConfigError(
                f"precoder {self.name!r}: normalisation = {self.normalisation!r}: must be one "
                f"of {list(NORMALISATIONS)}"
            )

    def raw_directions(self, h_hat: Complex, context: PrecoderContext) -> Complex:
        """The unnormalised directions ``V`` ``(..., Nt, K)``."""
        raise NotImplementedError

    def directions(self, h_hat: Complex, context: PrecoderContext) -> tuple[Complex, Complex]:
        """``(V, b)``: :meth:`raw_directions` and ``a_t`` or its projection away from the
        estimates (:func:`null_space_beam`), each scaled to ``Nt`` per realization under
        the ``realization`` normalisation and left as they are otherwise."""
        h_hat = np.asarray(h_hat, dtype=complex)
        v = self.raw_directions(h_hat, context)
        a_t = np.asarray(context.a_t, dtype=complex)
        if self.protective:
            b = null_space_beam(h_hat, a_t)
        else:
            b = np.asarray(np.broadcast_to(a_t, (*h_hat.shape[:-2], h_hat.shape[-2])))
        if self.normalisation == "realization":
            return per_realization(v), (per_realization(b, axis=-1) if self.protective else b)
        return v, b

    def expected_norms(self, context: PrecoderContext) -> tuple[Float | None, Float | None]:
        """``realization``: ``Nt`` and ``Nt``. ``statistical``: the streams' unknown (None);
        the beam's ``||a_t||^2 = Nt``, or for the projected beam under the i.i.d. channel
        ``Nt - P`` (the estimates span a uniformly distributed subspace of dimension ``P``,
        the number of pilots in use), unknown otherwise."""
        est = context.estimation
        nt = float(context.a_t.shape[-1])
        n_drops = est.xi.shape[0]
        if self.normalisation == "realization":
            return np.full(est.xi.shape, nt), np.full(n_drops, nt)
        if not self.protective:
            return None, np.full(n_drops, nt)
        if est.iid:
            return None, np.full(n_drops, nt - est.used.size)
        return None, None

    def _no_closed_form(self, what: str) -> NotImplementedError:
        return NotImplementedError(
            f"precoder {self.name!r} has no closed-form {what}: estimate its coefficients "
            "with jcas.montecarlo.coefficients.mc_coefficients (Monte-Carlo, any channel)"
        )

    def unsupported(self, requirement: str, params: SystemParams) -> str | None:
        if requirement == "":
            if self.protective and params.Nt <= params.K:
                return (
                    f"precoder {self.name!r} projects the sensing beam away from the K = "
                    f"{params.K} estimated channels, which leaves nothing of it with system.Nt "
                    f"= {params.Nt} <= system.K; use more antennas or the unprotected variant"
                )
            return None
        return (
            f"precoder {self.name!r} (system.precoder) has no closed forms; its coefficients "
            "come from the Monte-Carlo route (jcas.montecarlo.coefficients)"
        )

    # ------------------------------------------------------------------ closed forms
    def rate_terms(
        self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, beta: ArrayLike, params: SystemParams
    ) -> RateTerms:
        raise self._no_closed_form("rate terms")

    def covariance(
        self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, params: SystemParams, tx: ArrayPart
    ) -> Covariance:
        raise self._no_closed_form("transmit covariance")

    def covariance_components(self, params: SystemParams, tx: ArrayPart) -> Complex:
        raise self._no_closed_form("transmit covariance")

    def total_power_sinr(
        self, beta: ArrayLike, xi: ArrayLike, params: SystemParams
    ) -> tuple[Float, Float]:
        raise self._no_closed_form("SINR")

    def split_power_sinr(
        self, beta: ArrayLike, xi: ArrayLike, params: SystemParams
    ) -> tuple[Float, Float, Float]:
        raise self._no_closed_form("SINR")

    def transmit_power(
        self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, params: SystemParams
    ) -> Float:
        """``Nt (sum gamma + sum eta)`` (18): exact by the normalisation (W)."""
        gamma, eta = np.asarray(gamma, float), np.asarray(eta, float)
        return np.asarray(params.Nt * np.sum(gamma + eta, axis=-1), dtype=float)

    # ------------------------------------------------------------------ allocation hooks
    def power_factors(self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike) -> tuple[Float, Float]:
        gamma, eta = np.asarray(gamma, float), np.asarray(eta, float)
        return gamma, np.sum(eta, axis=-1)

    def from_power_factors(self, x: ArrayLike, s: ArrayLike, xi: ArrayLike) -> tuple[Float, Float]:
        x, s, xi = (np.asarray(a, float) for a in (x, s, xi))
        eta = np.broadcast_to((s / xi.shape[-1])[..., None], xi.shape)
        return np.array(np.broadcast_to(x, xi.shape)), np.array(eta)

    def equal_split(self, c: ArrayLike, s: ArrayLike, xi: ArrayLike) -> tuple[Float, Float]:
        c, s, xi = (np.asarray(a, float) for a in (c, s, xi))
        k = xi.shape[-1]
        gamma = np.broadcast_to((c / k)[..., None], xi.shape)
        eta = np.broadcast_to((s / k)[..., None], xi.shape)
        return np.array(gamma), np.array(eta)

    # ------------------------------------------------------------------ Monte-Carlo
    def sample(
        self,
        h_hat: NDArray[np.complexfloating],
        xi: ArrayLike,
        gamma: ArrayLike,
        eta: ArrayLike,
        a_t: ArrayLike,
        *,
        context: PrecoderContext | None = None,
    ) -> Complex:
        """``F = [sqrt(gamma_k) w_k + sqrt(eta_k) b]_k`` (``sqrt(W)``), ``(..., Nt, K)``.

        ``context`` (the drops' :class:`PrecoderContext`, its ``batch_axes`` matching
        ``h_hat``) is required: the directions use the system's noise level and, for
        M-MMSE, the error covariances, which ``xi`` does not carry; under the
        ``statistical`` normalisation its ``norms`` scale the directions (those the
        precoder does not know, e.g. from
        :attr:`jcas.montecarlo.coefficients.CoefficientEstimate.norms`).
        """
        if context is None:
            raise ValueError(
                f"precoder {self.name!r} needs the drops' PrecoderContext "
                "(jcas.parts.precoders.general.precoder_context) to draw its precoder"
            )
        return directions_sample(self, h_hat, gamma, eta, context)


def directions_sample(
    precoder: DirectionPrecoder,
    h_hat: ArrayLike,
    gamma: ArrayLike,
    eta: ArrayLike,
    context: PrecoderContext,
) -> Complex:
    """The precoder ``F = [sqrt(x_k) w_k + sqrt(eta_k) b_bar]_k`` (``sqrt(W)``) of any
    direction precoder under any channel, ``(..., Nt, K)``.

    ``w_k = v_k sqrt(Nt / nu_k)`` and ``b_bar = b sqrt(Nt / nu_b)`` with the directions
    ``(V, b) = precoder.directions(h_hat, context)`` and the norms ``nu = E||v_k||^2``,
    ``nu_b = E||b||^2`` the precoder knows (:meth:`DirectionPrecoder.expected_norms`) or,
    where it does not, ``context.norms`` (e.g.
    :attr:`jcas.montecarlo.coefficients.CoefficientEstimate.norms`): the normalisation of
    the coefficient route, so a simulation with this ``F`` estimates the rate and the CRB
    the coefficients give. ``x_k`` is user ``k``'s power factor
    (``precoder.power_factors(gamma, eta, xi)``, ``xi = context.estimation.xi``: MRT's
    ``xi_k gamma_k``, the others' ``gamma_k``). ``gamma``, ``eta`` broadcast as
    ``(..., K)`` with the drops first (``context.batch_axes`` axes after them, as
    ``h_hat``).
    """
    h_hat = np.asarray(h_hat, dtype=complex)
    v, b = precoder.directions(h_hat, context)
    nt = float(v.shape[-2])
    nu, nub = precoder.expected_norms(context)
    if nu is None or nub is None:
        if context.norms is None:
            raise ValueError(
                f"precoder {precoder.name!r} is normalised statistically and needs "
                "context.norms (E||v_k||^2, E||b||^2 per drop; estimate them with "
                "jcas.montecarlo.coefficients.mc_coefficients)"
            )
        nu = context.norms[:, :-1] if nu is None else nu
        nub = context.norms[:, -1] if nub is None else nub
    scale = context.per_drop(np.sqrt(nt / np.asarray(nu, dtype=float)))
    scale_b = context.per_drop(np.sqrt(nt / np.asarray(nub, dtype=float)))
    gamma, eta = np.asarray(gamma, float), np.asarray(eta, float)
    xi = context.per_drop(np.asarray(context.estimation.xi, dtype=float))
    power_factors = getattr(precoder, "power_factors", None)
    x = gamma if power_factors is None else np.asarray(power_factors(gamma, eta, xi)[0])
    comm = v * (scale * np.sqrt(x))[..., None, :]
    return dual_function(comm, b * scale_b[..., None], eta)
