"""LightningModules written the way lightly 1.6's examples write them (examples/pytorch_lightning/
vicreg.py, simsiam.py, swav.py), with lightly's own heads and losses and a tiny CNN backbone.

``batch`` is ``([view_0, ..., view_{V-1}], labels)`` as lightly's transforms + datasets give it.
Needs lightly (import this module only after ``pytest.importorskip("lightly")``).
"""

from __future__ import annotations

from typing import List, Sequence

import torch
from lightly.loss import NegativeCosineSimilarity, SwaVLoss, VICRegLoss
from lightly.models.modules.heads import (
    SimCLRProjectionHead,
    SimSiamPredictionHead,
    SimSiamProjectionHead,
    SwaVProjectionHead,
    SwaVPrototypes,
    VICRegProjectionHead,
)
from lightning_models import pl
from torch import nn
from torch.utils.data import DataLoader, Dataset

FEAT = 16


def tiny_backbone() -> nn.Module:
    """Stands in for ``torchvision.models.resnet18()`` minus fc: images -> (n, FEAT)."""
    return nn.Sequential(
        nn.Conv2d(3, FEAT, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()
    )


class _Base(pl.LightningModule):
    def __init__(self, lr: float = 0.1):
        super().__init__()
        torch.manual_seed(0)
        self.lr = lr
        self.backbone = tiny_backbone()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


class VICReg(_Base):
    """lightly's VICReg example. ``batch_norm=False`` uses lightly's SimCLR head without BN (for
    DDP = full-batch comparisons: BatchNorm statistics are per rank)."""

    def __init__(self, lr: float = 0.1, batch_norm: bool = True, gather_distributed=False):
        super().__init__(lr)
        if batch_norm:
            self.projection_head = VICRegProjectionHead(FEAT, 32, 32, num_layers=2)
        else:
            self.projection_head = SimCLRProjectionHead(FEAT, 32, 32, batch_norm=False)
        self.criterion = VICRegLoss(gather_distributed=gather_distributed)

    def forward(self, x):
        return self.projection_head(self.backbone(x).flatten(start_dim=1))

    def training_step(self, batch, batch_index):
        (x0, x1) = batch[0][:2]
        return self.criterion(self.forward(x0), self.forward(x1))


class SimSiam(_Base):
    """lightly's SimSiam example: the predictor's inputs are the projection outputs."""

    def __init__(self, lr: float = 0.1):
        super().__init__(lr)
        self.projection_head = SimSiamProjectionHead(FEAT, 32, 16)
        self.prediction_head = SimSiamPredictionHead(16, 8, 16)
        self.criterion = NegativeCosineSimilarity()

    def forward(self, x):
        z = self.projection_head(self.backbone(x).flatten(start_dim=1))
        p = self.prediction_head(z)
        return z.detach(), p

    def training_step(self, batch, batch_idx):
        x0, x1 = batch[0][:2]
        z0, p0 = self.forward(x0)
        z1, p1 = self.forward(x1)
        return 0.5 * (self.criterion(z0, p1) + self.criterion(z1, p0))


class SwaV(_Base):
    """lightly's SwaV example (multi-crop: 2 high- then low-resolution crops)."""

    def __init__(self, lr: float = 0.1):
        super().__init__(lr)
        self.projection_head = SwaVProjectionHead(FEAT, 32, 16)
        self.prototypes = SwaVPrototypes(16, n_prototypes=10)
        self.criterion = SwaVLoss()

    def forward(self, x):
        x = self.projection_head(self.backbone(x).flatten(start_dim=1))
        x = nn.functional.normalize(x, dim=1, p=2)
        return self.prototypes(x)

    def training_step(self, batch, batch_idx):
        self.prototypes.normalize()
        views = batch[0]
        multi_crop_features = [self.forward(view.to(self.device)) for view in views]
        high_resolution = multi_crop_features[:2]
        low_resolution = multi_crop_features[2:]
        return self.criterion(high_resolution, low_resolution)


class CropsDataset(Dataset):
    """Fixed random images: ``([crop at each size], label)`` per item."""

    def __init__(self, n: int, sizes: Sequence[int] = (12, 12), seed: int = 0):
        gen = torch.Generator().manual_seed(seed)
        self.crops = [torch.rand(n, 3, s, s, generator=gen) for s in sizes]
        self.labels = torch.zeros(n, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return [c[i] for c in self.crops], self.labels[i]

    def batch(self, rows: Sequence[int]) -> List[List[torch.Tensor]]:
        rows = list(rows)
        return [[c[rows] for c in self.crops], self.labels[rows]]


def crops_loader(n: int = 16, batch_size: int = 8, **kwargs) -> DataLoader:
    return DataLoader(CropsDataset(n, **kwargs), batch_size=batch_size, shuffle=False)
