"""The aux configuration a checkpoint was trained with, and the resume policy: a run resumes only
with the aux configuration its checkpoint was trained with.

``on_save_checkpoint`` stores the parsed ``aux_losses`` as plain data
(``checkpoint[AUX_RECORD_KEY]``, :func:`e2mc_plugin.attach.specs.aux_record`);
``on_load_checkpoint`` calls :func:`check_resume` before any weight is restored. Any difference
(another loss, ``[]``, another ``beta``, another ``embedding``) raises :class:`ConfigError` naming
it, unless the run allows it (``resume_aux_override``: then a WARNING). A checkpoint without the
record (a plain host module, an older plugin) resumes with a WARNING. Both hosts (solo-learn's
wrapper, ``attach_aux_losses``) apply this one policy; each only says how its users override it.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Mapping

from e2mc_plugin.attach.specs import ConfigError

__all__ = ["AUX_RECORD_KEY", "check_resume", "describe_aux_change"]

log = logging.getLogger(__name__)

#: checkpoint key holding the aux configuration (``[{"name": ..., **kwargs}]``) of the run
AUX_RECORD_KEY = "e2mc_plugin_aux_losses"


def describe_aux_change(saved: List[Dict[str, Any]], current: List[Dict[str, Any]]) -> str:
    """``aux_losses[0].beta: 1000 -> 10; aux_losses[1]: removed {'name': 'mmcr'}``, or ``""``."""
    changes = []
    for i in range(max(len(saved), len(current))):
        key = f"aux_losses[{i}]"
        if i >= len(current):
            changes.append(f"{key}: removed {saved[i]}")
        elif i >= len(saved):
            changes.append(f"{key}: added {current[i]}")
        else:
            old, new = saved[i], current[i]
            for k in sorted(set(old) | set(new), key=str):
                if old.get(k) != new.get(k):
                    changes.append(f"{key}.{k}: {old.get(k)!r} -> {new.get(k)!r}")
    return "; ".join(changes)


def check_resume(
    checkpoint: Mapping[str, Any],
    current: List[Dict[str, Any]],
    *,
    override: bool,
    how_to_override: str,
) -> None:
    """Refuse to resume ``checkpoint`` with the aux configuration ``current`` when it differs
    from the recorded one, unless ``override`` (then warn).

    Args:
        checkpoint: the checkpoint being resumed (Lightning's dict).
        current: the run's :func:`~e2mc_plugin.attach.specs.aux_record`.
        override: resume anyway (the run's ``resume_aux_override``).
        how_to_override: the host's words for setting it, e.g. ``"set resume_aux_override:
            true"``.

    Raises:
        ConfigError: ``aux_losses: differs from the checkpoint being resumed (<change>); ...``.
    """
    if AUX_RECORD_KEY not in checkpoint:
        log.warning(
            "aux_losses: the checkpoint records no aux configuration (saved without the plugin's "
            "aux losses: a plain host model or an older e2mc-plugin); resuming with %s",
            current,
        )
        return
    change = describe_aux_change(list(checkpoint[AUX_RECORD_KEY]), current)
    if not change:
        return
    if not override:
        raise ConfigError(
            f"aux_losses: differs from the checkpoint being resumed ({change}); restore the "
            f"checkpoint's aux_losses, or {how_to_override} to resume anyway"
        )
    log.warning(
        "aux_losses: resuming with a different aux configuration (%s; resume_aux_override)",
        change,
    )
