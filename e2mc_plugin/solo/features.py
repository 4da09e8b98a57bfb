"""The one feature extractor: frozen backbone features and raw projector outputs of a method.

Used by the probes (backbone features), the diagnostics and the entropy columns of the demo's
sweep (projector outputs z, taken BEFORE any normalization: what the auxiliary losses map with
Psi). Methods without a ``projector`` module (DINO) and bare backbones give their features as
projections.

Examples:
    >>> feats = extract_features(model, loader)  # doctest: +SKIP
    >>> feats.features.shape, feats.projections.shape, feats.labels.shape  # doctest: +SKIP
    (torch.Size([540, 512]), torch.Size([540, 64]), torch.Size([540]))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
from torch import Tensor, nn

__all__ = ["Features", "extract_features"]


@dataclass(frozen=True)
class Features:
    """Embeddings of N samples, float32 / int64 on the CPU."""

    features: Tensor  # (N, D) backbone features
    projections: Tensor  # (N, d) raw projector outputs z (= features without a projector)
    labels: Tensor  # (N,)


def _images_and_targets(batch) -> tuple:
    if len(batch) == 3:  # pretraining batch: [indexes, [crops...], targets]; first crop
        _, x, y = batch
        return (x[0] if isinstance(x, (list, tuple)) else x), y
    return batch[0], batch[1]


@torch.no_grad()
def extract_features(model: nn.Module, loader: Iterable) -> Features:
    """Run every batch of ``loader`` through the frozen backbone and projector (eval mode).

    Args:
        model: a solo-learn method (either host) or a bare backbone module.
        loader: batches ``(images, targets)``, or pretraining batches
            ``[indexes, [crops...], targets]`` (the first crop is used).

    Returns:
        :class:`Features`; the module's previous train/eval mode is restored afterwards.
    """
    from e2mc_plugin.solo import compat

    backbone = compat.get_backbone(model) if compat.has_backbone(model) else model
    projector = getattr(model, "projector", None) if backbone is not model else None
    was_training = model.training
    device = next(backbone.parameters()).device
    model.eval()  # batch-norm running statistics in the backbone AND the projector
    feats, projs, labels = [], [], []
    try:
        for batch in loader:
            x, y = _images_and_targets(batch)
            f = backbone(x.to(device))
            z = projector(f) if isinstance(projector, nn.Module) else f
            feats.append(f.float().cpu())
            projs.append(z.float().cpu())
            labels.append(torch.as_tensor(y).long().cpu())
    finally:
        model.train(was_training)
    return Features(torch.cat(feats), torch.cat(projs), torch.cat(labels))
