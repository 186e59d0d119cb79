"""Stages ``mle`` and ``mle_planar``: the ML estimate of the target direction against its CRB
on the drops of a scheme's allocation (``docs/data.md``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from jcas.config import Point
from jcas.io.fields import Fields
from jcas.model.params import SystemParams
from jcas.pipeline.stages.coords import error_text, route_inputs
from jcas.pipeline.variables import PLANAR_MLE_VARIABLES

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["compute_mle", "compute_mle_planar"]

log = logging.getLogger("jcas.pipeline.stages.mle")


def compute_mle(
    alloc: xr.Dataset | Fields,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    mc: Mapping[str, Any],
    seed: int,
) -> Fields:
    """ML angle estimation vs CRB for the drops of an allocation dataset.

    Variables (scheme, drop): ``mle_mse``, ``mle_mse_se`` (rad2), ``mle_bias`` (rad),
    ``crb`` (closed form (16) of the allocation), ``crb_mc`` (mean CRB (36) of
    the trials' sample covariances), ``status`` (of the allocation).
    """
    from jcas.montecarlo.sensing import mle_angle

    route = route_inputs(Fields.from_xarray(alloc))  # the coefficient route's inputs

    def one_scheme(params: SystemParams, beta: Any, gamma: Any, eta: Any, drops: Any) -> dict:
        est = mle_angle(
            params,
            beta,
            gamma,
            eta,
            seed=seed,
            drops=drops,
            n_trials=int(mc["mle_trials"]),
            **route,
        )
        return {
            "mle_mse": est.mse,
            "mle_mse_se": est.mse_se,
            "mle_bias": est.bias,
            "crb_mc": est.crb,
        }

    names = ("mle_mse", "mle_mse_se", "mle_bias", "crb_mc")
    return _per_scheme_estimates(alloc, system, point, names, one_scheme, "MLE", ("crb",))


def _per_scheme_estimates(
    alloc: xr.Dataset | Fields,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    names: Sequence[str],
    one_scheme: Callable[..., Mapping[str, Any]],
    what: str,
    copied: Sequence[str],
) -> Fields:
    """Run an estimator on each scheme of an allocation dataset (the MLE experiments).

    ``one_scheme(params, beta, gamma, eta, drops)`` returns the variables ``names``, each of
    shape ``(D,)``, for one scheme; an exception is logged and recorded in ``errors`` (the
    scheme's variables stay NaN), never raised. The result has ``names`` (scheme, drop),
    the allocation's variables ``copied`` that it has, ``status`` and ``beta``, and the
    allocation's coordinates but ``user``.
    """
    t0 = time.perf_counter()
    alloc = Fields.from_xarray(alloc)
    params = Point(**point).system(system)
    beta = np.asarray(alloc["beta"], dtype=float)
    drops = [int(d) for d in alloc["drop"]]
    n_schemes = alloc.sizes["scheme"]
    out = {name: np.full((n_schemes, len(drops)), np.nan) for name in names}
    errors: list[str] = []
    for i in range(n_schemes):
        try:
            values = one_scheme(params, beta, alloc["gamma"][i], alloc["eta"][i], drops)
        except Exception as err:  # recorded, never raised
            log.exception("%s failed", what)
            errors.append(error_text(err))
            continue
        for name in names:
            out[name][i] = values[name]
    s = ("scheme", "drop")
    kept = [name for name in (*copied, "status", "beta") if name in alloc.data_vars]
    dims = {"scheme", "drop", *(d for name in kept for d in alloc.data_vars[name].dims)}
    ds = Fields.build(
        {
            **{name: (s, out[name]) for name in names},
            **{name: alloc.data_vars[name] for name in kept},
        },
        # the coordinates along these variables' dimensions (``user`` comes with ``beta``)
        coords={k: v for k, v in alloc.coords.items() if set(v.dims) <= dims},
    )
    ds.attrs["errors"] = "\n".join(errors)
    ds.attrs["compute_time_s"] = time.perf_counter() - t0
    return ds


def compute_mle_planar(
    alloc: xr.Dataset | Fields,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    mc: Mapping[str, Any],
    seed: int,
) -> Fields:
    """2-D ML estimation of (azimuth, elevation) vs their CRBs for the drops of an
    allocation dataset of a planar-array point (:func:`jcas.montecarlo.planar.mle_planar`:
    FFT grid over both arrays, then a local search; ``alpha`` unknown).

    Parameters
    ----------
    alloc : allocation dataset (``gamma``, ``eta`` (scheme, drop, user) W, ``beta``).
    system, point : the system block and the grid point (:meth:`Point.as_dict`).
    mc : ``planar_mle_trials``, echo realizations per drop.
    seed : base seed (streams ``rng_for(seed, STREAM_MLE, d)``).

    Returns
    -------
    Variables (scheme, drop): ``mle_mse_<angle>``, ``mle_mse_se_<angle>`` (rad2),
    ``mle_bias_<angle>`` (rad), ``crb_mc_<angle>`` (rad2: mean over the trials of the CRB
    with each trial's ``X X^H / L``) for ``<angle>`` in ``azimuth``, ``elevation``;
    ``crb_azimuth``, ``crb_elevation``, ``crb`` (closed forms of the allocation),
    ``status`` (of the allocation), ``beta``. An exception is recorded (NaN, message in
    ``errors``), never raised.
    """
    from jcas.montecarlo.planar import mle_planar

    def one_scheme(params: SystemParams, beta: Any, gamma: Any, eta: Any, drops: Any) -> dict:
        est = mle_planar(
            params,
            beta,
            gamma,
            eta,
            seed=seed,
            drops=drops,
            n_trials=int(mc["planar_mle_trials"]),
        )
        out = {}
        for j, angle in enumerate(("azimuth", "elevation")):
            out[f"mle_mse_{angle}"] = est.mse[:, j]
            out[f"mle_mse_se_{angle}"] = est.mse_se[:, j]
            out[f"mle_bias_{angle}"] = est.bias[:, j]
            out[f"crb_mc_{angle}"] = est.crb[:, j]
        return out

    copied = ("crb_azimuth", "crb_elevation", "crb")
    return _per_scheme_estimates(
        alloc, system, point, PLANAR_MLE_VARIABLES, one_scheme, "2-D MLE", copied
    )
