"""The sweep's computations: drops, allocation, Monte-Carlo, MLE, aggregation (``docs/data.md``).

Top layer of the package: it combines the model (:mod:`jcas.model.drops`,
:mod:`jcas.model.channel`, :mod:`jcas.model.metrics`), the schemes (:mod:`jcas.allocation`),
the Monte-Carlo checks (:mod:`jcas.montecarlo`), the I/O (:mod:`jcas.io.results`), the
figures (:mod:`jcas.report.plots`) and the claims table (:mod:`jcas.report.claims`). The Snakemake
jobs (``workflow/scripts/``) call only this module; each stage's heavy dependencies
(Clarabel and scipy.sparse for ``sca``, matplotlib for figures) are imported when that
stage runs.

Stages and their per-job datasets (one grid point x its schemes x one block of
global drop indices ``[start, stop)``; the grid point's parameters are scalar
coordinates, promoted to dimensions by :func:`aggregate`):

- :func:`compute_drops`: ``beta``, ``distance`` (drop, user) from
  :func:`jcas.model.drops.large_scale_fading` with global drop indices, so results do
  not depend on ``drops_per_job``.
- :func:`compute_allocations` (one scheme: :func:`compute_allocation`): ``xi`` (7),
  each scheme's ``gamma``, ``eta``, ``status``, ``iterations``, ``solve_time`` and the
  closed forms ``rate``, ``sum_rate`` (15), ``crb`` (16), ``power_total`` (18),
  ``power_sensing``, ``power_user``; the precoder's name as the scalar coordinate
  ``precoder``.
- :func:`compute_monte_carlo`: ``sum_rate_mc``, ``sum_rate_mc_se`` (14) and
  ``crb_mc`` (36 with finite-L sample covariances) of every scheme of an allocation.
- :func:`compute_mle`: ``mle_mse``, ``mle_mse_se``, ``mle_bias``, ``crb``,
  ``crb_mc`` for the ``crb_mc`` experiment.
- :func:`compute_mle_planar`: the same per angle (``mle_mse_azimuth``, ...,
  ``crb_mc_elevation``) for the 2-D MLE of a planar array (``kind: mle_planar``).

Each per-point computation exists twice: ``compute_<stage>`` returns an
``xarray.Dataset`` (the API, the tests), and its twin (:func:`drops_fields`,
:func:`allocations_fields`, :func:`monte_carlo_fields`, :func:`mle_fields`,
:func:`mle_planar_fields`, :func:`sca_audit_fields`) returns the same data as
:class:`jcas.io.fields.Fields`, which the jobs write with :func:`write` and read with
:func:`read_job` / :func:`read_job_blocks`, so that a per-point job never imports xarray or
pandas. The inputs may be either kind.

Failures never take the sweep down: an exception inside a scheme, the
Monte-Carlo or the MLE is recorded (status ``solver_error`` or
``mc_status = "error"``, NaN metrics, the message in the ``errors`` attribute)
and the job still writes its dataset. Each per-job dataset records the seconds
spent in the computations (imports of the stage's packages excluded) in the
``compute_time_s`` attribute (used by ``benchmarks/pipeline.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from jcas.config import INTEGER_KEYS, ExperimentPlan, Point
from jcas.io.fields import Fields, Variable, concat, read_fields, read_many, write_fields
from jcas.model import channel, metrics
from jcas.model.drops import large_scale_fading
from jcas.model.params import SystemParams
from jcas.parts.registry import ARRAYS

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "MC_VARIABLES",
    "PLANAR_MC_VARIABLES",
    "Point",
    "aggregate",
    "allocations_fields",
    "compute_allocation",
    "compute_allocations",
    "compute_drops",
    "compute_mle",
    "compute_mle_planar",
    "compute_monte_carlo",
    "draw_figure",
    "drops_fields",
    "mle_fields",
    "mle_planar_fields",
    "monte_carlo_fields",
    "plan",
    "read",
    "read_blocks",
    "read_job",
    "read_job_blocks",
    "write",
    "write_claims",
]

log = logging.getLogger("jcas.pipeline.experiment")

MC_VARIABLES = ("sum_rate_mc", "sum_rate_mc_se", "crb_mc")
PLANAR_MC_VARIABLES = ("crb_mc_azimuth", "crb_mc_elevation")
"""Monte-Carlo variables of a planar-array point besides :data:`MC_VARIABLES`: the mean
finite-L CRB of each angle with both angles unknown (``crb_mc`` is the azimuth's with the
elevation known)."""
"""Monte-Carlo variables (NaN in experiments without ``monte_carlo``)."""


# --------------------------------------------------------------------------- helpers
def _point_coords(point: Point, params: SystemParams) -> dict[str, Any]:
    """The point's scalar coordinates: the five of every point; the arrays' rows where
    the point's system (``params``) has a planar array; a planar point's direction
    (degrees); a ULA point's direction only where it is not broadside."""
    out = {
        "Nt": np.int64(point.Nt),
        "Nr": np.int64(point.Nr),
        "snr_com_db": np.float64(point.snr_com_db),
        "snr_sen_db": np.float64(point.snr_sen_db),
        "crb0": np.float64(point.crb0),
    }
    for param in ARRAYS[params.array].params:  # the array part's own keys (a UPA's rows)
        value = getattr(params, param.key)
        out[param.key] = np.int64(value) if param.kind is int else np.float64(value)
    for k in ("azimuth_deg", "elevation_deg"):
        if point.planar() or getattr(point, k) != 0.0:
            out[k] = np.float64(getattr(point, k))
    return out


