"""scikit-learn's handwritten digits (shipped inside the sklearn wheel, no download), for the demo
and the diagnostics.

1797 grey 8x8 images, 10 classes, upsampled bilinearly to ``size x size`` with 3 identical
channels, split once (stratified, seeded) into a pretraining/probe-training part and a held-out
evaluation part. The SSL augmentations are batched tensor ops (one ``affine_grid`` /
``grid_sample`` per batch): random resized crop with a small rotation, per-channel brightness /
contrast jitter, Gaussian noise. Training batches follow solo-learn's format
``[indexes, [view_1, ..., view_V], targets]``; evaluation batches are ``(images, targets)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

__all__ = [
    "DigitsSplit",
    "AugmentConfig",
    "load_digits_split",
    "augment",
    "TwoViewCollate",
    "train_loader",
    "eval_loader",
]


@dataclass(frozen=True)
class DigitsSplit:
    """Images in [0, 1], shape (n, 3, size, size) float32; labels (n,) int64."""

    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    mean: Tuple[float, float, float]  # per-channel statistics of train_x, for normalization
    std: Tuple[float, float, float]

    def normalize(self, x: Tensor) -> Tensor:
        mean = torch.tensor(self.mean, dtype=x.dtype).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype).view(1, 3, 1, 1)
        return (x - mean) / std


def load_digits_split(
    size: int = 32, test_fraction: float = 0.3, seed: int = 0, limit: int | None = None
) -> DigitsSplit:
    """Load, upsample and split the digits.

    Args:
        size: output side length (8 = native resolution).
        test_fraction: held-out share, stratified by class.
        seed: seed of the split (fixed across model seeds so that all models share one eval set).
        limit: keep only the first ``limit`` images (tests).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    ds = load_digits()
    images = ds.images.astype(np.float32) / 16.0  # pixel values are 0..16
    labels = ds.target.astype(np.int64)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = torch.from_numpy(images)[:, None]  # (n, 1, 8, 8)
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    x = x.clamp_(0.0, 1.0).expand(-1, 3, -1, -1).contiguous()
    y = torch.from_numpy(labels)
    idx_train, idx_test = train_test_split(
        np.arange(len(labels)), test_size=test_fraction, random_state=seed, stratify=labels
    )
    idx_train, idx_test = np.sort(idx_train), np.sort(idx_test)
    train_x = x[idx_train]
    mean = tuple(float(v) for v in train_x.mean(dim=(0, 2, 3)))
    std = tuple(float(v) for v in train_x.std(dim=(0, 2, 3)))
    return DigitsSplit(train_x, y[idx_train], x[idx_test], y[idx_test], mean, std)


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transformations (all sampled independently per image)."""

    scale: Tuple[float, float] = (0.4, 1.0)  # crop area, fraction of the image
    ratio: Tuple[float, float] = (3 / 4, 4 / 3)  # crop aspect ratio
    max_rotation_deg: float = 15.0
    brightness: float = 0.3  # additive shift in [-b, b]
    contrast: float = 0.4  # multiplicative gain in [1 - c, 1 + c]
    channel_gain: float = 0.2  # per-channel gain in [1 - g, 1 + g] (colour jitter)
    noise_std: float = 0.05


def _uniform(n: int, lo: float, hi: float, g: torch.Generator) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def augment(x: Tensor, g: torch.Generator, cfg: AugmentConfig = AugmentConfig()) -> Tensor:
    """One random view of a batch ``x`` (n, C, H, W) in [0, 1]; output in [0, 1], same shape."""
    n = x.shape[0]
    area = _uniform(n, *cfg.scale, g)
    log_r = _uniform(n, math.log(cfg.ratio[0]), math.log(cfg.ratio[1]), g)
    r = torch.exp(log_r)
    w = torch.sqrt(area * r).clamp(max=1.0)  # crop width / height, as fractions of the image
    h = torch.sqrt(area / r).clamp(max=1.0)
    cx = (2 * torch.rand(n, generator=g) - 1) * (1 - w)  # crop centre, crop stays inside
    cy = (2 * torch.rand(n, generator=g) - 1) * (1 - h)
    angle = _uniform(n, -cfg.max_rotation_deg, cfg.max_rotation_deg, g) * (math.pi / 180)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # output grid coords in [-1, 1] -> input coords: rotate, then scale to the crop, then shift
    theta = torch.stack(
        [
            torch.stack([w * cos, -w * sin, cx], dim=1),
            torch.stack([h * sin, h * cos, cy], dim=1),
        ],
        dim=1,
    ).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    gain = _uniform(n, 1 - cfg.contrast, 1 + cfg.contrast, g).view(n, 1, 1, 1)
    shift = _uniform(n, -cfg.brightness, cfg.brightness, g).view(n, 1, 1, 1)
    ch = 1 + cfg.channel_gain * (2 * torch.rand(n, x.shape[1], 1, 1, generator=g) - 1)
    out = out * gain * ch + shift
    if cfg.noise_std > 0:
        out = out + cfg.noise_std * torch.randn(out.shape, generator=g)
    return out.clamp_(0.0, 1.0)


class TwoViewCollate:
    """Collate indexes into a solo-learn training batch ``[indexes, [v_1, ..., v_V], targets]``.

    Augmentation happens here, on the whole batch at once, from its own seeded generator.
    """

    def __init__(
        self,
        split: DigitsSplit,
        *,
        n_views: int = 2,
        seed: int = 0,
        cfg: AugmentConfig = AugmentConfig(),
    ) -> None:
        self.split = split
        self.n_views = n_views
        self.cfg = cfg
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, indexes: Sequence[int]) -> List:
        idx = torch.as_tensor(list(indexes), dtype=torch.long)
        x = self.split.train_x[idx]
        views = [
            self.split.normalize(augment(x, self.generator, self.cfg)) for _ in range(self.n_views)
        ]
        return [idx, views, self.split.train_y[idx]]


def train_loader(
    split: DigitsSplit,
    *,
    batch_size: int = 128,
    seed: int = 0,
    n_views: int = 2,
    cfg: AugmentConfig = AugmentConfig(),
) -> DataLoader:
    """Shuffled, ``drop_last`` loader of augmented multi-view training batches (no workers)."""
    n = split.train_x.shape[0]
    return DataLoader(
        range(n),  # type: ignore[arg-type]  # a range is a valid map-style dataset of indexes
        batch_size=min(batch_size, n),
        shuffle=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(seed),
        collate_fn=TwoViewCollate(split, n_views=n_views, seed=seed + 1, cfg=cfg),
        num_workers=0,
    )


def eval_loader(split: DigitsSplit, x: Tensor, y: Tensor, *, batch_size: int = 256) -> DataLoader:
    """Unaugmented, normalized ``(images, targets)`` batches in dataset order."""
    return DataLoader(TensorDataset(split.normalize(x), y), batch_size=batch_size, shuffle=False)
