"""Loaders in the hosts' pretraining batch format ``[indexes, [crop_0, ..., crop_{V-1}],
targets]`` (large crops first), and deterministic synthetic loaders for tests and benchmarks."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
from torch.utils.data import DataLoader, Dataset

__all__ = ["pretrain_loader", "synthetic_eval_loader", "synthetic_pretrain_loader"]


class _MultiCropDataset(Dataset):
    """Wraps an ``(image, target)`` dataset into the host's ``(index, [crops...], target)``."""

    def __init__(self, dataset: Dataset, transforms: Sequence[Callable]):
        self.dataset = dataset
        self.transforms = list(transforms)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int):
        image, target = self.dataset[index]
        return index, [t(image) for t in self.transforms], target


def pretrain_loader(
    dataset: Dataset,
    transforms: Sequence[Callable],
    *,
    batch_size: int,
    shuffle: bool = True,
    num_workers: int = 0,
    drop_last: bool = True,
    generator: Optional[torch.Generator] = None,
) -> DataLoader:
    """A pretraining loader over an ``(image, target)`` dataset: one transform per crop.

    Put the large-crop transforms first (``num_large_crops`` of them), then the small ones; the
    loader yields ``[indexes, [crop_0, ..., crop_{V-1}], targets]`` as the hosts expect.
    ``drop_last=True`` because entropy estimators need full batches.
    """
    return DataLoader(
        _MultiCropDataset(dataset, transforms),
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        drop_last=drop_last,
        generator=generator,
    )


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
