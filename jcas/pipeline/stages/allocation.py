"""Stage ``allocation``: every scheme a grid point needs on a block of drops, with the closed
forms of each allocation (``docs/data.md``, "Per-job datasets").

:func:`compute_allocations` runs the schemes through :func:`jcas.allocation.allocate` (their
modules are found by the scheme registry); a scheme's heavy solver is imported when the
scheme first runs (the ``sca`` job's entry imports it before the clock,
:mod:`jcas.pipeline.jobs.sca`). A scheme that raises, or a degenerate drop, is recorded
(status and NaN, the message in ``errors``), never raised.
"""

from __future__ import annotations

import importlib
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
from jcas.parts.registry import ARRAYS, ROUTE_MODULE
from jcas.pipeline.stages.coords import error_text, point_coords
from jcas.pipeline.stages.drops import drop_coords
from jcas.pipeline.variables import ROUTE_VARIABLE_NAMES

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "COEFFICIENT_REALIZATIONS",
    "ROUTE_VARIABLES",
    "DropInputs",
    "SchemeResult",
    "coefficient_allocations",
    "compute_allocation",
    "compute_allocations",
    "scheme_metrics",
    "validate_drops",
]

log = logging.getLogger("jcas.pipeline.stages.allocation")

COEFFICIENT_REALIZATIONS = 1000
"""Realizations per drop of the Monte-Carlo coefficients (``mc.coefficient_realizations``)."""

ROUTE_VARIABLES = ROUTE_VARIABLE_NAMES
"""Variables only the coefficient route writes (NaN elsewhere in an experiment dataset)."""


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
    coefficients: Mapping[str, Any] | None = None,
) -> Fields:
    """Allocate power with several schemes at one grid point for a block of drops.

    As :func:`compute_allocation` for each scheme, in one dataset with dims ``scheme``
    (in the order of ``schemes``), ``drop``, ``user``; ``options`` maps each scheme to
    its keyword options (missing: none). ``equal`` reuses the ``optimal`` allocation of
    the same drops when both are computed (its reference design; the same arrays as
    computing it again).

    On the coefficient route (:func:`jcas.parts.registry.route`: a correlated or Rician
    channel, or a precoder without closed forms) the schemes' solvers run on Monte-Carlo
    coefficients (:func:`coefficient_allocations`; ``coefficients["realizations"]``
    realizations per drop, default :data:`COEFFICIENT_REALIZATIONS`).
    """
    from jcas.parts.registry import route

    t0 = time.perf_counter()
    drops = Fields.from_xarray(drops)
    pt = Point(**point)
    params = pt.system(system)
    inputs = validate_drops(drops, params, pt.key)
    if route(params) == "coefficients":
        n = int((coefficients or {}).get("realizations", COEFFICIENT_REALIZATIONS))
        out = coefficient_allocations(drops, inputs, pt, params, schemes, options, n)
        out.attrs["compute_time_s"] = time.perf_counter() - t0
        return out
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


