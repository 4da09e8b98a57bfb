"""Files that are either complete or absent: the one atomic-write step of the plugin.

A file is written under a temporary name in its own folder, flushed and ``fsync``-ed, and only
then renamed over its final name (``os.replace``: atomic on one file system); the folder is
``fsync``-ed after the rename so that the new name survives a power cut. A process killed at any
moment leaves either the old file or the new one under the final name, never a part of one; what
it may leave is a temporary ``.<name>.<random>.tmp`` beside it, which no reader takes for a
checkpoint (it does not end in ``.ckpt`` / ``.json``) and the next write does not reuse.

Users: :mod:`e2mc_plugin.checkpoints.writer` (converted checkpoints + ``args.json``, with a verify
step between :func:`write_temporary` and the rename) and the Lightning ``CheckpointIO`` of
:mod:`e2mc_plugin.lightning.checkpoint_io` (every checkpoint a training run writes).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any, BinaryIO, Callable, Union

__all__ = ["TEMPORARY_SUFFIX", "atomic_write", "fsync_folder", "write_temporary"]

PathLike = Union[str, os.PathLike]

#: the suffix of a temporary file (``.<final name>.<8 hex digits>.tmp``)
TEMPORARY_SUFFIX = ".tmp"


def write_temporary(folder: PathLike, name: str, write: Callable[[BinaryIO], Any]) -> Path:
    """Write a new file ``folder/.<name>.<random>.tmp`` with ``write(f)``, flushed and fsynced.

    The file gets the permissions ``open()`` gives (``0o666`` less the umask); it is created
    exclusively, so two writers never share one. On any failure the partial file is removed and
    the error re-raised. Returns its path.
    """
    folder = Path(folder)
    while True:
        tmp = folder / f".{name}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}"
        try:
            f = open(tmp, "xb")  # noqa: SIM115 - closed below, removed on failure
        except FileExistsError:
            continue
        break
    try:
        with f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def fsync_folder(folder: PathLike) -> None:
    """Make the renames inside ``folder`` durable (a no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: PathLike, write: Callable[[BinaryIO], Any]) -> Path:
    """Write ``path`` with ``write(f)`` so that it is either the complete new file or untouched.

    ``write`` receives a binary file opened for writing (``torch.save(obj, f)``,
    ``f.write(data)``). The folder must exist. Returns ``Path(path)``.
    """
    final = Path(path)
    tmp = write_temporary(final.parent, final.name, write)
    try:
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_folder(final.parent)
    return final
