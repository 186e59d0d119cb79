"""Aggregation: the per-job datasets of an experiment combined into ``results/<name>.nc``
(``docs/data.md``, "Experiment datasets").

Each experiment kind names its aggregation (:attr:`jcas.config.kinds.Kind.aggregation`):
:func:`combine_sweep` (``sweep``), :func:`combine` (``mle``, ``mle_planar``),
:func:`combine_variants` (``sca_audit``); :func:`aggregate` calls the one of the plan's kind
(:func:`jcas.pipeline.kinds.aggregation`). The swept keys become dimensions, the precoder one
too when an experiment has several, and every piece is combined by coordinates.
"""

from __future__ import annotations

import inspect
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from jcas.config import POINT_KEYS, ExperimentPlan, Point, axis_type, plan_experiments, point_system
from jcas.io.results import combine_datasets
from jcas.io.stats import failure_count
from jcas.pipeline import kinds
from jcas.pipeline.variables import MC_VARIABLES, ROUTE_VARIABLE_NAMES

__all__ = [
    "aggregate",
    "combine",
    "combine_sweep",
    "combine_variants",
    "plan",
    "routed",
    "with_energy_efficiency",
]

ENERGY_SCHEME = "energy"
"""The scheme whose experiments store every scheme's energy efficiency
(:func:`with_energy_efficiency`)."""


