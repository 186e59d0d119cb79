"""Tests of jcas.report.claims on synthetic datasets whose answers are known by construction.

Every per-scheme value is a scheme constant times a per-drop factor shared by all
schemes (common random numbers), so ratios of drop means equal the ratios of the
constants exactly; failed entries carry absurd non-NaN values that must be masked.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from jcas.io.metadata import annotate
from jcas.report import claims

SCHEMES = ["sca", "optimal", "equal", "equal_full"]
DROPS = 6
FACTOR = np.array([0.5, 0.8, 1.0, 1.3, 1.7, 2.0])  # per-drop factor shared by the schemes


def grid_dataset(
    sweep: dict[str, list],
    rate: dict[str, object],
    crb: dict[str, object],
    *,
    crb0: float = 1e-3,
    mc_offset: float = 0.0,
    mc_se: float = 0.01,
    fail: tuple[dict, str] | None = None,
) -> xr.Dataset:
    """rate[s] / crb[s] are scalars or callables of the sweep coordinates (broadcast)."""
    coords = {k: np.asarray(v) for k, v in sweep.items()}
    shape = [len(v) for v in sweep.values()] + [len(SCHEMES), DROPS]
    dims = [*sweep, "scheme", "drop"]
    grids = np.meshgrid(*coords.values(), indexing="ij") if coords else []

    def build(spec: dict[str, object]) -> np.ndarray:
        out = np.empty(shape)
        for j, s in enumerate(SCHEMES):
            v = spec[s]
            base = v(*grids) if callable(v) else np.full(shape[:-2], v, dtype=float)
            out[..., j, :] = np.asarray(base)[..., None] * FACTOR
        return out

    sum_rate = build(rate)
    crb_v = build(crb)
    status = np.full(shape, "optimal", dtype="U16")
    status[..., SCHEMES.index("sca"), :] = "converged"
    status[..., SCHEMES.index("equal"), :] = "feasible"
    status[..., SCHEMES.index("equal_full"), :] = "feasible"
    ds = xr.Dataset(
        {
            "sum_rate": (dims, sum_rate),
            "sum_rate_mc": (dims, sum_rate + mc_offset),
            "sum_rate_mc_se": (dims, np.full(shape, mc_se)),
            "crb": (dims, crb_v),
            "status": (dims, status),
        },
        coords={**{k: (k, v) for k, v in coords.items()}, "scheme": SCHEMES, "drop": range(DROPS)},
        attrs={"config": json.dumps({"system": {"crb0": crb0}})},
    )
    if fail is not None:
        where, scheme = fail
        idx = {**where, "scheme": scheme, "drop": 2}
        ds["status"].loc[idx] = "solver_error"
        ds["sum_rate"].loc[idx] = 1e9
        ds["crb"].loc[idx] = 1e9
    return annotate(ds)


RATE = {"sca": 12.4, "optimal": 12.4, "equal": 10.0, "equal_full": 3.0}
CRB = {"sca": 1e-6, "optimal": 1e-6, "equal": 1e-6, "equal_full": 2e-7}


def fig_grid(**kw) -> xr.Dataset:
    rate = {
        **RATE,
        # gain 15% at Nt = 15, 24% at Nt = 35 (sca, optimal)
        "sca": lambda nt, snr: np.where(nt == 35, 12.4, 11.5) * (1 + 0 * snr),
        "optimal": lambda nt, snr: np.where(nt == 35, 12.4, 11.5) * (1 + 0 * snr),
    }
    return grid_dataset({"Nt": [15, 35], "snr_com_db": [0.0, 10.0, 20.0]}, rate, CRB, **kw)


def row(df: pd.DataFrame, claim: str) -> pd.Series:
    sel = df[df["claim"] == claim]
    assert len(sel) == 1, claim
    return sel.iloc[0]


def test_table_columns_and_all_claims_present():
    df = claims.paper_claims(fig_grid(), fig_grid(), None, None)
    assert tuple(df.columns) == claims.COLUMNS
    for c in (
        "gain_over_equal_default_crb0",
        "gain_over_equal_crb0_1e-4",
        "equal_full_far_worse",
        "crb_meets_crb0",
        "crb0_binds_at_default",
        "sum_rate_increases_with_N",
        "crb_decreases_with_N",
        "closed_form_matches_monte_carlo",
    ):
        row(df, c)
    assert row(df, "sum_rate_increases_with_N")["matches"] == "not evaluated"  # no fig3
    assert row(df, "gain_over_equal_crb0_1e-4")["matches"] == "not evaluated"  # no pareto
    assert set(df["matches"]) <= {"yes", "no", "not evaluated", "info"}
    assert row(df, "failed_entries_fig1")["ours"] == 0


def test_failed_entries_are_counted():
    ds = fig_grid(fail=({"Nt": 35, "snr_com_db": 20.0}, "sca"))
    r = row(claims.paper_claims(ds), "failed_entries_fig1")
    assert r["ours"] == 1
    assert "solver_error 1" in r["note"]
    assert r["matches"] == "info"


def test_gain_at_default_crb0_is_24_percent_with_failed_entry_masked():
    # a failed sca entry at Nt = 35, 20 dB, drop 2 with an absurd value: the paired mean drops
    # drop 2 for both schemes, and the per-drop factors cancel, so the gain stays 24% exactly
    ds = fig_grid(fail=({"Nt": 35, "snr_com_db": 20.0}, "sca"))
    df = claims.paper_claims(ds, ds)
    r = row(df, "gain_over_equal_default_crb0")
    assert r["ours"] == pytest.approx(24.0, abs=1e-9)
    assert r["matches"] == "yes"
    assert "20 dB" in r["note"]
    m = row(df, "gain_over_equal_default_crb0_max")
    assert m["ours"] == pytest.approx(24.0, abs=1e-9)
    assert m["matches"] == "yes"
    assert row(df, "proposed_highest_sum_rate")["matches"] == "yes"
    g = row(df, "gain_grows_with_antennas")
    assert g["ours"] == pytest.approx(24.0 - 15.0, abs=1e-9)
    assert g["matches"] == "yes"


def test_gain_mismatch_is_reported():
    rate = {**RATE, "sca": 15.0, "optimal": 15.0}  # +50%
    ds = grid_dataset({"Nt": [35], "snr_com_db": [20.0]}, rate, CRB)
    r = row(claims.paper_claims(ds, ds), "gain_over_equal_default_crb0")
    assert r["ours"] == pytest.approx(50.0)
    assert r["matches"] == "no"


def test_equal_full_far_worse_and_lower_crb():
    df = claims.paper_claims(fig_grid(), fig_grid())
    r = row(df, "equal_full_far_worse")
    assert r["ours"] == pytest.approx(3.0 / 10.0)  # lowest other scheme is 'equal'
    assert r["matches"] == "yes"
    c = row(df, "equal_full_lower_crb")
    assert c["ours"] == pytest.approx(0.2)
    assert c["matches"] == "yes"
    close = grid_dataset(
        {"Nt": [35], "snr_com_db": [20.0]}, {**RATE, "equal_full": 9.0}, CRB
    )  # 0.9 of 'equal': not far worse
    assert row(claims.paper_claims(close), "equal_full_far_worse")["matches"] == "no"


def test_crb_constraint_and_binding():
    ds = fig_grid()
    df = claims.paper_claims(ds, ds)
    r = row(df, "crb_meets_crb0")
    assert r["ours"] == 0
    assert r["matches"] == "yes"
    b = row(df, "crb0_binds_at_default")
    assert b["ours"] == pytest.approx(1e-6 * FACTOR.max() / 1e-3)  # largest CRB / CRB0
    assert b["matches"] == "no"
    assert "never binds in fig2" in b["note"]
    # fig3 with a point where the optimum sits on CRB0 (CRB = CRB0 on every drop)
    n = [10, 20]
    crb3 = {s: (lambda nn: np.where(nn == 10, 1e-3 / FACTOR.max(), 1e-6)) for s in SCHEMES}
    fig3 = grid_dataset({"N": n}, {s: 1.0 for s in SCHEMES}, crb3)
    b = row(claims.paper_claims(ds, ds, fig3), "crb0_binds_at_default")
    assert b["matches"] == "no"  # judged on fig2 (the paper's Nt, Nr)
    assert "binds (CRB/CRB0 > 0.99) in fig3 at N=[10]" in b["note"]
    # a tight CRB0 that equal_full (2e-7 * factor) meets but the others do not on some drops
    tight = fig_grid(crb0=1.5e-6)
    r = row(claims.paper_claims(tight, tight), "crb_meets_crb0")
    # sca/optimal/equal at factors 1.7 and 2.0 exceed 1.5e-6: 3 schemes x 2 drops x 6 points
    assert r["ours"] == 3 * 2 * 6
    assert r["matches"] == "no"


def test_monotonicity_in_n():
    n = [20, 40, 60, 80]
    rate = {s: (lambda nn, v=v: v * nn / 20.0) for s, v in RATE.items()}
    crb = {s: (lambda nn, v=v: v * 20.0 / nn) for s, v in CRB.items()}
    ds = grid_dataset({"N": n}, rate, crb)
    df = claims.paper_claims(fig3=ds)
    assert row(df, "sum_rate_increases_with_N")["ours"] == 0
    assert row(df, "sum_rate_increases_with_N")["matches"] == "yes"
    assert row(df, "crb_decreases_with_N")["matches"] == "yes"
    # one scheme's rate dips at N = 60: exactly one bad step
    rate["equal"] = lambda nn: 10.0 * np.where(nn == 60, 1.0, nn / 20.0)
    df = claims.paper_claims(fig3=grid_dataset({"N": n}, rate, crb))
    r = row(df, "sum_rate_increases_with_N")
    assert r["ours"] == 1
    assert r["matches"] == "no"


def test_pareto_gain_at_crb0_1e4():
    sweep = {"Nt": [15, 35], "crb0": [1e-5, 1e-4, 1e-3]}
    rate = {
        **RATE,
        "sca": lambda nt, c: np.where(np.isclose(c, 1e-4), 12.0, 20.0) + 0 * nt,  # +20% there
        "optimal": lambda nt, c: np.where(np.isclose(c, 1e-4), 12.0, 20.0) + 0 * nt,
    }
    crb = {**CRB, "sca": lambda nt, c: 0.5 * c + 0 * nt, "optimal": lambda nt, c: 0.5 * c + 0 * nt}
    ds = grid_dataset(sweep, rate, crb)
    r = row(claims.paper_claims(pareto=ds), "gain_over_equal_crb0_1e-4")
    assert r["ours"] == pytest.approx(20.0)
    # noise-free by construction (SE 0): 4 points from the paper's 24% is beyond the noise
    assert r["se"] == pytest.approx(0.0, abs=1e-9)
    assert r["drops"] == DROPS
    assert r["matches"] == "no"
    assert "within 25% of 24%" in r["note"]
    assert "does not bind" in r["note"]  # mean CRB = 0.5 * 1e-4 * mean(FACTOR) < CRB0
    # without CRB0 = 1e-4 in the sweep the claim is not evaluated
    r = row(claims.paper_claims(pareto=ds.isel({"crb0": [0, 2]})), "gain_over_equal_crb0_1e-4")
    assert r["matches"] == "not evaluated"


def test_closed_form_vs_monte_carlo():
    ds = fig_grid(mc_offset=0.0)
    r = row(claims.paper_claims(ds), "closed_form_matches_monte_carlo")
    assert r["ours"] == pytest.approx(0.0)
    assert r["matches"] == "yes"
    # an offset of 0.05 with per-drop SE 0.01 over 6 drops: z = 0.05 / (0.01 / sqrt(6))
    off = fig_grid(mc_offset=0.05)
    r = row(claims.paper_claims(off), "closed_form_matches_monte_carlo")
    assert r["ours"] == pytest.approx(0.05 / (0.01 / np.sqrt(6)))
    assert r["matches"] == "no"


def test_write_csv_and_markdown(tmp_path):
    df = claims.paper_claims(fig_grid(), fig_grid())
    path = claims.write_claims_csv(df, tmp_path / "out" / "claims.csv")
    back = pd.read_csv(path)
    assert list(back.columns) == list(claims.COLUMNS)
    assert back["matches"].tolist() == df["matches"].tolist()  # no value read back as NaN
    # the gains carry their drop count (an integer) and SE; counts rows leave both empty
    gain = back[back["claim"] == "gain_over_equal_default_crb0"].iloc[0]
    assert gain["drops"] == DROPS
    assert gain["se"] == pytest.approx(0.0, abs=1e-9)
    counted = back[back["claim"] == "crb_meets_crb0"].iloc[0]
    assert np.isnan(counted["se"])
    assert np.isnan(counted["drops"])
    assert "drops" in path.read_text().splitlines()[0]
    assert "not evaluated" in set(back["matches"])
    assert len(back) == len(df)
    assert [p.name for p in path.parent.iterdir()] == ["claims.csv"]
    md = claims.claims_markdown(df)
    assert md.count("\n") == len(df) + 2


def test_no_valid_entry_gives_not_evaluated_and_violations_by_scheme():
    ds = fig_grid()
    ds["status"].loc[{"scheme": "equal"}] = "infeasible"  # every 'equal' entry failed
    df = claims.paper_claims(ds, ds)
    r = row(df, "gain_over_equal_default_crb0")
    assert np.isnan(r["ours"])
    assert r["matches"] == "not evaluated"
    assert row(df, "equal_full_far_worse")["matches"] == "not evaluated"
    tight = fig_grid(crb0=1.5e-6)
    note = row(claims.paper_claims(tight, tight), "crb_meets_crb0")["note"]
    assert "fig2/sca 12, fig2/optimal 12, fig2/equal 12" in note
    assert "equal_full" not in note.split("violations by")[1]


def test_locations_are_found_with_a_drop_dimension():
    # DataArray.where(..., drop=True) fails on a dimension named 'drop'; the helper must not
    mask = xr.DataArray(
        np.array([[False, True, False], [False, False, True]]),
        dims=("N", "drop"),
        coords={"N": [10, 20], "drop": [5, 6, 7]},
    )
    assert claims._points_where(mask) == "N=[10, 20], drop=[6, 7]"


def test_notes_name_the_proposed_variant_from_the_config():
    ds = fig_grid()
    config = json.loads(ds.attrs["config"])
    ds.attrs["config"] = json.dumps({**config, "allocation": {"sca": {"polish": True}}})
    df = claims.paper_claims(ds, ds)
    for claim in ("gain_over_equal_default_crb0", "proposed_highest_sum_rate"):
        assert "sca = proposed: SCA (Alg. 1 + polish)" in row(df, claim)["note"], claim


# --------------------------------------------------------------------------- uncertainty
def noisy_dataset(n_drops: int, gain: float, noise: float, seed: int = 3) -> xr.Dataset:
    """fig1-like data with Nt in {15, 35} at 20 dB: 'equal' y_d ~ lognormal, the proposed
    schemes x_d = y_d (1 + gain) (1 + noise e_d) with e_d ~ N(0, 1) (not proportional: the
    gain's SE is not 0); Nt = 15 has half the gain."""
    rng = np.random.default_rng(seed)
    y = np.exp(rng.normal(2.0, 0.3, size=(2, 1, n_drops)))
    e = rng.normal(size=(2, 1, n_drops))
    g = np.array([gain / 2, gain])[:, None, None]
    x = y * (1 + g) * (1 + noise * e)
    rate = np.stack([x, x, y, 0.3 * y], axis=2)  # sca, optimal, equal, equal_full
    status = np.full(rate.shape, "optimal", dtype="U16")
    status[:, :, 2:] = "feasible"
    ds = xr.Dataset(
        {
            "sum_rate": (("Nt", "snr_com_db", "scheme", "drop"), rate),
            "crb": (("Nt", "snr_com_db", "scheme", "drop"), np.full(rate.shape, 1e-6)),
            "status": (("Nt", "snr_com_db", "scheme", "drop"), status),
        },
        coords={"Nt": [15, 35], "snr_com_db": [20.0], "scheme": SCHEMES, "drop": range(n_drops)},
        attrs={"config": json.dumps({"system": {"crb0": 1e-3}})},
    )
    return annotate(ds)


def _jackknife_gain(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Gain 100 (mean x / mean y - 1) and its jackknife SE (an independent method)."""
    n = len(x)
    full = 100 * (x.mean() / y.mean() - 1)
    loo = np.array([100 * (np.delete(x, i).mean() / np.delete(y, i).mean() - 1) for i in range(n)])
    return full, float(np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2)))


def test_gain_standard_error_is_paired_and_agrees_with_the_jackknife():
    """The delta-method SE of the gain (paired: both schemes on the same drops) against a
    jackknife over drops computed here; the drop count excludes a failed entry."""
    ds = noisy_dataset(400, gain=0.24, noise=0.05)
    ds["status"].loc[{"Nt": 35, "scheme": "sca", "drop": 7}] = "solver_error"
    ds["sum_rate"].loc[{"Nt": 35, "scheme": "sca", "drop": 7}] = 1e9
    r = row(claims.paper_claims(ds, ds), "gain_over_equal_default_crb0")
    keep = np.arange(400) != 7
    x = ds["sum_rate"].sel(Nt=35, snr_com_db=20.0, scheme="sca").values[keep]
    y = ds["sum_rate"].sel(Nt=35, snr_com_db=20.0, scheme="equal").values[keep]
    gain, se = _jackknife_gain(x, y)
    assert r["drops"] == 399
    assert r["ours"] == pytest.approx(gain, rel=1e-12)
    assert r["se"] == pytest.approx(se, rel=0.02)
    # unpaired, the SE would be that of two independent means: several times larger
    unpaired = (
        100
        * x.mean()
        / y.mean()
        * np.hypot(x.std(ddof=1) / x.mean(), y.std(ddof=1) / y.mean())
        / np.sqrt(len(x))
    )
    assert r["se"] < unpaired / 3
    # the step of the gain between Nt = 15 and 35: the SE of a difference on the same drops
    a = row(claims.paper_claims(ds, ds), "gain_grows_with_antennas")
    x15 = ds["sum_rate"].sel(Nt=15, snr_com_db=20.0, scheme="sca").values[keep]
    y15 = ds["sum_rate"].sel(Nt=15, snr_com_db=20.0, scheme="equal").values[keep]
    loo = [
        100 * (np.delete(x, i).mean() / np.delete(y, i).mean())
        - 100 * (np.delete(x15, i).mean() / np.delete(y15, i).mean())
        for i in range(len(x))
    ]
    n = len(loo)
    jack = np.sqrt((n - 1) / n * np.sum((np.asarray(loo) - np.mean(loo)) ** 2))
    assert a["se"] == pytest.approx(jack, rel=0.02)
    assert a["drops"] == 399


@pytest.mark.parametrize(
    ("n_drops", "noise", "expected"),
    [(12, 0.5, "yes"), (4000, 0.02, "no")],
    ids=["few noisy drops: 30% is within noise", "many drops: 30% is beyond noise"],
)
def test_match_is_whether_the_difference_is_beyond_two_standard_errors(
    n_drops: int, noise: float, expected: str
):
    """The same true gain (30%, 6 points above the paper's 24%) matches or not depending on
    how precisely our drops measure it."""
    ds = noisy_dataset(n_drops, gain=0.30, noise=noise, seed=5)
    df = claims.paper_claims(ds, ds)
    r = row(df, "gain_over_equal_default_crb0")
    assert r["matches"] == expected
    assert (abs(r["ours"] - 24.0) <= claims.MATCH_SE * r["se"]) == (expected == "yes")
    assert f"{abs(r['ours'] - 24.0) / r['se']:.1f} SE" in r["note"]
    for claim in ("gain_over_equal_default_crb0_max", "proposed_highest_sum_rate"):
        assert np.isfinite(row(df, claim)["se"])
        assert row(df, claim)["drops"] == n_drops


def test_a_single_drop_has_no_standard_error_and_is_not_judged():
    ds = noisy_dataset(1, gain=0.24, noise=0.1)
    r = row(claims.paper_claims(ds, ds), "gain_over_equal_default_crb0")
    assert r["drops"] == 1
    assert np.isnan(r["se"])
    assert r["matches"] == "not evaluated"
