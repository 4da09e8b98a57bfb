"""The ``pretrained:`` recipe block: its schema, parsed once into a :class:`PretrainedSpec`.

::

    pretrained: {path: ..., format: swav_official, strict: true, trusted: false, scope: full}

The host adapter builds the model, then calls ``initialize_from_checkpoint(model, loaded,
strict=spec.strict)`` (and ``scope=spec.scope`` for a backbone-only file); the optimizer and
scheduler start fresh.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from e2mc_plugin.checkpoints.load import load_checkpoint
from e2mc_plugin.checkpoints.report import LoadedCheckpoint

__all__ = [
    "PRETRAINED_KEYS",
    "PRETRAINED_SCOPES",
    "PretrainedSpec",
    "parse_pretrained",
    "pretrained_from_cfg",
    "validate_pretrained",
]

# key -> (type, default, help); ``path`` is required.
PRETRAINED_KEYS = {
    "path": (str, None, "checkpoint file"),
    "format": (str, "auto", "loader name (e2mc-plugin list) or auto"),
    "strict": (bool, True, "fail on missing / unexpected / mis-shaped keys"),
    "trusted": (bool, False, "full unpickling instead of the safe allow-list"),
    "scope": (str, "full", "full (the whole method) or backbone (a backbone-only file)"),
}
PRETRAINED_SCOPES = ("full", "backbone")


@dataclass(frozen=True)
class PretrainedSpec:
    """A validated ``pretrained:`` block. ``format`` None = detect (``auto``)."""

    path: str
    format: Optional[str] = None
    strict: bool = True
    trusted: bool = False
    scope: str = "full"

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def validate_pretrained(block: Mapping[str, Any]) -> dict:
    """The ``pretrained:`` mapping with defaults filled in (``format`` stays ``"auto"``).

    Errors start with the bad key and list the valid keys: ``KeyError`` for an unknown or missing
    key (with the closest valid key), ``TypeError`` for a value of the wrong type, ``ValueError``
    for a ``scope`` outside full / backbone.
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
    if out["scope"] not in PRETRAINED_SCOPES:
        raise ValueError(
            f"pretrained.scope: unknown scope {out['scope']!r}; "
            f"valid: {', '.join(PRETRAINED_SCOPES)}"
        )
    return out


def parse_pretrained(value: Any) -> Optional[PretrainedSpec]:
    """A recipe's ``pretrained`` value -> :class:`PretrainedSpec`, or None when unset.

    Accepts None / ``{}`` (unset), a bare path string, or a mapping (see :func:`validate_pretrained`
    for the errors); ``format: auto`` or ``""`` becomes None (detect).
    """
    if value is None or (isinstance(value, Mapping) and len(value) == 0):
        return None
    if isinstance(value, str):
        value = {"path": value}
    block = validate_pretrained(value)
    fmt = block["format"]
    return PretrainedSpec(
        path=str(block["path"]),
        format=None if fmt in ("auto", "") else fmt,
        strict=block["strict"],
        trusted=block["trusted"],
        scope=block["scope"],
    )


def pretrained_from_cfg(block: Any) -> Tuple[LoadedCheckpoint, bool]:
    """Parse a ``pretrained:`` block (or take a :class:`PretrainedSpec`) and load its checkpoint:
    ``(loaded, strict)``."""
    spec = block if isinstance(block, PretrainedSpec) else parse_pretrained(dict(block))
    if spec is None:
        raise KeyError("pretrained.path: missing; 'path' (checkpoint file) is required")
    loaded = load_checkpoint(spec.path, spec.format, trusted=spec.trusted)
    return loaded, spec.strict
