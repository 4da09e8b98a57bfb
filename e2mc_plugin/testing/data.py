"""Deterministic synthetic loaders in the hosts' batch formats, for tests and benchmarks:
pretraining batches ``[indexes, [crop_0, ..., crop_{V-1}], targets]`` (large crops first) and
evaluation batches ``(images, targets)``."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

__all__ = ["synthetic_eval_loader", "synthetic_pretrain_loader"]


class _SyntheticMultiCrop(Dataset):
    def __init__(self, n, num_large_crops, num_small_crops, size, small_size, num_classes, seed):
        g = torch.Generator().manual_seed(seed)
        self.large = torch.randn(num_large_crops, n, 3, size, size, generator=g)
        self.small = torch.randn(num_small_crops, n, 3, small_size, small_size, generator=g)
        self.targets = torch.randint(0, num_classes, (n,), generator=g)

    def __len__(self) -> int:
        return self.targets.numel()

    def __getitem__(self, i: int):
        crops = [c[i] for c in self.large] + [c[i] for c in self.small]
        return i, crops, int(self.targets[i])


def synthetic_pretrain_loader(
    num_samples: int = 32,
    *,
    batch_size: int = 8,
    num_large_crops: int = 2,
    num_small_crops: int = 0,
    size: int = 32,
    small_size: int = 16,
    num_classes: int = 10,
    seed: int = 0,
) -> DataLoader:
    """Deterministic Gaussian-noise crops in the host's batch format (tests, benchmarks).

    Each crop of each sample is fixed at construction (no augmentation, no shuffling), so two
    loaders with the same arguments yield bit-identical batches.
    """
    ds = _SyntheticMultiCrop(
        num_samples, num_large_crops, num_small_crops, size, small_size, num_classes, seed
    )
    return DataLoader(ds, batch_size=batch_size, shuffle=False, drop_last=True, num_workers=0)


def synthetic_eval_loader(
    num_samples: int = 32,
    *,
    batch_size: int = 8,
    size: int = 32,
    num_classes: int = 10,
    seed: int = 1,
) -> DataLoader:
    """Deterministic ``(images, targets)`` batches for validation / feature extraction."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(num_samples, 3, size, size, generator=g)
    y = torch.randint(0, num_classes, (num_samples,), generator=g)
    return DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size, shuffle=False)
