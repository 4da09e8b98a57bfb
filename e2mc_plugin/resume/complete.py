"""The newest checkpoint that is complete, among candidates: what a resume can rely on.

A checkpoint can be unreadable although its name is right: cut short by a kill during a write
made without :mod:`e2mc_plugin.checkpoints.atomic` (an older run, another tool), or damaged on
disk. :func:`newest_complete` checks each candidate, newest first, with
:func:`e2mc_plugin.checkpoints.safe_load.check_checkpoint_file` (the zip archive's directory and
the CRC-32 of every entry), reports each one it skips in one line naming the file and why, and
returns the first that passes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Optional, Union

from e2mc_plugin.checkpoints.safe_load import (
    CorruptCheckpointError,
    NotACheckpointError,
    check_checkpoint_file,
)

__all__ = ["checkpoint_problem", "newest_complete"]

PathLike = Union[str, os.PathLike]


def checkpoint_problem(path: PathLike) -> Optional[str]:
    """Why ``path`` cannot be resumed from (truncated, damaged, not a checkpoint), or None."""
    try:
        check_checkpoint_file(path)
    except CorruptCheckpointError:
        return "truncated or damaged (its zip archive or a CRC-32 check fails)"
    except NotACheckpointError:
        return "not a PyTorch checkpoint"
    except OSError as err:
        return f"unreadable ({err.strerror or err})"
    return None


def newest_complete(
    candidates: Iterable[PathLike],
    report: Callable[[str], object] = print,
    who: str = "auto_resume",
) -> Optional[Path]:
    """The newest (modification time) complete checkpoint of ``candidates``, or None; each
    newer one skipped is reported with ``report(f"{who}: skipping PATH: WHY")``."""
    dated = []
    for path in candidates:
        try:
            dated.append((os.path.getmtime(path), Path(path)))
        except OSError:  # removed meanwhile
            continue
    for _, path in sorted(dated, key=lambda item: item[0], reverse=True):
        problem = checkpoint_problem(path)
        if problem is None:
            return path
        report(f"{who}: skipping {path}: {problem}")
    return None
