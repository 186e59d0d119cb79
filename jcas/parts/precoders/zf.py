"""Zero-forcing (ZF) and protective zero-forcing (PZF) precoders, as precoder parts.

Same system as MRT (MMSE estimates (6)-(8), orthonormal pilots, the sensing part of each
stream along a direction fixed by ``a_t`` as in (12)); the communications part is the
zero-forcing direction of the estimates. With ``H_hat = [h_hat_1, ..., h_hat_K]``
(``Nt x K``), ``W = H_hat (H_hat^H H_hat)^{-1}`` (so ``h_hat_j^H w_k = delta_jk``) and the
statistical normalisation ``w_bar_k = sqrt((Nt - K) xi_k) w_k`` (``E||w_bar_k||^2 = 1``,
because ``E[(H_hat^H H_hat)^{-1}]_kk = 1 / ((Nt - K) xi_k)``, the inverse moment of a
complex Wishart matrix):

- **ZF** (``zf``): ``f_k = sqrt(Nt gamma_k) w_bar_k + sqrt(eta_k) a_t``;
- **PZF** (``pzf``): ``f_k = sqrt(Nt gamma_k) w_bar_k + sqrt(eta_k) b``, with the sensing
  beam projected on the null space of the estimates,
  ``b = sqrt(Nt / (Nt - K)) P a_t``, ``P = I - H_hat (H_hat^H H_hat)^{-1} H_hat^H``
  (``E||b||^2 = ||a_t||^2 = Nt``), so that it reaches user ``k`` only through the
  estimation error ``e_k = h_k - h_hat_k``.

The allocation variables are power factors (W per antenna): ``gamma_k`` of user ``k``'s
stream and ``eta_k`` of its sensing part, so the transmit power (18) is
``Nt (c + s)``, ``c = sum_k gamma_k``, ``s = sum_k eta_k`` (``x_k = gamma_k``). Closed
forms (derivation in ``docs/theory.md`` §6), ``eps_k = beta_k - xi_k`` (error variance):

- ``|DS_k|^2 = Nt (Nt - K) xi_k gamma_k``;
- ``E|BU_k|^2 = Nt eps_k gamma_k + Nt beta_k eta_k`` (ZF), ``Nt eps_k (gamma_k + eta_k)`` (PZF);
- ``sum_{j != k} E|UI_kj|^2 = Nt eps_k sum_{j != k} gamma_j + Nt beta_k sum_{j != k} eta_j``
  (ZF), ``Nt eps_k sum_{j != k} (gamma_j + eta_j)`` (PZF);
- ``R_x = c I + s a_t a_t^H`` (ZF, MRT's (37)) and
  ``R_x = c I + s (kappa_1 a_t a_t^H + kappa_2 I)`` (PZF, :func:`pzf_beam_moments`).

So ``SINR_k = A_k x_k / (B_k c + E_k s + sigma_u^2)`` with ``A_k = Nt (Nt - K) xi_k``,
``B_k = Nt eps_k`` and ``E_k = Nt beta_k`` (ZF) or ``E_k = B_k`` (PZF: the total-power
form of ``docs/theory.md`` §2). Both need ``Nt > K`` and orthonormal pilots (users that
share a pilot have parallel estimates and ``H_hat^H H_hat`` is singular); the
requirement ``""`` of :meth:`ZF.unsupported` says so with the config keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.params import SystemParams
from jcas.parts.arrays.base import ArrayPart
from jcas.parts.precoders.base import (
    CLOSED_FORMS,
    LINEAR_FISHER,
    SPLIT_POWER_RATE,
    TOTAL_POWER_RATE,
    Covariance,
    RateTerms,
    dual_function,
    totals_covariance,
)
from jcas.parts.registry import PRECODERS, Part

if TYPE_CHECKING:
    from jcas.parts.precoders.general import PrecoderContext

__all__ = ["PZF", "ZF", "pzf_beam_moments", "zf_directions"]

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]


def _floats(*arrays: ArrayLike) -> list[Float]:
    return [np.asarray(a, dtype=float) for a in arrays]


def pzf_beam_moments(nt: int, k: int) -> tuple[float, float]:
    """``(kappa_1, kappa_2)`` with ``E[b b^H] = kappa_1 a_t a_t^H + kappa_2 ||a_t||^2 I / Nt``.

    ``b = sqrt(Nt / r) P a_t`` with ``P`` the projection on the null space of ``K``
    i.i.d. Rayleigh estimates: uniformly distributed of rank ``r = Nt - K``. By unitary
    invariance ``E[P A P] = c_1 A + c_2 tr(A) I``; the trace gives ``c_1 + n c_2 = r / n``
    and ``v^H P v ~ Beta(r, n - r)`` (``E (v^H P v)^2 = r (r + 1) / (n (n + 1))``) gives
    ``c_1 + c_2``, ``n = Nt``. Then ``kappa_1 = n c_1 / r`` and ``kappa_2 = n^2 c_2 / r``
    (both dimensionless; ``kappa_1 + kappa_2 = 1``, and ``a_t^H E[b b^H] a_t / Nt^2 =
    kappa_1 + kappa_2 / Nt``: the beam keeps that fraction of MRT's power towards the target).
    """
    n, r = float(nt), float(nt - k)
    if r <= 0:
        raise ValueError(f"Nt = {nt} must exceed K = {k}")
    c2 = r * (n - r) / (n * (n + 1.0) * (n - 1.0)) if n > 1 else 0.0
    c1 = r * (r + 1.0) / (n * (n + 1.0)) - c2
    return n * c1 / r, n * n * c2 / r


def zf_directions(h_hat: NDArray[np.complexfloating], xi: ArrayLike) -> Complex:
    """Normalised ZF directions ``w_bar_k = sqrt((Nt - K) xi_k) [H_hat (H_hat^H H_hat)^{-1}]_k``.

    Batched: ``h_hat (..., Nt, K)``, ``xi (..., K)`` broadcastable; returns ``(..., Nt, K)``
    (``E||w_bar_k||^2 = 1``). One batched ``K x K`` solve per realization.
    """
    h_hat = np.asarray(h_hat)
    nt, k = h_hat.shape[-2:]
    h_hat_h = np.conj(np.swapaxes(h_hat, -1, -2))  # (..., K, Nt)
    gram = h_hat_h @ h_hat
    w_h = np.linalg.solve(gram, h_hat_h)  # (G^{-1} H^H) = W^H since G is Hermitian
    w = np.conj(np.swapaxes(w_h, -1, -2))
    scale = np.sqrt((nt - k) * np.asarray(xi, dtype=float))
    return np.asarray(w * scale[..., None, :], dtype=complex)


@dataclass(frozen=True)
class ZF:
    """Zero-forcing with an unprojected sensing part along ``a_t``; variables: power
    factors ``gamma_k`` (user streams) and ``eta_k`` (sensing), W per antenna."""

    name: str = "zf"
    closed_forms: ClassVar[bool] = True
    """Whether the rate terms and covariance have closed forms (under the i.i.d. channel)."""

    @property
    def protective(self) -> bool:
        """Whether the sensing beam is projected on the null space of the estimates."""
        return False

    # ------------------------------------------------------------------ validity
    def unsupported(self, requirement: str, params: SystemParams) -> str | None:
        if requirement == "":
            if params.Nt <= params.K:
                return (
                    f"zero-forcing needs more transmit antennas than users (system.Nt = "
                    f"{params.Nt} <= system.K = {params.K}): H_hat^H H_hat is singular for "
                    "Nt < K and its inverse has no finite mean for Nt = K"
                )
            if params.tau_p < params.K:
                return (
                    f"with reused pilots (system.tau_p = {params.tau_p} < system.K = "
                    f"{params.K}) users sharing a pilot have parallel channel estimates, so "
                    "H_hat^H H_hat is singular and zero-forcing is undefined; use "
                    f"system.tau_p >= {params.K}"
                )
            return None
        if requirement == TOTAL_POWER_RATE and not self.protective:
            return (
                f"precoder {self.name!r} (system.precoder) has an interference that sees "
                "sensing power (beta_k) and communications power (beta_k - xi_k) differently"
            )
        return None  # SPLIT_POWER_RATE, LINEAR_FISHER (validity: requirement "")

    # ------------------------------------------------------------------ closed forms
    def split_power_sinr(
        self, beta: ArrayLike, xi: ArrayLike, params: SystemParams
    ) -> tuple[Float, Float, Float]:
        """``(A, B, E)``, each ``(D, K)``: ``SINR_k = A_k x_k / (B_k c + E_k s + sigma_u^2)``."""
        beta, xi = _floats(beta, xi)
        nt = float(params.Nt)
        eps = np.maximum(beta - xi, 0.0)
        a = nt * (nt - params.K) * xi
        b = nt * eps
        e = b.copy() if self.protective else nt * beta
        return a, b, e

    def total_power_sinr(
        self, beta: ArrayLike, xi: ArrayLike, params: SystemParams
    ) -> tuple[Float, Float]:
        if not self.protective:
            raise NotImplementedError(f"precoder {self.name!r}: no total-power rate form")
        a, b, _ = self.split_power_sinr(beta, xi, params)
        return a, b

    def rate_terms(
        self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, beta: ArrayLike, params: SystemParams
    ) -> RateTerms:
        gamma, eta, xi, beta = _floats(gamma, eta, xi, beta)
        a, b, e = self.split_power_sinr(beta, xi, params)
        c = np.sum(gamma, axis=-1, keepdims=True)
        s = np.sum(eta, axis=-1, keepdims=True)
        # per unit power: B_k from every stream's ZF part, E_k from every sensing part
        own = b * gamma + e * eta
        total = b * c + e * s
        return RateTerms(
            signal=a * gamma,
            uncertainty=own,
            interference=np.maximum(total - own, 0.0),
        )

    def covariance(
        self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, params: SystemParams, tx: ArrayPart
    ) -> Covariance:
        x, s = self.power_factors(gamma, eta, xi)
        c = np.sum(x, axis=-1)
        forms = self.covariance_components(params, tx)
        return Covariance(np.stack([c, s], axis=-1), forms)

    def covariance_components(self, params: SystemParams, tx: ArrayPart) -> Complex:
        gram = np.asarray(tx.gram(params.theta_rad), dtype=complex)
        forms = totals_covariance(1.0, 1.0, gram).forms
        if not self.protective:
            return forms
        k1, k2 = pzf_beam_moments(params.Nt, params.K)
        norm2 = float(np.real(gram[0, 0]))
        sensing = k1 * forms[1] + k2 * (norm2 / params.Nt) * gram
        return np.stack([forms[0], sensing])

    def transmit_power(
        self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike, params: SystemParams
    ) -> Float:
        gamma, eta = _floats(gamma, eta)
        return np.asarray(params.Nt * np.sum(gamma + eta, axis=-1), dtype=float)

    # ------------------------------------------------------------------ allocation hooks
    def power_factors(self, gamma: ArrayLike, eta: ArrayLike, xi: ArrayLike) -> tuple[Float, Float]:
        gamma, eta = _floats(gamma, eta)
        return gamma, np.sum(eta, axis=-1)

    def from_power_factors(self, x: ArrayLike, s: ArrayLike, xi: ArrayLike) -> tuple[Float, Float]:
        x, s, xi = _floats(x, s, xi)
        eta = np.broadcast_to((s / xi.shape[-1])[..., None], xi.shape)
        return np.array(np.broadcast_to(x, xi.shape)), np.array(eta)

    def equal_split(self, c: ArrayLike, s: ArrayLike, xi: ArrayLike) -> tuple[Float, Float]:
        c, s, xi = _floats(c, s, xi)
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
    ) -> Complex:
        h_hat = np.asarray(h_hat)
        nt, k = h_hat.shape[-2:]
        gamma, eta = _floats(gamma, eta)
        a_t = np.asarray(a_t, dtype=complex)
        w_bar = zf_directions(h_hat, xi)
        comm = w_bar * np.sqrt(nt * gamma)[..., None, :]
        if self.protective:
            # P a_t = a_t - W (H_hat^H a_t), with W = w_bar / sqrt((Nt - K) xi)
            proj = np.conj(np.swapaxes(h_hat, -1, -2)) @ a_t  # (..., K)
            scale = np.sqrt((nt - k) * np.asarray(xi, dtype=float))
            beam = a_t - np.einsum("...nk,...k->...n", w_bar, proj / scale)
            beam = beam * np.sqrt(nt / (nt - k))
        else:
            beam = np.broadcast_to(a_t, (*comm.shape[:-2], nt))
        return dual_function(comm, beam, eta)

    # ------------------------------------------------------------------ any channel
    def directions(self, h_hat: Complex, context: PrecoderContext) -> tuple[Complex, Complex]:
        """``(V, b)`` (:mod:`jcas.parts.precoders.general`): ``V = H_hat (H_hat^H H_hat)^{-1}``
        (unnormalised) and ``b = a_t`` (ZF) or ``P a_t = a_t - V H_hat^H a_t`` (PZF)."""
        h_hat = np.asarray(h_hat, dtype=complex)
        h_h = np.conj(np.swapaxes(h_hat, -1, -2))
        v = np.conj(np.swapaxes(np.linalg.solve(h_h @ h_hat, h_h), -1, -2))
        a_t = np.asarray(context.a_t, dtype=complex)
        if self.protective:
            beam = a_t - (v @ (h_h @ a_t)[..., None])[..., 0]
        else:
            beam = np.broadcast_to(a_t, (*h_hat.shape[:-2], h_hat.shape[-2]))
        return np.asarray(v, dtype=complex), np.asarray(beam, dtype=complex)

    def expected_norms(self, context: PrecoderContext) -> tuple[Float | None, Float | None]:
        """Under the i.i.d. channel ``E||v_k||^2 = 1 / ((Nt - K) xi_k)`` (W1 of
        ``docs/theory.md`` §6) and ``E||P a_t||^2 = Nt - K``; ``||a_t||^2 = Nt`` always;
        unknown (None) under correlated channels."""
        nt = context.a_t.shape[-1]
        est = context.estimation
        k = est.xi.shape[-1]
        n_drops = est.xi.shape[0]
        nub = float(nt - k) if self.protective else float(nt)
        if not est.iid:
            return None, (None if self.protective else np.full(n_drops, nub))
        return 1.0 / ((nt - k) * est.xi), np.full(n_drops, nub)


@dataclass(frozen=True)
class PZF(ZF):
    """Protective zero-forcing: ZF for the users, the sensing beam in the null space of the
    estimates (total-power rate form, ``E_k = B_k``)."""

    name: str = "pzf"

    @property
    def protective(self) -> bool:
        return True


PRECODERS.register(
    Part(
        "precoder",
        "zf",
        "ZF",
        ZF,
        description="zero-forcing of the channel estimates with the sensing beam a_t",
        capabilities=frozenset({CLOSED_FORMS, SPLIT_POWER_RATE, LINEAR_FISHER, "monte_carlo"}),
        order=10,
    )
)
PRECODERS.register(
    Part(
        "precoder",
        "pzf",
        "PZF",
        PZF,
        description="protective zero-forcing: zero-forcing with the sensing beam projected "
        "away from the channel estimates",
        capabilities=frozenset(
            {CLOSED_FORMS, TOTAL_POWER_RATE, SPLIT_POWER_RATE, LINEAR_FISHER, "monte_carlo"}
        ),
        order=20,
    )
)
