"""The ``aux_losses`` block, read once into built losses: one schema for every host.

::

    aux_losses:                 # a list; [] = nothing attached
      - name: e2mc              # a registered aux loss (e2mc-plugin list)
        beta: 1000              # ... that loss's own keyword arguments
        gamma: 100
        mapping: sigmoid
        embedding: projector    # adapter key (optional): the module whose OUTPUT is the
                                # embedding; None = the host's default

solo-learn's wrapper (:func:`e2mc_plugin.solo.recipe.parse.parse_recipe`) and
:func:`e2mc_plugin.lightning.attach_aux_losses` both call :func:`parse_aux_losses`: a key added
here reaches both. Each loss is built once, here (its own constructor checks names, keywords and
values); a bad entry is a :class:`ConfigError` whose message starts with the key
(``aux_losses[1].name: unknown aux loss 'e2mx'. Did you mean 'e2mc'? ...``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from torch import nn

from e2mc_plugin.attach.plain import plain_values, to_plain

__all__ = [
    "ADAPTER_KEYS",
    "AuxEntry",
    "ConfigError",
    "aux_groups",
    "aux_record",
    "parse_aux_losses",
    "validate_aux_losses",
]

#: keys of an ``aux_losses`` entry read by the host adapter (not passed to the aux loss)
ADAPTER_KEYS = ("embedding",)

#: (kwargs for build_aux_loss incl. "name", embedding module path or None = the default)
AuxSpec = Tuple[Dict[str, Any], Optional[str]]


class ConfigError(ValueError):
    """A recipe block is invalid; the message names the key and the valid choices."""


@dataclass(frozen=True, eq=False)
class AuxEntry:
    """One ``aux_losses`` entry: its position, its plain spec, its embedding key, its built loss."""

    index: int
    spec: Mapping[str, Any]  # {"name": ..., **kwargs}, as written (embedding removed)
    embedding: Optional[str]  # None = the host's default embedding module
    loss: nn.Module


def validate_aux_losses(value: Any) -> List[AuxSpec]:
    """The block's shape: ``[(loss kwargs incl. name, embedding or None), ...]``.

    Checks a list (any iterable, read once) of mappings with a ``name`` (a bare string is a name),
    ``embedding`` a dotted path; values become plain Python (:func:`plain_values`: numpy scalars
    -> numbers), so what is built, recorded and compared on resume is one plain list. The names,
    keyword arguments and values are checked by building each loss, once, in
    :func:`parse_aux_losses`.
    """
    value = to_plain(value)
    if value is None:
        return []
    if isinstance(value, Mapping):
        raise ConfigError(
            "aux_losses: expected a list of entries like [{name: e2mc, beta: 1000, ...}], got a "
            "mapping; wrap it in a list"
        )
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigError(f"aux_losses: expected a list, got {type(value).__name__} {value!r}")
    specs: List[AuxSpec] = []
    for i, entry in enumerate(plain_values(value)):  # a generator is read once, here
        key = f"aux_losses[{i}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{key}: expected a mapping with a 'name', got {entry!r}")
        entry = {str(k): v for k, v in entry.items()}
        if "name" not in entry:
            from e2mc_plugin.aux_losses import list_aux_losses

            raise ConfigError(f"{key}.name: missing; valid names: {', '.join(list_aux_losses())}")
        embedding = entry.pop("embedding", None)
        if embedding is not None and (not isinstance(embedding, str) or not embedding):
            raise ConfigError(
                f"{key}.embedding: expected a dotted module path like 'projector' or "
                f"'head.mlp', got {embedding!r}"
            )
        specs.append((entry, embedding))
    return specs


def _build(index: int, spec: Mapping[str, Any]) -> nn.Module:
    from e2mc_plugin.aux_losses import build_aux_loss

    key = f"aux_losses[{index}]"
    kwargs = {k: v for k, v in spec.items() if k != "name"}
    try:
        return build_aux_loss(str(spec["name"]), **kwargs)
    except KeyError as err:  # UnknownNameError lists the valid names
        msg = err.args[0] if err.args else err
        raise ConfigError(f"{key}.name: {msg}") from err
    except TypeError as err:  # unknown / missing keyword argument, named by the loss
        raise ConfigError(f"{key}: {err} (adapter keys: {', '.join(ADAPTER_KEYS)})") from err
    except ValueError as err:  # a bad value (mapping: foo, views: bar...)
        raise ConfigError(f"{key}: {err}") from err


def parse_aux_losses(value: Any) -> Tuple[AuxEntry, ...]:
    """An ``aux_losses`` block (a list, a ``ListConfig``, None) -> its entries, each loss built."""
    return tuple(
        AuxEntry(i, spec, embedding, _build(i, spec))
        for i, (spec, embedding) in enumerate(validate_aux_losses(value))
    )


def aux_record(entries: Sequence[AuxEntry]) -> List[Dict[str, Any]]:
    """The aux configuration as plain data (stored in checkpoints, compared on resume)."""
    return [
        dict(entry.spec, **({"embedding": entry.embedding} if entry.embedding else {}))
        for entry in entries
    ]


def aux_groups(
    entries: Sequence[AuxEntry], default: str, resolve: Callable[[str], str] = str
) -> List[Tuple[str, nn.Module, int]]:
    """``[(module path, AuxLossSet, index of its first entry)]``, the default path first.

    Entries are grouped by the module they read, ``resolve(embedding or default)`` (a host names
    its modules its own way: solo-learn's ``encoder`` / ``backbone``); each set holds the losses
    :func:`parse_aux_losses` built.
    """
    from e2mc_plugin.aux_losses import AuxLossSet

    grouped: Dict[str, List[AuxEntry]] = {}
    for entry in entries:
        grouped.setdefault(resolve(entry.embedding or default), []).append(entry)
    order = sorted(grouped, key=lambda p: (p != default, p))
    return [(p, AuxLossSet([e.loss for e in grouped[p]]), grouped[p][0].index) for p in order]
