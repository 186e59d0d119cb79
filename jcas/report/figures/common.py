"""What the figures share besides their look: labels from the parts, tidy tables, captions.

- Labels: :func:`scheme_name`, :func:`precoder_name`, :func:`array_name` read
  :attr:`jcas.parts.registry.Part.label` (an unregistered name is shown as it is); the order
  of a dataset's schemes and precoders is the registry's (:func:`schemes`, :func:`precoders`),
  and a level's colour and marker follow its place in that order.
- :class:`Table`: the tidy rows of a figure (:data:`COLUMNS`), filled as series are drawn.
- Captions: the setup (:func:`setup_sentence`), the variants (:func:`variants_sentence`),
  the entry counts (:func:`status_sentence`) and which curves coincide
  (:func:`coincide_sentence`, from the table itself).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import xarray as xr

from jcas.io.metadata import scheme_label
from jcas.io.provenance import dataset_config
from jcas.io.stats import SUCCESS_STATUSES
from jcas.parts.registry import ARRAYS, PRECODERS, SCHEMES_REGISTRY, Registry

__all__ = [
    "COLUMNS",
    "Table",
    "array_name",
    "coincide_sentence",
    "failure_note",
    "join_caption",
    "precoder_name",
    "precoders",
    "reduce_to",
    "scheme_name",
    "schemes",
    "setup_sentence",
    "status_sentence",
    "variants_sentence",
]

COLUMNS: Final = (
    "panel", "series", "x", "y", "y_err", "z", "x_quantity", "y_quantity", "z_quantity",
)  # fmt: skip
"""Columns of a figure's CSV: one row per plotted point; ``y_err`` is the half-length of the
error bar drawn (empty where none is drawn); ``z`` is the value of a map's cell (x, y) (empty
for curves); the quantities name x, y and z with their units."""

LABEL_SUM_RATE: Final = "sum rate (bit/s/Hz)"
LABEL_CRB: Final = "CRB of $\\theta$ (rad$^2$)"
LABEL_SNR_COM: Final = "SNR$_\\mathrm{com}$ (dB)"
LABEL_SNR_SEN: Final = "SNR$_\\mathrm{sen}$ (dB)"

_XR = TypeVar("_XR", xr.Dataset, xr.DataArray)


# --------------------------------------------------------------------------- labels
def _label(registry: Registry, name: str) -> str:
    return registry[name].label if name in registry else name


def scheme_name(name: str) -> str:
    """Legend label of a scheme (its :attr:`Part.label`)."""
    return _label(SCHEMES_REGISTRY, name)


def precoder_name(name: str) -> str:
    """Legend label of a precoder (its :attr:`Part.label`)."""
    return _label(PRECODERS, name)


def array_name(name: str) -> str:
    """Legend label of an array (its :attr:`Part.label`)."""
    return _label(ARRAYS, name)


def _ordered(registry: Registry, have: Sequence[str]) -> list[str]:
    order = list(registry)
    known = [n for n in order if n in have]
    return known + [n for n in have if n not in order]


def schemes(ds: xr.Dataset) -> list[str]:
    """The dataset's schemes in the registry's order (unregistered ones last)."""
    if "scheme" not in ds.coords:
        return []
    return _ordered(SCHEMES_REGISTRY, [str(s) for s in np.atleast_1d(ds["scheme"].values)])


def precoders(ds: xr.Dataset) -> list[str]:
    """The dataset's precoders in the registry's order (default: the registry's default)."""
    if "precoder" in ds.coords:
        return _ordered(PRECODERS, [str(p) for p in np.atleast_1d(ds["precoder"].values)])
    return [PRECODERS.default]


def level_index(registry: Registry, name: str, have: Sequence[str]) -> int:
    """The place of ``name`` in the registry's order (colour and marker index); unregistered
    names follow the registered ones."""
    order = list(registry)
    if name in order:
        return order.index(name)
    return len(order) + [n for n in have if n not in order].index(name)


def reduce_to(ds: xr.Dataset, keep: Sequence[str]) -> xr.Dataset:
    """Select the single value of every length-1 dimension not in ``keep``.

    Raises ``ValueError`` for a longer dimension the figure cannot show.
    """
    extra = [str(d) for d in ds.dims if d not in keep]
    for d in extra:
        if ds.sizes[d] != 1:
            raise ValueError(
                f"dimension {d!r} has {ds.sizes[d]} values; this figure shows only {list(keep)}"
                " (select one value first)"
            )
    return ds.isel({d: 0 for d in extra}) if extra else ds


def sel(obj: _XR, **idx: Any) -> _XR:
    """``obj.sel`` of the given dims that ``obj`` has (others ignored)."""
    return obj.sel({k: v for k, v in idx.items() if v is not None and k in obj.dims})


def values(arr: xr.DataArray, **idx: Any) -> np.ndarray:
    return np.asarray(sel(arr, **idx).values, dtype=float)


# --------------------------------------------------------------------------- table
class Table:
    """The tidy rows of one figure (:data:`COLUMNS`)."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def add(
        self,
        panel: str,
        series: str,
        x: Any,
        y: Any,
        *,
        y_err: Any = None,
        z: Any = None,
        x_quantity: str = "",
        y_quantity: str = "",
        z_quantity: str = "",
    ) -> pd.DataFrame:
        """Add one series; returns its rows (to draw)."""
        xs = np.asarray(x, dtype=float).ravel()
        ys = np.asarray(y, dtype=float).ravel()
        if xs.shape != ys.shape:
            raise ValueError(f"series {series!r}: x {xs.shape} and y {ys.shape} differ")
        err = (
            np.full(xs.shape, np.nan)
            if y_err is None
            else np.broadcast_to(np.asarray(y_err, dtype=float), xs.shape)
        )
        rows = pd.DataFrame(
            {
                "panel": plain(panel),
                "series": plain(series),
                "x": xs,
                "y": ys,
                "y_err": err,
                "z": np.full(xs.shape, np.nan) if z is None else np.asarray(z, float).ravel(),
                "x_quantity": plain(x_quantity),
                "y_quantity": plain(y_quantity),
                "z_quantity": plain(z_quantity),
            }
        )
        self._parts.append(rows)
        return rows

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame(columns=list(COLUMNS))
        return pd.concat(self._parts, ignore_index=True)[list(COLUMNS)]


def plain(text: str) -> str:
    """A matplotlib label as plain text (no TeX markup)."""
    out = text
    for a, b in (
        ("$\\sqrt{\\mathrm{CRB}}$", "sqrt(CRB)"),
        ("$\\theta$", "theta"),
        ("$^2$", "^2"),
        ("$_\\mathrm{com}$", "_com"),
        ("$_\\mathrm{sen}$", "_sen"),
        ("$_0$", "0"),
        ("$N_t$", "Nt"),
        ("$N_r$", "Nr"),
        ("$N$", "N"),
        ("$N_t = N_r$", "Nt = Nr"),
        ("$N = N_t + N_r$", "N = Nt + Nr"),
    ):
        out = out.replace(a, b)
    return out.replace("$", "").replace("\\mathrm", "").replace("{", "").replace("}", "")


# --------------------------------------------------------------------------- captions
def _config(ds: xr.Dataset) -> dict[str, Any]:
    cfg = dataset_config(ds)
    return cfg if isinstance(cfg, dict) else {}


def _fmt(v: float) -> str:
    return f"{v:g}"


def _scalar(ds: xr.Dataset, key: str, system: Mapping[str, Any]) -> float | None:
    """A fixed value of ``key``: a scalar coordinate of ``ds``, else the config's system."""
    if key in ds.coords and ds[key].ndim == 0:
        return float(ds[key].values)
    if key in ds.dims:
        return None
    value = system.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


_SETUP: Final = (
    ("K", "K = {} users"),
    ("Nt", "Nt = {}"),
    ("Nr", "Nr = {}"),
    ("pt_dbm", "Pt = {} dBm"),
    ("snr_com_db", "SNR_com = {} dB"),
    ("snr_sen_db", "SNR_sen = {} dB"),
    ("crb0", "CRB0 = {} rad²"),
    ("L", "L = {}"),
)


def setup_sentence(ds: xr.Dataset, *, skip: Iterable[str] = ()) -> str:
    """The fixed parameters of ``ds`` (K, Nt, Nr, Pt, SNRs, CRB0, L; swept ones and ``skip``
    left out) and the user drops: "Setup: K = 4 users, ..., 1000 user drops (0-999)."."""
    system = _config(ds).get("system", {})
    system = system if isinstance(system, dict) else {}
    skipped = set(skip)
    parts: list[str] = []
    for key, text in _SETUP:
        if key in skipped:
            continue
        if key in ("Nt", "Nr") and key not in ds.coords:
            continue
        if key == "Nr" and "Nt" in ds.coords and "Nr" in ds.coords:
            nt, nr = ds["Nt"].values, ds["Nr"].values
            if np.array_equal(np.asarray(nt), np.asarray(nr)):
                parts[-1:] = [p.replace("Nt = ", "Nt = Nr = ") for p in parts[-1:]]
                continue
        v = _scalar(ds, key, system)
        if v is not None:
            parts.append(text.format(_fmt(v)))
    if "drop" in ds.dims:
        d = np.asarray(ds["drop"].values)
        span = f" (drops {int(d.min())}-{int(d.max())})" if d.size > 1 else f" (drop {int(d[0])})"
        parts.append(f"{d.size} user drops per point{span}")
    return "Setup: " + ", ".join(parts) + "."


def variants_sentence(ds: xr.Dataset, names: Sequence[str] | None = None) -> str:
    """The algorithm variant of each scheme as run (options from the dataset's config,
    :func:`jcas.io.metadata.scheme_label`), where it says more than the legend label."""
    allocation = _config(ds).get("allocation", {})
    allocation = allocation if isinstance(allocation, dict) else {}
    out = []
    for s in names if names is not None else schemes(ds):
        opts = allocation.get(s)
        full = scheme_label(s, opts if isinstance(opts, dict) else None)
        if full != scheme_name(s):
            out.append(f"{scheme_name(s)}: {full}")
    return ("Schemes: " + "; ".join(out) + ".") if out else ""


def _status_counts(status: xr.DataArray) -> dict[str, int]:
    vals, counts = np.unique(np.asarray(status.values).astype(str), return_counts=True)
    return {str(v): int(c) for v, c in zip(vals, counts, strict=True)}


def status_sentence(ds: xr.Dataset, *, what: str = "(point, scheme, drop)") -> str:
    """How many entries have an allocation, which are infeasible (CRB0 below the smallest
    achievable CRB) and which failed, by status, and which benchmark entries miss CRB0."""
    if "status" not in ds:
        return ""
    counts = _status_counts(ds["status"])
    total = sum(counts.values())
    ok = sum(c for s, c in counts.items() if s in SUCCESS_STATUSES)
    infeasible = counts.get("infeasible", 0)
    failed = {s: c for s, c in counts.items() if s not in SUCCESS_STATUSES and s != "infeasible"}
    text = [f"{ok:,} of {total:,} {what} entries have an allocation"]
    if infeasible:
        text.append(f"{infeasible:,} are infeasible (no power split meets CRB0 with Pt; not drawn)")
    if failed:
        detail = ", ".join(f"{s} {c:,}" for s, c in sorted(failed.items()))
        text.append(f"{sum(failed.values()):,} failed ({detail}; left out of the means)")
    sentence = "; ".join(text) + "."
    violated = counts.get("crb_violated", 0)
    if violated and "scheme" in ds["status"].dims:
        by = []
        for s in schemes(ds):
            n = int((ds["status"].sel(scheme=s) == "crb_violated").sum())
            if n:
                by.append(f"{scheme_name(s)} on {n:,}")
        sentence += (
            " Entries that keep their fixed power split and miss CRB0 (crb_violated: "
            + ", ".join(by)
            + ") are drawn."
        )
    return sentence


def failure_note(ds: xr.Dataset) -> str:
    """A short line for the title when entries failed (not merely infeasible), else ``""``."""
    if "status" not in ds:
        return ""
    counts = _status_counts(ds["status"])
    failed = sum(c for s, c in counts.items() if s not in SUCCESS_STATUSES and s != "infeasible")
    total = sum(counts.values())
    return f"{failed} of {total} entries failed (gaps)" if failed else ""


def coincide_sentence(table: pd.DataFrame, *, rtol: float = 1e-3) -> str:
    """Groups of series of a panel that coincide at print size (relative difference at most
    ``rtol`` at every common x, at least two common x), with the largest relative difference
    within each group."""
    out = []
    for panel, rows in table.groupby("panel", sort=False):
        series = {
            str(s): r.dropna(subset=["x", "y"]).set_index("x")["y"]
            for s, r in rows.groupby("series", sort=False)
        }
        names = [s for s, v in series.items() if len(v) >= 2 and v.index.is_unique]
        group = {n: n for n in names}

        def root(n: str, group: dict[str, str] = group) -> str:
            while group[n] != n:
                n = group[n]
            return n

        worst: dict[tuple[str, str], float] = {}
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                common = series[a].index.intersection(series[b].index)
                if len(common) < 2:
                    continue
                ya, yb = series[a].loc[common].to_numpy(), series[b].loc[common].to_numpy()
                scale = np.maximum(np.abs(ya), np.abs(yb))
                rel = float((np.abs(ya - yb) / np.where(scale > 0, scale, 1.0)).max())
                if rel <= rtol:
                    group[root(b)] = root(a)
                    worst[(a, b)] = rel
        clusters: dict[str, list[str]] = {}
        for n in names:
            clusters.setdefault(root(n), []).append(n)
        for members in clusters.values():
            if len(members) < 2:
                continue
            rel = max(v for (a, b), v in worst.items() if a in members and b in members)
            listed = ", ".join(members[:-1]) + " and " + members[-1]
            where = f" in {plain(str(panel))}" if str(panel) else ""
            out.append(f"{plain(listed)}{where} (relative difference at most {rel:.0e})")
    if not out:
        return ""
    return "Curves that coincide, told apart by their markers: " + "; ".join(out) + "."


def join_caption(sentences: Iterable[str]) -> str:
    """The caption: the non-empty sentences joined by spaces (plain text, valid RST)."""
    return " ".join(s.strip() for s in sentences if s and s.strip())


def crb0_values(ds: xr.Dataset) -> list[float]:
    """The CRB0 of ``ds`` (coordinate or the config's ``system.crb0``)."""
    if "crb0" in ds.coords:
        return [float(v) for v in np.atleast_1d(ds["crb0"].values)]
    value = _config(ds).get("system", {}).get("crb0")
    return [float(value)] if isinstance(value, (int, float)) else []


def recorded_variants(ds: xr.Dataset) -> dict[str, str]:
    """``variant -> label`` recorded in the dataset's ``variants`` attribute (may be empty)."""
    try:
        recorded = json.loads(str(ds.attrs.get("variants", "{}")))
    except ValueError:
        return {}
    if not isinstance(recorded, dict):
        return {}
    return {
        str(k): str(v["label"]) for k, v in recorded.items() if isinstance(v, dict) and "label" in v
    }
