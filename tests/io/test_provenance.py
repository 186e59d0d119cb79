"""Tests of jcas.io.provenance: code revision, source hash, package versions, config JSON."""

from __future__ import annotations

import hashlib
import json
import platform
import re
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import jcas
from jcas.io.provenance import (
    code_revision,
    dataset_config,
    global_attributes,
    package_versions,
    source_hash,
    to_json,
)

PACKAGE = Path(jcas.__file__).resolve().parent


def test_source_hash_covers_every_module_of_the_package():
    h = hashlib.sha256()
    files = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
    assert PACKAGE / "io" / "provenance.py" in files
    for path in files:
        h.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    assert source_hash() == h.hexdigest()


def test_code_revision_has_git_and_content_hash():
    assert re.fullmatch(
        r"git:([0-9a-f]{40}(\+dirty)?|unknown) sha256:[0-9a-f]{64}", code_revision()
    )
    assert code_revision().endswith(source_hash())


def test_package_versions_are_those_installed():
    versions = package_versions()
    expected = {"numpy", "scipy", "cvxpy", "clarabel", "xarray", "netCDF4", "snakemake"}
    assert set(versions) == expected | {"jcas", "python"}
    for name in expected:
        assert versions[name] == version(name), name
    assert versions["python"] == platform.python_version()


def test_to_json_is_deterministic_and_plain():
    obj = {"b": np.float64(0.5), "a": np.arange(3), "s": {3, 1}, "p": Path("x/y")}
    assert to_json(obj) == '{"a": [0, 1, 2], "b": 0.5, "p": "x/y", "s": [1, 3]}'
    with pytest.raises(TypeError, match="object"):
        to_json({"x": object()})


def test_global_attributes_append_history_and_store_the_config():
    first = global_attributes({}, default_title="job", config={"seed": 1}, title=None)
    assert first["Conventions"] == "CF-1.10"
    assert first["title"] == "job"
    assert json.loads(first["config"]) == {"seed": 1}
    assert json.loads(first["package_versions"]) == package_versions()
    second = global_attributes(first, default_title="other", config=None, title="renamed")
    assert second["title"] == "renamed"
    assert second["config"] == first["config"]
    assert second["history"].splitlines()[0] == first["history"]
    assert len(second["history"].splitlines()) == 2
    assert global_attributes({}, default_title="t", config=None, title=None)["config"] == "{}"


def test_dataset_config_reads_the_attribute():
    assert dataset_config(xr.Dataset()) == {}
    assert dataset_config(xr.Dataset(attrs={"config": '{"seed": 7}'})) == {"seed": 7}
    assert dataset_config(xr.Dataset(attrs={"config": "[1, 2]"})) == {}
    with pytest.raises(ValueError, match="not valid JSON"):
        dataset_config(xr.Dataset(attrs={"config": "{seed"}))
