"""User drops: positions, path loss and shadowing (paper Sec. V, ``docs/model.md`` §2).

A *drop* is one random placement of the K users. Drop ``d`` under base seed
``s`` is drawn from its own generator, keyed by ``numpy.random.SeedSequence``
with entropy ``(s, STREAM_DROP, d)``, so it is the same drop however drops are
batched into jobs, in which order, or on how many cores (common random
numbers across schemes, SNRs and antenna counts). Other random streams of the
same drop (Monte-Carlo fading, sensing trials) use other stream labels, see
:func:`rng_for`.

The azimuth of each user's position (:func:`user_angles`), which correlated and Rician
channel models need, is drawn from its own stream :data:`STREAM_ANGLE`, so adding it left
the distances, the shadowing and every result computed from them unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.params import SystemParams

__all__ = [
    "STREAM_ANGLE",
    "STREAM_DROP",
    "STREAM_MC_COEFFICIENTS",
    "STREAM_MC_CRB",
    "STREAM_MC_RATE",
    "STREAM_MLE",
    "large_scale_fading",
    "rng_for",
    "ula_angle",
    "user_angles",
    "user_distances",
]

STREAM_DROP: Final = 0
"""Stream label of the user placement and shadowing."""
STREAM_MC_RATE: Final = 1
"""Stream label of the Monte-Carlo rate simulation of a drop."""
STREAM_MC_CRB: Final = 2
"""Stream label of the Monte-Carlo (sample covariance) CRB of a drop."""
STREAM_MLE: Final = 3
"""Stream label of the maximum-likelihood angle-estimation trials."""
STREAM_ANGLE: Final = 4
"""Stream label of the users' azimuths (positions around the base station)."""
STREAM_MC_COEFFICIENTS: Final = 5
"""Stream label of the Monte-Carlo estimate of the rate and CRB coefficients of a drop
(:mod:`jcas.montecarlo.coefficients`)."""


def rng_for(seed: int, stream: int, index: int) -> np.random.Generator:
    """The generator of one (base seed, stream, drop or trial index) triple.

    Independent of every other triple and of the order in which they are
    created: ``SeedSequence([seed, stream, index])``.
    """
    if seed < 0 or stream < 0 or index < 0:
        raise ValueError(
            f"seed = {seed!r}, stream = {stream!r}, index = {index!r}: must all be >= 0"
        )
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream, index])))


def _uniforms(seed: int, drops: Sequence[int], n_users: int) -> NDArray[np.float64]:
    """Per-drop draws, shape ``(D, 2, K)``: uniforms for radius and normals for shadowing."""
    out = np.empty((len(drops), 2, n_users))
    for i, d in enumerate(drops):  # one generator per drop: batch-invariant by construction
        rng = rng_for(seed, STREAM_DROP, int(d))
        out[i, 0] = rng.random(n_users)
        out[i, 1] = rng.standard_normal(n_users)
    return out


def user_distances(u: ArrayLike, r_min_m: float, r_max_m: float) -> NDArray[np.float64]:
    """Distances (m) uniform in the *area* of the annulus ``r_min <= r <= r_max``.

    Inverse-CDF map of ``u ~ U[0, 1)``: ``r = sqrt(r_min^2 + u (r_max^2 - r_min^2))``.
    Shape of ``u``.
    """
    u = np.asarray(u, dtype=float)
    return np.sqrt(r_min_m**2 + u * (r_max_m**2 - r_min_m**2))


def large_scale_fading(
    params: SystemParams, seed: int, drops: Sequence[int] | ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Large-scale fading ``beta`` of the given drops.

    ``beta_k = z_k / (r_k / r_min)^nu`` with ``z_k = 10^(sigma_sh n_k / 10)``,
    ``n_k ~ N(0, 1)`` (``docs/model.md`` §2).

    Parameters
    ----------
    params : system parameters (uses K, r_min_m, r_max_m, pathloss_exponent, shadowing_db).
    seed : base seed s (>= 0).
    drops : drop indices d (>= 0), length D.

    Returns
    -------
    beta : shape ``(D, K)``, dimensionless (1 at ``r = r_min`` without shadowing).
    distance_m : shape ``(D, K)``, user distances (m).
    """
    drops = [int(d) for d in np.atleast_1d(np.asarray(drops, dtype=np.int64))]
    draws = _uniforms(seed, drops, params.K)
    distance = user_distances(draws[:, 0], params.r_min_m, params.r_max_m)
    shadow = 10.0 ** (params.shadowing_db * draws[:, 1] / 10.0)
    beta = shadow / (distance / params.r_min_m) ** params.pathloss_exponent
    return beta, distance


def ula_angle(azimuth_rad: ArrayLike) -> NDArray[np.float64]:
    """The angle a ULA sees for a position at azimuth ``phi`` (rad), in ``[-pi/2, pi/2]``.

    The array axis is the y axis and its broadside the x axis (the convention of (10): the
    steering vector depends on ``sin(angle)`` only), so a position at azimuth ``phi`` from
    the x axis is seen at ``arcsin(sin(phi))``: the ULA does not tell front from back
    (``phi`` and ``pi - phi`` give the same steering vector). Shape of ``azimuth_rad``.
    """
    return np.arcsin(np.clip(np.sin(np.asarray(azimuth_rad, dtype=float)), -1.0, 1.0))


def user_angles(
    params: SystemParams, seed: int, drops: Sequence[int] | ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Azimuth of each user's position and the angle the ULA sees, for the given drops.

    Positions are uniform over the annulus: the radius is :func:`large_scale_fading`'s and
    the azimuth, independent of it, is uniform on ``[-pi, pi)``. Drop ``d`` draws its ``K``
    azimuths from ``rng_for(seed, STREAM_ANGLE, d)`` (``K`` uniforms ``u``, ``phi =
    2 pi u - pi``): the same for every batching and order, and independent of the
    distances and shadowing of :data:`STREAM_DROP`, which are unchanged by it.

    Parameters
    ----------
    params : uses K.
    seed : base seed (>= 0).
    drops : drop indices (>= 0), length D.

    Returns
    -------
    azimuth_rad : (D, K), in ``[-pi, pi)`` (rad, from the array broadside, the x axis).
    ula_angle_rad : (D, K), :func:`ula_angle` of it, in ``[-pi/2, pi/2]`` (rad): the
        nominal angle of the user in the steering vector (10).
    """
    drops = [int(d) for d in np.atleast_1d(np.asarray(drops, dtype=np.int64))]
    u = np.empty((len(drops), params.K))
    for i, d in enumerate(drops):  # one generator per drop: batch-invariant by construction
        u[i] = rng_for(seed, STREAM_ANGLE, d).random(params.K)
    azimuth = 2.0 * np.pi * u - np.pi
    return azimuth, ula_angle(azimuth)
