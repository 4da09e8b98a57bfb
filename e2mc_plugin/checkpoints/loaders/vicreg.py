"""Official VICReg releases (facebookresearch/vicreg): the bare backbone and the full checkpoint."""

from __future__ import annotations

from typing import Any, Dict, Tuple

from torch import Tensor

from e2mc_plugin.checkpoints.absent import add_zero_bias
from e2mc_plugin.checkpoints.registry import (
    CheckpointLoader,
    is_tensor_dict,
    looks_like_resnet,
    register_checkpoint_loader,
    rename,
    unwrap,
)
from e2mc_plugin.checkpoints.report import LoadReport


@register_checkpoint_loader("vicreg_backbone")
class VICRegBackbone(CheckpointLoader):
    """``resnet50.pth``: a bare state dict with torchvision ResNet names and no ``fc``."""

    method = "vicreg"
    layout = "VICReg ResNet backbone (facebookresearch/vicreg): bare torchvision ResNet, no fc"
    file_names = ("resnet50.pth", "resnet50x*.pth")

    def detect(self, raw: Any) -> bool:
        return (
            is_tensor_dict(raw)
            and looks_like_resnet(list(raw))
            and not any(k.startswith("fc.") for k in raw)
        )

    def convert(self, raw: Any) -> Tuple[Dict[str, Tensor], LoadReport]:
        report = LoadReport()
        return rename(raw, [("", "backbone.")], report), report


@register_checkpoint_loader("vicreg_full")
class VICRegFull(CheckpointLoader):
    """``resnet50_fullckpt.pth``: ``{"model": {module.backbone.*, module.projector.*}, ...}``.

    The official projector's last Linear has ``bias=False``; solo-learn's has a bias, which is
    created as zeros (the same function) and reported as absent in the source (the method keeps
    it zero and frozen).
    """

    method = "vicreg"
    layout = (
        "VICReg full checkpoint (facebookresearch/vicreg): model = module.backbone.*, "
        "module.projector.*"
    )
    file_names = ("resnet50_fullckpt.pth",)

    def detect(self, raw: Any) -> bool:
        model, _ = unwrap(raw, "model", flat=False)
        return is_tensor_dict(model) and any(k.startswith("module.backbone.") for k in model)

    def convert(self, raw: Any) -> Tuple[Dict[str, Tensor], LoadReport]:
        model, report = unwrap(raw, "model", flat=False)
        rules = [("module.backbone.", "backbone."), ("module.projector.", "projector.")]
        state = rename(model, rules, report)
        linears = sorted(
            int(k.split(".")[1])
            for k, v in state.items()
            if k.startswith("projector.") and k.endswith(".weight") and v.dim() == 2
        )
        if linears:
            last = linears[-1]
            if f"projector.{last}.bias" not in state:
                add_zero_bias(state, f"projector.{last}.weight", report)
        return state, report
