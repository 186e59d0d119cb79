"""A planar-array config through the Snakemake pipeline: both angles' CRBs in the results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT, run_config

from jcas.model.fisher import crb_upa_mrt
from jcas.model.params import SystemParams
from jcas.parts.arrays.upa import UPA


@pytest.mark.pipeline
@pytest.mark.slow
def test_planar_config_stores_both_crbs(tmp_path: Path) -> None:
    config = {
        "drops": 3,
        "drops_per_job": 3,
        "schemes": ["sca", "optimal", "equal", "equal_full"],
        "allocation": {"sca_group": 3},
        "system": {
            "tx_array": {"kind": "upa", "rows": 4, "cols": 4},
            "rx_array": {"kind": "upa", "rows": 3, "cols": 4},
            "azimuth_deg": 20.0,
            "elevation_deg": -10.0,
            "crb_form": "per_angle",
            "crb0_azimuth": 4.0e-4,
            "crb0_elevation": 6.0e-4,
        },
        "claims": False,
        "experiments": {
            "planar": {"sweep": {"snr_com_db": [0, 20]}, "tie": "none", "plot": "none"},
        },
    }
    # the specs give Nt, Nr and theta_deg: drop those keys from the copy's base config,
    # and its experiments (even disabled ones are validated at every grid point, and
    # their Nt values are not multiples of 4 rows)
    base = yaml.safe_load((ROOT / "config.yaml").read_text())
    for key in ("Nt", "Nr", "theta_deg"):
        base["system"].pop(key, None)
    base["experiments"] = {}
    ds = run_config(tmp_path, "planar", config, "planar", base=base)
    assert int(ds["tx_rows"]) == 4
    assert int(ds["rx_rows"]) == 3
    assert ds["crb_azimuth"].attrs["units"] == "rad2"
    p = SystemParams(Nt=16, Nr=12, theta_deg=20.0, elevation_deg=-10.0)
    for scheme in ("sca", "optimal", "equal", "equal_full"):
        sel = ds.sel(scheme=scheme)
        for i in range(ds.sizes["snr_com_db"]):
            pt = sel.isel(snr_com_db=i)
            xi = pt["xi"].values
            c = np.sum(xi * pt["gamma"].values, axis=-1)
            s = np.sum(pt["eta"].values, axis=-1)
            ref = crb_upa_mrt(
                c, s, UPA(4, 4), UPA(3, 4), p.theta_rad, p.elevation_rad, p.sigma_r_bar2
            )
            np.testing.assert_allclose(pt["crb_azimuth"].values, ref[:, 0], rtol=1e-12)
            np.testing.assert_allclose(pt["crb_elevation"].values, ref[:, 1], rtol=1e-12)
            np.testing.assert_allclose(pt["crb"].values, ref[:, 0], rtol=1e-10)
            if scheme in ("sca", "optimal", "equal"):
                assert set(pt["status"].values) <= {"optimal", "converged", "feasible"}
                assert np.all(pt["crb_azimuth"].values <= 4.0e-4 * (1 + 1e-9))
                assert np.all(pt["crb_elevation"].values <= 6.0e-4 * (1 + 1e-9))
