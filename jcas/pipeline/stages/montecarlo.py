"""Stage ``monte_carlo``: the Monte-Carlo rate (14) and finite-L CRB (36) of every scheme of
an allocation file, on shared per-drop streams (``docs/data.md``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from jcas.config import Point
from jcas.io.fields import Fields
from jcas.parts.registry import ARRAYS
from jcas.pipeline.stages.coords import error_text, route_inputs
from jcas.pipeline.variables import MC_VARIABLES, PLANAR_MC_VARIABLES

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["compute_monte_carlo"]

log = logging.getLogger("jcas.pipeline.stages.montecarlo")


def compute_monte_carlo(
    alloc: xr.Dataset | Fields,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    mc: Mapping[str, Any],
    seed: int,
    *,
    share_draws: bool = True,
) -> Fields:
    """Monte-Carlo sum rate (14) and finite-L CRB (36) of an allocation dataset.

    Every scheme of ``alloc`` is simulated on the same streams: drop ``d`` uses
    ``rng_for(seed, STREAM_MC_*, d)`` (independent of the batching and of the other
    schemes). Variables ``sum_rate_mc``, ``sum_rate_mc_se``, ``crb_mc`` (scheme, drop)
    and ``mc_status`` (``ok`` or ``error``, per scheme); at a planar-array point also
    ``crb_mc_azimuth`` and ``crb_mc_elevation`` (rad2: the two-angle CRBs of the same
    frames, :func:`jcas.montecarlo.planar.mc_crb_planar`, one call per scheme).

    With ``share_draws`` (default) each estimator is called once with the allocations
    of all schemes (``gamma``, ``eta`` of shape ``(S, D, K)``), so each drop's channels,
    estimates, noise and symbols are drawn once for all schemes; the numbers are those
    of one call per scheme. If that call raises, the estimator is run again scheme by
    scheme, so a failure stays recorded for the scheme that caused it. ``share_draws=False``
    runs one call per scheme from the start (the reference for ``benchmarks/mc_rate.py``).
    """
    from jcas.montecarlo import mc_rate
    from jcas.montecarlo.planar import mc_crb_planar
    from jcas.montecarlo.sensing import mc_crb

    t0 = time.perf_counter()
    alloc = Fields.from_xarray(alloc)
    params = Point(**point).system(system)
    planar = ARRAYS[params.array].offers("planar")
    variables = (*MC_VARIABLES, *PLANAR_MC_VARIABLES) if planar else MC_VARIABLES
    beta = np.asarray(alloc["beta"], dtype=float)
    drops = [int(d) for d in alloc["drop"]]
    n_schemes, n = alloc.sizes["scheme"], len(drops)
    gamma = np.asarray(alloc["gamma"], dtype=float)
    eta = np.asarray(alloc["eta"], dtype=float)
    route = route_inputs(alloc)  # the coefficient route's angles and norms (else empty)
    out = {name: np.full((n_schemes, n), np.nan) for name in variables}
    status = np.full((n_schemes, n), "ok", dtype=object)
    errors: dict[str, list[str]] = {
        what: [""] * n_schemes for what in ("rate", "crb", "crb_planar")
    }

    def rate(g: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        est = mc_rate(
            params,
            beta,
            g,
            e,
            seed=seed,
            drops=drops,
            n_realizations=int(mc["realizations"]),
            **route,
        )
        return np.asarray(est.sum_rate, dtype=float), np.asarray(est.sum_rate_se, dtype=float)

    def crb(g: np.ndarray, e: np.ndarray) -> tuple[np.ndarray]:
        est = mc_crb(
            params, beta, g, e, seed=seed, drops=drops, n_realizations=int(mc["frames"]), **route
        )
        return (np.asarray(est.crb, dtype=float),)

    def crb_planar(g: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        est = mc_crb_planar(
            params, beta, g, e, seed=seed, drops=drops, n_realizations=int(mc["frames"])
        )
        crbs = np.asarray(est.crb, dtype=float)
        return crbs[:, 0], crbs[:, 1]

    # (what, estimator, its variables, failure message, takes all schemes at once)
    estimators: list[tuple[str, Callable[..., tuple[np.ndarray, ...]], tuple[str, ...], str, bool]]
    estimators = [
        ("rate", rate, ("sum_rate_mc", "sum_rate_mc_se"), "Monte-Carlo rate failed", True),
        ("crb", crb, ("crb_mc",), "Monte-Carlo CRB failed", True),
    ]
    if planar:  # the same frames' two-angle CRBs, one scheme at a time
        message = "Monte-Carlo two-angle CRB failed"
        estimators.append(("crb_planar", crb_planar, PLANAR_MC_VARIABLES, message, False))
    for what, estimate, names, message, shared in estimators:
        if share_draws and shared and n_schemes:
            try:
                values = estimate(gamma, eta)
            except Exception:  # retried per scheme below, where the error is recorded
                log.warning("%s for the schemes together; retrying each", message, exc_info=True)
            else:
                for name, value in zip(names, values, strict=True):
                    out[name][:] = value
                continue
        for i in range(n_schemes):
            try:
                values = estimate(gamma[i], eta[i])
            except Exception as err:  # recorded, never raised
                log.exception(message)
                errors[what][i] = error_text(err)
                status[i] = "error"
                continue
            for name, value in zip(names, values, strict=True):
                out[name][i] = value
    s = ("scheme", "drop")
    mc_status = {"units": "1", "long_name": "Monte-Carlo status (ok, error)"}
    ds = Fields.build(
        {
            **{name: (s, out[name]) for name in variables},
            "mc_status": (s, status.astype(str), mc_status),
        },
        coords={k: v for k, v in alloc.coords.items() if k != "user"},
    )
    ds.attrs["errors"] = "\n".join(
        e
        for i in range(n_schemes)
        for what in ("rate", "crb", "crb_planar")
        if (e := errors[what][i])
    )
    ds.attrs["compute_time_s"] = time.perf_counter() - t0
    return ds