def _drop_coords(drops: ArrayLike, n_users: int) -> dict[str, Any]:
    return {
        "drop": np.asarray(drops, dtype=np.int64),
        "user": np.arange(n_users, dtype=np.int64),
    }


def write(
    ds: xr.Dataset | Fields, path: str | Path, *, config: Mapping[str, Any], title: str
) -> None:
    """Write a dataset (xarray or :class:`jcas.io.fields.Fields`) atomically with provenance
    (:func:`jcas.io.fields.write_fields`, which :func:`jcas.io.results.write_netcdf` calls too;
    no xarray is imported for Fields)."""
    write_fields(Fields.from_xarray(ds), path, config=config, title=title)


def read(path: str | Path) -> xr.Dataset:
    """Load a result file (:func:`jcas.io.results.read_netcdf`: a damaged file raises
    :class:`jcas.io.results.ResultFileError` naming it)."""
    from jcas.io.results import read_netcdf

    return read_netcdf(path)


def read_blocks(paths: Sequence[str | Path]) -> xr.Dataset:
    """Per-job datasets of one grid point, read and combined along ``drop``."""
    from jcas.io.results import combine_datasets

    return combine_datasets([read(p) for p in paths])


def read_job(path: str | Path) -> Fields:
    """Load a per-job file as :class:`jcas.io.fields.Fields` (:func:`jcas.io.fields.read_fields`:
    no xarray; a damaged file raises :class:`jcas.io.fields.ResultFileError` naming it)."""
    return read_fields(path)


def read_job_blocks(paths: Sequence[str | Path]) -> Fields:
    """Per-job files of one grid point as :class:`jcas.io.fields.Fields`, joined along
    ``drop`` in drop order (:func:`jcas.io.fields.read_many`)."""
    return read_many(paths, "drop")


