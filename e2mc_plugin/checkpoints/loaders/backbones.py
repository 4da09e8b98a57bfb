"""Bare backbone state dicts: torchvision ResNets and timm-built backbones."""

from __future__ import annotations

from typing import Any, List, Mapping

from torch import Tensor

from e2mc_plugin.checkpoints.loaders.base import RenameLoader
from e2mc_plugin.checkpoints.registry import register_checkpoint_loader

# First-level module names of torchvision ResNets (and of timm's, which use the same names).
RESNET_MODULES = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")


def looks_like_resnet(keys: List[str]) -> bool:
    """Keys of a torchvision-named ResNet (optionally with ``fc.*``), nothing else."""
    if not keys or not any(k.startswith("layer4.") for k in keys):
        return False
    return all(k.startswith(RESNET_MODULES + ("fc.",)) for k in keys)


class BareResNet(RenameLoader):
    """A bare state dict in torchvision ResNet names, with its ``fc`` (dropped) when
    :attr:`with_fc`, else without: the layout of every ResNet backbone release."""

    with_fc = True
    rules = (("fc.", None), ("", "backbone."))

    def accepts(self, state: Mapping[str, Tensor]) -> bool:
        has_fc = any(k.startswith("fc.") for k in state)
        return looks_like_resnet(list(state)) and has_fc == self.with_fc


@register_checkpoint_loader("torchvision")
class TorchvisionResNet(BareResNet):
    """A torchvision ResNet ``state_dict()`` (with its ImageNet ``fc``, which is dropped)."""

    layout = "torchvision ResNet state dict with fc (hub cache: <arch>-<hash>.pth)"
    file_names = ("resnet*-*.pth", "wide_resnet*-*.pth")


# Leading names of timm architectures that solo-learn builds (ViT, Swin, ConvNeXt, PoolFormer).
_TIMM_SIGNATURES = ("patch_embed.", "cls_token", "stem.", "stages.", "network.")
# Classification heads of timm models: solo-learn builds its backbones with num_classes=0.
_TIMM_HEADS = ("head.weight", "head.bias", "head.fc.", "fc.", "classifier.")


@register_checkpoint_loader("timm")
class Timm(RenameLoader):
    """A bare ``state_dict()`` of a timm-built backbone; its classification head is dropped.

    Detected only by architecture signatures (``patch_embed.``, ``stem.``...): a timm ResNet has
    torchvision's names and is read by the ``torchvision`` loader; pass ``format="timm"`` otherwise.
    """

    layout = "timm backbone state dict (patch_embed / stem / stages names)"
    rules = tuple((h, None) for h in _TIMM_HEADS) + (("", "backbone."),)

    def accepts(self, state: Mapping[str, Tensor]) -> bool:
        return not looks_like_resnet(list(state)) and any(
            k.startswith(_TIMM_SIGNATURES) for k in state
        )

    def architecture(self, raw: Any, path: str) -> Any:
        """A ViT's geometry; its head count is not in a timm state dict (unknown, said so)."""
        from e2mc_plugin.checkpoints.vit.anonymous import anonymous_vit

        return anonymous_vit(raw, "timm state dict")