# --------------------------------------------------------------------------- coefficient route
def _solve_groups(
    scheme: str, coef: Any, drop_index: np.ndarray, options: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """The scheme's solver on coefficients (:attr:`jcas.parts.registry.Part.solve`), in
    groups of global drop indices when batched (``batch_size``: as :func:`_allocate_groups`,
    so that results do not depend on ``drops_per_job``). Returns ``x`` (D, K), ``s``,
    ``status``, ``iterations``, ``solve_time`` (D,)."""
    from jcas.parts.registry import scheme_entry

    solve = scheme_entry(scheme).solve
    assert solve is not None  # refused at config load (jcas.parts.registry.design_problems)
    size = int(options.get("batch_size", 0) or 0)
    groups = drop_index // size if size > 0 else np.zeros(drop_index.shape, np.int64)
    n, k = coef.rate.signal.shape
    out = {
        "x": np.full((n, k), np.nan),
        "s": np.full(n, np.nan),
        "status": np.full(n, "solver_error", dtype=object),
        "iterations": np.zeros(n, np.int64),
        "solve_time": np.full(n, np.nan),
    }
    for g in np.unique(groups):
        sel = np.flatnonzero(groups == g)
        t0 = time.perf_counter()
        sol = solve(coef.select(sel), **dict(options))
        elapsed = time.perf_counter() - t0
        out["x"][sel] = sol.x
        out["s"][sel] = sol.s
        out["status"][sel] = np.asarray(sol.status, dtype=str)
        out["iterations"][sel] = sol.iterations
        own = getattr(sol, "solve_time_s", None)
        out["solve_time"][sel] = own if own is not None else elapsed / max(len(sel), 1)
    out["status"] = out["status"].astype(str)
    return out


def _coefficient_ses(coef: Any, x: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standard errors of the sum rate (bit/s/Hz) and of the CRB (rad^2) at ``(x, s)`` from
    the coefficients' standard errors, by the delta method with the coefficients' errors
    taken as independent (their correlations, through the shared realizations, are left
    out: an approximation, within a factor of order one)."""
    r, f = coef.rate, coef.fisher
    xs = np.concatenate([x, s[:, None]], axis=-1)  # (D, K + 1)
    den = np.einsum("dkj,dj->dk", r.interference, x) + r.sensing * s[:, None] + r.noise
    sinr = r.signal * x / den
    d_rate = r.tau_bar / ((1.0 + sinr) * np.log(2.0))  # dR_k / dSINR_k
    var_sinr = (x / den) ** 2 * r.signal_se**2 + (sinr / den) ** 2 * (
        np.einsum("dkj,dj->dk", r.interference_se**2, x**2) + (r.sensing_se * s[:, None]) ** 2
    )
    rate_se = np.sqrt(np.sum(d_rate**2 * var_sinr, axis=-1))
    t1, t2, t3 = (np.einsum("dj,dj->d", t, xs) for t in (f.t1, f.t2, f.t3))
    v1, v2 = (np.einsum("dj,dj->d", t**2, xs**2) for t in (f.t1_se, f.t2_se))
    v3r = np.einsum("dj,dj->d", f.t3_se.real**2, xs**2)
    v3i = np.einsum("dj,dj->d", f.t3_se.imag**2, xs**2)
    det = t1 * t2 - np.abs(t3) ** 2
    c = f.sigma_r_bar2
    g1 = -c * np.abs(t3) ** 2 / det**2
    g2 = -c * t1**2 / det**2
    g3r, g3i = 2 * c * t1 * t3.real / det**2, 2 * c * t1 * t3.imag / det**2
    crb_se = np.sqrt(g1**2 * v1 + g2**2 * v2 + g3r**2 * v3r + g3i**2 * v3i)
    return rate_se, crb_se


def coefficient_allocations(
    drops: Fields,
    inputs: DropInputs,
    point: Point,
    params: SystemParams,
    schemes: Sequence[str],
    options: Mapping[str, Mapping[str, Any]],
    n_realizations: int,
) -> Fields:
    """The schemes of a point on the coefficient route, for a block of drops.

    The users' angles (:func:`jcas.model.drops.user_angles`, from the drops' seed and global
    indices), the Monte-Carlo coefficients of the point's precoder under its channel
    (:func:`jcas.montecarlo.coefficients.mc_coefficients`: ``n_realizations`` per drop on
    the streams of the global drop index, so a drop's coefficients do not depend on the
    block), then each scheme's solver on them (:func:`_solve_groups`). Metrics are those of
    the coefficients (``rate``, ``sum_rate``, ``crb``) with their standard errors
    (``sum_rate_se``, ``crb_se``: :func:`_coefficient_ses`); ``gamma``, ``eta`` are the
    precoder's own variables (``from_power_factors`` with ``xi = tr(Phi_k) / Nt``, stored
    as ``xi``); ``angle``, ``direction_norm``, ``beam_norm`` (``E||v_k||^2``, ``E||b||^2``)
    are what the Monte-Carlo stages need to simulate the same precoder. A drop whose
    precoder cannot be formed gets ``solver_error``; a scheme that raises is recorded.
    """
    from jcas.allocation import is_success
    from jcas.model.drops import user_angles
    from jcas.model.estimation import mmse_estimation
    from jcas.parts.registry import design

    # imported by name: a closed-form job's sources leave the Monte-Carlo out, a route
    # job's include it (ROUTE_MODULE, added by the workflow's job_modules)
    mc_coefficients = importlib.import_module(ROUTE_MODULE).mc_coefficients

    if "seed" not in drops.attrs:
        raise ValueError("the drops dataset has no 'seed' attribute (compute_drops writes it)")
    seed = int(drops.attrs["seed"])
    parts = design(params)
    n_drops, k = inputs.beta.shape
    index = inputs.index
    angles = user_angles(params, seed, index)[1]
    valid = inputs.valid.copy()
    errors = list(inputs.errors)
    xi = np.full((n_drops, k), np.nan)
    norms = np.full((n_drops, k + 1), np.nan)
    coef = None
    if valid.any():
        beta_v, ang_v = inputs.beta[valid], angles[valid]
        stats = parts.channel.statistics(beta_v, ang_v, params.Nt)
        est = mmse_estimation(stats, params.tau_p, params.pp_w, params.sigma_u2_w)
        xi[valid] = est.xi
        del stats, est
        mc = mc_coefficients(
            params,
            parts.channel,
            beta_v,
            ang_v,
            parts.precoder,  # type: ignore[arg-type]
            seed=seed,
            drops=index[valid],
            n_realizations=n_realizations,
        )
        norms[valid] = mc.norms
        failed = np.zeros(n_drops, dtype=bool)
        failed[np.flatnonzero(valid)[mc.failed]] = True
        if failed.any():
            bad = index[failed].tolist()
            log.warning("precoder not formed on drops %s at %s", bad, point.key)
            errors.append(f"drops {bad}: the precoder could not be formed (singular matrix)")
        keep = ~mc.failed
        coef = mc.coefficients.select(np.flatnonzero(keep))
        valid[np.flatnonzero(valid)[~keep]] = False
    datasets = []
    for scheme in schemes:
        x = np.full((n_drops, k), np.nan)
        s = np.full(n_drops, np.nan)
        status = np.full(n_drops, "solver_error", dtype=object)
        status[~inputs.valid] = "invalid_input"
        iterations = np.zeros(n_drops, np.int64)
        solve_time = np.full(n_drops, np.nan)
        own_errors = list(errors)
        if coef is not None and valid.any():
            try:
                sol = _solve_groups(scheme, coef, index[valid], options.get(scheme, {}))
                x[valid], s[valid] = sol["x"], sol["s"]
                status[valid] = sol["status"]
                iterations[valid] = sol["iterations"]
                solve_time[valid] = sol["solve_time"]
            except Exception as err:  # a failed point is recorded, never raised
                log.exception("scheme %s failed at %s", scheme, point.key)
                own_errors.append(error_text(err))
        status = status.astype(str)
        ok = np.asarray(is_success(status))
        x[~ok], s[~ok] = np.nan, np.nan
        rate = np.full((n_drops, k), np.nan)
        crb = np.full(n_drops, np.nan)
        rate_se = np.full(n_drops, np.nan)
        crb_se = np.full(n_drops, np.nan)
        if coef is not None and valid.any():
            with np.errstate(invalid="ignore", divide="ignore"):
                xv, sv = x[valid], s[valid]
                rate[valid] = coef.rate.rates(xv, sv)
                crb[valid] = coef.fisher.crb(xv, sv)
                rate_se[valid], crb_se[valid] = _coefficient_ses(coef, xv, sv)
        for arr in (rate, crb, rate_se, crb_se):
            arr[~ok] = np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            gamma, eta = parts.precoder.from_power_factors(x, s, xi)
        gamma = np.where(ok[:, None], gamma, np.nan)
        eta = np.where(ok[:, None], eta, np.nan)
        values = {
            "rate": rate,
            "crb": crb,
            "power_total": params.Nt * (np.sum(x, axis=-1) + s),
            "power_sensing": params.Nt * s,
            "power_user": params.Nt * x,
        }
        result = SchemeResult(gamma, eta, status, iterations, solve_time, tuple(own_errors), None)
        ds = _allocation_dataset(drops, inputs, point, params, scheme, result, values)
        su = ("drop", "user")
        ds = ds.assign(
            xi=Variable(su, xi),
            angle=Variable(su, angles),
            direction_norm=Variable(su, norms[:, :k]),
            beam_norm=Variable(("drop",), norms[:, k]),
            sum_rate_se=Variable(("scheme", "drop"), rate_se[None]),
            crb_se=Variable(("scheme", "drop"), crb_se[None]),
        )
        datasets.append(ds)
    if len(datasets) == 1:
        out = datasets[0]
    else:
        out = concat(datasets, "scheme")
        out.attrs["errors"] = "\n".join(
            f"{s}: {e}" for s, d in zip(schemes, datasets, strict=True) if (e := d.attrs["errors"])
        )
    out.coords["precoder"] = Variable((), np.asarray(params.precoder))
    out.attrs["coefficient_realizations"] = int(n_realizations)
    return out
