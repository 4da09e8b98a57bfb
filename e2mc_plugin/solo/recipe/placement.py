"""Misspelled or misplaced plugin blocks: keys the host would ignore without a word.

A top-level key close to a plugin key (``aux_loss:``, ``auxiliary_losses:``, ``pretrain:``) and a
plugin key (or a close misspelling) nested under a host block (``method_kwargs.aux_losses``,
``optimizer.e2mc_linear``) are refused, naming where the block belongs. The blocks' values are
their parsers' to check.
"""

from __future__ import annotations

import difflib
from typing import Any, Mapping, Optional

from e2mc_plugin.attach.plain import to_plain
from e2mc_plugin.solo.recipe.schema import PLUGIN_TOP_LEVEL_KEYS

__all__ = ["misplaced_recipe_key"]


def _squash(key: str) -> str:
    return key.lower().replace("auxiliary", "aux").replace("_", "").replace("-", "")


def _close_block(key: Any) -> Optional[str]:
    """The plugin key ``key`` is a misspelling of (``aux_loss``, ``auxiliary_losses`` ->
    ``aux_losses``), or None."""
    if not isinstance(key, str) or key in PLUGIN_TOP_LEVEL_KEYS:
        return None
    squashed = {_squash(block): block for block in PLUGIN_TOP_LEVEL_KEYS}
    if _squash(key) in squashed:
        return squashed[_squash(key)]
    close = difflib.get_close_matches(_squash(key), list(squashed), n=1, cutoff=0.85)
    return squashed[close[0]] if close else None


def _nested_plugin_keys(node: Any, path: str):
    """``(dotted parent path, key, the plugin key it is or resembles)`` below ``path``."""
    items = node.items() if isinstance(node, Mapping) else enumerate(node)
    for key, value in items:
        if isinstance(node, Mapping):
            block = key if key in PLUGIN_TOP_LEVEL_KEYS else _close_block(key)
            if block is not None:
                yield path, key, block
                continue
            child = f"{path}.{key}"
        else:
            child = f"{path}[{key}]"
        if isinstance(value, (Mapping, list, tuple)):
            yield from _nested_plugin_keys(value, child)


def misplaced_recipe_key(cfg: Mapping[str, Any]) -> Optional[str]:
    """The error message for the first misspelled or misplaced plugin key in ``cfg``, or None.

    Checked: top-level keys that closely match a plugin key (``aux_loss``, ``pretrain``,
    ``auxiliary_losses``), and plugin keys (or close matches) anywhere below a host block
    (``method_kwargs.aux_losses``, ``optimizer.e2mc_linear``, ``data.pretrained``), where the host
    would ignore them. The plugin's own blocks are checked by their parsers.
    """
    cfg = to_plain(cfg, resolve=False)  # no interpolation or '???' can fail here
    for key in cfg:
        block = _close_block(key)
        if block is not None:
            return (
                f"{key}: unknown top-level key, did you mean {block!r}? (plugin keys: "
                f"{', '.join(PLUGIN_TOP_LEVEL_KEYS)}); as written it would be ignored"
            )
    for key, value in cfg.items():
        if key in PLUGIN_TOP_LEVEL_KEYS or key == "hydra":  # hydra.callbacks.e2mc_linear: ok
            continue
        if not isinstance(value, (Mapping, list, tuple)):
            continue
        for parent, nested, block in _nested_plugin_keys(value, str(key)):
            what = f"the plugin block {block!r}"
            if nested != block:
                what = f"a misspelling of {what}"
            return (
                f"{parent}.{nested}: {what} belongs at the top level of the recipe, not under "
                f"{parent} (the host ignores it there); move it to '{block}:'"
            )
    return None
