"""One job of the sweep: drops, allocation, Monte-Carlo, MLE, aggregation (``docs/data.md``).

Top layer of the package: it combines the model (:mod:`jcas.drops`,
:mod:`jcas.channel`, :mod:`jcas.metrics`), the schemes (:mod:`jcas.allocation`),
the Monte-Carlo checks (:mod:`jcas.montecarlo`) and the I/O
(:mod:`jcas.results`). The Snakemake scripts in ``workflow/scripts/`` only
unpack the ``snakemake`` object and call the ``run_*`` functions here.

Stages and their per-job datasets (one grid point x one scheme x one block of
global drop indices ``[start, stop)``; the grid point's parameters are scalar
coordinates, promoted to dimensions by :func:`aggregate`):

- :func:`compute_drops`: ``beta``, ``distance`` (drop, user) from
  :func:`jcas.drops.large_scale_fading` with global drop indices, so results do
  not depend on ``drops_per_job``.
- :func:`compute_allocation`: ``xi`` (7), the scheme's ``gamma``, ``eta``,
  ``status``, ``iterations``, ``solve_time`` and the closed forms ``rate``,
  ``sum_rate`` (15), ``crb`` (16), ``power_total`` (18), ``power_sensing``.
- :func:`compute_monte_carlo`: ``sum_rate_mc``, ``sum_rate_mc_se`` (14) and
  ``crb_mc`` (36 with finite-L sample covariances).
- :func:`compute_mle`: ``mle_mse``, ``mle_mse_se``, ``mle_bias``, ``crb``,
  ``crb_mc`` for the ``crb_mc`` experiment.

Failures never take the sweep down: an exception inside a scheme, the
Monte-Carlo or the MLE is recorded (status ``solver_error`` or
``mc_status = "error"``, NaN metrics, the message in the ``errors`` attribute)
and the job still writes its dataset. Each per-job dataset records the time
spent in the computations in the ``compute_time_s`` attribute (used by
``benchmarks/pipeline.py``).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from jcas import channel, metrics
from jcas.config import ExperimentPlan, Point
from jcas.drops import large_scale_fading
from jcas.params import SystemParams

__all__ = [
    "aggregate",
    "compute_allocation",
    "compute_drops",
    "compute_mle",
    "compute_monte_carlo",
    "job_log",
    "run_aggregate",
    "run_allocation",
    "run_claims",
    "run_drops",
    "run_figure",
    "run_mle",
    "run_monte_carlo",
]

log = logging.getLogger("jcas.experiment")

MC_VARIABLES = ("sum_rate_mc", "sum_rate_mc_se", "crb_mc")
"""Monte-Carlo variables (NaN in experiments without ``monte_carlo``)."""


# --------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def job_log(path: str | Path | None) -> Iterator[None]:
    """Send ``logging``, stdout and stderr of a job to its log file (Snakemake ``log:``)."""
    if path is None:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        old = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = fh
        try:
            yield
        except BaseException:
            traceback.print_exc(file=fh)
            raise
        finally:
            sys.stdout, sys.stderr = old
            root.removeHandler(handler)


def _point_coords(point: Point) -> dict[str, Any]:
    return {
        "Nt": np.int64(point.Nt),
        "Nr": np.int64(point.Nr),
        "snr_com_db": np.float64(point.snr_com_db),
        "snr_sen_db": np.float64(point.snr_sen_db),
        "crb0": np.float64(point.crb0),
    }


def _drop_coords(drops: Sequence[int], n_users: int) -> dict[str, Any]:
    return {
        "drop": np.asarray(drops, dtype=np.int64),
        "user": np.arange(n_users, dtype=np.int64),
    }


def _closed_form_metrics(
    gamma: np.ndarray, eta: np.ndarray, xi: np.ndarray, beta: np.ndarray, params: SystemParams
) -> dict[str, np.ndarray]:
    """Closed-form ``rate`` (D, K) bit/s/Hz, ``crb`` (D,) rad^2, ``power_total`` and
    ``power_sensing`` (D,) W of an allocation, through the precoder and array parts
    named by ``params`` (:func:`jcas.metrics.closed_form_metrics`)."""
    from jcas.registry import design

    return metrics.closed_form_metrics(gamma, eta, xi, beta, params, design(params))


def _write(ds: xr.Dataset, path: str | Path, config: Mapping[str, Any], title: str) -> None:
    from jcas.results import write_netcdf

    write_netcdf(ds, path, config=config, title=title)


def _read(path: str | Path) -> xr.Dataset:
    from jcas.results import read_netcdf

    return read_netcdf(path)


def _error_text(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


# --------------------------------------------------------------------------- drops
def compute_drops(system: Mapping[str, Any], seed: int, start: int, stop: int) -> xr.Dataset:
    """User drops ``start .. stop-1`` of base seed ``seed``: ``beta``, ``distance`` (drop, user).

    Uses only the drop geometry of ``system`` (K, r_min_m, r_max_m,
    pathloss_exponent, shadowing_db).
    """
    t0 = time.perf_counter()
    params = SystemParams.from_dict(system)
    drops = np.arange(int(start), int(stop), dtype=np.int64)
    beta, distance = large_scale_fading(params, int(seed), drops)
    ds = xr.Dataset(
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
) -> Any:
    """:func:`jcas.allocation.allocate`, in groups of global drop indices when batched.

    A scheme solving drops together (``batch_size``, i.e. ``sca``) gives results that
    depend slightly (at the solver tolerance) on which drops share a program. Groups
    ``[g B, (g + 1) B)`` of *global* drop indices make them independent of how drops
    are split into jobs, as long as ``drops_per_job`` is a multiple of ``B``
    (``allocation.sca_group``, checked by :func:`jcas.config.load_config`).
    """
    from jcas.allocation import Allocation, allocate

    size = int(options.get("batch_size", 0) or 0)
    if size <= 0:
        return allocate(scheme, beta, xi, params, **dict(options))
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


def compute_allocation(
    drops: xr.Dataset,
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
    from jcas.allocation import is_success

    t0 = time.perf_counter()
    pt = Point(**point)
    params = pt.system(system)
    beta = np.asarray(drops["beta"].values, dtype=float)
    n_drops, n_users = beta.shape
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        xi = channel.estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)
    errors: list[str] = []
    # a degenerate drop (non-finite or negative beta or xi) is recorded as invalid_input
    # and kept out of the solver, so it cannot fail the other drops of the block
    valid = np.all(np.isfinite(beta) & (beta >= 0) & np.isfinite(xi) & (xi >= 0), axis=-1)
    gamma = np.full((n_drops, n_users), np.nan)
    eta = np.full((n_drops, n_users), np.nan)
    status = np.full(n_drops, "solver_error", dtype=object)
    status[~valid] = "invalid_input"
    iterations = np.zeros(n_drops, dtype=np.int64)
    solve_time = np.full(n_drops, np.nan)
    if not valid.all():
        bad = np.asarray(drops["drop"].values)[~valid].tolist()
        log.warning("degenerate drops %s at %s: status invalid_input", bad, pt.key)
        errors.append(f"degenerate drops {bad}: non-finite or negative beta or xi")
    if valid.any():
        try:
            index = np.asarray(drops["drop"].values, dtype=np.int64)[valid]
            alloc = _allocate_groups(scheme, beta[valid], xi[valid], params, index, options)
            gamma[valid], eta[valid] = alloc.gamma, alloc.eta
            status[valid] = np.asarray(alloc.status, dtype=str)
            iterations[valid] = alloc.iterations
            solve_time[valid] = alloc.solve_time_s
        except Exception as err:  # a failed point is recorded, never raised
            log.exception("scheme %s failed at %s", scheme, pt.key)
            errors.append(_error_text(err))
    status = status.astype(str)
    ok = np.asarray(is_success(status))
    gamma = np.where(ok[:, None], gamma, np.nan)
    eta = np.where(ok[:, None], eta, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        closed = _closed_form_metrics(gamma, eta, xi, beta, params)
    rate, crb = closed["rate"], closed["crb"]
    power_total, power_sensing = closed["power_total"], closed["power_sensing"]
    nan = ~ok
    rate[nan] = np.nan
    for arr in (crb, power_total, power_sensing):
        arr[nan] = np.nan
    s = ("scheme", "drop")
    su = ("scheme", "drop", "user")
    ds = xr.Dataset(
        {
            "beta": (("drop", "user"), beta),
            "distance": (("drop", "user"), np.asarray(drops["distance"].values, dtype=float)),
            "xi": (("drop", "user"), xi),
            "gamma": (su, gamma[None]),
            "eta": (su, eta[None]),
            "rate": (su, rate[None]),
            "sum_rate": (s, np.where(ok, rate.sum(axis=-1), np.nan)[None]),
            "crb": (s, crb[None]),
            "power_total": (s, power_total[None]),
            "power_sensing": (s, power_sensing[None]),
            "status": (s, status[None]),
            "iterations": (s, iterations[None]),
            "solve_time": (s, solve_time[None]),
        },
        coords={
            "scheme": np.asarray([scheme]),
            **_drop_coords(drops["drop"].values, n_users),
            **_point_coords(pt),
        },
    )
    ds.attrs["errors"] = "\n".join(errors)
    ds.attrs["compute_time_s"] = time.perf_counter() - t0
    return ds


# --------------------------------------------------------------------------- Monte-Carlo
def compute_monte_carlo(
    alloc: xr.Dataset,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    mc: Mapping[str, Any],
    seed: int,
) -> xr.Dataset:
    """Monte-Carlo sum rate (14) and finite-L CRB (36) of an allocation dataset.

    Drop ``d`` uses the streams ``rng_for(seed, STREAM_MC_*, d)`` (independent
    of the batching). Variables ``sum_rate_mc``, ``sum_rate_mc_se``, ``crb_mc``
    (scheme, drop) and ``mc_status`` (``ok`` or ``error``).
    """
    from jcas.montecarlo import mc_rate
    from jcas.montecarlo.sensing import mc_crb

    t0 = time.perf_counter()
    params = Point(**point).system(system)
    beta = np.asarray(alloc["beta"].values, dtype=float)
    drops = [int(d) for d in alloc["drop"].values]
    gamma = np.asarray(alloc["gamma"].values[0], dtype=float)
    eta = np.asarray(alloc["eta"].values[0], dtype=float)
    n = len(drops)
    out = {name: np.full(n, np.nan) for name in MC_VARIABLES}
    status = np.full(n, "ok", dtype=object)
    errors: list[str] = []
    try:
        est = mc_rate(
            params, beta, gamma, eta, seed=seed, drops=drops, n_realizations=int(mc["realizations"])
        )
        out["sum_rate_mc"] = np.asarray(est.sum_rate, dtype=float)
        out["sum_rate_mc_se"] = np.asarray(est.sum_rate_se, dtype=float)
    except Exception as err:  # recorded, never raised
        log.exception("Monte-Carlo rate failed")
        errors.append(_error_text(err))
        status[:] = "error"
    try:
        crb = mc_crb(
            params, beta, gamma, eta, seed=seed, drops=drops, n_realizations=int(mc["frames"])
        )
        out["crb_mc"] = np.asarray(crb.crb, dtype=float)
    except Exception as err:  # recorded, never raised
        log.exception("Monte-Carlo CRB failed")
        errors.append(_error_text(err))
        status[:] = "error"
    s = ("scheme", "drop")
    ds = xr.Dataset(
        {name: (s, out[name][None]) for name in MC_VARIABLES},
        coords={k: v for k, v in alloc.coords.items() if k != "user"},
    )
    ds["mc_status"] = (s, status.astype(str)[None])
    ds["mc_status"].attrs = {"units": "1", "long_name": "Monte-Carlo status (ok, error)"}
    ds.attrs["errors"] = "\n".join(errors)
    ds.attrs["compute_time_s"] = time.perf_counter() - t0
    return ds


# --------------------------------------------------------------------------- MLE
def compute_mle(
    alloc: xr.Dataset,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    mc: Mapping[str, Any],
    seed: int,
) -> xr.Dataset:
    """ML angle estimation vs CRB for the drops of an allocation dataset.

    Variables (scheme, drop): ``mle_mse``, ``mle_mse_se`` (rad2), ``mle_bias`` (rad),
    ``crb`` (closed form (16) of the allocation), ``crb_mc`` (mean CRB (36) of
    the trials' sample covariances), ``status`` (of the allocation).
    """
    from jcas.montecarlo.sensing import mle_angle

    t0 = time.perf_counter()
    params = Point(**point).system(system)
    beta = np.asarray(alloc["beta"].values, dtype=float)
    drops = [int(d) for d in alloc["drop"].values]
    n_schemes = alloc.sizes["scheme"]
    names = ("mle_mse", "mle_mse_se", "mle_bias", "crb_mc")
    out = {name: np.full((n_schemes, len(drops)), np.nan) for name in names}
    errors: list[str] = []
    for i in range(n_schemes):
        try:
            est = mle_angle(
                params,
                beta,
                alloc["gamma"].values[i],
                alloc["eta"].values[i],
                seed=seed,
                drops=drops,
                n_trials=int(mc["mle_trials"]),
            )
            out["mle_mse"][i] = est.mse
            out["mle_mse_se"][i] = est.mse_se
            out["mle_bias"][i] = est.bias
            out["crb_mc"][i] = est.crb
        except Exception as err:  # recorded, never raised
            log.exception("MLE failed")
            errors.append(_error_text(err))
    s = ("scheme", "drop")
    ds = xr.Dataset(
        {name: (s, out[name]) for name in names},
        coords={k: v for k, v in alloc.coords.items() if k != "user"},
    )
    ds["crb"] = alloc["crb"]
    ds["status"] = alloc["status"]
    ds["beta"] = alloc["beta"]
    ds.attrs["errors"] = "\n".join(errors)
    ds.attrs["compute_time_s"] = time.perf_counter() - t0
    return ds


# --------------------------------------------------------------------------- aggregate
def _as_point_piece(ds: xr.Dataset, plan: ExperimentPlan, values: Mapping[str, Any]) -> xr.Dataset:
    """Promote the experiment's swept keys to length-1 dimensions; tied keys follow them."""
    keep_flat = {"beta", "distance"}
    swept = list(plan.dims)
    for key in swept:
        if key in ds.coords:
            ds = ds.drop_vars(key)
    expanded = {}
    for name, var in ds.data_vars.items():
        if name in keep_flat:
            expanded[name] = var
        else:
            expanded[name] = var.expand_dims({k: 1 for k in swept})
    out = xr.Dataset(expanded, attrs=ds.attrs)
    coords = {k: [values[k]] for k in swept}
    # integers stay integers; SNRs and CRB0 are float coordinates
    for k in swept:
        kind = int if k in ("N", "Nt", "Nr") else float
        coords[k] = np.asarray([kind(values[k])])
    out = out.assign_coords(coords)
    for tied, follows in plan.tied.items():
        if follows in swept:
            value = ds.coords[tied].values if tied in ds.coords else None
            out = out.drop_vars(tied, errors="ignore").assign_coords(
                {tied: (follows, np.asarray([value]).reshape(1))}
            )
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
        datasets (allocation, plus Monte-Carlo or MLE, per scheme and drop block).

    Datasets of one (point, scheme, block) are merged (``join="exact"``), the
    swept keys become dimensions, and all pieces are combined by coordinates
    with :func:`jcas.results.combine_datasets` (explicit ``combine_by_coords``
    arguments; duplicated or missing entries raise). Experiments without
    Monte-Carlo get NaN ``sum_rate_mc``, ``sum_rate_mc_se`` and ``crb_mc``.
    """
    from jcas.results import combine_datasets
    from jcas.stats import failure_count

    out: list[xr.Dataset] = []
    for values, datasets in pieces:
        groups: dict[tuple[str, int], list[xr.Dataset]] = {}
        for ds in datasets:
            key = (str(ds["scheme"].values[0]), int(ds["drop"].values[0]))
            groups.setdefault(key, []).append(ds)
        for _key, group in sorted(groups.items()):
            merged = xr.merge(
                [g.drop_attrs() for g in group],
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
    order = [*plan.dims, "scheme", "drop", "user"]
    combined = combined.transpose(*[d for d in order if d in combined.dims])
    failed, total = failure_count(combined)
    combined.attrs["title"] = plan.title or plan.name
    combined.attrs["experiment"] = plan.name
    combined.attrs["failed_entries"] = int(failed)
    combined.attrs["total_entries"] = int(total)
    return combined


# --------------------------------------------------------------------------- run_* (scripts)
def run_drops(output: str, *, system: Mapping[str, Any], seed: int, start: int, stop: int) -> None:
    """Job ``drops``: write :func:`compute_drops` to ``output``."""
    ds = compute_drops(system, seed, start, stop)
    params = {"system": dict(system), "seed": seed, "start": start, "stop": stop}
    _write(ds, output, params, f"user drops {start}..{stop - 1}")


def run_allocation(
    drops: str,
    output: str,
    *,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    scheme: str,
    options: Mapping[str, Any],
) -> None:
    """Job ``allocate``: read the drops, write :func:`compute_allocation` to ``output``."""
    ds = compute_allocation(_read(drops), system, point, scheme, options)
    params = {
        "system": dict(system),
        "point": dict(point),
        "scheme": scheme,
        "options": dict(options),
    }
    _write(ds, output, params, f"allocation {scheme} at {Point(**point).key}")
    names, counts = np.unique(ds["status"].values, return_counts=True)
    log.info("status counts: %s", dict(zip(names.tolist(), counts.tolist(), strict=True)))


def run_monte_carlo(
    alloc: str,
    output: str,
    *,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    mc: Mapping[str, Any],
    seed: int,
) -> None:
    """Job ``monte_carlo``: read an allocation, write :func:`compute_monte_carlo`."""
    ds = compute_monte_carlo(_read(alloc), system, point, mc, seed)
    params = {"system": dict(system), "point": dict(point), "mc": dict(mc), "seed": seed}
    _write(ds, output, params, f"Monte-Carlo at {Point(**point).key}")


def run_mle(
    allocs: Sequence[str],
    output: str,
    *,
    system: Mapping[str, Any],
    point: Mapping[str, Any],
    mc: Mapping[str, Any],
    seed: int,
    n_drops: int,
) -> None:
    """Job ``mle``: the first ``n_drops`` drops of the allocation blocks, MLE vs CRB."""
    from jcas.results import combine_datasets

    alloc = combine_datasets([_read(p) for p in allocs])
    alloc = alloc.isel({"drop": alloc["drop"].values < int(n_drops)})
    ds = compute_mle(alloc, system, point, mc, seed)
    params = {
        "system": dict(system),
        "point": dict(point),
        "mc": dict(mc),
        "seed": seed,
        "n_drops": n_drops,
    }
    _write(ds, output, params, f"MLE at {Point(**point).key}")


def run_aggregate(
    inputs: Sequence[str],
    output: str,
    *,
    name: str,
    config: Mapping[str, Any],
    point_keys: Sequence[str],
) -> None:
    """Job ``aggregate``: combine the per-job files of experiment ``name``.

    ``inputs`` are paths whose parent directories name the grid point
    (``.../<point key>/<scheme>/<block>.nc``, see ``workflow/rules/common.smk``);
    ``point_keys`` lists the plan's point keys in the order of ``plan.points``.
    """
    from jcas.config import plan_experiments

    plan = plan_experiments(config)[name]
    by_key: dict[str, list[xr.Dataset]] = {}
    for path in inputs:
        key = next(part for part in Path(path).parts if part in set(point_keys))
        by_key.setdefault(key, []).append(_read(path))
    pieces = [(values, by_key[p.key]) for values, p in plan.points]
    ds = aggregate(plan, pieces)
    _write(ds, output, config, plan.title or name)
    log.info(
        "%s: %d of %d entries failed", name, ds.attrs["failed_entries"], ds.attrs["total_entries"]
    )


def run_figure(data: str, pdf: str, png: str, *, plot: str) -> None:
    """Job ``figure``: draw ``jcas.plots.<plot>`` from an experiment dataset, save PDF and PNG."""
    from jcas import plots

    fig = getattr(plots, plot)(_read(data))
    plots.save_figure(fig, pdf, png)


def run_claims(inputs: Mapping[str, str], output: str) -> None:
    """Job ``claims``: the paper-claims table from the experiments named by figure kind
    (``fig1``, ``fig2``, ``fig3``, ``pareto``; missing ones are reported as not evaluated)."""
    from jcas.claims import paper_claims, write_claims_csv

    datasets = {kind: _read(path) for kind, path in inputs.items()}
    write_claims_csv(paper_claims(**datasets), output)
