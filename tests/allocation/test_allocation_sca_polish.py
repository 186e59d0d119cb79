"""Regression: ``sca`` stopped 1.2e-3 short of the optimum on pipeline drops.

The pipeline's allocation stage solves ``sca`` in groups of 50 global drop indices
with ``tol = 1e-4``, ``max_iterations = 100`` (``config.yaml``). On drop 546 of seed 2024
(fig1: Nt = Nr = 15, SNR_com = 20 dB, CRB0 = 1e-3) and drop 380 of the pareto sweep
(Nt = Nr = 15, SNR_com = 20 dB, CRB0 = 7e-5) a weak user regrew only geometrically from
near-zero power, the per-iteration rate change stayed under the stopping threshold and
``sca`` stopped 1.2e-3 / 1.1e-3 (relative) below ``optimal``. The bound 1e-3 is the
certification's (``docs/theory.md`` §3.9);
``optimal`` is the independent reference (closed form, brute-force checked in
``test_allocation.py``). See ``docs/theory.md`` §3.12.
"""

from __future__ import annotations

import numpy as np
import pytest

from jcas.allocation import allocate
from jcas.model.channel import estimate_variance
from jcas.model.drops import large_scale_fading
from jcas.model.metrics import rate
from jcas.model.params import SystemParams

# the pipeline's sca options (config.yaml: sca_tolerance, sca_max_iterations, sca_group)
_OPTIONS = {"tol": 1e-4, "max_iterations": 100, "batch_size": 50}


def _gap(crb0: float, group_start: int, drop: int) -> float:
    """Relative gap optimal vs sca on one drop, solved in its pipeline group of 50."""
    p = SystemParams(K=4, Nt=15, Nr=15, snr_com_db=20.0, snr_sen_db=5.0, crb0=crb0)
    beta, _ = large_scale_fading(p, 2024, np.arange(group_start, group_start + 50))
    xi = estimate_variance(beta, p.tau_p, p.pp_w, p.sigma_u2_w)
    sums = {}
    for scheme, options in (("sca", _OPTIONS), ("optimal", {})):
        a = allocate(scheme, beta, xi, p, **options)
        assert np.all(a.success), scheme
        sums[scheme] = rate(a.gamma, a.eta, xi, beta, p.Nt, p.sigma_u2_w, p.tau_bar).sum(-1)
    gaps = 1.0 - sums["sca"] / sums["optimal"]
    assert np.all(gaps > -1e-9)  # optimal >= sca
    assert np.max(gaps) < 1e-3  # the whole group, not only the reported drop
    return float(gaps[drop - group_start])


@pytest.mark.parametrize(
    ("crb0", "group_start", "drop"),
    [(1e-3, 500, 546), (7e-5, 350, 380)],
    ids=["fig1_drop546", "pareto_crb7e-5_drop380"],
)
def test_sca_pipeline_drop_within_1e3_of_optimal(crb0: float, group_start: int, drop: int) -> None:
    assert _gap(crb0, group_start, drop) < 1e-3
