"""Parameters absent in the source checkpoint stay bias-free in effect: zero, frozen and out of
the optimizer.

A loader lists them in ``LoadReport.absent_in_source`` (e.g. the last Linear of the official
VICReg projector, every Linear of the Barlow Twins one: ``bias=False`` where solo-learn's layer
has a bias; see :mod:`e2mc_plugin.checkpoints.absent`). The wrapped method applies it where the
``pretrained:`` block is loaded (launcher and Python API), drops them from ``learnable_params``
(so from every optimizer param group) and records them in its checkpoints, so that a resumed run
freezes them again before its optimizer is built and a later ``pretrained:`` load of the run's
checkpoint keeps them frozen too.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Mapping, Sequence

import torch
from torch import nn

from e2mc_plugin.checkpoints.absent import ABSENT_RECORD_KEY

__all__ = ["freeze_absent", "record_absent", "restore_absent", "without_params"]

log = logging.getLogger(__name__)


def freeze_absent(
    model: nn.Module, names: Sequence[str], source: str, *, level: int = logging.WARNING
) -> List[str]:
    """Set the parameters ``names`` of ``model`` to zero and ``requires_grad=False``; log one
    line naming them and ``source`` at ``level``. Returns the names."""
    if not names:
        return []
    params = dict(model.named_parameters())
    missing = [n for n in names if n not in params]
    if missing:
        raise KeyError(
            f"{source}: absent-in-source parameter(s) {', '.join(missing)} not in the model "
            f"{type(model).__name__}"
        )
    for name in names:
        with torch.no_grad():
            params[name].zero_()
        params[name].requires_grad_(False)
    log.log(
        level,
        "%s: %s absent in the source checkpoint (bias=False): kept zero, frozen and out of the "
        "optimizer",
        source,
        ", ".join(names),
    )
    return list(names)


def without_params(
    model: nn.Module, groups: List[Dict[str, Any]], names: Sequence[str]
) -> List[Dict[str, Any]]:
    """``groups`` (optimizer param groups) without the parameters ``names`` of ``model``; every
    group is kept (the host refers to some by position), possibly empty."""
    if not names:
        return groups
    wanted = set(names)
    drop = {id(p) for n, p in model.named_parameters() if n in wanted}
    return [dict(g, params=[p for p in g["params"] if id(p) not in drop]) for g in groups]


def record_absent(checkpoint: Dict[str, Any], names: Sequence[str]) -> None:
    """Store ``names`` in a checkpoint being saved (read back by the resume and the loaders)."""
    if names:
        checkpoint[ABSENT_RECORD_KEY] = list(names)


def restore_absent(model: nn.Module, checkpoint: Mapping[str, Any]) -> List[str]:
    """Freeze again what ``checkpoint`` records (a resumed run, before its optimizer is built)."""
    names = list(checkpoint.get(ABSENT_RECORD_KEY) or [])
    return freeze_absent(model, names, "resumed checkpoint", level=logging.INFO)