def _error_text(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


# --------------------------------------------------------------------------- drops
def compute_drops(system: Mapping[str, Any], seed: int, start: int, stop: int) -> xr.Dataset:
    """:func:`drops_fields` as an ``xarray.Dataset``."""
    return drops_fields(system, seed, start, stop).to_xarray()


def drops_fields(system: Mapping[str, Any], seed: int, start: int, stop: int) -> Fields:
    """User drops ``start .. stop-1`` of base seed ``seed``: ``beta``, ``distance`` (drop, user).

    Uses only the drop geometry of ``system`` (K, r_min_m, r_max_m,
    pathloss_exponent, shadowing_db).
    """
    t0 = time.perf_counter()
    params = SystemParams.from_dict(system)
    drops = np.arange(int(start), int(stop), dtype=np.int64)
    beta, distance = large_scale_fading(params, int(seed), drops)
    ds = Fields.build(
        {
            "beta": (("drop", "user"), beta),
            "distance": (("drop", "user"), distance),
        },
        coords=_drop_coords(drops, params.K),
    )
    ds.attrs["seed"] = int(seed)
    ds.attrs["compute_time_s"] = time.perf_counter() - t0
    return ds


# --------------------------------------------------------------------------- allocation
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
class _DropInputs:
    """The validated inputs of an allocation: ``beta``, ``xi`` (D, K) and the drops that
    reach a solver (``valid``, (D,)), with the message on the degenerate ones."""

    beta: np.ndarray
    xi: np.ndarray
    valid: np.ndarray
    index: np.ndarray
    errors: tuple[str, ...]


def _validate_drops(drops: Fields, params: SystemParams, where: str) -> _DropInputs:
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
    return _DropInputs(beta, xi, valid, index, errors)


@dataclass(frozen=True)
class _SchemeResult:
    """One scheme's allocation over every drop of a block (NaN where not a success)."""

    gamma: np.ndarray
    eta: np.ndarray
    status: np.ndarray
    iterations: np.ndarray
    solve_time: np.ndarray
    errors: tuple[str, ...]
    raw: Any  # the scheme's Allocation of the valid drops (None if it raised)


def _run_scheme(
    inputs: _DropInputs,
    params: SystemParams,
    scheme: str,
    options: Mapping[str, Any],
    reference: Any,
    where: str,
) -> _SchemeResult:
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
            errors.append(_error_text(err))
            alloc = None
    status = status.astype(str)
    ok = np.asarray(is_success(status))
    gamma = np.where(ok[:, None], gamma, np.nan)
    eta = np.where(ok[:, None], eta, np.nan)
    return _SchemeResult(gamma, eta, status, iterations, solve_time, tuple(errors), alloc)


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
    inputs: _DropInputs,
    point: Point,
    params: SystemParams,
    scheme: str,
    result: _SchemeResult,
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
            **_drop_coords(drops["drop"], inputs.beta.shape[1]),
            **_point_coords(point, params),
        },
    )
    ds.attrs["errors"] = "\n".join(result.errors)
    return ds


def _scheme_metrics(
    inputs: _DropInputs,
    params: SystemParams,
    scheme: str,
    options: Mapping[str, Any],
    reference: Any,
    where: str,
) -> tuple[_SchemeResult, dict[str, np.ndarray]]:
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
    inputs: _DropInputs,
    point: Point,
    params: SystemParams,
    scheme: str,
    options: Mapping[str, Any],
    reference: Any = None,
) -> tuple[Fields, _SchemeResult]:
    """One scheme: run it, compute its metrics (NaN where it failed), build its dataset."""
    result, values = _scheme_metrics(inputs, params, scheme, options, reference, point.key)
    ds = _allocation_dataset(drops, inputs, point, params, scheme, result, values)
    return ds, result


