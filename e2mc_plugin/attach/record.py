"""The aux configuration a checkpoint was trained with, and how a resumed run's differs."""

from __future__ import annotations

from typing import Any, Dict, List

__all__ = ["AUX_RECORD_KEY", "describe_aux_change"]

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
