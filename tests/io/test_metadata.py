"""Tests of jcas.io.metadata: the variable registry, annotate, and the scheme labels."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import cf_units
import pytest
import yaml
from conftest import ROOT, allocation_piece

from jcas.io.metadata import COORDINATES, DB, DBM, VARIABLES, annotate, scheme_label

DATA_MD = Path(__file__).resolve().parents[2] / "docs" / "data.md"


def test_annotate_puts_units_and_long_name_on_every_variable():
    ds = annotate(allocation_piece(4, 0.0, "equal", [0, 1]))
    for name, var in ds.variables.items():
        assert "units" in var.attrs, name
        assert "long_name" in var.attrs, name
    assert ds["sum_rate"].attrs["units"] == "bit/s/Hz"
    assert ds["crb"].attrs["units"] == "rad2"
    assert ds["solve_time"].attrs["units"] == "s"
    assert ds["snr_com_db"].attrs["units"] == DB


def test_annotate_raises_for_unknown_variable_without_units():
    ds = allocation_piece(4, 0.0, "equal", [0, 1]).assign(mystery=("drop", [1.0, 2.0]))
    with pytest.raises(ValueError, match="mystery"):
        annotate(ds)
    ok = ds.assign(mystery=("drop", [1.0, 2.0], {"units": "m"}))
    assert annotate(ok)["mystery"].attrs == {"units": "m", "long_name": "mystery"}


def test_annotate_rejects_conflicting_units():
    ds = allocation_piece(4, 0.0, "equal", [0, 1])
    ds["crb"].attrs["units"] = "deg2"
    with pytest.raises(ValueError, match="crb"):
        annotate(ds)


def test_every_variable_of_the_data_contract_is_registered():
    names = set(re.findall(r"^\| `(\w+)` \|", DATA_MD.read_text(), flags=re.M))
    assert {"beta", "sum_rate", "status", "mle_mse", "mle_bias", "snr_com_db"} <= names
    assert names <= {*VARIABLES, *COORDINATES}, names - {*VARIABLES, *COORDINATES}


@pytest.mark.parametrize("name", sorted({*VARIABLES, *COORDINATES}))
def test_every_unit_is_a_udunits_unit(name):
    """CF tools parse the units with UDUNITS-2 (cf-units wraps it)."""
    meta = VARIABLES.get(name) or COORDINATES[name]
    cf_units.Unit(meta.units)


def test_decibel_units_convert_to_linear_values():
    assert cf_units.Unit(DB).convert(20.0, cf_units.Unit("1")) == pytest.approx(100.0)
    assert cf_units.Unit(DB).convert(-10.0, cf_units.Unit("1")) == pytest.approx(0.1)
    assert cf_units.Unit(DBM).convert(30.0, cf_units.Unit("W")) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("scheme", "options", "label"),
    [
        (
            "sca",
            {"active_set": True, "accelerate": True, "polish": True, "stopping": "aitken"},
            "proposed: SCA (Alg. 1 + Aitken stop, active set, extrapolation, polish)",
        ),
        (
            "sca",
            {"active_set": False, "accelerate": True, "polish": False, "stopping": "change"},
            "proposed: SCA (Alg. 1 + extrapolation; no active set, no polish)",
        ),
        ("sca", {"tol": 1e-4}, "proposed: SCA (Alg. 1)"),  # nothing recorded: nothing claimed
        ("sca", None, "proposed: SCA (Alg. 1)"),
        ("equal_full", {"sensing_fraction": 0.25}, "equal & full power (25% sensing)"),
        ("equal_full", {}, "equal & full power"),
        ("optimal", {}, "optimal (exact)"),
        ("my_scheme", {"x": 1}, "my_scheme"),
    ],
)
def test_scheme_label_names_the_variant(scheme, options, label):
    assert scheme_label(scheme, options) == label


def test_the_pipeline_records_which_sca_variant_runs():
    """The options a pipeline job passes to ``sca`` (and records in its dataset's config)
    include the robustness fixes, so the legend names what ran: all three by default,
    and each one a config switches off."""
    from jcas.allocation.sca import sca
    from jcas.config import DEFAULTS, load_config, scheme_options

    defaults = scheme_options("sca", DEFAULTS["allocation"])
    assert scheme_label("sca", defaults) == (
        "proposed: SCA (Alg. 1 + Aitken stop, active set, extrapolation, polish)"
    )
    # the recorded defaults are the ones sca() itself would use
    signature = inspect.signature(sca).parameters
    keys = ("active_set", "accelerate", "polish", "stopping", "tol", "max_iterations", "batch_size")
    for key in keys:
        assert defaults[key] == signature[key].default, key
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["allocation"].update(
        sca_active_set=False, sca_accelerate=False, sca_polish=False, sca_stopping="change"
    )
    printed = scheme_options("sca", load_config(cfg)["allocation"])
    assert scheme_label("sca", printed) == (
        "proposed: SCA (Alg. 1; no active set, no extrapolation, no polish)"
    )


def test_the_printed_algorithm_from_the_config_is_the_audit_variant():
    """Switching every robustness fix off in the config, with ``sca_stopping: change``,
    gives exactly the options of the ``sca_audit`` variant "as printed"."""
    from jcas.allocation.schemes.sca import sca_variant
    from jcas.config import DEFAULTS, scheme_options

    printed = dict(DEFAULTS["allocation"])
    printed.update(
        sca_active_set=False, sca_accelerate=False, sca_polish=False, sca_stopping="change"
    )
    options = scheme_options("sca", printed)
    assert {k: options[k] for k in sca_variant("printed").options} == sca_variant("printed").options
    default = scheme_options("sca", DEFAULTS["allocation"])
    assert {k: default[k] for k in sca_variant("default").options} == sca_variant("default").options
