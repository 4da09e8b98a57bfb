"""Backbones for models outside solo-learn: a release's ResNet as a torchvision state dict.

::

    import torchvision
    from e2mc_plugin.checkpoints import load_torchvision_backbone

    state = load_torchvision_backbone("vicreg_resnet50.pth")    # any supported release
    net = torchvision.models.resnet50()
    net.fc = torch.nn.Identity()                                # the releases carry no classifier
    net.load_state_dict(state)                                  # strict

The file is read by :func:`~e2mc_plugin.checkpoints.load_checkpoint` (same detection, safe
loading, NaN/Inf refusal); its ``backbone.*`` tensors (the online network's, never a momentum
copy's) lose the prefix, and the result is checked key by key and shape by shape against a freshly
built torchvision ResNet of the inferred depth (on the meta device: nothing allocated), so a
strict ``load_state_dict`` cannot fail afterwards.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from typing import Dict, Optional, Tuple, Union

import torch

from e2mc_plugin.checkpoints.initialize import CheckpointMismatchError
from e2mc_plugin.checkpoints.load import CheckpointFormatError, load_checkpoint
from e2mc_plugin.checkpoints.report import LoadedCheckpoint

__all__ = ["load_torchvision_backbone", "torchvision_backbone_state", "torchvision_resnet_arch"]

_PREFIX = "backbone."
# (bottleneck blocks?, blocks per layer) -> torchvision constructor
_RESNETS: Dict[Tuple[bool, Tuple[int, ...]], str] = {
    (False, (2, 2, 2, 2)): "resnet18",
    (False, (3, 4, 6, 3)): "resnet34",
    (True, (3, 4, 6, 3)): "resnet50",
    (True, (3, 4, 23, 3)): "resnet101",
    (True, (3, 8, 36, 3)): "resnet152",
}
_BLOCK = re.compile(r"^layer([1-4])\.(\d+)\.")


def load_torchvision_backbone(
    path: Union[str, "os.PathLike[str]"],
    format: Optional[str] = None,
    *,
    trusted: bool = False,
) -> "OrderedDict[str, torch.Tensor]":
    """The ResNet backbone of any supported release, named like ``torchvision.models.resnet*()``.

    Args:
        path, format, trusted: as for :func:`~e2mc_plugin.checkpoints.load_checkpoint`
            (``format=None`` detects the release; ``trusted=False`` never unpickles code).

    Returns:
        ``conv1.weight``, ``bn1.*``, ``layer1.0.conv1.weight``, ... (no ``fc.*``), loadable with
        ``strict=True`` into the torchvision ResNet of :func:`torchvision_resnet_arch` whose
        ``fc`` is ``nn.Identity()``.

    Raises:
        everything :func:`~e2mc_plugin.checkpoints.load_checkpoint` raises, and
        CheckpointFormatError: the release's backbone is not a torchvision-built ResNet (a ViT,
            or solo-learn's CIFAR stem);
        CheckpointMismatchError: missing, unexpected or mis-shaped keys (all listed).
    """
    return torchvision_backbone_state(load_checkpoint(path, format, trusted=trusted))


def torchvision_backbone_state(loaded: LoadedCheckpoint) -> "OrderedDict[str, torch.Tensor]":
    """:func:`load_torchvision_backbone` for an already loaded checkpoint."""
    from e2mc_plugin.checkpoints.coverage import reference_backbone_shapes

    where = f"{loaded.path!r} (format {loaded.format!r})"
    state = {k[len(_PREFIX) :]: v for k, v in loaded.state_dict.items() if k.startswith(_PREFIX)}
    if not state:
        raise CheckpointFormatError(f"{where} holds no backbone tensors")
    arch = torchvision_resnet_arch(state, where)
    expected = reference_backbone_shapes(arch)
    conv1 = state.get("conv1.weight")
    if conv1 is not None and tuple(conv1.shape[-2:]) != expected["conv1.weight"][-2:]:
        raise CheckpointFormatError(
            f"{where}: conv1 is {tuple(conv1.shape[-2:])} (solo-learn's CIFAR stem), not "
            f"torchvision.models.{arch}()'s {expected['conv1.weight'][-2:]}"
        )
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    missing, mis_shaped = [], []
    for key, shape in expected.items():
        if key in state:
            if tuple(state[key].shape) != shape:
                mis_shaped.append(f"{key}: {tuple(state[key].shape)} vs {shape}")
            out[key] = state[key]
        elif key.endswith(".num_batches_tracked"):
            # a counter BatchNorm reads only with momentum=None; some releases omit it
            out[key] = torch.tensor(0, dtype=torch.long)
        else:
            missing.append(key)
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected or mis_shaped:
        parts = [
            f"{label} ({len(keys)}): {', '.join(keys[:8])}{', ...' if len(keys) > 8 else ''}"
            for label, keys in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("shape mismatch", mis_shaped),
            )
            if keys
        ]
        raise CheckpointMismatchError(
            f"{where} does not fit torchvision.models.{arch}() minus fc: " + "; ".join(parts)
        )
    return out


def torchvision_resnet_arch(state: Dict[str, torch.Tensor], where: str = "state dict") -> str:
    """``resnet18|34|50|101|152`` from torchvision-named keys (blocks per layer, bottleneck)."""
    blocks: Dict[int, set] = {}
    for key in state:
        match = _BLOCK.match(key)
        if match:
            blocks.setdefault(int(match.group(1)), set()).add(int(match.group(2)))
    counts = tuple(len(blocks.get(i, ())) for i in range(1, 5))
    arch = _RESNETS.get(("layer1.0.conv3.weight" in state, counts))
    if arch is None:
        shown = ", ".join(sorted({k.split(".")[0] for k in state})[:6])
        raise CheckpointFormatError(
            f"{where}: the backbone is not a torchvision ResNet (blocks per layer {counts}; "
            f"top-level names {shown}); use load_checkpoint(...).state_dict (backbone.* keys) "
            "for other architectures"
        )
    return arch
