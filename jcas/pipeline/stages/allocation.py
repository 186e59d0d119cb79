"""Stage ``allocation``: every scheme a grid point needs on a block of drops, with the closed
forms of each allocation (``docs/data.md``, "Per-job datasets").

:func:`compute_allocations` runs the schemes through :func:`jcas.allocation.allocate` (their
modules are found by the scheme registry); a scheme's heavy solver is imported when the
scheme first runs (the ``sca`` job's entry imports it before the clock,
:mod:`jcas.pipeline.jobs.sca`). A scheme that raises, or a degenerate drop, is recorded
(status and NaN, the message in ``errors``), never raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from jcas.config import Point
from jcas.io.fields import Fields, Variable, concat
from jcas.model import channel, metrics
from jcas.model.params import SystemParams
from jcas.parts.registry import ARRAYS
from jcas.pipeline.stages.coords import error_text, point_coords
from jcas.pipeline.stages.drops import drop_coords

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "DropInputs",
    "SchemeResult",
    "compute_allocation",
    "compute_allocations",
    "scheme_metrics",
    "validate_drops",
]

log = logging.getLogger("jcas.pipeline.stages.allocation")


def _allocate_groups(
    scheme: str,
    beta: np.ndarray,
    xi: np.ndarray,
    params: SystemParams,
    drop_index: np.ndarray,
    options: Mapping[str, Any],
    reference: Any = None,
) -> Any:
    """:func:`jcas.allocation.allocate`, in groups of global drop indices when batched.

    A scheme solving drops together (``batch_size``, i.e. ``sca``) gives results that
    depend slightly (at the solver tolerance) on which drops share a program. Groups
    ``[g B, (g + 1) B)`` of *global* drop indices make them independent of how drops
    are split into jobs, as long as ``drops_per_job`` is a multiple of ``B``
    (``allocation.sca_group``, checked by :func:`jcas.config.load_config`).
    ``reference`` (the ``optimal`` allocation of the same drops, or None) is passed on
    to ``equal``, which would otherwise compute it again.
    """
    from jcas.allocation import Allocation, allocate

    extra = {"reference": reference} if reference is not None else {}
    size = int(options.get("batch_size", 0) or 0)
    if size <= 0:
        return allocate(scheme, beta, xi, params, **dict(options), **extra)
    group = drop_index // size
    parts = [
        allocate(scheme, beta[group == g], xi[group == g], params, **dict(options))
        for g in np.unique(group)
    ]
    return Allocation(
        gamma=np.concatenate([p.gamma for p in parts]),
        eta=np.concatenate([p.eta for p in parts]),
        status=np.concatenate([p.status for p in parts]),
        iterations=np.concatenate([p.iterations for p in parts]),
        solve_time_s=np.concatenate([p.solve_time_s for p in parts]),
    )


@dataclass(frozen=True)
class DropInputs:
    """The validated inputs of an allocation: ``beta``, ``xi`` (D, K) and the drops that
    reach a solver (``valid``, (D,)), with the message on the degenerate ones."""

    beta: np.ndarray
    xi: np.ndarray
    valid: np.ndarray
    index: np.ndarray
    errors: tuple[str, ...]


def validate_drops(drops: Fields, params: SystemParams, where: str) -> DropInputs:
    """Estimate variance (7) of every drop and the mask of valid drops.

    A degenerate drop (non-finite or negative ``beta`` or ``xi``) is recorded as
    ``invalid_input`` and kept out of the solver, so it cannot fail the other drops of
    the block.
    """
    beta = np.asarray(drops["beta"], dtype=float)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        xi = channel.estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)
    valid = np.all(np.isfinite(beta) & (beta >= 0) & np.isfinite(xi) & (xi >= 0), axis=-1)
    index = np.asarray(drops["drop"], dtype=np.int64)
    errors: tuple[str, ...] = ()
    if not valid.all():
        bad = index[~valid].tolist()
        log.warning("degenerate drops %s at %s: status invalid_input", bad, where)
        errors = (f"degenerate drops {bad}: non-finite or negative beta or xi",)
    return DropInputs(beta, xi, valid, index, errors)


@dataclass(frozen=True)
class SchemeResult:
    """One scheme's allocation over every drop of a block (NaN where not a success)."""

    gamma: np.ndarray
    eta: np.ndarray
    status: np.ndarray
    iterations: np.ndarray
    solve_time: np.ndarray
    errors: tuple[str, ...]
    raw: Any  # the scheme's Allocation of the valid drops (None if it raised)


