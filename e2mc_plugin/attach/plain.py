"""Configuration values as plain Python: the one conversion of OmegaConf containers.

Recipes reach the plugin as hydra's ``DictConfig`` / ``ListConfig`` (solo-learn's launchers, a
user's hydra app) or as plain dicts (the Python API, ``attach_aux_losses``); every parser reads
plain containers. omegaconf is optional here: without it nothing is a container of its kind.
"""

from __future__ import annotations

from typing import Any

__all__ = ["to_plain"]


def to_plain(value: Any, *, resolve: bool = True) -> Any:
    """OmegaConf containers -> plain dicts / lists; anything else unchanged.

    ``resolve=True`` resolves interpolations; ``resolve=False`` keeps them as written, so a walk
    over a recipe whose interpolations cannot resolve yet does not fail. A missing value
    (``???``) stays the string ``"???"`` either way.
    """
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a declared dependency
        return value
    if not isinstance(value, (DictConfig, ListConfig)):
        return value
    return OmegaConf.to_container(value, resolve=resolve, throw_on_missing=False)
