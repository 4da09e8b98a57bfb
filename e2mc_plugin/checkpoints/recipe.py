"""The ``pretrained:`` recipe block: validated here, applied by the host adapter.

::

    pretrained: {path: ..., format: swav_official, strict: true, trusted: false}

The adapter builds the model, then calls ``initialize_from_checkpoint(model, loaded,
strict=strict)``; the optimizer and scheduler start fresh.
"""

from __future__ import annotations

import difflib
from typing import Any, Mapping, Tuple

from e2mc_plugin.checkpoints.load import load_checkpoint
from e2mc_plugin.checkpoints.report import LoadedCheckpoint

# key -> (type, default, help); ``path`` is required.
PRETRAINED_KEYS = {
    "path": (str, None, "checkpoint file"),
    "format": (str, "auto", "loader name (e2mc-plugin list) or auto"),
    "strict": (bool, True, "fail on missing / unexpected / mis-shaped keys"),
    "trusted": (bool, False, "full unpickling instead of the safe allow-list"),
}


def validate_pretrained(block: Mapping[str, Any]) -> dict:
    """The ``pretrained:`` block with defaults filled in.

    Errors start with the bad key and list the valid keys: ``KeyError`` for an unknown or missing
    key (with the closest valid key), ``TypeError`` for a value of the wrong type.
    """
    if not isinstance(block, Mapping):
        raise TypeError(f"pretrained: expected a mapping, got {type(block).__name__}")
    valid = ", ".join(PRETRAINED_KEYS)
    unknown = [k for k in block if k not in PRETRAINED_KEYS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), list(PRETRAINED_KEYS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(
            f"pretrained.{unknown[0]}: unknown key(s) {', '.join(map(repr, unknown))}{hint}; "
            f"valid keys: {valid}"
        )
    out = {}
    for key, (kind, default, help_) in PRETRAINED_KEYS.items():
        value = block.get(key, default)
        if value is None and key == "path":
            raise KeyError(
                f"pretrained.path: missing; 'path' ({help_}) is required; valid keys: {valid}"
            )
        if value is not None and not isinstance(value, kind):
            expected = "true or false" if kind is bool else kind.__name__
            raise TypeError(f"pretrained.{key}: expected {expected} ({help_}), got {value!r}")
        out[key] = value
    return out


def pretrained_from_cfg(block: Mapping[str, Any]) -> Tuple[LoadedCheckpoint, bool]:
    """Validate a ``pretrained:`` block and load its checkpoint: ``(loaded, strict)``."""
    cfg = validate_pretrained(block)
    loaded = load_checkpoint(cfg["path"], cfg["format"], trusted=cfg["trusted"])
    return loaded, cfg["strict"]
