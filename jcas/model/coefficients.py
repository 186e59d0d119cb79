"""The linear-fractional structure of the rate (14) and the linear structure of the CRB (36).

For every precoder of the paper's form ``f_k = sqrt(gamma_k) w_k + sqrt(eta_k) b`` and any
channel, each expectation of the use-and-then-forget bound (14) is linear in the powers, and
so is the expected transmit covariance ``R_x``. With the precoder's *power factors* (W per
antenna; the transmit power (18) is ``Nt (sum_k x_k + s)``): ``x_k`` of user ``k``'s stream
and ``s`` of the sensing beam,

    SINR_k = a_k x_k / (sum_j b_kj x_j + e_k s + sigma_u^2),

    T_i = sum_k t_i[k] x_k + t_i[K] s      (i = 1, 2, 3),

    CRB = sigma_r_bar^2 T1 / (T1 T2 - |T3|^2),

with ``T1, T2, T3`` the terms of (36). This module holds these coefficients
(:class:`RateCoefficients`, :class:`FisherCoefficients`, together :class:`Coefficients`),
evaluates the rates and the CRB from them, and is built from the closed forms of a
precoder part by :func:`jcas.parts.coefficients.closed_form_coefficients` (each coefficient
is the precoder's own closed-form term at a unit power factor). The Monte-Carlo route
estimates the same coefficients from sampled channels (``jcas.montecarlo``), with standard errors.

Every allocation on coefficients (``jcas.allocation``) reads only this structure, so it runs
unchanged on closed forms and on Monte-Carlo estimates.

Shapes: a batch of ``D`` drops and ``K`` users; ``signal (D, K)``, ``interference
(D, K, K)`` (row ``k``: what reaches user ``k``; ``b_kk`` is the beamforming uncertainty),
``sensing (D, K)``, ``t1, t2 (D, K + 1)`` real, ``t3 (D, K + 1)`` complex (the last entry is
the sensing beam's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    pass

__all__ = [
    "Coefficients",
    "FisherCoefficients",
    "RateCoefficients",
]

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]


def _f(a: ArrayLike) -> Float:
    return np.asarray(a, dtype=float)


@dataclass(frozen=True)
class RateCoefficients:
    """``SINR_k = a_k x_k / (sum_j b_kj x_j + e_k s + sigma_u^2)`` for a batch of drops.

    Attributes
    ----------
    signal : ``a`` (D, K): ``|E h_k^H w_k|^2`` per unit power factor (dimensionless gain
        times antennas: W received per W-per-antenna transmitted).
    interference : ``b`` (D, K, K): ``b_kj`` the power received by user ``k`` from stream
        ``j`` per unit power factor, ``E|h_k^H w_j|^2`` for ``j != k`` and the beamforming
        uncertainty ``Var(h_k^H w_k)`` for ``j = k``.
    sensing : ``e`` (D, K): ``E|h_k^H b|^2`` per unit sensing power factor.
    noise : ``sigma_u^2`` (W).
    tau_bar : fraction of the coherence interval carrying data, ``(tau_c - tau_p) / tau_c``.
    signal_se, interference_se, sensing_se : standard errors of Monte-Carlo estimates (same
        shapes), or None for closed forms.
    """

    signal: Float
    interference: Float
    sensing: Float
    noise: float
    tau_bar: float
    signal_se: Float | None = None
    interference_se: Float | None = None
    sensing_se: Float | None = None

    def __post_init__(self) -> None:
        a, b, e = _f(self.signal), _f(self.interference), _f(self.sensing)
        if a.ndim != 2 or e.shape != a.shape or b.shape != (*a.shape, a.shape[-1]):
            raise ValueError(
                f"signal {a.shape}, interference {b.shape}, sensing {e.shape}: "
                "must be (D, K), (D, K, K), (D, K)"
            )
        object.__setattr__(self, "signal", a)
        object.__setattr__(self, "interference", b)
        object.__setattr__(self, "sensing", e)

    @property
    def n_users(self) -> int:
        return int(self.signal.shape[-1])

    def sinr(self, x: ArrayLike, s: ArrayLike) -> Float:
        """SINR of each user (D, K) at power factors ``x`` (D, K) and ``s`` (D,) (W per antenna)."""
        x, s = _f(x), _f(s)
        den = np.einsum("...kj,...j->...k", self.interference, x) + self.sensing * s[..., None]
        den = den + self.noise
        num = self.signal * x
        out = np.zeros(np.broadcast_shapes(num.shape, den.shape))
        np.divide(num, den, out=out, where=num != 0)
        out[np.isnan(num) | np.isnan(den)] = np.nan
        return out

    def rates(self, x: ArrayLike, s: ArrayLike) -> Float:
        """Rate (14) of each user (D, K), bit/s/Hz."""
        return self.tau_bar * np.log1p(self.sinr(x, s)) / np.log(2.0)

    def sum_rate(self, x: ArrayLike, s: ArrayLike) -> Float:
        """Sum rate (D,), bit/s/Hz."""
        return np.sum(self.rates(x, s), axis=-1)

    def split_form(self) -> tuple[Float, Float, Float] | None:
        """``(A, B, E)`` (each (D, K)) when ``b_kj = B_k`` for every ``j`` (the split-power
        form ``SINR_k = A_k x_k / (B_k c + E_k s + sigma_u^2)`` of the exact optimum), else
        None. Exact comparison up to 1e-12 relative."""
        b = self.interference
        row = b[..., :1]
        if not np.allclose(b, row, rtol=1e-12, atol=0.0):
            return None
        return self.signal, row[..., 0], self.sensing


@dataclass(frozen=True)
class FisherCoefficients:
    """``T_i = sum_k t_i[k] x_k + t_i[K] s`` of (36) and the CRB from them.

    Attributes
    ----------
    t1, t2 : (D, K + 1) real; t3 : (D, K + 1) complex (per unit power factor).
    sigma_r_bar2 : effective radar noise ``sigma_r_bar^2`` (W).
    t1_se, t2_se, t3_se : standard errors of Monte-Carlo estimates, or None.
    """

    t1: Float
    t2: Float
    t3: Complex
    sigma_r_bar2: float
    t1_se: Float | None = None
    t2_se: Float | None = None
    t3_se: Float | None = None

    def __post_init__(self) -> None:
        t1, t2 = _f(self.t1), _f(self.t2)
        t3 = np.asarray(self.t3, dtype=complex)
        if t1.ndim != 2 or t2.shape != t1.shape or t3.shape != t1.shape:
            raise ValueError(f"t1 {t1.shape}, t2 {t2.shape}, t3 {t3.shape}: must be (D, K + 1)")
        object.__setattr__(self, "t1", t1)
        object.__setattr__(self, "t2", t2)
        object.__setattr__(self, "t3", t3)

    def terms(self, x: ArrayLike, s: ArrayLike) -> tuple[Float, Float, Complex]:
        """``T1, T2, T3`` (each (D,)) at power factors ``x`` (D, K), ``s`` (D,)."""
        z = np.concatenate([_f(x), _f(s)[..., None]], axis=-1)
        return (
            np.sum(self.t1 * z, axis=-1),
            np.sum(self.t2 * z, axis=-1),
            np.sum(self.t3 * z, axis=-1),
        )

    def fisher(self, x: ArrayLike, s: ArrayLike) -> Float:
        """``J = T2 - |T3|^2 / T1`` (D,) (W), the Fisher information times ``sigma_r_bar^2``."""
        from jcas.model.metrics import fisher_from_terms

        return fisher_from_terms(*self.terms(x, s))

    def crb(self, x: ArrayLike, s: ArrayLike) -> Float:
        """CRB (36) (D,), rad^2; ``inf`` where the Fisher information vanishes."""
        j = self.fisher(x, s)
        out = np.full(j.shape, np.inf)
        np.divide(self.sigma_r_bar2, j, out=out, where=j > 0)
        out[np.isnan(j)] = np.nan
        return out

    @property
    def linear(self) -> bool:
        """Whether ``T3 = 0`` for every power (then ``J = T2`` is linear in the powers)."""
        return bool(np.all(self.t3 == 0))


@dataclass(frozen=True)
class Coefficients:
    """Rate and CRB coefficients of a batch of drops, with the budget and the threshold.

    Attributes
    ----------
    rate, fisher : the two structures.
    n_tx : ``Nt``: the transmit power (18) is ``Nt (sum_k x_k + s)`` (W).
    pt_w : power budget ``Pt`` (W).
    crb0 : CRB threshold (rad^2).
    source : ``"closed_form"`` or ``"monte_carlo"``.
    """

    rate: RateCoefficients
    fisher: FisherCoefficients
    n_tx: int
    pt_w: float
    crb0: float
    source: str = field(default="closed_form")

    @property
    def budget(self) -> float:
        """``Pt / Nt``: the budget of ``sum_k x_k + s`` (W per antenna)."""
        return self.pt_w / self.n_tx

    @property
    def fisher0(self) -> float:
        """``sigma_r_bar^2 / CRB0``: the Fisher information (times ``sigma_r_bar^2``) that
        the CRB constraint requires."""
        return self.fisher.sigma_r_bar2 / self.crb0

    def power(self, x: ArrayLike, s: ArrayLike) -> Float:
        """Transmit power (18) (D,), W."""
        return self.n_tx * (np.sum(_f(x), axis=-1) + _f(s))

    def select(self, drops: Any) -> Coefficients:
        """The coefficients of some drops (a boolean mask or indices along the drop axis)."""
        drops = np.asarray(drops)
        r, f = self.rate, self.fisher

        def pick(a: NDArray | None) -> NDArray | None:
            return None if a is None else np.asarray(a)[drops]

        rate = RateCoefficients(
            r.signal[drops],
            r.interference[drops],
            r.sensing[drops],
            r.noise,
            r.tau_bar,
            pick(r.signal_se),
            pick(r.interference_se),
            pick(r.sensing_se),
        )
        fisher = FisherCoefficients(
            f.t1[drops],
            f.t2[drops],
            f.t3[drops],
            f.sigma_r_bar2,
            pick(f.t1_se),
            pick(f.t2_se),
            pick(f.t3_se),
        )
        return Coefficients(rate, fisher, self.n_tx, self.pt_w, self.crb0, self.source)
