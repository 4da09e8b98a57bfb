"""The aux-loss registry: ``register_aux_loss``, ``build_aux_loss(s)``, ``list_aux_losses``.

Third-party packages register losses with ``@register_aux_loss("name")`` or through the
``e2mc_plugin.aux_losses`` entry-point group (the entry point loads an AuxLoss subclass).
``build_aux_loss`` checks the keyword arguments against the class's ``__init__`` chain, so an
unknown or missing keyword is an error naming it and the valid ones.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Iterable, List, Mapping, Set, Tuple

from e2mc_plugin.aux_losses.combined import AuxLossSet
from e2mc_plugin.registry import Registry

AUX_LOSSES: Registry = Registry("aux loss", entry_point_group="e2mc_plugin.aux_losses")


def register_aux_loss(name: str) -> Callable:
    """Class decorator: register an :class:`AuxLoss` subclass as ``name`` (duplicates raise)."""

    def _register(cls: Any) -> Any:
        AUX_LOSSES.register(name, cls)
        if isinstance(cls, type) and not getattr(cls, "name", ""):
            cls.name = name.lower()
        return cls

    return _register


def list_aux_losses(pattern: str = "*") -> List[str]:
    """Sorted registered names matching a shell-style pattern."""
    return AUX_LOSSES.names(pattern)


def _accepted_kwargs(factory: Any) -> Tuple[Set[str], Set[str], bool]:
    """(accepted keyword names, required ones, takes **kwargs it cannot enumerate)."""
    accepted: Set[str] = set()
    required: Set[str] = set()
    classes = factory.__mro__ if isinstance(factory, type) else (factory,)
    for owner in classes:
        init = owner.__init__ if isinstance(factory, type) else owner
        if init is object.__init__:
            break
        params = inspect.signature(init).parameters.values()
        open_ended = False
        for p in params:
            if p.name == "self" or p.kind is p.VAR_POSITIONAL:
                continue
            if p.kind is p.VAR_KEYWORD:
                open_ended = True
                continue
            if p.name not in accepted and p.default is p.empty:
                required.add(p.name)
            accepted.add(p.name)
        if not open_ended:
            return accepted, required, False
    return accepted, required, True


def build_aux_loss(name: str, **kwargs: Any):
    """Build the aux loss registered as ``name`` with its keyword arguments.

    Unknown name -> :class:`UnknownNameError` listing valid names; unknown keyword -> TypeError
    naming it and the valid keywords; a missing required keyword -> TypeError naming it.
    """
    factory = AUX_LOSSES.get(name)
    accepted, required, open_ended = _accepted_kwargs(factory)
    unknown = sorted(set(kwargs) - accepted)
    if unknown and not open_ended:
        raise TypeError(
            f"aux loss {name!r} got unknown keyword argument(s) {', '.join(map(repr, unknown))}; "
            f"valid keywords: {', '.join(sorted(accepted))}"
        )
    missing = sorted(required - set(kwargs))
    if missing:
        hint = getattr(factory, "kwargs_hint", "")
        raise TypeError(
            f"aux loss {name!r} needs keyword argument(s) {', '.join(map(repr, missing))}"
            + (f" ({hint})" if hint else "")
        )
    return factory(**kwargs)


def build_aux_losses(specs: Iterable[Mapping[str, Any]]) -> AuxLossSet:
    """Build an :class:`AuxLossSet` from ``[{"name": ..., **kwargs}, ...]`` (label = name)."""
    if specs is None:
        specs = []
    if isinstance(specs, Mapping):
        raise TypeError("aux loss specs must be a list of {'name': ..., **kwargs} mappings")
    members = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, Mapping) or "name" not in spec:
            raise TypeError(f"aux loss spec {i} must be a mapping with a 'name' key, got {spec!r}")
        kwargs = {str(k): v for k, v in spec.items() if k != "name"}
        members.append(build_aux_loss(str(spec["name"]), **kwargs))
    return AuxLossSet(members)
