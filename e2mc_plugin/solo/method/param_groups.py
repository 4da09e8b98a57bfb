"""``param_group_lr``: a fixed, unscaled lr for one of the host's optimizer param groups.

The reference SimSiam keeps its predictor at lr 0.1 while the rest follows the base lr; solo-learn
has no such knob. The group is found by its parameters (exactly those of the named module), so the
host's own group names and order are kept.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from torch import nn

from e2mc_plugin.attach import resolve_module
from e2mc_plugin.solo.host import compat
from e2mc_plugin.solo.recipe.schema import ConfigError

__all__ = ["check_group_lrs", "with_group_lrs"]


def _group_of(groups: List[Dict[str, Any]], module: nn.Module) -> Optional[int]:
    """Index of the param group holding exactly ``module``'s trainable parameters, or None."""
    wanted = {id(p) for p in module.parameters() if p.requires_grad}
    for i, group in enumerate(groups):
        if wanted and {id(p) for p in group["params"] if p.requires_grad} == wanted:
            return i
    return None


def _copy(groups: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [dict(g, params=list(g["params"])) for g in groups]


def check_group_lrs(
    model: nn.Module, host_groups: List[Dict[str, Any]], lrs: Mapping[str, float]
) -> Dict[str, float]:
    """Check parsed ``param_group_lr`` values against the built model: each path names a module
    whose parameters form one of ``host_groups``, and the lr schedule is constant."""
    if not lrs:
        return {}
    if getattr(model, "scheduler", "none") != "none":
        raise ConfigError(
            f"param_group_lr: needs scheduler.name: none (a constant lr, as in the continued-"
            f"pretraining protocol); with {model.scheduler!r} the host's scheduler (and its "
            f"static_lr groups) would overwrite the fixed group lr"
        )
    groups = _copy(host_groups)
    for path in lrs:
        module = resolve_module(model, compat.module_path(path), f"param_group_lr.{path}")
        if _group_of(groups, module) is None:
            names = ", ".join(str(g.get("name", i)) for i, g in enumerate(groups))
            raise ConfigError(
                f"param_group_lr.{path}: the parameters of {path!r} are not one of the host's "
                f"param groups ({names}); name a module that has its own group"
            )
    return dict(lrs)


def with_group_lrs(
    model: nn.Module, groups: List[Dict[str, Any]], lrs: Mapping[str, float]
) -> List[Dict[str, Any]]:
    """The host's param groups with ``lr`` fixed for the groups named in ``param_group_lr``."""
    groups = _copy(groups)
    for path, lr in lrs.items():
        i = _group_of(groups, model.get_submodule(compat.module_path(path)))
        groups[i]["lr"] = lr
    return groups
