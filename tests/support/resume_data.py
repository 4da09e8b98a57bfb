"""Data whose every epoch draws random numbers from python, numpy and torch (shuffling and an
augmentation using all three), for the exact-resume tests: a resumed run sees the same batches as
an uninterrupted one only if all three generators are restored."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["NoisyImages", "TwoViews", "augment", "jitter"]


class NoisyImages(Dataset):
    """``n`` fixed 3 x ``size`` x ``size`` Gaussian images with labels ``i % 10``."""

    def __init__(self, n: int = 24, size: int = 32, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 3, size, size, generator=g)

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int):
        return self.x[i], i % 10


def augment(image: torch.Tensor) -> torch.Tensor:
    """A random shift (torch), flip (python) and brightness (numpy) of one image."""
    dx, dy = torch.randint(-4, 5, (2,)).tolist()
    out = torch.roll(image, (dx, dy), dims=(1, 2))
    if random.random() < 0.5:
        out = out.flip(-1)
    return out * float(1.0 + 0.2 * np.random.rand())


class TwoViews(Dataset):
    """``n`` fixed vectors, each item two :func:`jitter` views of one: ``([v0, v1], i % 3)``."""

    def __init__(self, n: int = 32, dim: int = 16, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, dim, generator=g)

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int):
        return [jitter(self.x[i]), jitter(self.x[i])], i % 3


def jitter(vector: torch.Tensor) -> torch.Tensor:
    """Noise (torch), a scale (numpy) and a shift (python) of one vector."""
    shift = 0.1 if random.random() < 0.5 else -0.1
    return vector * float(1.0 + 0.2 * np.random.rand()) + 0.1 * torch.randn_like(vector) + shift
