"""A module named in a recipe, found in the model: the one error for a name the model lacks."""

from __future__ import annotations

import difflib

from torch import nn

from e2mc_plugin.attach.specs import ConfigError

__all__ = ["resolve_module"]

#: at most this many module names are listed in full (else the top level only)
_LISTED = 40


def resolve_module(model: nn.Module, path: str, key: str) -> nn.Module:
    """``model.get_submodule(path)``; for a name the model lacks, a :class:`ConfigError` for
    recipe key ``key`` with the closest names and the valid ones."""
    try:
        return model.get_submodule(path)
    except AttributeError:
        pass
    names = [n for n, _ in model.named_modules() if n]
    close = difflib.get_close_matches(path, names, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    shown = names if len(names) <= _LISTED else [n for n in names if "." not in n]
    listing = ", ".join(shown) + ("" if shown is names else f" (top level of {len(names)})")
    raise ConfigError(
        f"{key}: {type(model).__name__} has no module {path!r}.{hint} "
        f"Valid modules: {listing or '(none)'}"
    )
