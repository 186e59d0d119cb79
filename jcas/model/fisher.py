"""Fisher information and CRBs of two angles (azimuth, elevation) for the echo (9).

The echo of a frame ``X`` (``Nt x L``) is ``Y = alpha A X + Z`` with
``A = a_r a_t^H`` (``docs/model.md`` §2), ``Z`` entries ``CN(0, sigma_r^2)`` and the
unknowns ``(az, el, Re alpha, Im alpha)``. With ``R = X X^H / L`` (or its expectation
``R_x``), ``A_i = dA/dtheta_i = d_r,i a_t^H + a_r d_t,i^H`` (``d_t,i = da_t/dtheta_i``)
and the Slepian-Bangs formula, the Fisher information is

    F_kl = (2 L / sigma_r^2) Re tr(M_k^H M_l R),   M = (alpha A_az, alpha A_el, A, j A),

i.e. (``docs/theory.md`` §7), with ``T1 = tr(A^H A R)``, ``T2_ij = Re tr(A_i^H A_j R)``
and ``T3_i = tr(A_i^H A R)``,

    F = (2 L / sigma_r^2) [[|alpha|^2 T2,          Re(conj(alpha) T3 [1, j])],
                           [Re(...)^T,             T1 I_2                   ]].

The angle block of ``F^{-1}`` is the inverse of the Schur complement
``J / sigma_r_bar^2`` with

    J = T2 - Re(T3 T3^H) / T1,        sigma_r_bar^2 = sigma_r^2 / (2 |alpha|^2 L),

the two-angle analogue of (36) (:func:`angle_fisher`, :func:`crb_angles`). Everything
is evaluated from quadratic forms on the span of ``[a, a_az, a_el]``: the receive
Gram matrix ``G`` and the transmit forms ``Q = [a_t, d_t]^H R [a_t, d_t]`` (3 x 3 each,
:func:`planar_terms`), so any covariance and any array (:func:`planar_terms_general`
from the vectors) go through one formula.

Centred arrays and the MRT covariance ``R_x = c I + s a_t a_t^H`` (37): ``T3 = 0`` and,
for the :class:`jcas.parts.arrays.UPA`, ``J`` is diagonal with

    J_az = pi^2 cos^2(az) [(Nt S_q^r + Nr S_q^t) c + Nt^2 S_q^r s],
    J_el = pi^2 cos^2(el) [(Nt S_p^r + Nr S_p^t) c + Nt^2 S_p^r s]

(:func:`mrt_fisher_coefficients`, :func:`crb_upa_mrt`): each angle's Fisher information
is linear in the power totals ``(c, s)`` and the ULA's is (16).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.geometry import axis_sums

__all__ = [
    "PlanarArray",
    "angle_fisher",
    "crb_angles",
    "crb_angles_general",
    "crb_upa_mrt",
    "fisher_full",
    "mrt_fisher_coefficients",
    "mrt_planar_forms",
    "planar_crb_from_forms",
    "planar_terms",
    "planar_terms_general",
]

Float = NDArray[np.float64]
Complex = NDArray[np.complex128]

_EPS = float(np.finfo(float).eps)


class PlanarArray(Protocol):
    """What the MRT closed forms below use of a centred planar array (the array part
    :class:`jcas.parts.arrays.upa.UPA`; the model sits below the parts and imports none)."""

    @property
    def rows(self) -> int: ...

    @property
    def cols(self) -> int: ...

    @property
    def n_elements(self) -> int: ...

    def gram3(self, azimuth_rad: ArrayLike, elevation_rad: ArrayLike) -> Complex: ...


def _basis(a: ArrayLike, d: ArrayLike) -> Complex:
    """``[a, d_az, d_el]`` as columns: ``a (..., N)``, ``d (..., 2, N)`` -> ``(..., N, 3)``."""
    a = np.asarray(a, dtype=complex)
    d = np.asarray(d, dtype=complex)
    return np.concatenate([a[..., None, :], d], axis=-2).swapaxes(-1, -2)


def planar_terms(q: ArrayLike, g: ArrayLike) -> tuple[Float, Float, Complex]:
    """``T1 (...)``, ``T2 (..., 2, 2)`` (real) and ``T3 (..., 2)`` from the 3 x 3 forms.

    ``q = [a_t, d_t,az, d_t,el]^H R [a_t, d_t,az, d_t,el]`` and
    ``g = [a_r, d_r,az, d_r,el]^H [a_r, d_r,az, d_r,el]`` (basis index 0: the steering
    vector, 1, 2: the derivatives), shapes broadcasting to ``(..., 3, 3)``:

    - ``T1 = g_00 Re q_00``;
    - ``T2_ij = Re(g_ij q_00 + g_i0 q_j0 + g_0j q_0i + g_00 q_ji)``;
    - ``T3_i = g_i0 q_00 + g_00 q_0i``.

    (Expanding ``A_i^H A_j = a_t d_r,i^H d_r,j a_t^H + a_t d_r,i^H a_r d_t,j^H +
    d_t,i a_r^H d_r,j a_t^H + d_t,i a_r^H a_r d_t,j^H`` and ``tr(u v^H R) = v^H R u``.)
    """
    q = np.asarray(q, dtype=complex)
    g = np.asarray(g, dtype=complex)
    q, g = np.broadcast_arrays(q, g)
    q00 = q[..., 0, 0]
    g00 = g[..., 0, 0]
    gd = g[..., 1:, 1:]  # g_ij
    gi0 = g[..., 1:, 0]  # g_i0
    g0j = g[..., 0, 1:]  # g_0j
    qj0 = q[..., 1:, 0]
    q0i = q[..., 0, 1:]
    qji = np.swapaxes(q[..., 1:, 1:], -1, -2)  # [i, j] -> q_ji
    t2 = (
        gd * q00[..., None, None]
        + gi0[..., :, None] * qj0[..., None, :]
        + g0j[..., None, :] * q0i[..., :, None]
        + g00[..., None, None] * qji
    ).real
    t1 = (g00 * q00).real
    t3 = gi0 * q00[..., None] + g00[..., None] * q0i
    return np.asarray(t1), np.asarray(t2), np.asarray(t3)


def planar_terms_general(
    rx: ArrayLike, a_t: ArrayLike, a_r: ArrayLike, d_t: ArrayLike, d_r: ArrayLike
) -> tuple[Float, Float, Complex]:
    """:func:`planar_terms` from the vectors, for any covariance and any array geometry.

    Parameters
    ----------
    rx : transmit covariance (W), ``(..., Nt, Nt)`` Hermitian (expected or sample).
    a_t, a_r : steering vectors ``(..., Nt)``, ``(..., Nr)``.
    d_t, d_r : their derivatives ``[d/daz, d/del]``, ``(..., 2, Nt)``, ``(..., 2, Nr)``.
    """
    bt = _basis(a_t, d_t)
    br = _basis(a_r, d_r)
    q = np.conj(np.swapaxes(bt, -1, -2)) @ np.asarray(rx, dtype=complex) @ bt
    g = np.conj(np.swapaxes(br, -1, -2)) @ br
    return planar_terms(q, g)


def crb_angles_general(
    rx: ArrayLike,
    a_t: ArrayLike,
    a_r: ArrayLike,
    d_t: ArrayLike,
    d_r: ArrayLike,
    sigma_r_bar2: ArrayLike,
) -> Float:
    """CRBs of (az, el) (rad^2), ``(..., 2)``, for any covariance and any arrays: the
    two-angle analogue of (36), ``diag(sigma_r_bar^2 J^{-1})`` with :func:`angle_fisher`
    of :func:`planar_terms_general`.

    An angle whose ``J_ii`` is at the rounding level of its own evaluation (bounded by
    the same terms evaluated with ``|R|`` and ``|a|``, ``|d|``) has no information
    (:func:`crb_angles`), as :func:`jcas.model.metrics.crb_general` does for one angle.
    """
    t1, t2, t3 = planar_terms_general(rx, a_t, a_r, d_t, d_r)
    j = angle_fisher(t1, t2, t3)
    bt = np.abs(_basis(a_t, d_t))
    br = np.abs(_basis(a_r, d_r))
    q_abs = np.swapaxes(bt, -1, -2) @ np.abs(np.asarray(rx, dtype=complex)) @ bt
    g_abs = np.swapaxes(br, -1, -2) @ br
    _m1, m2, _ = planar_terms(q_abs, g_abs)
    scale = np.stack([m2[..., 0, 0], m2[..., 1, 1]], axis=-1)
    return crb_angles(j, sigma_r_bar2, 2.0 * scale)


def angle_fisher(t1: ArrayLike, t2: ArrayLike, t3: ArrayLike) -> Float:
    """``J = T2 - Re(T3 T3^H) / T1`` (W), ``(..., 2, 2)``: ``sigma_r_bar^2`` times the
    Fisher information of (az, el) with ``alpha`` eliminated. 0 where ``T1 <= 0``."""
    t1 = np.asarray(t1, dtype=float)
    t2 = np.asarray(t2, dtype=float)
    t3 = np.asarray(t3, dtype=complex)
    outer = (t3[..., :, None] * np.conj(t3[..., None, :])).real
    ratio = np.zeros(np.broadcast_shapes(outer.shape, (*t1.shape, 1, 1)))
    np.divide(outer, t1[..., None, None], out=ratio, where=t1[..., None, None] > 0)
    j = np.where(t1[..., None, None] > 0, t2 - ratio, 0.0)
    return np.asarray(j)


def crb_angles(fisher: ArrayLike, sigma_r_bar2: ArrayLike, scale: ArrayLike | None = None) -> Float:
    """CRBs of (az, el) (rad^2), ``(..., 2)``: the diagonal of ``sigma_r_bar^2 J^{-1}``.

    Parameters
    ----------
    fisher : ``J`` of :func:`angle_fisher`, ``(..., 2, 2)`` (W).
    sigma_r_bar2 : effective radar noise (W), scalar or ``(...)``.
    scale : optional ``(..., 2)`` magnitude of the terms that cancel in ``J_ii``
        (default ``|J_ii|``): ``J_ii <= 8 eps scale_i`` counts as no information.

    An angle without information (``J_ii`` at the rounding level: e.g. the elevation
    of a ULA, ``rows = 1`` on both sides) has CRB ``inf``, and the other angle is then
    treated as known (``sigma_r_bar^2 / J_jj``: the one-angle CRB, (36) for a ULA).
    Both are ``inf`` when ``J`` is singular with both diagonals positive (the two
    derivatives indistinguishable). NaN inputs give NaN.
    """
    j = np.asarray(fisher, dtype=float)
    s2 = np.asarray(sigma_r_bar2, dtype=float)
    diag = np.stack([j[..., 0, 0], j[..., 1, 1]], axis=-1)
    mag = np.abs(diag) if scale is None else np.asarray(scale, dtype=float)
    info = diag > 8.0 * _EPS * mag
    off = j[..., 0, 1]
    det = diag[..., 0] * diag[..., 1] - off * off
    both = info[..., 0] & info[..., 1]
    regular = both & (det > 8.0 * _EPS * diag[..., 0] * diag[..., 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_two = np.stack([diag[..., 1], diag[..., 0]], axis=-1) / det[..., None]
        inv_one = 1.0 / diag
    inv = np.where(
        regular[..., None],
        inv_two,
        np.where(both[..., None], np.inf, np.where(info, inv_one, np.inf)),
    )
    out = s2[..., None] * inv
    out = np.where(np.isnan(diag).any(axis=-1, keepdims=True), np.nan, out)
    return np.asarray(np.where(np.isnan(s2)[..., None], np.nan, out), dtype=float)


def fisher_full(
    rx: ArrayLike,
    a_t: ArrayLike,
    a_r: ArrayLike,
    d_t: ArrayLike,
    d_r: ArrayLike,
    alpha: complex,
    sigma_r2: float,
    frame_length: int,
) -> Float:
    """The 4 x 4 Fisher information of ``(az, el, Re alpha, Im alpha)`` (module docstring).

    ``rx`` the covariance of the frame (``X X^H / L``), shapes as
    :func:`planar_terms_general`; ``sigma_r2`` the noise power per receive sample (W),
    ``frame_length`` ``L``. Returns ``(..., 4, 4)`` (units: 1/rad^2, 1/(rad |alpha|), ...).
    """
    t1, t2, t3 = planar_terms_general(rx, a_t, a_r, d_t, d_r)
    scale = 2.0 * frame_length / sigma_r2
    cross = np.conj(alpha) * t3  # (..., 2)
    out = np.zeros((*t1.shape, 4, 4))
    out[..., :2, :2] = abs(alpha) ** 2 * t2
    out[..., :2, 2] = cross.real
    out[..., :2, 3] = (1j * cross).real
    out[..., 2, :2] = cross.real
    out[..., 3, :2] = (1j * cross).real
    out[..., 2, 2] = t1
    out[..., 3, 3] = t1
    return scale * out


# --------------------------------------------------------------------------- MRT, UPA
def mrt_planar_forms(tx: PlanarArray, azimuth_rad: ArrayLike, elevation_rad: ArrayLike) -> Complex:
    """Forms ``(..., 2, 3, 3)`` of ``R_c = I`` and ``R_s = a_t a_t^H`` on ``[a_t, d_t]``
    (exact, from the transmit Gram matrix ``G``: ``I -> G``, ``a_t a_t^H -> g g^H``
    with ``g = G[:, 0]``)."""
    g = tx.gram3(azimuth_rad, elevation_rad)
    col = g[..., :, 0]
    return np.stack([g, col[..., :, None] * np.conj(col[..., None, :])], axis=-3)


def planar_crb_from_forms(
    weights: ArrayLike, forms: ArrayLike, rx_gram3: ArrayLike, sigma_r_bar2: ArrayLike
) -> Float:
    """CRBs of (az, el) (rad^2, ``(..., 2)``) of ``R_x = sum_m w_m R_m`` given by forms.

    ``weights (..., M)``, ``forms (..., M, 3, 3)`` (broadcast), ``rx_gram3 (3, 3)``;
    the terms are summed over the components (each component's terms are linear in it).
    """
    w = np.asarray(weights, dtype=float)
    t1c, t2c, t3c = planar_terms(forms, np.asarray(rx_gram3, dtype=complex)[..., None, :, :])
    t1 = np.sum(w * t1c, axis=-1)
    t2 = np.sum(w[..., None, None] * t2c, axis=-3)
    t3 = np.sum(w[..., None] * t3c, axis=-2)
    j = angle_fisher(t1, t2, t3)
    scale = np.stack(
        [np.sum(np.abs(w * t2c[..., 0, 0]), -1), np.sum(np.abs(w * t2c[..., 1, 1]), -1)], -1
    )
    return crb_angles(j, sigma_r_bar2, scale)


def mrt_fisher_coefficients(
    tx: PlanarArray, rx: PlanarArray, azimuth_rad: ArrayLike, elevation_rad: ArrayLike
) -> tuple[Float, Float]:
    """``(a, b)``, each ``(..., 2)`` over (az, el): ``J_i = a_i c + b_i s`` (W per W per
    antenna) for the centred UPAs and ``R_x = c I + s a_t a_t^H`` (module docstring)."""
    nt, nr = float(tx.n_elements), float(rx.n_elements)
    sq_t, sp_t = axis_sums(tx.rows, tx.cols)
    sq_r, sp_r = axis_sums(rx.rows, rx.cols)
    az = np.asarray(azimuth_rad, dtype=float)
    el = np.asarray(elevation_rad, dtype=float)
    k_az = np.pi**2 * np.cos(az) ** 2
    k_el = np.pi**2 * np.cos(el) ** 2
    k_az, k_el = np.broadcast_arrays(k_az, k_el)
    a = np.stack([k_az * (nt * sq_r + nr * sq_t), k_el * (nt * sp_r + nr * sp_t)], axis=-1)
    b = np.stack([k_az * nt**2 * sq_r, k_el * nt**2 * sp_r], axis=-1)
    return a, b


def crb_upa_mrt(
    c: ArrayLike,
    s: ArrayLike,
    tx: PlanarArray,
    rx: PlanarArray,
    azimuth_rad: ArrayLike,
    elevation_rad: ArrayLike,
    sigma_r_bar2: ArrayLike,
) -> Float:
    """Closed-form CRBs of (az, el) (rad^2), ``(..., 2)``, for the centred UPAs and the MRT
    covariance ``c I + s a_t a_t^H`` (37): ``sigma_r_bar^2 / (a_i c + b_i s)``, ``inf``
    where that Fisher information is 0 (e.g. the elevation with ``rows = 1`` on both
    sides; then the azimuth's is the ULA's (16)). ``c``, ``s`` (W per antenna) and the
    angles broadcast to ``(...)``."""
    a, b = mrt_fisher_coefficients(tx, rx, azimuth_rad, elevation_rad)
    fisher = a * np.asarray(c, dtype=float)[..., None] + b * np.asarray(s, dtype=float)[..., None]
    s2 = np.broadcast_to(np.asarray(sigma_r_bar2, dtype=float)[..., None], fisher.shape)
    out = np.full(np.broadcast_shapes(fisher.shape, s2.shape), np.inf)
    np.divide(s2, fisher, out=out, where=fisher > 0)
    out[np.isnan(fisher) | np.isnan(s2)] = np.nan
    return out
