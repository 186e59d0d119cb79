"""The per-point computations of the sweep, one module per stage (``docs/data.md``).

Each stage is one function returning its per-job dataset as :class:`jcas.io.fields.Fields`
(``.to_xarray()`` gives the ``xarray.Dataset``); inputs may be either kind. A per-job dataset
covers one grid point x its schemes x one block of global drop indices ``[start, stop)``;
the grid point's parameters are scalar coordinates, promoted to dimensions by the
aggregation (:mod:`jcas.pipeline.aggregate`).

- :func:`jcas.pipeline.stages.drops.compute_drops`: ``beta``, ``distance`` (drop, user) from
  :func:`jcas.model.drops.large_scale_fading` with global drop indices, so results do not
  depend on ``drops_per_job``.
- :func:`jcas.pipeline.stages.allocation.compute_allocations` (one scheme:
  :func:`~jcas.pipeline.stages.allocation.compute_allocation`): ``xi`` (7), each scheme's
  ``gamma``, ``eta``, ``status``, ``iterations``, ``solve_time`` and the closed forms
  ``rate``, ``sum_rate`` (15), ``crb`` (16), ``power_total`` (18), ``power_sensing``,
  ``power_user``; the precoder's name as the scalar coordinate ``precoder``.
- :func:`jcas.pipeline.stages.montecarlo.compute_monte_carlo`: ``sum_rate_mc``,
  ``sum_rate_mc_se`` (14) and ``crb_mc`` (36 with finite-L sample covariances) of every
  scheme of an allocation.
- :func:`jcas.pipeline.stages.mle.compute_mle`: ``mle_mse``, ``mle_mse_se``, ``mle_bias``,
  ``crb``, ``crb_mc`` (kind ``mle``); :func:`~jcas.pipeline.stages.mle.compute_mle_planar`:
  the same per angle for the 2-D MLE of a planar array (kind ``mle_planar``).
- :func:`jcas.pipeline.stages.audit.compute_sca_audit`: every ``sca`` variant against the
  exact optimum on held-out drops (kind ``sca_audit``).

Failures never take the sweep down: an exception inside a scheme, the Monte-Carlo or the
MLE is recorded (status ``solver_error`` or ``mc_status = "error"``, NaN metrics, the
message in the ``errors`` attribute) and the job still writes its dataset. Each per-job
dataset records the seconds spent in the computations (imports of the stage's packages
excluded) in the ``compute_time_s`` attribute (used by ``benchmarks/pipeline.py``). No
stage imports xarray or pandas.
"""
