"""e2mc-plugin: entropy-maximizing auxiliary criteria and checkpoint loaders for solo-learn.

Public API (imported lazily so that ``import e2mc_plugin`` stays light)::

    build_aux_loss(name, **kwargs) / list_aux_losses() / register_aux_loss(name)
    load_checkpoint(path, format=None) / list_checkpoint_loaders()
    register_checkpoint_loader(name)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "build_aux_loss": "e2mc_plugin.aux_losses",
    "build_aux_losses": "e2mc_plugin.aux_losses",
    "list_aux_losses": "e2mc_plugin.aux_losses",
    "register_aux_loss": "e2mc_plugin.aux_losses",
    "load_checkpoint": "e2mc_plugin.checkpoints",
    "list_checkpoint_loaders": "e2mc_plugin.checkpoints",
    "register_checkpoint_loader": "e2mc_plugin.checkpoints",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'e2mc_plugin' has no attribute {name!r}")
