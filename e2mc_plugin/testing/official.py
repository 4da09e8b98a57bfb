"""Official release layouts of the VICReg and Barlow Twins full checkpoints, at any width.

The projectors are the authors' definitions (``facebookresearch/vicreg`` ``main_vicreg.py``
``Projector``; ``facebookresearch/barlowtwins`` ``main.py`` ``BarlowTwins.__init__``): every
hidden layer Linear-BN-ReLU, and ``bias=False`` on the last Linear (VICReg) or on every Linear
(Barlow Twins). The containers are those ``main_*.py`` save from the DDP model
(``module.backbone.*``, ``module.projector.*``; Barlow Twins also ``module.bn.*``). Weights are
random; tests write these files and load them through the real loaders.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Dict, Mapping, Sequence

import torch
from torch import Tensor, nn

__all__ = [
    "barlowtwins_full_release",
    "barlowtwins_projector",
    "vicreg_full_release",
    "vicreg_projector",
]


def vicreg_projector(sizes: Sequence[int]) -> nn.Sequential:
    """``Projector(args, embedding)`` with ``f = [embedding, *mlp]``: the last Linear has no
    bias."""
    layers = []
    for i in range(len(sizes) - 2):
        layers += [nn.Linear(sizes[i], sizes[i + 1]), nn.BatchNorm1d(sizes[i + 1]), nn.ReLU(True)]
    layers.append(nn.Linear(sizes[-2], sizes[-1], bias=False))
    return nn.Sequential(*layers)


def barlowtwins_projector(sizes: Sequence[int]) -> nn.Sequential:
    """``BarlowTwins.projector`` with ``sizes = [2048, *projector]``: no Linear has a bias."""
    layers = []
    for i in range(len(sizes) - 2):
        layers += [nn.Linear(sizes[i], sizes[i + 1], bias=False), nn.BatchNorm1d(sizes[i + 1])]
        layers.append(nn.ReLU(inplace=True))
    layers.append(nn.Linear(sizes[-2], sizes[-1], bias=False))
    return nn.Sequential(*layers)


def _randomised(module: nn.Module, seed: int) -> nn.Module:
    """Random weights and BatchNorm statistics (not the constructor's ones and zeros)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            if not tensor.is_floating_point():
                continue
            if tensor.dim() == 1:  # biases, BatchNorm affine and statistics: around 1
                tensor.copy_(0.9 + 0.2 * torch.rand(tensor.shape, generator=gen))
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=gen) / tensor.shape[-1] ** 0.5)
    return module


def _ddp(prefix: str, state: Mapping[str, Tensor]) -> "OrderedDict[str, Tensor]":
    return OrderedDict((f"module.{prefix}{k}", v.clone()) for k, v in state.items())


def vicreg_full_release(
    backbone: Mapping[str, Tensor], sizes: Sequence[int], seed: int = 0
) -> Dict[str, object]:
    """``resnet50_fullckpt.pth``: ``{"epoch", "model": {module.backbone.*, module.projector.*},
    "optimizer"}``; ``backbone`` holds torchvision ResNet names without ``fc``."""
    model = _ddp("backbone.", backbone)
    model.update(_ddp("projector.", _randomised(vicreg_projector(sizes), seed).state_dict()))
    return {"epoch": 100, "model": model, "optimizer": {"state": {}, "param_groups": []}}


def barlowtwins_full_release(
    backbone: Mapping[str, Tensor], sizes: Sequence[int], seed: int = 0
) -> Dict[str, object]:
    """``checkpoint.pth``: ``{"epoch", "model": {module.backbone.*, module.projector.*,
    module.bn.*}, "optimizer"}``."""
    model = _ddp("backbone.", backbone)
    model.update(_ddp("projector.", _randomised(barlowtwins_projector(sizes), seed).state_dict()))
    model.update(_ddp("bn.", nn.BatchNorm1d(sizes[-1], affine=False).state_dict()))
    return {"epoch": 1000, "model": model, "optimizer": {"state": {}, "param_groups": []}}
