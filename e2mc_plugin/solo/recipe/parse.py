"""``parse_recipe(cfg) -> Recipe``: the adapter's recipe blocks read once into typed values.

Every aux loss is built here, once: a bad name, keyword or value fails before any model is built,
and the built module is the one the method trains with. The wrapped method's ``__init__`` calls
:func:`parse_recipe` once, on both hosts, before the host's ``__init__`` runs (1.0.6: on the
DictConfig it receives; 1.0.2: on its keyword arguments). The blocks' schema and checks:
:mod:`e2mc_plugin.solo.recipe.schema`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from torch import nn

from e2mc_plugin.checkpoints.recipe import PretrainedSpec
from e2mc_plugin.solo.host import compat
from e2mc_plugin.solo.recipe.schema import (
    ADAPTER_KEYS,
    BATCHED_CROPS_KEY,
    RESUME_OVERRIDE_KEY,
    ConfigError,
    flag,
    misplaced_recipe_key,
    parse_pretrained,
    validate_aux_losses,
    validate_batched_crops,
    validate_param_group_lr,
)

__all__ = ["AuxEntry", "Recipe", "parse_recipe"]


@dataclass(frozen=True, eq=False)
class AuxEntry:
    """One ``aux_losses`` entry: its position, its plain spec, its embedding key, its built loss."""

    index: int
    spec: Mapping[str, Any]  # {"name": ..., **kwargs}, as written (embedding removed)
    embedding: Optional[str]  # None = the method's default embedding module
    loss: nn.Module


@dataclass(frozen=True, eq=False)
class Recipe:
    """The parsed adapter blocks of one recipe."""

    aux: Tuple[AuxEntry, ...] = ()
    pretrained: Optional[PretrainedSpec] = None
    param_group_lr: Mapping[str, float] = field(default_factory=dict)
    resume_aux_override: bool = False
    batched_crops: bool = False

    def aux_groups(self, default: str) -> List[Tuple[str, "nn.Module", int]]:
        """``[(module path, AuxLossSet, index of its first entry)]``, the default path first.

        Entries are grouped by the module they read (``backbone``/``encoder`` name the host's
        backbone on both hosts); the sets hold the losses built by :func:`parse_recipe`.
        """
        from e2mc_plugin.aux_losses import AuxLossSet

        grouped: Dict[str, List[AuxEntry]] = {}
        for entry in self.aux:
            grouped.setdefault(compat.module_path(entry.embedding or default), []).append(entry)
        order = sorted(grouped, key=lambda p: (p != default, p))
        return [(p, AuxLossSet([e.loss for e in grouped[p]]), grouped[p][0].index) for p in order]

    def aux_record(self) -> List[Dict[str, Any]]:
        """The aux configuration as plain data (stored in checkpoints, compared on resume)."""
        return [
            dict(entry.spec, **({"embedding": entry.embedding} if entry.embedding else {}))
            for entry in self.aux
        ]


def _build(index: int, spec: Mapping[str, Any]) -> nn.Module:
    from e2mc_plugin.aux_losses import build_aux_loss

    key = f"aux_losses[{index}]"
    kwargs = {str(k): v for k, v in spec.items() if k != "name"}
    try:
        return build_aux_loss(str(spec["name"]), **kwargs)
    except KeyError as err:  # UnknownNameError lists the valid names
        msg = err.args[0] if err.args else err
        raise ConfigError(f"{key}.name: {msg}") from err
    except TypeError as err:  # unknown / missing keyword argument, named by the loss
        raise ConfigError(f"{key}: {err} (adapter keys: {', '.join(ADAPTER_KEYS)})") from err
    except ValueError as err:  # a bad value (mapping: foo, views: bar...)
        raise ConfigError(f"{key}: {err}") from err


def parse_recipe(cfg: Mapping[str, Any]) -> Recipe:
    """Read the adapter's blocks of ``cfg`` (a 1.0.6 DictConfig / dict, or the 1.0.2 constructor
    keyword arguments) into a :class:`Recipe`; :class:`ConfigError` naming the key otherwise.

    Also refuses misspelled or misplaced plugin blocks (``aux_loss:``,
    ``method_kwargs.pretrained``), which the host would silently ignore.
    """
    problem = misplaced_recipe_key(cfg)
    if problem:
        raise ConfigError(problem)
    specs = validate_aux_losses(cfg.get("aux_losses"))
    aux = tuple(
        AuxEntry(i, spec, embedding, _build(i, spec)) for i, (spec, embedding) in enumerate(specs)
    )
    override = compat.to_plain(cfg.get(RESUME_OVERRIDE_KEY, False))
    override = False if override is None else flag(RESUME_OVERRIDE_KEY, override)
    return Recipe(
        aux=aux,
        pretrained=parse_pretrained(cfg.get("pretrained")),
        param_group_lr=validate_param_group_lr(cfg.get("param_group_lr")),
        resume_aux_override=override,
        batched_crops=validate_batched_crops(cfg.get(BATCHED_CROPS_KEY)),
    )