def compute_allocation(
    drops: xr.Dataset | Fields,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    scheme: str,
    options: Mapping[str, Any],
) -> xr.Dataset:
    """Allocate power with one scheme at one grid point for a block of drops.

    Parameters
    ----------
    drops : a :func:`compute_drops` dataset (``beta`` (D, K)).
    system : the ``system`` block of the config.
    point : the grid point's parameters (:meth:`jcas.config.Point.as_dict`).
    scheme : allocation scheme.
    options : keyword options of the scheme (:func:`jcas.config.scheme_options`).

    Returns
    -------
    Per-job dataset (``docs/data.md``): dims ``scheme`` (1), ``drop``, ``user``;
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
) -> xr.Dataset:
    """:func:`allocations_fields` as an ``xarray.Dataset``."""
    return allocations_fields(drops, system, point, schemes, options).to_xarray()


def allocations_fields(
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
    if "sca" in schemes:
        import jcas.allocation.sca  # noqa: F401  (Clarabel, scipy.sparse: imported before the clock)
    t0 = time.perf_counter()
    drops = Fields.from_xarray(drops)
    pt = Point(**point)
    params = pt.system(system)
    inputs = _validate_drops(drops, params, pt.key)
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


# --------------------------------------------------------------------------- Monte-Carlo
def compute_monte_carlo(
    alloc: xr.Dataset | Fields,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    mc: Mapping[str, Any],
    seed: int,
    *,
    share_draws: bool = True,
) -> xr.Dataset:
    """:func:`monte_carlo_fields` as an ``xarray.Dataset``."""
    return monte_carlo_fields(alloc, system, point, mc, seed, share_draws=share_draws).to_xarray()


def monte_carlo_fields(
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
    out = {name: np.full((n_schemes, n), np.nan) for name in variables}
    status = np.full((n_schemes, n), "ok", dtype=object)
    errors: dict[str, list[str]] = {
        what: [""] * n_schemes for what in ("rate", "crb", "crb_planar")
    }

    def rate(g: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        est = mc_rate(
            params, beta, g, e, seed=seed, drops=drops, n_realizations=int(mc["realizations"])
        )
        return np.asarray(est.sum_rate, dtype=float), np.asarray(est.sum_rate_se, dtype=float)

    def crb(g: np.ndarray, e: np.ndarray) -> tuple[np.ndarray]:
        est = mc_crb(params, beta, g, e, seed=seed, drops=drops, n_realizations=int(mc["frames"]))
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
                errors[what][i] = _error_text(err)
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


# --------------------------------------------------------------------------- MLE
def compute_mle(
    alloc: xr.Dataset | Fields,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    mc: Mapping[str, Any],
    seed: int,
) -> xr.Dataset:
    """:func:`mle_fields` as an ``xarray.Dataset``."""
    return mle_fields(alloc, system, point, mc, seed).to_xarray()


def mle_fields(
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

    def one_scheme(params: SystemParams, beta: Any, gamma: Any, eta: Any, drops: Any) -> dict:
        est = mle_angle(
            params, beta, gamma, eta, seed=seed, drops=drops, n_trials=int(mc["mle_trials"])
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
            errors.append(_error_text(err))
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


# --------------------------------------------------------------------------- aggregate
def _as_point_piece(ds: xr.Dataset, plan: ExperimentPlan, values: Mapping[str, Any]) -> xr.Dataset:
    """Promote the experiment's swept keys to length-1 dimensions; tied keys follow them.

    The ``precoder`` scalar coordinate becomes a length-1 dimension too when the plan
    has several precoders (it stays a scalar coordinate otherwise).
    """
    import xarray as xr

    keep_flat = {"beta", "distance"}
    swept = list(plan.dims)
    precoder = str(ds["precoder"].values) if "precoder" in ds.coords else None
    as_dim = precoder is not None and len(plan.precoders) > 1
    ds = ds.drop_vars([k for k in [*swept, "precoder"] if k in ds.coords])
    new_dims = {k: 1 for k in (["precoder"] if as_dim else []) + swept}
    expanded: dict[Hashable, xr.DataArray] = {}
    for name, var in ds.data_vars.items():
        if name in keep_flat:
            expanded[name] = var
        else:
            expanded[name] = var.expand_dims(new_dims)
    out = xr.Dataset(expanded, attrs=ds.attrs)
    # integers stay integers; SNRs and CRB0 are float coordinates
    coords: dict[str, Any] = {
        k: np.asarray([(int if k in INTEGER_KEYS else float)(values[k])]) for k in swept
    }
    if precoder is not None:
        coords["precoder"] = np.asarray([precoder] if as_dim else precoder)
    out = out.assign_coords(coords)
    for tied, follows in plan.tied.items():
        if follows in swept:
            value = ds.coords[tied].values if tied in ds.coords else None
            out = out.drop_vars(tied, errors="ignore").assign_coords(
                {tied: (follows, np.asarray([value]).reshape(1))}
            )
    return out


def _without_attrs(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` without the attributes of the dataset and of every variable (a shallow copy:
    the data are shared). The same result as ``Dataset.drop_attrs()``, which rebuilds the
    dataset variable by variable and costs most of an aggregation's time."""
    out = ds.copy(deep=False)
    out.attrs = {}
    for var in out.variables.values():
        var.attrs = {}
    return out


