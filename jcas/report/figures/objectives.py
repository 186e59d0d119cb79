"""Design objectives beyond the sum rate, each beside the sum-rate design on the same drops.

- ``fairness``: the distribution (ECDF, seaborn ``ecdfplot``) of the per-user rates of the
  sum-rate (``optimal``), max-min and weighted designs, a panel per precoder.
- ``sensing_frontier``: the rate-CRB frontiers of the sum-rate and max-min designs (over
  CRB0) and of the sensing-centric design (over its per-user rate target), in the sum rate
  and in the weakest user's rate, on the drops where every point is feasible.
- ``energy_efficiency``: the energy efficiency of the EE-optimal design (``energy``) and of
  the sum-rate design against N, a colour per circuit power per antenna (the EE-optimal N
  marked), and against that circuit power at one N.

The numbers behind the captions (paired differences and standard errors across drops, the
EE-optimal N with its bootstrap spread) are :func:`fairness_numbers`,
:func:`frontier_numbers` and :func:`energy_numbers` (``docs/reproduction.md``). Scheme labels
are their parts' :attr:`~jcas.parts.registry.Part.label`.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import seaborn as sns  # type: ignore[import-untyped]
import xarray as xr

from jcas.io.provenance import dataset_config
from jcas.io.stats import success_mask
from jcas.report.figures import DOUBLE_COLUMN, Drawing, figure
from jcas.report.figures.common import (
    LABEL_SUM_RATE,
    Table,
    precoder_name,
    reduce_to,
    scheme_name,
    setup_sentence,
    status_sentence,
)
from jcas.report.figures.common import (
    precoders as precoder_axis,
)
from jcas.report.figures.common import (
    schemes as scheme_axis,
)
from jcas.report.figures.style import (
    Look,
    facets,
    handle,
    log_axis,
    place_legend,
    plot_series,
)
from jcas.report.figures.sweeps import LINESTYLES, scheme_look

__all__ = ["energy_numbers", "fairness_numbers", "frontier_numbers"]

LABEL_USER_RATE: Final = "rate of a user (bit/s/Hz)"
LABEL_MIN_RATE: Final = "weakest user's rate (bit/s/Hz)"
LABEL_MEAN_CRB: Final = "mean CRB of $\\theta$ (rad$^2$)"
LABEL_EE: Final = "energy efficiency (bit/s/Hz/W)"
LABEL_N: Final = "antennas $N = N_t + N_r$"
LABEL_PBS: Final = "circuit power per antenna $P_\\mathrm{BS}$ (W)"
SUM_RATE_SCHEME: Final = "optimal"
BOOTSTRAP: Final = 1000
"""Resamples of the drops for the spread of the EE-optimal N."""
BOOTSTRAP_SEED: Final = 20


def _mean_se(x: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error (``std(ddof=1)/sqrt(n)``) over ``axis``, NaN skipped."""
    n = np.sum(np.isfinite(x), axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(x, axis=axis)
        se = np.nanstd(x, axis=axis, ddof=1) / np.sqrt(n)
    return mean, se


def _pm(mean: float, se: float, digits: int = 3) -> str:
    return f"{mean:.{digits}g} ± {se:.2g}"


def options_sentence(ds: xr.Dataset) -> str:
    """The options of the design objectives as run (from the dataset's config): the weights
    of ``weighted``, the power model of ``energy``."""
    cfg = dataset_config(ds)
    allocation = cfg.get("allocation", {}) if isinstance(cfg, dict) else {}
    have = scheme_axis(ds)
    out = []
    weights = (allocation.get("weighted") or {}).get("weights", "absent")
    experiments = cfg.get("experiments", {}) if isinstance(cfg, dict) else {}
    for exp in experiments.values() if isinstance(experiments, dict) else ():
        fixed = exp.get("fixed", {}) if isinstance(exp, dict) else {}
        if "weighted_weights" in fixed:  # given at the experiment's points
            w = fixed["weighted_weights"]
            weights = w if isinstance(w, list) else [w]
    if "weighted" in have and weights != "absent":
        text = "every weight 1" if weights is None else ", ".join(f"{w:g}" for w in weights)
        out.append(f"{scheme_name('weighted')}: user weights {text}")
    energy = allocation.get("energy") or {}
    if "energy" in have and energy:
        chains = "Nt + Nr" if energy.get("receive_chains", True) else "Nt"
        out.append(
            f"{scheme_name('energy')}: amplifier efficiency {energy.get('amplifier_efficiency')}"
            f", P_FIX = {energy.get('fixed_power_w')} W, P_LO = "
            f"{energy.get('oscillator_power_w')} W, P_UE = {energy.get('user_power_w')} W per "
            f"user, P_BS per chain over {chains} chains"
        )
    return ("Options: " + "; ".join(out) + ".") if out else ""


# --------------------------------------------------------------------------- fairness
def fairness_numbers(ds: xr.Dataset) -> pd.DataFrame:
    """Per precoder and scheme (``fairness`` dataset): the mean sum rate, the mean weakest
    user's rate, the share of users with rate 0 (switched off), each with its standard error
    across drops, and the sum rate given up against ``optimal`` on the same drops (paired:
    the mean and standard error of the per-drop difference), over the drops where every
    scheme has an allocation."""
    ds = reduce_to(ds, ("precoder", "scheme", "drop", "user"))
    ok = success_mask(ds).all("scheme")
    rows = []
    for p in precoder_axis(ds):
        sub = ds.sel(precoder=p) if "precoder" in ds.dims else ds
        good = np.asarray((ok.sel(precoder=p) if "precoder" in ok.dims else ok).values)
        ref = np.asarray(sub["sum_rate"].sel(scheme=SUM_RATE_SCHEME).values)[good]
        for s in scheme_axis(ds):
            rate = np.asarray(sub["rate"].sel(scheme=s).values)[good]
            total = rate.sum(axis=-1)
            weakest = rate.min(axis=-1)
            off = (rate <= 1e-9).mean(axis=-1)
            row: dict[str, Any] = {"precoder": p, "scheme": s, "drops": int(good.sum())}
            for name, v in (("sum_rate", total), ("min_rate", weakest), ("off_share", off),
                            ("sum_rate_loss", ref - total)):  # fmt: skip
                row[name], row[f"{name}_se"] = (float(a) for a in _mean_se(v))
            row["sum_rate_loss_rel"] = row["sum_rate_loss"] / float(np.mean(ref))
            rows.append(row)
    return pd.DataFrame(rows)


@figure("fairness", title="Per-user rates: sum rate vs fairness", width=DOUBLE_COLUMN,
        height=2.7)  # fmt: skip
def fairness(ds: xr.Dataset) -> Drawing:
    """ECDF over drops and users of the per-user rate (15), a panel per precoder, a colour per
    scheme (gid ``ecdf:<precoder>:<scheme>``); entries without an allocation left out."""
    ds = reduce_to(ds, ("precoder", "scheme", "drop", "user"))
    pres = precoder_axis(ds)
    have = scheme_axis(ds)
    ok = success_mask(ds)
    panels = [precoder_name(p) for p in pres]
    fig, axes = facets(pd.DataFrame({"panel": panels}), width=DOUBLE_COLUMN, height=2.7,
                       sharey=True)  # fmt: skip
    table = Table()
    for p, panel in zip(pres, panels, strict=True):
        ax = axes[("", panel)]
        for i, s in enumerate(have):
            sel: dict[str, Any] = {"scheme": s}
            if "precoder" in ds.dims:
                sel["precoder"] = p
            good = np.asarray(ok.sel(sel).values)
            v = np.asarray(ds["rate"].sel(sel).values)[good].ravel()
            v = np.sort(v[np.isfinite(v)])
            look = scheme_look(s, have)
            sns.ecdfplot(x=v, ax=ax, color=look.color, linestyle=LINESTYLES[i % 4],
                         linewidth=1.3, gid=f"ecdf:{p}:{s}")  # fmt: skip
            table.add(panel, scheme_name(s), v, np.arange(1, v.size + 1) / max(v.size, 1),
                      x_quantity=LABEL_USER_RATE, y_quantity="fraction of users")  # fmt: skip
        ax.set_xlabel(LABEL_USER_RATE)
        ax.set_xlim(left=0.0)
    axes[("", panels[0])].set_ylabel("fraction of users (all drops)")
    entries = [
        (scheme_name(s), handle(Look(color=scheme_look(s, have).color,
                                     linestyle=LINESTYLES[i % 4], linewidth=1.3)))
        for i, s in enumerate(have)
    ]  # fmt: skip
    place_legend(fig, entries)
    nums = fairness_numbers(ds)
    parts = []
    for p in pres:
        for r in nums[nums["precoder"] == p].itertuples():
            text = (f"{precoder_name(p)}, {scheme_name(r.scheme)}: sum rate "
                    f"{_pm(r.sum_rate, r.sum_rate_se)}, weakest user "
                    f"{_pm(r.min_rate, r.min_rate_se)}, users off "
                    f"{100 * r.off_share:.0f}%")  # fmt: skip
            if r.scheme != SUM_RATE_SCHEME:
                text += (f", sum rate given up {_pm(r.sum_rate_loss, r.sum_rate_loss_se)} "
                         f"({100 * r.sum_rate_loss_rel:.0f}%)")  # fmt: skip
            parts.append(text)
    caption = (
        "Empirical CDF over the user drops and users of each user's rate (15) under the "
        "sum-rate design (optimal), max-min fairness and the weighted sum rate, on the same "
        "drops and grid point; a panel per precoder.",
        "Means ± standard error across drops (the sum rate given up: paired with optimal on "
        "the same drops; bit/s/Hz): " + "; ".join(parts) + ".",
        setup_sentence(ds, skip=("snr_com_db",) if "snr_com_db" in ds.dims else ()),
        options_sentence(ds),
        status_sentence(ds, what="(precoder, scheme, drop)"),
    )
    return Drawing(fig, table.frame(), caption)


# --------------------------------------------------------------------------- frontier
def _frontier_parts(ds: xr.Dataset) -> tuple[xr.Dataset, np.ndarray, str]:
    """The dataset reduced to (crb0, sensing_rate_target, scheme, drop, user), the drops on
    which every scheme has an allocation at every point drawn, and the target axis name."""
    target = "sensing_rate_target"
    ds = reduce_to(ds, ("crb0", target, "scheme", "drop", "user"))
    ok = success_mask(ds)
    good = np.asarray(ok.all([d for d in ok.dims if d != "drop"]).values)
    return ds, good, target


def _curve(ds: xr.Dataset, scheme: str, axis: str, other: str, good: np.ndarray,
           name: str) -> np.ndarray:  # fmt: skip
    """``ds[name]`` of ``scheme`` along ``axis`` (the first value of ``other``: the scheme
    does not read it), (values, drops) on the ``good`` drops."""
    da = ds[name].sel(scheme=scheme)
    if other in da.dims:
        da = da.isel({other: 0})
    if "user" in da.dims:
        da = da.min("user")
    return np.asarray(da.transpose(axis, "drop").values)[:, good]


def frontier_numbers(ds: xr.Dataset) -> pd.DataFrame:
    """Per scheme and swept value (``sensing_frontier`` dataset): the mean sum rate, mean
    weakest user's rate and mean CRB with standard errors, over the drops feasible at every
    point (``drops``); ``x`` is CRB0 for the schemes that read it, the rate target for
    ``sensing_centric``."""
    ds, good, target = _frontier_parts(ds)
    rows = []
    for s in scheme_axis(ds):
        axis, other = (target, "crb0") if s == "sensing_centric" else ("crb0", target)
        xs = np.asarray(ds[axis].values, dtype=float)
        curves = {n: _curve(ds, s, axis, other, good, v) for n, v in
                  (("sum_rate", "sum_rate"), ("min_rate", "rate"), ("crb", "crb"))}  # fmt: skip
        for j, x in enumerate(xs):
            row: dict[str, Any] = {"scheme": s, "axis": axis, "x": float(x),
                                   "drops": int(good.sum())}  # fmt: skip
            for n, c in curves.items():
                row[n], row[f"{n}_se"] = (float(a) for a in _mean_se(c[j]))
            rows.append(row)
    return pd.DataFrame(rows)


@figure("sensing_frontier", title="Rate-CRB frontiers of the design objectives",
        width=DOUBLE_COLUMN, height=2.9)  # fmt: skip
def sensing_frontier(ds: xr.Dataset) -> Drawing:
    """Mean sum rate (left) and mean weakest user's rate (right) against the mean CRB (16):
    the sum-rate and max-min designs over CRB0, the sensing-centric design over its rate
    target (gid ``frontier:<panel>:<scheme>``), on the drops feasible at every point."""
    nums = frontier_numbers(ds)
    have = scheme_axis(ds)
    panels = ["sum rate", "weakest user"]
    fig, axes = facets(pd.DataFrame({"panel": panels}), width=DOUBLE_COLUMN, height=2.9)
    table = Table()
    for k, (panel, col, label) in enumerate(
        zip(panels, ("sum_rate", "min_rate"), (LABEL_SUM_RATE, LABEL_MIN_RATE), strict=True)
    ):
        ax = axes[("", panel)]
        for s in have:
            rows = nums[nums["scheme"] == s].sort_values("crb")
            look = scheme_look(s, have).but(linestyle="--" if s == "sensing_centric" else "-")
            t = table.add(panel, scheme_name(s), rows["crb"], rows[col],
                          y_err=rows[f"{col}_se"], x_quantity=LABEL_MEAN_CRB,
                          y_quantity=label)  # fmt: skip
            plot_series(ax, t, look, gid=f"frontier:{k}:{s}")
        log_axis(ax, "x")
        ax.set_xlabel(LABEL_MEAN_CRB)
        ax.set_ylabel(label)
    entries = [
        (f"{scheme_name(s)} (over {'its rate target' if s == 'sensing_centric' else 'CRB0'})",
         handle(scheme_look(s, have).but(linestyle="--" if s == "sensing_centric" else "-")))
        for s in have
    ]  # fmt: skip
    place_legend(fig, entries)
    n = int(nums["drops"].iloc[0]) if len(nums) else 0
    c0 = ds["crb0"].values
    tg = ds["sensing_rate_target"].values
    caption = (
        "Rate-CRB frontiers: the mean sum rate (left) and the mean rate of the weakest user "
        "(right) against the mean CRB (16), of the sum-rate design (optimal) and max-min "
        f"fairness over CRB0 ({c0.min():g} to {c0.max():g} rad², {c0.size} values) and of "
        "the sensing-centric design (least CRB with every user at the rate target) over its "
        f"common per-user target ({tg.min():g} to {tg.max():g} bit/s/Hz, {tg.size} values).",
        f"Means over the {n:,} drops on which every design has an allocation at every point "
        "(a target above a drop's max-min rate is infeasible on it; the standard errors "
        "across drops are in the CSV). Per drop, max-min fairness (the largest common rate for "
        "a CRB bound) and the sensing-centric design (the least CRB for a common rate) are "
        "two views of one trade-off; their means over drops are not one curve.",
        setup_sentence(ds, skip=("crb0",)),
        _infeasible_sentence(ds),
    )
    return Drawing(fig, table.frame(), caption)


def _infeasible_sentence(ds: xr.Dataset) -> str:
    """Entries without an allocation per scheme (each counted once per value it reads)."""
    ds, _, target = _frontier_parts(ds)
    parts = []
    for s in scheme_axis(ds):
        other = "crb0" if s == "sensing_centric" else target
        st = ds["status"].sel(scheme=s)
        if other in st.dims:
            st = st.isel({other: 0})
        bad = ~np.asarray(success_mask(st.to_dataset()).values)
        reason = "target out of reach" if s == "sensing_centric" else "CRB0 out of reach"
        parts.append(f"{scheme_name(s)} {int(bad.sum()):,} of {bad.size:,} ({reason})")
    return "Entries (value, drop) without an allocation: " + "; ".join(parts) + "."


# --------------------------------------------------------------------------- energy
def _ee_parts(ds: xr.Dataset) -> tuple[xr.Dataset, str]:
    power = "energy_antenna_power_w"
    keep = ("N", power, "scheme", "drop", "user")
    return reduce_to(ds, keep), power


def energy_numbers(ds: xr.Dataset) -> pd.DataFrame:
    """Per scheme and circuit power per antenna (``energy_efficiency`` dataset): the N of the
    largest mean energy efficiency, that efficiency ± its standard error, the same for the
    sum-rate design at that N, and the spread of the EE-optimal N over bootstrap resamples
    of the drops (:data:`BOOTSTRAP`; ``n_low``, ``n_high``: its 2.5% and 97.5% quantiles),
    over the drops where every entry has an allocation."""
    ds, power = _ee_parts(ds)
    ok = np.asarray(success_mask(ds).all([d for d in ("N", power, "scheme") if d in ds.dims])
                    .values)  # fmt: skip
    ns = np.asarray(ds["N"].values)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    n_drops = int(ok.sum())
    boot = rng.integers(0, n_drops, size=(BOOTSTRAP, n_drops))
    rows = []
    for pw in np.atleast_1d(ds[power].values):
        for s in scheme_axis(ds):
            ee = np.asarray(ds["energy_efficiency"].sel({power: pw, "scheme": s})
                            .transpose("N", "drop").values)[:, ok]  # fmt: skip
            mean, se = _mean_se(ee)
            best = int(np.nanargmax(mean))
            picks = ns[np.nanargmax(ee[:, boot].mean(axis=-1), axis=0)]
            ref = np.asarray(ds["energy_efficiency"].sel({power: pw, "scheme": SUM_RATE_SCHEME})
                             .transpose("N", "drop").values)[:, ok]  # fmt: skip
            gain = ee[best] - ref[best]
            rows.append({
                "scheme": s, "power_w": float(pw), "n_best": int(ns[best]),
                "n_low": int(np.quantile(picks, 0.025, method="lower")),
                "n_high": int(np.quantile(picks, 0.975, method="higher")),
                "ee": float(mean[best]), "ee_se": float(se[best]),
                "gain_vs_sum_rate": float(np.mean(gain)),
                "gain_vs_sum_rate_se": float(_mean_se(gain)[1]), "drops": n_drops,
            })  # fmt: skip
    return pd.DataFrame(rows)


@figure("energy_efficiency", title="Energy efficiency vs antennas and circuit power",
        width=DOUBLE_COLUMN, height=2.9)  # fmt: skip
def energy_efficiency(ds: xr.Dataset) -> Drawing:
    """Mean energy efficiency vs N, a colour per circuit power per antenna, the EE-optimal
    design solid and the sum-rate design dashed (gid ``ee_n:<scheme>:<P_BS>``), a star at the
    EE-optimal N (``best:<P_BS>``); and vs the circuit power at the N nearest 70
    (``ee_p:<scheme>``). Error bars: one standard error across drops."""
    ds, power = _ee_parts(ds)
    have = scheme_axis(ds)
    ns = np.asarray(ds["N"].values, dtype=float)
    pws = np.atleast_1d(np.asarray(ds[power].values, dtype=float))
    n_ref = float(ns[np.argmin(np.abs(ns - 70))])
    panels = ["vs antennas", f"vs circuit power, N = {n_ref:g}"]
    fig, axes = facets(pd.DataFrame({"panel": panels}), width=DOUBLE_COLUMN, height=2.9)
    left, right = axes[("", panels[0])], axes[("", panels[1])]
    table = Table()
    ok = success_mask(ds)
    ee = ds["energy_efficiency"].where(ok)
    mean = ee.mean("drop")
    se = ee.std("drop", ddof=1) / np.sqrt(ee.notnull().sum("drop"))
    nums = energy_numbers(ds)
    dashed = {s: ("-" if s == "energy" else "--") for s in have}
    shades = sns.color_palette("viridis", n_colors=len(pws) + 1)[: len(pws)]
    for j, pw in enumerate(pws):
        c = tuple(float(v) for v in shades[j][:3])
        for s in have:
            y = np.asarray(mean.sel({power: pw, "scheme": s}).values)
            e = np.asarray(se.sel({power: pw, "scheme": s}).values)
            t = table.add(panels[0], f"{scheme_name(s)}, P_BS = {pw:g} W", ns, y, y_err=e,
                          x_quantity=LABEL_N, y_quantity=LABEL_EE)  # fmt: skip
            plot_series(left, t, Look(color=c, linestyle=dashed[s]), gid=f"ee_n:{s}:{pw:g}")
        best = nums[(nums["scheme"] == "energy") & (nums["power_w"] == pw)]
        if len(best):
            b = best.iloc[0]
            table.add(panels[0], f"EE-optimal N, P_BS = {pw:g} W", [b.n_best], [b.ee],
                      x_quantity=LABEL_N, y_quantity=LABEL_EE)  # fmt: skip
            left.plot([b.n_best], [b.ee], marker="*", markersize=10, color=c,
                      markeredgecolor="black", markeredgewidth=0.6, linestyle="none",
                      zorder=4, gid=f"best:{pw:g}")  # fmt: skip
    for s in have:
        y = np.asarray(mean.sel({"N": n_ref, "scheme": s}).values).ravel()
        e = np.asarray(se.sel({"N": n_ref, "scheme": s}).values).ravel()
        t = table.add(panels[1], scheme_name(s), pws, y, y_err=e, x_quantity=LABEL_PBS,
                      y_quantity=LABEL_EE)  # fmt: skip
        look = Look(color="0.2", linestyle=dashed[s], marker="o" if s == "energy" else "s",
                    open=True)  # fmt: skip
        plot_series(right, t, look, gid=f"ee_p:{s}")
    left.set_xlabel(LABEL_N)
    left.set_ylabel(LABEL_EE)
    right.set_xlabel(LABEL_PBS)
    right.set_ylabel(LABEL_EE)
    entries: list[tuple[str, Any]] = [
        (f"$P_\\mathrm{{BS}}$ = {pw:g} W", handle(Look(color=tuple(float(v) for v in
                                                            shades[j][:3]))))
        for j, pw in enumerate(pws)
    ]  # fmt: skip
    entries += [(scheme_name(s), handle(Look(color="0.2", linestyle=dashed[s],
                                             marker="o" if s == "energy" else "s", open=True)))
                for s in have]  # fmt: skip
    entries.append(("EE-optimal N", handle(Look(color="0.5", marker="*", markersize=8,
                                                linestyle="none"))))  # fmt: skip
    place_legend(fig, entries, ncols=4)
    parts = [
        f"P_BS = {r.power_w:g} W: N = {r.n_best} (bootstrap 95% range {r.n_low}-{r.n_high}), "
        f"{_pm(r.ee, r.ee_se)} bit/s/Hz/W, {_pm(r.gain_vs_sum_rate, r.gain_vs_sum_rate_se)} "
        "above the sum-rate design at that N"
        for r in nums[nums["scheme"] == "energy"].itertuples()
    ]
    caption = (
        "Energy efficiency, the sum rate per W consumed (transmit power over the amplifier "
        "efficiency plus circuit power; power model of scheme energy), of the EE-optimal "
        "design (energy, solid) and of the sum-rate design (optimal, dashed) against N "
        "(Nt = Nr = N/2), a colour per circuit power per antenna chain P_BS, and against P_BS "
        f"at N = {n_ref:g}; means over drops, error bars one standard error.",
        "EE-optimal N (largest mean efficiency, star): " + "; ".join(parts) + ".",
        setup_sentence(ds, skip=("Nt", "Nr")),
        options_sentence(ds),
        status_sentence(ds),
    )
    return Drawing(fig, table.frame(), caption)