def _run_scheme(
    inputs: DropInputs,
    params: SystemParams,
    scheme: str,
    options: Mapping[str, Any],
    reference: Any,
    where: str,
) -> SchemeResult:
    """Run one scheme on the valid drops; an exception is recorded, never raised."""
    from jcas.allocation import is_success

    n_drops, n_users = inputs.beta.shape
    valid = inputs.valid
    gamma = np.full((n_drops, n_users), np.nan)
    eta = np.full((n_drops, n_users), np.nan)
    status = np.full(n_drops, "solver_error", dtype=object)
    status[~valid] = "invalid_input"
    iterations = np.zeros(n_drops, dtype=np.int64)
    solve_time = np.full(n_drops, np.nan)
    errors = list(inputs.errors)
    alloc = None
    if valid.any():
        try:
            alloc = _allocate_groups(
                scheme,
                inputs.beta[valid],
                inputs.xi[valid],
                params,
                inputs.index[valid],
                options,
                reference,
            )
            gamma[valid], eta[valid] = alloc.gamma, alloc.eta
            status[valid] = np.asarray(alloc.status, dtype=str)
            iterations[valid] = alloc.iterations
            solve_time[valid] = alloc.solve_time_s
        except Exception as err:  # a failed point is recorded, never raised
            log.exception("scheme %s failed at %s", scheme, where)
            errors.append(error_text(err))
            alloc = None
    status = status.astype(str)
    ok = np.asarray(is_success(status))
    gamma = np.where(ok[:, None], gamma, np.nan)
    eta = np.where(ok[:, None], eta, np.nan)
    return SchemeResult(gamma, eta, status, iterations, solve_time, tuple(errors), alloc)


def _closed_form_metrics(
    gamma: np.ndarray,
    eta: np.ndarray,
    xi: np.ndarray,
    beta: np.ndarray,
    params: SystemParams,
) -> dict[str, np.ndarray]:
    """Closed-form metrics of an allocation of D drops.

    Parameters
    ----------
    gamma, eta : (D, K) communication and sensing power coefficients, W.
    xi, beta : (D, K) MMSE estimate variance (7) and large-scale fading, dimensionless.
    params : system parameters of the grid point.

    Returns
    -------
    ``rate`` (D, K) bit/s/Hz (15), ``crb`` (D,) rad^2 (16), ``power_total`` (D,) W (18),
    ``power_sensing`` (D,) W and ``power_user`` (D, K) W (each user's stream, ``Nt x_k``
    of the precoder's power map; ``Nt xi_k gamma_k`` for MRT), and for a planar array
    ``crb_azimuth``, ``crb_elevation`` (D,) rad^2, through the precoder and
    array parts named by ``params``
    (:func:`jcas.model.metrics.closed_form_metrics`). NaN inputs give NaN (the caller masks
    failed drops).
    """
    from jcas.parts.registry import design

    parts = design(params)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = metrics.closed_form_metrics(gamma, eta, xi, beta, params, parts)
        # the physical power of each user's stream, W: Nt x (the precoder's power map)
        user, _ = parts.precoder.power_factors(gamma, eta, xi)
        out["power_user"] = params.Nt * np.broadcast_to(np.asarray(user, dtype=float), xi.shape)
        if ARRAYS[params.array].offers("planar"):  # both angles' CRBs (docs/theory.md §7)
            from jcas.allocation.planar import allocation_crbs

            pair = allocation_crbs(gamma, eta, xi, params)
            out["crb_azimuth"], out["crb_elevation"] = pair[:, 0], pair[:, 1]
    return out


def _allocation_dataset(
    drops: Fields,
    inputs: DropInputs,
    point: Point,
    params: SystemParams,
    scheme: str,
    result: SchemeResult,
    values: Mapping[str, np.ndarray],
) -> Fields:
    """The per-job allocation dataset of one scheme (``docs/data.md``)."""
    from jcas.allocation import is_success

    ok = np.asarray(is_success(result.status))
    s = ("scheme", "drop")
    su = ("scheme", "drop", "user")
    ds = Fields.build(
        {
            "beta": (("drop", "user"), inputs.beta),
            "distance": (("drop", "user"), np.asarray(drops["distance"], dtype=float)),
            "xi": (("drop", "user"), inputs.xi),
            "gamma": (su, result.gamma[None]),
            "eta": (su, result.eta[None]),
            "rate": (su, values["rate"][None]),
            "sum_rate": (s, np.where(ok, values["rate"].sum(axis=-1), np.nan)[None]),
            "crb": (s, values["crb"][None]),
            "power_total": (s, values["power_total"][None]),
            "power_sensing": (s, values["power_sensing"][None]),
            "power_user": (su, values["power_user"][None]),
            **{  # a planar array's two-angle CRBs
                name: (s, values[name][None])
                for name in ("crb_azimuth", "crb_elevation")
                if name in values
            },
            "status": (s, result.status[None]),
            "iterations": (s, result.iterations[None]),
            "solve_time": (s, result.solve_time[None]),
        },
        coords={
            "scheme": np.asarray([scheme]),
            **drop_coords(drops["drop"], inputs.beta.shape[1]),
            **point_coords(point, params),
        },
    )
    ds.attrs["errors"] = "\n".join(result.errors)
    return ds


