"""Does a converted checkpoint fill the host's backbone? The host's launchers load with
``strict=False``, which silently leaves unmatched layers random: :func:`verify_backbone_coverage`
replays their key handling against the shapes of a freshly built backbone
(:func:`reference_backbone_shapes`, built on the meta device: nothing is allocated)."""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Union

import torch

from e2mc_plugin.checkpoints.initialize import CheckpointMismatchError
from e2mc_plugin.checkpoints.safe_load import safe_torch_load

__all__ = ["reference_backbone_shapes", "verify_backbone_coverage"]


def reference_backbone_shapes(
    backbone: str, dataset: str = "imagenet", kwargs: Optional[Mapping[str, Any]] = None
) -> Dict[str, tuple]:
    """Key -> shape of a freshly built backbone (on the meta device: nothing is allocated);
    ``kwargs``: a ViT's ``backbone.kwargs`` (patch, LayerScale, registers, image size)."""
    with torch.device("meta"):
        if backbone.startswith("resnet"):
            import torchvision

            model = getattr(torchvision.models, backbone)()
            model.fc = torch.nn.Identity()
            if dataset in ("cifar10", "cifar100"):
                model.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=2, bias=False)
        elif backbone.startswith("vit_"):
            import timm

            model = timm.create_model(f"{backbone}_patch16_224", num_classes=0, **(kwargs or {}))
        else:
            raise ValueError(
                f"convert: backbone {backbone!r} has no reference to verify the conversion "
                "against; supported: torchvision resnet* and timm vit_* names"
            )
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def verify_backbone_coverage(
    ckpt_path: Union[str, os.PathLike],
    backbone_keys: Union[Mapping[str, Sequence[int]], Iterable[str]],
) -> int:
    """Check that main_linear's loading of ``ckpt_path`` fills every backbone tensor.

    Replays the host's key handling (keys containing ``backbone`` lose the ``backbone.`` prefix,
    then ``load_state_dict(strict=False)``), which silently skips anything else.

    Args:
        ckpt_path: a converted checkpoint.
        backbone_keys: names (without ``backbone.``) of a freshly built backbone, or a mapping
            of them to shapes (then shapes are compared too).

    Returns:
        the number of backbone tensors covered.

    Raises:
        CheckpointMismatchError: listing missing keys and shape mismatches.
    """
    state = safe_torch_load(ckpt_path)["state_dict"]
    found = {k.replace("backbone.", ""): v for k, v in state.items() if k.startswith("backbone.")}
    expected = dict(backbone_keys) if isinstance(backbone_keys, Mapping) else None
    names = list(expected) if expected is not None else list(backbone_keys)
    missing = [k for k in names if k not in found]
    mismatched = []
    if expected is not None:
        mismatched = [
            f"{k}: checkpoint {tuple(found[k].shape)} vs backbone {tuple(expected[k])}"
            for k in names
            if k in found and tuple(found[k].shape) != tuple(expected[k])
        ]
    if missing or mismatched:
        lines = [f"{os.fspath(ckpt_path)!r} would leave backbone tensors random in main_linear:"]
        lines += [f"  missing {k}" for k in missing] + [f"  shape {m}" for m in mismatched]
        raise CheckpointMismatchError("\n".join(lines))
    return len(names)
