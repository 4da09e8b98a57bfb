"""Frozen features of a solo-learn method (either host) or a bare backbone: the one feature
extractor (probes, diagnostics, the demo's entropy columns), re-exported by
:mod:`e2mc_plugin.solo.api`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import torch
from torch import Tensor, nn

from e2mc_plugin.solo.host import compat

__all__ = ["Features", "extract_features"]


@dataclass(frozen=True)
class Features:
    """Embeddings of N samples, float32 / int64 on the CPU."""

    features: Tensor  # (N, D) backbone features
    projections: Tensor  # (N, d) raw projector outputs z (= features without a projector)
    labels: Tensor  # (N,)

    def __iter__(self) -> Iterator[Tensor]:
        """``features, labels = extract_features(...)``: the API's two-value form."""
        return iter((self.features, self.labels))


def _images_and_targets(batch) -> tuple:
    if len(batch) == 3:  # pretraining batch: [indexes, [crops...], targets]; first crop
        _, x, y = batch
        return (x[0] if isinstance(x, (list, tuple)) else x), y
    return batch[0], batch[1]


@torch.no_grad()
def extract_features(model: nn.Module, loader: Iterable) -> Features:
    """Run every batch of ``loader`` through the frozen backbone and projector (eval mode): the
    one feature extractor (probes, diagnostics, the demo's entropy columns).

    Projections are the projector outputs z BEFORE any normalization (what the aux losses map
    with Psi); methods without a ``projector`` (DINO) and bare backbones give their features.

    Args:
        model: a solo-learn method (either host) or a bare backbone module.
        loader: batches ``(images, targets)``, or pretraining batches
            ``[indexes, [crops...], targets]`` (the first crop is used).

    Returns:
        :class:`Features`; the module's previous train/eval mode is restored afterwards.
    """
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
