"""Configuration values as plain Python: the one conversion of OmegaConf containers.

Recipes reach the plugin as hydra's ``DictConfig`` / ``ListConfig`` (solo-learn's launchers, a
user's hydra app) or as plain dicts (the Python API, ``attach_aux_losses``); every parser reads
plain containers. omegaconf is optional here: without it nothing is a container of its kind.
:func:`plain_values` goes one step further for values that are recorded in checkpoints: numpy
and torch scalars become Python numbers, so ``torch.load(weights_only=True)`` reads them back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["plain_values", "to_plain"]


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


def plain_values(value: Any) -> Any:
    """``value`` with only Python builtins inside: mappings -> dicts (string keys), other
    iterables (lists, tuples, generators) -> lists, numpy / torch scalars and 0-d arrays ->
    ``int`` / ``float`` / ``bool`` (their ``.item()``), recursively; strings, bytes and Python
    scalars unchanged. A sweep's ``np.float64(10)`` is recorded as ``10.0``, which
    ``torch.load(weights_only=True)`` reads back and compares equal to a YAML ``10.0``."""
    value = to_plain(value)
    if value is None or type(value) in (str, bytes, bool, int, float):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain_values(v) for k, v in value.items()}
    if getattr(value, "shape", None) == () and callable(getattr(value, "item", None)):
        return value.item()  # numpy scalar (np.float64 and np.str_ subclass float / str), 0-d
    if isinstance(value, str):
        return str(value)  # another subclass of str
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, Iterable):
        return [plain_values(v) for v in value]
    return value
