"""Monte-Carlo validation of the closed forms (``docs/model.md`` §7).

- :mod:`jcas.montecarlo.rate`: achievable rate (14) from simulated fading,
  noisy pilots, MMSE estimates (6) and the precoder part's sampler (MRT (12) by
  default), vs the closed form.
- :mod:`jcas.montecarlo.sensing`: the general CRB (36) with the sample
  covariance of finite frames, and a maximum-likelihood angle estimator from
  the echo (9).

Public API (all vectorised over a batch of drops ``(D, K)``; drop ``d`` draws
from its own streams, so results do not depend on batching):

- ``mc_rate(params, beta, gamma, eta, *, seed, drops, n_realizations, chunk_size=None)``
  -> :class:`RateEstimate` (``rate``, ``rate_se`` ``(D, K)``; ``sum_rate``,
  ``sum_rate_se`` ``(D,)``; bit/s/Hz).
- ``mc_crb(params, beta, gamma, eta, *, seed, drops, n_realizations,
  frame_length=None, method="sample", chunk_size=None)`` -> :class:`CrbEstimate`
  ``(crb, crb_se)``, ``(D,)``, rad^2.
- ``mle_angle(params, beta, gamma, eta, *, seed, drops, n_trials, snr_sen_db=None)``
  -> :class:`MleEstimate`; ``mle_snr_sweep(...)`` -> :class:`MleSweep`.
"""

from jcas.montecarlo.rate import RateEstimate, mc_rate
from jcas.montecarlo.sensing import (
    CrbEstimate,
    MleEstimate,
    MleSweep,
    crb_symbol_average,
    mc_crb,
    mle_angle,
    mle_snr_sweep,
)

__all__ = [
    "CrbEstimate",
    "MleEstimate",
    "MleSweep",
    "RateEstimate",
    "crb_symbol_average",
    "mc_crb",
    "mc_rate",
    "mle_angle",
    "mle_snr_sweep",
]