def aggregate(
    plan: ExperimentPlan,
    pieces: Sequence[tuple[Mapping[str, Any], Sequence[xr.Dataset]]],
) -> xr.Dataset:
    """Combine the per-job datasets of an experiment into ``results/<name>.nc``.

    Parameters
    ----------
    plan : the experiment's grid.
    pieces : for each grid point of the plan (its swept values), the per-job
        datasets (allocation, plus Monte-Carlo or MLE, per drop block; each with one
        or several schemes, of which those of the plan are used).

    Datasets are split by precoder (their ``precoder`` coordinate; a dimension when the
    plan has several) and scheme; those of one (point, precoder, scheme, block) are merged
    (``join="exact"``), the
    swept keys become dimensions, and all pieces are combined by coordinates
    with :func:`jcas.io.results.combine_datasets` (explicit ``combine_by_coords``
    arguments; duplicated or missing entries raise). Experiments without
    Monte-Carlo get NaN ``sum_rate_mc``, ``sum_rate_mc_se`` and ``crb_mc``. An experiment
    of kind ``sca_audit`` is combined by :func:`aggregate_sca_audit`.
    """
    import xarray as xr

    from jcas.io.results import combine_datasets

    if plan.kind == "sca_audit":
        return aggregate_sca_audit(plan, pieces)
    out: list[xr.Dataset] = []
    for values, datasets in pieces:
        groups: dict[tuple[str, str, int], list[xr.Dataset]] = {}
        for ds in datasets:
            precoder = str(ds["precoder"].values) if "precoder" in ds.coords else ""
            if precoder and precoder not in plan.precoders:
                continue
            for i, scheme in enumerate(ds["scheme"].values.tolist()):
                if scheme in plan.schemes:
                    key = (precoder, str(scheme), int(ds["drop"].values[0]))
                    groups.setdefault(key, []).append(ds.isel(scheme=[i]))
        for _key, group in sorted(groups.items()):
            merged = xr.merge(
                [_without_attrs(g) for g in group],
                join="exact",
                compat="no_conflicts",
                combine_attrs="drop",
            )
            if plan.kind == "sweep":
                for name in MC_VARIABLES:
                    if name not in merged:
                        merged[name] = xr.full_like(merged["sum_rate"], np.nan)
                merged = merged.drop_vars("mc_status", errors="ignore")
            out.append(_as_point_piece(merged, plan, values))
    combined = combine_datasets(out)
    schemes = [s for s in plan.schemes if s in set(combined["scheme"].values.tolist())]
    combined = combined.sel(scheme=schemes)  # the config's scheme order
    return _experiment_dataset(combined, plan, "scheme")


