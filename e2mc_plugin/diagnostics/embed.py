"""Embeddings of a built solo-learn method: backbone features and raw projector outputs.

The projector output is taken BEFORE any normalization (what the auxiliary losses map with Psi);
methods without a ``projector`` module (DINO) fall back to the backbone features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch
from torch import nn

__all__ = ["Embeddings", "embed"]


@dataclass(frozen=True)
class Embeddings:
    features: np.ndarray  # (n, D) backbone features
    projections: np.ndarray  # (n, d) raw projector outputs z
    labels: np.ndarray  # (n,)


@torch.no_grad()
def embed(model: nn.Module, loader: Iterable) -> Embeddings:
    """Run ``(images, targets)`` batches through the frozen backbone and projector (eval mode)."""
    from e2mc_plugin.solo import compat

    backbone = compat.get_backbone(model) if compat.has_backbone(model) else model
    projector = getattr(model, "projector", None)
    was_training = model.training
    model.eval()
    device = next(backbone.parameters()).device
    feats, projs, labels = [], [], []
    try:
        for x, y in loader:
            f = backbone(x.to(device))
            feats.append(f.float().cpu())
            projs.append((projector(f) if isinstance(projector, nn.Module) else f).float().cpu())
            labels.append(torch.as_tensor(y).long().cpu())
    finally:
        model.train(was_training)
    return Embeddings(torch.cat(feats).numpy(), torch.cat(projs).numpy(), torch.cat(labels).numpy())