def aggregate(
    plan: ExperimentPlan,
    pieces: Sequence[tuple[Mapping[str, Any], Sequence[xr.Dataset]]],
    *,
    config: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Combine the per-job datasets of an experiment into ``results/<name>.nc`` with the
    aggregation of its kind (:attr:`jcas.config.kinds.Kind.aggregation`).

    Parameters
    ----------
    plan : the experiment's grid.
    pieces : for each grid point of the plan (its swept values), the per-job
        datasets (allocation, plus Monte-Carlo or MLE, per drop block; each with one
        or several schemes, of which those of the plan are used).
    config : the (experiment's) config, with ``system`` and ``allocation`` (options by
        scheme, ``{scheme: {option: value}}``, or the config's ``allocation`` block). Needed
        by an experiment with the scheme ``energy``: every scheme's energy efficiency at
        each point is added (:func:`with_energy_efficiency`).
    """
    if ENERGY_SCHEME in plan.schemes and plan.spec.allocates():
        if config is None:
            raise ValueError(
                f"experiment {plan.name!r} runs {ENERGY_SCHEME!r}: aggregate() needs the config "
                "(its power model)"
            )
        at = [next(p for v, p in plan.points if v == values) for values, _ in pieces]
        pieces = [
            (values, [with_energy_efficiency(ds, pt, config) for ds in datasets])
            for (values, datasets), pt in zip(pieces, at, strict=True)
        ]
    combined: xr.Dataset = kinds.aggregation(plan.kind)(plan, pieces)
    return combined


def routed(
    by_key: Mapping[str, Sequence[xr.Dataset]],
    point: Point,
    routes: Mapping[Point, Sequence[str]],
) -> list[xr.Dataset]:
    """The per-job datasets of grid point ``point``, each scheme from the point that computes
    it (:func:`jcas.config.plan_routes`).

    Parameters
    ----------
    by_key : point key -> the per-job datasets read from its directories (every precoder).
    point : the experiment's grid point.
    routes : ``{job point: its schemes}`` for ``point``.

    A dataset with a ``scheme`` dimension keeps the route's schemes only; one computed at
    another point (a scheme that does not read a key of ``point``) takes ``point``'s
    coordinates (the five point keys and the parts' and schemes' keys it gives), so that
    every scheme of the point lines up in the experiment's dataset.
    """
    out: list[xr.Dataset] = []
    own = {k: v for k, v in point.extra if not isinstance(v, tuple)}
    for jp, schemes in routes.items():
        for ds in by_key.get(jp.key, ()):
            if "scheme" in ds.dims:
                have = [s for s in ds["scheme"].values.tolist() if s in schemes]
                if not have:
                    continue
                if len(have) < ds.sizes["scheme"]:
                    ds = ds.sel(scheme=have)
            if jp != point:
                gone = [k for k, _ in jp.extra if k in ds.coords and k not in own]
                ds = ds.drop_vars(gone).assign_coords(
                    {
                        **{k: np.asarray(ds[k].dtype.type(getattr(point, k)))
                           for k in POINT_KEYS if k in ds.coords},
                        **{k: np.asarray(axis_type(k)(v)) for k, v in own.items()},
                    }
                )  # fmt: skip
            out.append(ds)
    return out


def with_energy_efficiency(ds: xr.Dataset, point: Point, config: Mapping[str, Any]) -> xr.Dataset:
    """``ds`` with ``power_consumed`` (W) and ``energy_efficiency`` (bit/s/Hz per W) of every
    scheme, under the power model of the scheme ``energy`` at ``point``
    (:func:`jcas.allocation.energy.power_model`: its options from ``config``'s
    ``allocation``, the ones the point gives over them). A dataset without ``sum_rate`` and
    ``power_total`` (Monte-Carlo) is returned as is.

    ``EE = sum_rate / (power_total / mu + P_circuit)``: the objective the scheme ``energy``
    maximises, evaluated for each scheme's allocation.
    """
    if "sum_rate" not in ds or "power_total" not in ds:
        return ds
    from jcas.allocation.energy import power_model
    from jcas.parts.registry import scheme_entry

    allocation = dict(config.get("allocation", {}))
    params = scheme_entry(ENERGY_SCHEME).params
    if isinstance(allocation.get(ENERGY_SCHEME), Mapping):  # options by scheme (keywords)
        options = dict(allocation[ENERGY_SCHEME])
    else:  # the config's allocation block (config keys)
        options = {p.keyword: p.coerce(allocation.get(p.key, p.default)) for p in params}
    extra = dict(point.extra)
    options.update({p.keyword: p.coerce(extra[p.key]) for p in params if p.key in extra})
    names = inspect.signature(power_model).parameters  # the scheme's options of the model
    model = power_model(
        point_system(config["system"], point), **{k: v for k, v in options.items() if k in names}
    )
    consumed = ds["power_total"] / model.amplifier_efficiency + model.circuit_w
    ds = ds.copy(deep=False)
    ee = ds["sum_rate"] / consumed
    consumed.attrs, ee.attrs = {}, {}  # units and names: jcas.io.metadata (on writing)
    ds["power_consumed"] = consumed
    ds["energy_efficiency"] = ee
    return ds


def _as_point_piece(ds: xr.Dataset, plan: ExperimentPlan, values: Mapping[str, Any]) -> xr.Dataset:
    """Promote the experiment's swept keys to length-1 dimensions; tied keys follow them.

    The ``precoder`` scalar coordinate becomes a length-1 dimension too when the plan
    has several precoders (it stays a scalar coordinate otherwise).
    """
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
    # integers stay integers, names names; SNRs, CRB0 and the parts' keys are floats
    coords: dict[str, Any] = {k: np.asarray([axis_type(k)(values[k])]) for k in swept}
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


def combine(
    plan: ExperimentPlan,
    pieces: Sequence[tuple[Mapping[str, Any], Sequence[xr.Dataset]]],
    *,
    fill_mc: bool = False,
) -> xr.Dataset:
    """Combine the per-job datasets of an experiment with a ``scheme`` dimension (the
    aggregation of the kinds ``mle`` and ``mle_planar``; the sweep's is :func:`combine_sweep`).

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
    arguments; duplicated or missing entries raise). With ``fill_mc``, datasets without
    Monte-Carlo get NaN ``sum_rate_mc``, ``sum_rate_mc_se`` and ``crb_mc`` and lose
    ``mc_status``.
    """
    merged_pieces: list[tuple[Mapping[str, Any], xr.Dataset]] = []
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
            if fill_mc:
                for name in MC_VARIABLES:
                    if name not in merged:
                        merged[name] = xr.full_like(merged["sum_rate"], np.nan)
                merged = merged.drop_vars("mc_status", errors="ignore")
            merged_pieces.append((values, merged))
    out = [_as_point_piece(m, plan, v) for v, m in _fill_route(merged_pieces)]
    combined = combine_datasets(out)
    schemes = [s for s in plan.schemes if s in set(combined["scheme"].values.tolist())]
    combined = combined.sel(scheme=schemes)  # the config's scheme order
    return _experiment_dataset(combined, plan, "scheme")


def _fill_route(
    pieces: Sequence[tuple[Mapping[str, Any], xr.Dataset]],
) -> list[tuple[Mapping[str, Any], xr.Dataset]]:
    """The pieces with NaN :data:`ROUTE_VARIABLE_NAMES` where an experiment mixes points of
    the coefficient route (which write them) with closed-form points (which do not); an
    experiment of one route is returned as it is."""
    dims = {name: m[name].dims for _, m in pieces for name in ROUTE_VARIABLE_NAMES if name in m}
    if not dims:
        return list(pieces)
    out = []
    for values, merged in pieces:
        missing = {
            name: xr.DataArray(np.full([merged.sizes[d] for d in d_], np.nan), dims=d_)
            for name, d_ in dims.items()
            if name not in merged
        }
        out.append((values, merged.assign(missing) if missing else merged))
    return out


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


def plan(config: Mapping[str, Any], name: str) -> ExperimentPlan:
    """The grid of experiment ``name`` of a resolved config (``jcas.config.plan_experiments``)."""
    return plan_experiments(config)[name]


def combine_sweep(
    plan: ExperimentPlan,
    pieces: Sequence[tuple[Mapping[str, Any], Sequence[xr.Dataset]]],
) -> xr.Dataset:
    """The aggregation of kind ``sweep``: :func:`combine` with NaN Monte-Carlo variables where
    the experiment has no Monte-Carlo stage (the same variables in every sweep)."""
    return combine(plan, pieces, fill_mc=True)


def combine_variants(
    plan: ExperimentPlan,
    pieces: Sequence[tuple[Mapping[str, Any], Sequence[xr.Dataset]]],
) -> xr.Dataset:
    """The aggregation of kind ``sca_audit``: its per-job datasets (a ``variant`` dimension)
    into ``results/<name>.nc``.

    Parameters
    ----------
    plan : the experiment's grid (``kind: sca_audit``).
    pieces : for each grid point of the plan (its swept values), its per-job datasets,
        one per precoder (:func:`jcas.pipeline.stages.audit.compute_sca_audit`).

    The swept keys (and ``precoder``, with several precoders) become dimensions, as in
    :func:`combine`; dims in the order ``<swept>``, ``precoder``, ``variant``, ``drop``,
    ``user``. The attributes ``variants`` (JSON: each variant's legend label and options),
    ``failed_entries`` and ``total_entries`` (over the variants' ``status``) are set.
    """
    flat = [(values, ds) for values, datasets in pieces for ds in datasets]
    variants = flat[0][1].attrs.get("variants", "{}") if flat else "{}"
    combined = combine_datasets([_as_point_piece(ds, plan, values) for values, ds in flat])
    return _experiment_dataset(combined, plan, "variant", {"variants": variants})
