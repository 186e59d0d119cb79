"""Atomic file writing: a temporary file in the target directory, fsync, rename.

Every file the pipeline produces (NetCDF results, the claims CSV, figures) is written
through :func:`atomic_write`, so a file under its final name is always complete: a
crash, a kill or a full disk leaves either the previous file or no file at all, never
a truncated one that a rerun would trust. Imports nothing from ``jcas``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Final

__all__ = ["FULL_DISK_BYTES", "DiskFullError", "atomic_write", "temporary_name"]

FULL_DISK_BYTES: Final = 1 << 20
"""A failed write on a file system with less free space than this (bytes) is reported as
a full disk, whatever the writing library said (HDF5, for one, reports ``ENOSPC`` as a
generic "HDF error")."""


class DiskFullError(OSError):
    """Writing ``filename`` failed because its file system is full (``errno.ENOSPC``)."""

    def __init__(self, path: str | os.PathLike[str], free_bytes: int | None) -> None:
        free = "unknown" if free_bytes is None else f"{free_bytes} bytes"
        super().__init__(errno.ENOSPC, "No space left on device", os.fspath(path))
        self.free_bytes = free_bytes
        self.message = (
            f"No space left on device: cannot write {os.fspath(path)!r} (free space on its "
            f"file system: {free}); free some space and run the same command again "
            "(no partial file was left under the final name)"
        )

    def __str__(self) -> str:  # OSError.__str__ would repeat the file name
        return f"[Errno {errno.ENOSPC}] {self.message}"


def temporary_name(path: Path) -> Path:
    """The temporary file for ``path``: hidden, in the same directory, unique per call."""
    return path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"


def _free_bytes(directory: Path) -> int | None:
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


def _fsync(path: Path, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:  # some file systems do not allow opening directories
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


def _is_disk_full(err: BaseException, directory: Path) -> tuple[bool, int | None]:
    free = _free_bytes(directory)
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True, free
    return (free is not None and free < FULL_DISK_BYTES), free


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Create ``path`` atomically with ``write(tmp)``; return ``path``.

    ``write`` receives a temporary path in the target directory (created with its
    parents) and must create that file. The file is then fsynced and renamed over
    ``path`` (:func:`os.replace`), and the directory fsynced. On any error, including
    ``KeyboardInterrupt``, the temporary file is removed and any previous file under
    ``path`` is left untouched.

    Raises
    ------
    DiskFullError
        When the write failed on a full file system (``ENOSPC``, or less than
        :data:`FULL_DISK_BYTES` free after the failure); the original error is chained.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(target)
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException as err:
        full, free = (
            _is_disk_full(err, target.parent) if isinstance(err, Exception) else (False, None)
        )
        with contextlib.suppress(OSError):
            tmp.unlink()
        if full:
            raise DiskFullError(target, free) from err
        raise
    _fsync(target.parent, directory=True)
    return target
