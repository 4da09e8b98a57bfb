"""``parse_recipe(cfg) -> Recipe``: the adapter's recipe blocks read once into typed values.

Every aux loss is built here, once (:func:`e2mc_plugin.attach.specs.parse_aux_losses`, the schema
``attach_aux_losses`` uses too): a bad name, keyword or value fails before any model is built,
and the built module is the one the method trains with. The wrapped method's ``__init__`` calls
:func:`parse_recipe` once, on every host, before the host's ``__init__`` runs, on what the host's
constructor receives (1.0.6: the DictConfig; 1.0.2: its keyword arguments). The blocks' keys:
:mod:`e2mc_plugin.solo.recipe.schema`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from torch import nn

from e2mc_plugin.attach.specs import AuxEntry, aux_groups, aux_record, parse_aux_losses
from e2mc_plugin.checkpoints.recipe import PretrainedSpec
from e2mc_plugin.solo.host import compat
from e2mc_plugin.solo.recipe.blocks import (
    parse_pretrained,
    validate_batched_crops,
    validate_param_group_lr,
    validate_resume_override,
)
from e2mc_plugin.solo.recipe.placement import misplaced_recipe_key
from e2mc_plugin.solo.recipe.schema import BATCHED_CROPS_KEY, RESUME_OVERRIDE_KEY, ConfigError

__all__ = ["AuxEntry", "Recipe", "parse_recipe"]


@dataclass(frozen=True, eq=False)
class Recipe:
    """The parsed adapter blocks of one recipe."""

    aux: Tuple[AuxEntry, ...] = ()
    pretrained: Optional[PretrainedSpec] = None
    param_group_lr: Mapping[str, float] = field(default_factory=dict)
    resume_aux_override: bool = False
    batched_crops: bool = False

    def aux_groups(self, default: str) -> List[Tuple[str, "nn.Module", int]]:
        """``[(module path, AuxLossSet, index of its first entry)]``, the default path first;
        ``backbone`` / ``encoder`` name the host's backbone on every host."""
        return aux_groups(self.aux, default, compat.module_path)

    def aux_record(self) -> List[Dict[str, Any]]:
        """The aux configuration as plain data (stored in checkpoints, compared on resume)."""
        return aux_record(self.aux)


def parse_recipe(cfg: Mapping[str, Any]) -> Recipe:
    """Read the adapter's blocks of ``cfg`` (a 1.0.6 DictConfig / dict, or the 1.0.2 constructor
    keyword arguments) into a :class:`Recipe`; :class:`ConfigError` naming the key otherwise.

    Also refuses misspelled or misplaced plugin blocks (``aux_loss:``,
    ``method_kwargs.pretrained``), which the host would silently ignore.
    """
    problem = misplaced_recipe_key(cfg)
    if problem:
        raise ConfigError(problem)
    return Recipe(
        aux=parse_aux_losses(cfg.get("aux_losses")),
        pretrained=parse_pretrained(cfg.get("pretrained")),
        param_group_lr=validate_param_group_lr(cfg.get("param_group_lr")),
        resume_aux_override=validate_resume_override(cfg.get(RESUME_OVERRIDE_KEY)),
        batched_crops=validate_batched_crops(cfg.get(BATCHED_CROPS_KEY)),
    )