def scheme_metrics(
    inputs: DropInputs,
    params: SystemParams,
    scheme: str,
    options: Mapping[str, Any],
    reference: Any,
    where: str,
) -> tuple[SchemeResult, dict[str, np.ndarray]]:
    """Run one scheme (:func:`_run_scheme`) and compute its closed-form metrics
    (:func:`_closed_form_metrics`), NaN on every drop where it did not succeed."""
    from jcas.allocation import is_success

    result = _run_scheme(inputs, params, scheme, options, reference, where)
    values = _closed_form_metrics(result.gamma, result.eta, inputs.xi, inputs.beta, params)
    failed = ~np.asarray(is_success(result.status))
    for arr in values.values():
        arr[failed] = np.nan
    return result, values


def _allocation(
    drops: Fields,
    inputs: DropInputs,
    point: Point,
    params: SystemParams,
    scheme: str,
    options: Mapping[str, Any],
    reference: Any = None,
) -> tuple[Fields, SchemeResult]:
    """One scheme: run it, compute its metrics (NaN where it failed), build its dataset."""
    result, values = scheme_metrics(inputs, params, scheme, options, reference, point.key)
    ds = _allocation_dataset(drops, inputs, point, params, scheme, result, values)
    return ds, result


def compute_allocation(
    drops: xr.Dataset | Fields,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    scheme: str,
    options: Mapping[str, Any],
) -> Fields:
    """Allocate power with one scheme at one grid point for a block of drops.

    Parameters
    ----------
    drops : a :func:`jcas.pipeline.stages.drops.compute_drops` dataset (``beta`` (D, K);
        :class:`jcas.io.fields.Fields` or xarray).
    system : the ``system`` block of the config.
    point : the grid point's parameters (:meth:`jcas.config.Point.as_dict`).
    scheme : allocation scheme.
    options : keyword options of the scheme (:func:`jcas.config.scheme_options`).

    Returns
    -------
    Per-job dataset (:class:`jcas.io.fields.Fields`, ``docs/data.md``; ``.to_xarray()``
    gives the ``xarray.Dataset``): dims ``scheme`` (1), ``drop``, ``user``;
    the point's parameters as scalar coordinates. A scheme that raises gives
    status ``solver_error`` and NaN for every drop (message in ``errors``); a
    degenerate drop (non-finite or negative ``beta`` or ``xi``) gets status
    ``invalid_input`` and NaN, and is not passed to the scheme.
    """
    return compute_allocations(drops, system, point, [scheme], {scheme: options})


def compute_allocations(
    drops: xr.Dataset | Fields,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    schemes: Sequence[str],
    options: Mapping[str, Mapping[str, Any]],
) -> Fields:
    """Allocate power with several schemes at one grid point for a block of drops.

    As :func:`compute_allocation` for each scheme, in one dataset with dims ``scheme``
    (in the order of ``schemes``), ``drop``, ``user``; ``options`` maps each scheme to
    its keyword options (missing: none). ``equal`` reuses the ``optimal`` allocation of
    the same drops when both are computed (its reference design; the same arrays as
    computing it again).
    """
    from jcas.parts.registry import route

    t0 = time.perf_counter()
    drops = Fields.from_xarray(drops)
    pt = Point(**point)
    params = pt.system(system)
    if route(params) != "closed_form":
        raise NotImplementedError(
            f"{pt.key}: precoder {params.precoder!r} under channel {params.channel!r} is "
            "evaluated on the Monte-Carlo route, which the allocation stage does not run yet"
        )
    inputs = validate_drops(drops, params, pt.key)
    datasets: dict[str, Fields] = {}
    reference = None
    for scheme in sorted(schemes, key=lambda s: s != "optimal"):  # optimal first
        ds, result = _allocation(
            drops,
            inputs,
            pt,
            params,
            scheme,
            options.get(scheme, {}),
            reference if scheme == "equal" else None,
        )
        if scheme == "optimal":
            reference = result.raw
        datasets[scheme] = ds
    if len(schemes) == 1:
        out = datasets[schemes[0]]
    else:
        out = concat([datasets[s] for s in schemes], "scheme")
        errors = [(s, datasets[s].attrs["errors"]) for s in schemes]
        out.attrs["errors"] = "\n".join(f"{s}: {e}" for s, e in errors if e)
    out.coords["precoder"] = Variable((), np.asarray(params.precoder))
    out.attrs["compute_time_s"] = time.perf_counter() - t0
    return out
