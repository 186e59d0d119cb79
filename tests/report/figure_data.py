"""Small synthetic experiment datasets for every registered figure (docs/data.md contract).

Values are random but shaped like the real ones (sum rates growing with SNR and N, CRBs
falling); failed entries carry a huge, non-NaN value so a figure that forgot to mask by status
is caught. ``DATASETS[name]()`` builds the dataset of figure ``name``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import xarray as xr

from jcas.io.metadata import annotate

SCHEMES = ["sca", "optimal", "equal", "equal_full"]
CONFIG = {
    "system": {"K": 4, "pt_dbm": 30.0, "snr_sen_db": 5.0, "crb0": 1e-3, "L": 30, "array": "ula"},
    "allocation": {
        "sca": {"active_set": True, "accelerate": True, "polish": True, "stopping": "aitken"},
        "equal_full": {"sensing_fraction": 0.5},
    },
    "mc": {"realizations": 10, "mle_trials": 20, "planar_mle_trials": 20},
}


def alloc_dataset(
    sweep: dict[str, list], n_drops: int = 5, n_users: int = 2, *, schemes=SCHEMES, seed=7
) -> xr.Dataset:
    """An aggregated allocation dataset with random metrics and two failed entries."""
    rng = np.random.default_rng(seed)
    dims = [*sweep, "scheme", "drop"]
    shape = [len(v) for v in sweep.values()] + [len(schemes), n_drops]
    sum_rate = rng.uniform(1.0, 10.0, shape)
    crb = 10.0 ** rng.uniform(-7, -5, shape)
    status = np.full(shape, "optimal", dtype="U16")
    status[(0,) * len(sweep) + (len(schemes) - 1, 1)] = "infeasible"
    status[(-1,) * len(sweep) + (0, n_drops - 1)] = "solver_error"
    failed = status != "optimal"
    sum_rate[failed] = 1e6  # not NaN on purpose: the plots must mask by status
    crb[failed] = 1e6
    coords: dict = {k: v for k, v in sweep.items()}
    if "Nt" in sweep:
        coords["Nr"] = ("Nt", list(sweep["Nt"]))
    if "N" in sweep:
        coords["Nt"] = ("N", [n // 2 for n in sweep["N"]])
        coords["Nr"] = ("N", [n // 2 for n in sweep["N"]])
    coords |= {"scheme": list(schemes), "drop": np.arange(n_drops), "user": np.arange(n_users)}
    power_total = np.full(shape, 1.0)
    ds = xr.Dataset(
        {
            "sum_rate": (dims, sum_rate),
            "sum_rate_mc": (dims, sum_rate * (1 + 0.01 * rng.standard_normal(shape))),
            "sum_rate_mc_se": (dims, 0.01 * sum_rate),
            "crb": (dims, crb),
            "power_total": (dims, power_total),
            "power_sensing": (dims, rng.uniform(0, 1, shape)),
            "status": (dims, status),
        },
        coords=coords,
        attrs={"config": json.dumps(CONFIG)},
    )
    return annotate(ds)


def with_precoders(ds: xr.Dataset, precoders=("mrt", "zf", "pzf")) -> xr.Dataset:
    """``ds`` repeated along a ``precoder`` dimension, scaled per precoder."""
    parts = []
    for i, _ in enumerate(precoders):
        p = ds.copy(deep=True)
        ok = p["status"] == "optimal"
        p["sum_rate"] = p["sum_rate"].where(~ok, p["sum_rate"] * (1 + 0.3 * i))
        parts.append(p)
    out = xr.concat(parts, dim="precoder")
    out = out.assign_coords(precoder=list(precoders))
    out["status"] = ds["status"].expand_dims(precoder=list(precoders)).copy()
    out.attrs = ds.attrs
    return out


def mle_dataset(extra: dict[str, list] | None = None) -> xr.Dataset:
    rng = np.random.default_rng(3)
    snr = np.array([-10.0, 0.0, 10.0, 20.0])
    extra = extra or {}
    shape = (len(snr), *[len(v) for v in extra.values()], 6)
    dims = ("snr_sen_db", *extra, "drop")
    base = 1e-3 * 10 ** (-snr / 10)
    crb = np.broadcast_to(base.reshape(-1, *[1] * (len(shape) - 1)), shape).copy()
    mse = crb * rng.uniform(1.0, 3.0, shape)
    mse[(1,) + (0,) * len(extra) + (2,)] = np.nan  # a failed trial set
    ds = xr.Dataset(
        {
            "mle_mse": (dims, mse),
            "mle_mse_se": (dims, 0.1 * mse),
            "crb": (dims, crb),
            "crb_mc": (dims, 1.1 * crb),
        },
        coords={"snr_sen_db": snr, **extra, "drop": np.arange(6), "Nt": 15, "Nr": 15},
        attrs={"config": json.dumps(CONFIG)},
    )
    return annotate(ds)


def sca_audit_dataset() -> xr.Dataset:
    from jcas.allocation.schemes.sca import SCA_VARIANTS

    rng = np.random.default_rng(5)
    variants = [v.name for v in SCA_VARIANTS]
    shape = (3, 3, len(variants), 4)
    dims = ("snr_com_db", "precoder", "variant", "drop")
    gap = 10.0 ** rng.uniform(-14, -3, shape)
    gap[:, :, 2] = gap[:, :, 0]  # a variant that changes nothing: coincides with another
    ds = xr.Dataset(
        {
            "gap": (dims, gap),
            "iterations": (dims, rng.integers(3, 40, shape)),
            "status": (dims, np.full(shape, "converged", dtype="U16")),
        },
        coords={"snr_com_db": [0.0, 10.0, 20.0], "precoder": ["mrt", "zf", "pzf"],
                "variant": variants, "drop": np.arange(4), "Nt": 35, "Nr": 35, "crb0": 1e-6},
        attrs={"config": json.dumps(CONFIG)},
    )  # fmt: skip
    return annotate(ds)


def planar_dataset() -> xr.Dataset:
    ds = alloc_dataset({"Nt": [16, 32, 48], "tx_rows": [1, 4]}, schemes=SCHEMES[1:])
    rng = np.random.default_rng(9)
    ds["crb_azimuth"] = ds["crb"] * rng.uniform(1, 2, ds["crb"].shape)
    el = ds["crb"] * 3.0
    ds["crb_elevation"] = el.where(ds["tx_rows"] > 1, np.inf)
    cfg = json.loads(ds.attrs["config"]) | {"system": {**CONFIG["system"], "array": "upa"}}
    ds.attrs["config"] = json.dumps(cfg)
    return annotate(ds)


def crb_map_dataset() -> xr.Dataset:
    ds = alloc_dataset(
        {"azimuth_deg": [-28.0, 0.0, 28.0], "elevation_deg": [-28.0, 0.0, 28.0]},
        schemes=["optimal", "equal_full"],
    )
    az = np.cos(np.deg2rad(ds["azimuth_deg"])) ** 2
    el = np.cos(np.deg2rad(ds["elevation_deg"])) ** 2
    ok = ds["status"] == "optimal"
    ds["crb_azimuth"] = (3e-6 / az * xr.ones_like(ds["crb"])).where(ok, 1e6)
    ds["crb_elevation"] = (3e-6 / el * xr.ones_like(ds["crb"])).where(ok, 1e6)
    return annotate(ds.transpose("azimuth_deg", "elevation_deg", "scheme", "drop", "user"))


def mle_planar_dataset() -> xr.Dataset:
    rng = np.random.default_rng(4)
    snr = np.array([-10.0, 0.0, 10.0, 20.0])
    crb = 1e-3 * 10 ** (-snr / 10)
    data = {}
    for angle, f in (("azimuth", 1.0), ("elevation", 1.2)):
        c = np.outer(f * crb, np.ones(3))[:, None, :]
        data[f"crb_{angle}"] = (("snr_sen_db", "scheme", "drop"), c)
        data[f"crb_mc_{angle}"] = (("snr_sen_db", "scheme", "drop"), 1.05 * c)
        data[f"mle_mse_{angle}"] = (
            ("snr_sen_db", "scheme", "drop"),
            c * rng.uniform(1, 2, c.shape),
        )
    data["status"] = (("snr_sen_db", "scheme", "drop"), np.full((4, 1, 3), "feasible"))
    ds = xr.Dataset(
        data,
        coords={"snr_sen_db": snr, "scheme": ["equal_full"], "drop": np.arange(3), "Nt": 16},
        attrs={"config": json.dumps(CONFIG)},
    )
    return annotate(ds)


def objectives_dataset(sweep: dict[str, list], schemes: list[str], *, seed=11) -> xr.Dataset:
    """An allocation dataset of the design objectives: per-user ``rate`` (4 users) and its
    sum, CRB, powers, energy efficiency; two failed entries (huge values, masked by status)."""
    ds = alloc_dataset(sweep, n_drops=6, n_users=4, schemes=schemes, seed=seed)
    rng = np.random.default_rng(seed)
    shape = (*ds["sum_rate"].shape, 4)
    rate = rng.exponential(0.8, shape) * (rng.uniform(size=shape) > 0.3)
    failed = (ds["status"] != "optimal").values
    rate[failed] = 1e6
    dims = (*ds["sum_rate"].dims, "user")
    ds["rate"] = (dims, rate)
    ds["sum_rate"] = (ds["sum_rate"].dims, rate.sum(-1))
    consumed = ds["power_total"] / 0.4 + 12.0
    ee = ds["sum_rate"] / consumed
    consumed.attrs, ee.attrs = {}, {}
    ds["power_consumed"] = consumed
    ds["energy_efficiency"] = ee
    return annotate(ds)


DATASETS: dict[str, Callable[[], xr.Dataset]] = {
    "fig1": lambda: alloc_dataset({"Nt": [15, 35], "snr_com_db": [-10.0, 0.0, 10.0, 20.0]}),
    "fig2": lambda: alloc_dataset({"Nt": [15, 35], "snr_com_db": [-10.0, 0.0, 10.0, 20.0]}),
    "fig3": lambda: alloc_dataset({"N": [20, 40, 60, 80]}).assign_coords(snr_com_db=20.0),
    "pareto": lambda: alloc_dataset({"Nt": [15, 35], "crb0": [1e-6, 1e-5, 1e-4, 1e-3]}),
    "precoders": lambda: with_precoders(
        alloc_dataset({"N": [30, 50, 70, 100], "snr_com_db": [-10.0, 10.0, 20.0]})
    ),
    "precoder_frontier": lambda: with_precoders(
        alloc_dataset({"crb0": [1e-7, 1e-6, 1e-5]}, schemes=["sca", "optimal"])
    ).assign_coords(Nt=35, Nr=35),
    "crb_mc": mle_dataset,
    "crb_mc_precoders": lambda: mle_dataset({"precoder": ["mrt", "zf", "pzf"]}),
    "sca_audit": sca_audit_dataset,
    "ula_vs_upa": planar_dataset,
    "crb_map": crb_map_dataset,
    "mle_planar": mle_planar_dataset,
    "channels_n": lambda: with_precoders(
        alloc_dataset(
            {"channel": ["iid", "local_scattering", "rician"], "N": [16, 32, 64]},
            schemes=["sca"],
        ),
        precoders=("mrt", "zf", "rzf", "mmse"),
    ).assign_coords(snr_com_db=20.0),
    "channels_spread": lambda: with_precoders(
        alloc_dataset({"angular_spread_deg": [0.0, 10.0, 20.0, 40.0]}, schemes=["sca"]),
        precoders=("mrt", "zf", "rzf", "mmse"),
    ).assign_coords(Nt=16, Nr=16, channel="local_scattering"),
    "fairness": lambda: with_precoders(
        objectives_dataset({"snr_com_db": [20.0]}, ["optimal", "maxmin", "weighted"]),
        ("mrt", "zf"),
    ).assign_coords(Nt=35, Nr=35),
    "sensing_frontier": lambda: objectives_dataset(
        {"crb0": [1e-6, 1e-5, 1e-3], "sensing_rate_target": [0.0, 0.01, 0.05]},
        ["optimal", "maxmin", "sensing_centric"],
    ).assign_coords(Nt=35, Nr=35),
    "energy_efficiency": lambda: objectives_dataset(
        {"N": [20, 40, 70, 100], "energy_antenna_power_w": [0.2, 0.4]}, ["optimal", "energy"]
    ).assign_coords(snr_com_db=20.0),
}
