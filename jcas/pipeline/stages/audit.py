"""Stage ``sca_audit``: every ``sca`` variant against the exact optimum on held-out drops
(``docs/data.md``, the ``sca_audit`` dataset)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jcas.allocation.schemes.sca import SCA_VARIANTS, sca_variant
from jcas.config import Point
from jcas.io.fields import Fields
from jcas.pipeline.stages.allocation import SchemeResult, scheme_metrics, validate_drops
from jcas.pipeline.stages.coords import point_coords
from jcas.pipeline.stages.drops import compute_drops, drop_coords
from jcas.pipeline.variables import AUDIT_VARIABLES

__all__ = ["compute_sca_audit"]


def compute_sca_audit(
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    seed: int,
    start: int,
    stop: int,
    options: Mapping[str, Any],
    variants: Sequence[str] | None = None,
) -> Fields:
    """Every ``sca`` variant against the exact optimum on drops ``start .. stop-1``.

    The drops are drawn here (:func:`compute_drops` of base seed ``seed``; the pipeline
    passes global indices that no other experiment uses, so they are held out). The
    exact optimum (``optimal``, ``docs/theory.md`` §2, §6.6) and each variant of
    :data:`jcas.allocation.schemes.sca.SCA_VARIANTS` (``sca`` with ``options``, the config's
    ``tol``, ``max_iterations`` and ``batch_size``, overridden by the variant's feature
    flags and stopping rule) run on the same drops, through the same allocation layer
    as the sweep (:func:`jcas.allocation.allocate`, drops grouped by global index).

    Parameters
    ----------
    system : the ``system`` block of the config (with the precoder of the job).
    point : the grid point's parameters (:meth:`jcas.config.Point.as_dict`).
    seed : base seed of the drops.
    start, stop : global drop indices ``[start, stop)``.
    options : ``sca`` keyword options from the config (:func:`jcas.config.scheme_options`).
    variants : names of the variants to run (default all, in registry order).

    Returns
    -------
    Dataset with dims ``variant``, ``drop``, ``user``: ``sum_rate`` (bit/s/Hz) and
    ``crb`` (rad2) of each variant's allocation (closed forms (15), (16)), ``gap`` (1):
    ``(optimal - sca) / optimal`` of the sum rate (NaN where either failed),
    ``iterations``, ``status``, ``solve_time`` (s); ``sum_rate_optimal``,
    ``crb_optimal``, ``status_optimal`` (drop); ``beta``, ``xi`` (drop, user); the point's
    parameters and the precoder as scalar coordinates. A variant that raises gets status
    ``solver_error`` and NaN (message in ``errors``), never an exception.
    """
    import jcas.allocation.sca  # noqa: F401  (Clarabel, scipy.sparse: imported before the clock)

    chosen = list(SCA_VARIANTS) if variants is None else [sca_variant(v) for v in variants]
    t0 = time.perf_counter()
    pt = Point(**point)
    params = pt.system(system)
    drops = compute_drops(system, seed, start, stop)
    inputs = validate_drops(drops, params, pt.key)

    def run(scheme: str, opts: Mapping[str, Any]) -> tuple[SchemeResult, dict[str, np.ndarray]]:
        result, values = scheme_metrics(inputs, params, scheme, opts, None, pt.key)
        # NaN where the scheme failed: its rates are NaN there
        return result, {"sum_rate": values["rate"].sum(axis=-1), "crb": values["crb"]}

    opt, opt_values = run("optimal", {})
    ref = opt_values["sum_rate"]
    out: dict[str, list[np.ndarray]] = {name: [] for name in AUDIT_VARIABLES}
    errors = [f"optimal: {e}" for e in opt.errors]
    for variant in chosen:
        result, values = run("sca", {**dict(options), **variant.options})
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = (ref - values["sum_rate"]) / ref
        out["sum_rate"].append(values["sum_rate"])
        out["crb"].append(values["crb"])
        out["gap"].append(gap)
        out["iterations"].append(result.iterations)
        out["status"].append(result.status)
        out["solve_time"].append(result.solve_time)
        errors += [f"{variant.name}: {e}" for e in result.errors]
    vd = ("variant", "drop")
    ds = Fields.build(
        {
            "beta": (("drop", "user"), inputs.beta),
            "xi": (("drop", "user"), inputs.xi),
            **{name: (vd, np.stack(out[name])) for name in AUDIT_VARIABLES},
            "sum_rate_optimal": ("drop", ref),
            "crb_optimal": ("drop", opt_values["crb"]),
            "status_optimal": ("drop", opt.status),
        },
        coords={
            "variant": np.asarray([v.name for v in chosen]),
            **drop_coords(drops["drop"], inputs.beta.shape[1]),
            **point_coords(pt, params),
            "precoder": np.asarray(params.precoder),
        },
    )
    # units and long names: jcas.io.metadata (gap, sum_rate_optimal, ..., variant)
    ds.attrs["variants"] = json.dumps(
        {v.name: {"label": v.label, "options": {**dict(options), **v.options}} for v in chosen}
    )
    ds.attrs["errors"] = "\n".join(errors)
    ds.attrs["compute_time_s"] = time.perf_counter() - t0
    return ds
