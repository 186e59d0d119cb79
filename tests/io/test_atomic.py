"""Tests of jcas.io.atomic: the one atomic-write helper of NetCDF files, the claims CSV and
figures (a real full file system is in tests/io/test_full_disk.py)."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest

from jcas.io import atomic
from jcas.io.atomic import DiskFullError, atomic_write


def test_writes_the_file_creating_parents_and_leaves_no_temporary(tmp_path):
    seen: list[Path] = []

    def write(tmp: Path) -> None:
        seen.append(tmp)
        tmp.write_text("payload")

    target = tmp_path / "a" / "b" / "out.txt"
    assert atomic_write(target, write) == target
    assert target.read_text() == "payload"
    assert seen[0].parent == target.parent  # same directory: the rename is atomic
    assert seen[0].name.startswith(".out.txt.")
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_keeps_the_previous_file_and_removes_the_temporary(tmp_path, error):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def write(tmp: Path) -> None:
        tmp.write_text("half a fi")
        raise error

    with pytest.raises(type(error)):
        atomic_write(target, write)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_interrupted_rename_leaves_no_file(tmp_path, monkeypatch):
    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "x.nc", lambda tmp: tmp.write_bytes(b"data"))
    assert list(tmp_path.iterdir()) == []


def test_enospc_is_reported_as_a_full_disk(tmp_path):
    def write(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(DiskFullError) as info:
        atomic_write(tmp_path / "out.nc", write)
    err = info.value
    assert err.errno == errno.ENOSPC
    assert err.filename == str(tmp_path / "out.nc")
    assert str(err).startswith("[Errno 28] No space left on device: cannot write")
    assert "run the same command again" in str(err)
    assert isinstance(err.__cause__, OSError)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("free", "full"), [(0, True), (10 << 20, False)])
def test_a_library_error_on_a_full_file_system_is_reported_as_a_full_disk(
    tmp_path, monkeypatch, free, full
):
    """HDF5 reports ENOSPC as "NetCDF: HDF error": the free space decides."""
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda _: usage._replace(free=free))

    def write(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise RuntimeError("NetCDF: HDF error")

    expected = DiskFullError if full else RuntimeError
    with pytest.raises(expected) as info:
        atomic_write(tmp_path / "out.nc", write)
    if full:
        assert f"free space on its file system: {free} bytes" in str(info.value)
        assert isinstance(info.value.__cause__, RuntimeError)
    assert list(tmp_path.iterdir()) == []
