"""Official SwAV releases (facebookresearch/swav): ``swav_*ep_pretrain.pth.tar``."""

from __future__ import annotations

from typing import Dict, Mapping

import torch
from torch import Tensor

from e2mc_plugin.checkpoints.loaders.base import RenameLoader
from e2mc_plugin.checkpoints.registry import register_checkpoint_loader
from e2mc_plugin.checkpoints.report import LoadReport


@register_checkpoint_loader("swav_official")
class SwAVOfficial(RenameLoader):
    """``module.<resnet>``, ``module.projection_head.{0,1,3}``, ``module.prototypes.weight``.

    solo-learn's prototypes are ``weight_norm(Linear)`` with the magnitude ``weight_g`` fixed to 1;
    the official prototypes are renormalised every step, so ``weight_v`` = the official weight and
    ``weight_g`` = 1 (created, reported) give the same normalised prototypes.
    """

    method = "swav"
    layout = (
        "SwAV (facebookresearch/swav): module.<resnet>, module.projection_head.*, "
        "module.prototypes.weight"
    )
    file_names = ("swav_*ep_pretrain.pth.tar",)
    # the released files are flat; checkpoints written during training nest a state_dict
    container = "state_dict"
    rules = (
        ("module.projection_head.", "projector."),
        ("module.prototypes.weight", "prototypes.weight_v"),
        ("module.prototypes.", None),  # several prototype heads: not a solo-learn layout
        ("module.", "backbone."),
    )

    def accepts(self, state: Mapping[str, Tensor]) -> bool:
        return "module.prototypes.weight" in state or any(
            k.startswith("module.projection_head.") for k in state
        )

    def complete(self, state: Dict[str, Tensor], report: LoadReport) -> None:
        if "prototypes.weight_v" in state:
            v = state["prototypes.weight_v"]
            state["prototypes.weight_g"] = torch.ones(v.shape[0], 1, dtype=v.dtype)
            report.created["prototypes.weight_g"] = (
                "ones: solo-learn's weight-normed prototypes keep the magnitude fixed at 1"
            )
