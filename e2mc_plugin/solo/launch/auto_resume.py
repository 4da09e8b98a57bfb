"""solo-learn's ``auto_resume`` resumes only from a complete checkpoint.

``main_pretrain.py`` / ``main_linear.py`` ask ``AutoResumer.find_checkpoint(cfg)`` for the run
to go on from. solo's answer is the first ``*.ckpt`` listed in the newest matching run folder,
whatever its state: a file cut short by a kill during its write was picked, and every later run
of the same command failed on it (``PytorchStreamReader failed reading zip archive``) without
naming it. While the launcher runs the host script, :func:`checked_auto_resume` answers instead
with :func:`find_complete_checkpoint`: the same candidates (run folders under the resumer's
``checkpoint_dir`` whose ``args.json`` matches the recipe on ``AutoResumer.SHOULD_MATCH``, files
younger than ``auto_resume.max_hours``), every ``*.ckpt`` of those folders considered, newest
first, each checked (:func:`e2mc_plugin.resume.complete.newest_complete`): a truncated or
unreadable one is skipped with one line naming it, and the newest complete one is used.

The recipe must also match on :data:`ALSO_MATCH` (``aux_losses``, ``method_kwargs``, ``seed``),
which solo does not compare: in a sweep over ``beta`` or seeds, a run went on from another
value's checkpoint (refused by the aux record, or silently another seed).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

from e2mc_plugin.resume.complete import newest_complete

__all__ = ["ALSO_MATCH", "checked_auto_resume", "find_complete_checkpoint"]

_ARGS = "args.json"
#: recipe keys compared beside solo's ``AutoResumer.SHOULD_MATCH``
ALSO_MATCH = ("aux_losses", "method_kwargs", "seed")


def _matches(args: Dict[str, Any], cfg: Any) -> bool:
    from omegaconf import DictConfig
    from solo.utils.auto_resumer import AutoResumer
    from solo.utils.misc import omegaconf_select

    found = DictConfig(args)
    return all(
        omegaconf_select(found, key, None) == omegaconf_select(cfg, key, None)
        for key in (*AutoResumer.SHOULD_MATCH, *ALSO_MATCH)
    )


def find_complete_checkpoint(resumer: Any, cfg: Any) -> Tuple[Optional[str], Optional[str]]:
    """``AutoResumer.find_checkpoint`` that skips incomplete files: ``(checkpoint, wandb run
    id)`` of the newest complete matching checkpoint, or ``(None, None)``."""
    oldest = time.time() - resumer.max_hours.total_seconds()
    run_ids: Dict[Path, Optional[str]] = {}
    for folder, _, files in os.walk(resumer.checkpoint_dir):
        if _ARGS not in files or not any(f.endswith(".ckpt") for f in files):
            continue
        try:
            args = json.loads((Path(folder) / _ARGS).read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(args, dict) or not _matches(args, cfg):
            continue
        for name in files:
            path = Path(folder) / name
            if name.endswith(".ckpt") and path.is_file() and path.stat().st_mtime > oldest:
                run_ids[path] = args.get("wandb_run_id")
    chosen = newest_complete(run_ids, report=lambda line: print(line, file=sys.stderr, flush=True))
    if chosen is None:
        return None, None
    return str(chosen), run_ids[chosen]


@contextlib.contextmanager
def checked_auto_resume() -> Iterator[None]:
    """Within the block, solo's ``AutoResumer.find_checkpoint`` is
    :func:`find_complete_checkpoint` (restored on exit; no-op without solo's auto-resumer)."""
    try:
        from solo.utils.auto_resumer import AutoResumer
    except ImportError:
        yield
        return
    original = AutoResumer.find_checkpoint
    AutoResumer.find_checkpoint = find_complete_checkpoint
    try:
        yield
    finally:
        AutoResumer.find_checkpoint = original
