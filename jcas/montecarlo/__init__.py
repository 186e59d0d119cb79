"""Monte-Carlo validation of the closed forms (``SPEC.md`` §4).

- :mod:`jcas.montecarlo.rate`: achievable rate (14) from simulated fading,
  noisy pilots, MMSE estimates (6) and the precoder (12), vs the closed form (15).
- :mod:`jcas.montecarlo.sensing`: the general CRB (36) with the sample
  covariance of finite frames, and a maximum-likelihood angle estimator from
  the echo (9).
"""

from jcas.montecarlo.rate import RateEstimate, mc_rate

__all__ = ["RateEstimate", "mc_rate"]
