"""Official VICReg releases (facebookresearch/vicreg): the bare backbone and the full checkpoint."""

from __future__ import annotations

from typing import Dict

from torch import Tensor

from e2mc_plugin.checkpoints.absent import add_zero_bias
from e2mc_plugin.checkpoints.loaders.backbones import BareResNet
from e2mc_plugin.checkpoints.loaders.base import RenameLoader
from e2mc_plugin.checkpoints.registry import register_checkpoint_loader
from e2mc_plugin.checkpoints.report import LoadReport


@register_checkpoint_loader("vicreg_backbone")
class VICRegBackbone(BareResNet):
    """``resnet50.pth``: a bare state dict with torchvision ResNet names and no ``fc``."""

    method = "vicreg"
    layout = "VICReg ResNet backbone (facebookresearch/vicreg): bare torchvision ResNet, no fc"
    file_names = ("resnet50.pth", "resnet50x*.pth")
    with_fc = False


@register_checkpoint_loader("vicreg_full")
class VICRegFull(RenameLoader):
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
    container = "model"
    flat = False
    marker = "module.backbone."
    rules = (("module.backbone.", "backbone."), ("module.projector.", "projector."))

    def complete(self, state: Dict[str, Tensor], report: LoadReport) -> None:
        linears = sorted(
            int(k.split(".")[1])
            for k, v in state.items()
            if k.startswith("projector.") and k.endswith(".weight") and v.dim() == 2
        )
        if linears and f"projector.{linears[-1]}.bias" not in state:
            add_zero_bias(state, f"projector.{linears[-1]}.weight", report)
