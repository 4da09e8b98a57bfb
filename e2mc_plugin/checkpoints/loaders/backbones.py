"""Bare backbone state dicts: torchvision ResNets and timm-built backbones."""

from __future__ import annotations

from typing import Any, Dict, Tuple

from torch import Tensor

from e2mc_plugin.checkpoints.registry import (
    CheckpointLoader,
    is_tensor_dict,
    looks_like_resnet,
    register_checkpoint_loader,
    rename,
)
from e2mc_plugin.checkpoints.report import LoadReport


@register_checkpoint_loader("torchvision")
class TorchvisionResNet(CheckpointLoader):
    """A torchvision ResNet ``state_dict()`` (with its ImageNet ``fc``, which is dropped)."""

    layout = "torchvision ResNet state dict with fc (hub cache: <arch>-<hash>.pth)"
    file_names = ("resnet*-*.pth", "wide_resnet*-*.pth")

    def detect(self, raw: Any) -> bool:
        return (
            is_tensor_dict(raw)
            and looks_like_resnet(list(raw))
            and any(k.startswith("fc.") for k in raw)
        )

    def convert(self, raw: Any) -> Tuple[Dict[str, Tensor], LoadReport]:
        report = LoadReport()
        return rename(raw, [("fc.", None), ("", "backbone.")], report), report


# Leading names of timm architectures that solo-learn builds (ViT, Swin, ConvNeXt, PoolFormer).
_TIMM_SIGNATURES = ("patch_embed.", "cls_token", "stem.", "stages.", "network.")
# Classification heads of timm models: solo-learn builds its backbones with num_classes=0.
_TIMM_HEADS = ("head.weight", "head.bias", "head.fc.", "fc.", "classifier.")


@register_checkpoint_loader("timm")
class Timm(CheckpointLoader):
    """A bare ``state_dict()`` of a timm-built backbone; its classification head is dropped.

    Detected only by architecture signatures (``patch_embed.``, ``stem.``...): a timm ResNet has
    torchvision's names and is read by the ``torchvision`` loader; pass ``format="timm"`` otherwise.
    """

    layout = "timm backbone state dict (patch_embed / stem / stages names)"

    def detect(self, raw: Any) -> bool:
        return (
            is_tensor_dict(raw)
            and not looks_like_resnet(list(raw))
            and any(k.startswith(_TIMM_SIGNATURES) for k in raw)
        )

    def convert(self, raw: Any) -> Tuple[Dict[str, Tensor], LoadReport]:
        report = LoadReport()
        rules = [(h, None) for h in _TIMM_HEADS] + [("", "backbone.")]
        return rename(raw, rules, report), report

    def architecture(self, raw: Any, path: str) -> Any:
        """A ViT's geometry; its head count is not in a timm state dict (unknown, said so)."""
        from e2mc_plugin.checkpoints.vit.anonymous import anonymous_vit

        return anonymous_vit(raw, "timm state dict")