def _experiment_dataset(
    combined: xr.Dataset,
    plan: ExperimentPlan,
    entry: str,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """The last step of an aggregation: the config's precoder order, the dimensions in the
    order ``<swept>, precoder, <entry>, drop, user`` (``entry``: ``scheme`` or
    ``variant``), ``attrs`` and then the experiment's ``title``, ``experiment``,
    ``failed_entries`` and ``total_entries`` (:func:`jcas.io.stats.failure_count`)."""
    from jcas.io.stats import failure_count

    if "precoder" in combined.dims:
        combined = combined.sel(precoder=list(plan.precoders))  # the config's order
    order = [*plan.dims, "precoder", entry, "drop", "user"]
    combined = combined.transpose(*[d for d in order if d in combined.dims])
    failed, total = failure_count(combined)
    combined.attrs.update(attrs or {})
    combined.attrs["title"] = plan.title or plan.name
    combined.attrs["experiment"] = plan.name
    combined.attrs["failed_entries"] = int(failed)
    combined.attrs["total_entries"] = int(total)
    return combined


# --------------------------------------------------------------------------- figures, claims
def plan(config: Mapping[str, Any], name: str) -> ExperimentPlan:
    """The grid of experiment ``name`` of a resolved config (``jcas.config.plan_experiments``)."""
    from jcas.config import plan_experiments

    return plan_experiments(config)[name]


def draw_figure(ds: xr.Dataset, plot: str, pdf: str | Path, png: str | Path) -> float:
    """Draw ``jcas.report.plots.<plot>`` from an experiment dataset and save it as PDF and PNG.

    Returns the seconds spent drawing and saving (matplotlib imported before the clock).
    """
    from jcas.report import plots

    t0 = time.perf_counter()
    plots.save_figure(getattr(plots, plot)(ds), pdf, png)
    return time.perf_counter() - t0


def write_claims(datasets: Mapping[str, xr.Dataset], output: str | Path) -> float:
    """The paper-claims table from experiment datasets by figure kind (``fig1``, ``fig2``,
    ``fig3``, ``pareto``; missing ones are reported as not evaluated), written as CSV.

    Returns the seconds spent evaluating and writing.
    """
    from jcas.report.claims import paper_claims, write_claims_csv

    t0 = time.perf_counter()
    write_claims_csv(
        paper_claims(
            fig1=datasets.get("fig1"),
            fig2=datasets.get("fig2"),
            fig3=datasets.get("fig3"),
            pareto=datasets.get("pareto"),
        ),
        output,
    )
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- sca audit
__all__ += ["aggregate_sca_audit", "compute_sca_audit", "sca_audit_fields"]

AUDIT_VARIABLES = ("sum_rate", "crb", "gap", "iterations", "status", "solve_time")
"""Per (variant, drop) variables of an ``sca_audit`` dataset (``docs/data.md``)."""


def compute_sca_audit(
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    seed: int,
    start: int,
    stop: int,
    options: Mapping[str, Any],
    variants: Sequence[str] | None = None,
) -> xr.Dataset:
    """:func:`sca_audit_fields` as an ``xarray.Dataset``."""
    return sca_audit_fields(system, point, seed, start, stop, options, variants).to_xarray()


def sca_audit_fields(
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
    import json

    import jcas.allocation.sca  # noqa: F401  (Clarabel, scipy.sparse: imported before the clock)
    from jcas.allocation.schemes.sca import SCA_VARIANTS, sca_variant

    chosen = list(SCA_VARIANTS) if variants is None else [sca_variant(v) for v in variants]
    t0 = time.perf_counter()
    pt = Point(**point)
    params = pt.system(system)
    drops = drops_fields(system, seed, start, stop)
    inputs = _validate_drops(drops, params, pt.key)

    def run(scheme: str, opts: Mapping[str, Any]) -> tuple[_SchemeResult, dict[str, np.ndarray]]:
        result, values = _scheme_metrics(inputs, params, scheme, opts, None, pt.key)
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
            **_drop_coords(drops["drop"], inputs.beta.shape[1]),
            **_point_coords(pt, params),
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


def aggregate_sca_audit(
    plan: ExperimentPlan,
    pieces: Sequence[tuple[Mapping[str, Any], Sequence[xr.Dataset]]],
) -> xr.Dataset:
    """Combine the per-job datasets of an ``sca_audit`` experiment into ``results/<name>.nc``.

    Parameters
    ----------
    plan : the experiment's grid (``kind: sca_audit``).
    pieces : for each grid point of the plan (its swept values), its per-job datasets,
        one per precoder (:func:`compute_sca_audit`).

    The swept keys (and ``precoder``, with several precoders) become dimensions, as in
    :func:`aggregate`; dims in the order ``<swept>``, ``precoder``, ``variant``, ``drop``,
    ``user``. The attributes ``variants`` (JSON: each variant's legend label and options),
    ``failed_entries`` and ``total_entries`` (over the variants' ``status``) are set.
    """
    from jcas.io.results import combine_datasets

    flat = [(values, ds) for values, datasets in pieces for ds in datasets]
    variants = flat[0][1].attrs.get("variants", "{}") if flat else "{}"
    combined = combine_datasets([_as_point_piece(ds, plan, values) for values, ds in flat])
    return _experiment_dataset(combined, plan, "variant", {"variants": variants})


# --------------------------------------------------------------------------- 2-D MLE
PLANAR_MLE_VARIABLES = (
    "mle_mse_azimuth",
    "mle_mse_elevation",
    "mle_mse_se_azimuth",
    "mle_mse_se_elevation",
    "mle_bias_azimuth",
    "mle_bias_elevation",
    "crb_mc_azimuth",
    "crb_mc_elevation",
)
"""Variables of :func:`compute_mle_planar` (scheme, drop), per angle."""


def compute_mle_planar(
    alloc: xr.Dataset | Fields,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    mc: Mapping[str, Any],
    seed: int,
) -> xr.Dataset:
    """:func:`mle_planar_fields` as an ``xarray.Dataset``."""
    return mle_planar_fields(alloc, system, point, mc, seed).to_xarray()


def mle_planar_fields(
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
