"""Digits data (e2mc_plugin.datasets.digits): split, augmentations, loaders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from e2mc_plugin.datasets.digits import (
    AugmentConfig,
    augment,
    eval_loader,
    load_digits_split,
    train_loader,
)


@pytest.fixture(scope="module")
def split():
    return load_digits_split(size=16, test_fraction=0.3, seed=0)


def test_demo_split_shapes_ranges_and_labels(split):
    assert split.train_x.shape == (1257, 3, 16, 16) and split.test_x.shape == (540, 3, 16, 16)
    assert split.train_x.dtype == torch.float32 and split.train_y.dtype == torch.int64
    for x in (split.train_x, split.test_x):
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
        assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])  # grey -> 3 ch
    assert set(split.train_y.tolist()) == set(range(10)) == set(split.test_y.tolist())
    # stratified: every class keeps about the same share in the held-out part
    share = np.bincount(split.test_y.numpy(), minlength=10) / (
        np.bincount(split.test_y.numpy(), minlength=10)
        + np.bincount(split.train_y.numpy(), minlength=10)
    )
    assert np.allclose(share, 0.3, atol=0.02)
    assert len(split.mean) == 3 and all(s > 0 for s in split.std)


def test_demo_split_is_seeded_and_native_size_matches_sklearn():
    from sklearn.datasets import load_digits

    a = load_digits_split(size=8, seed=0)
    b = load_digits_split(size=8, seed=0)
    assert torch.equal(a.test_x, b.test_x) and torch.equal(a.train_y, b.train_y)
    imgs = torch.from_numpy(load_digits().images.astype(np.float32) / 16)
    # native resolution: every held-out image is one of sklearn's images, unchanged
    flat = imgs.reshape(len(imgs), -1)
    test = a.test_x[:, 0].reshape(len(a.test_x), -1)
    assert torch.cdist(test, flat).min(dim=1).values.max() < 1e-6


def test_demo_augment_range_shape_and_seed(split):
    x = split.train_x[:32]
    v1 = augment(x, torch.Generator().manual_seed(3))
    v2 = augment(x, torch.Generator().manual_seed(3))
    v3 = augment(x, torch.Generator().manual_seed(4))
    assert v1.shape == x.shape and torch.equal(v1, v2) and not torch.equal(v1, v3)
    assert float(v1.min()) >= 0.0 and float(v1.max()) <= 1.0
    assert not torch.equal(v1[:, 0], v1[:, 1])  # per-channel jitter makes the channels differ


def test_demo_augment_identity_when_ranges_are_trivial(split):
    x = split.train_x[:8]
    cfg = AugmentConfig(
        scale=(1.0, 1.0),
        ratio=(1.0, 1.0),
        max_rotation_deg=0.0,
        brightness=0.0,
        contrast=0.0,
        channel_gain=0.0,
        noise_std=0.0,
    )
    assert torch.allclose(augment(x, torch.Generator().manual_seed(0), cfg), x, atol=1e-5)


def test_demo_train_loader_yields_solo_batches(split):
    loader = train_loader(split, batch_size=64, seed=0)
    assert len(loader) == 1257 // 64  # drop_last: the entropy estimator wants full batches
    idx, views, y = next(iter(loader))
    assert idx.shape == (64,) and y.shape == (64,) and len(views) == 2
    assert all(v.shape == (64, 3, 16, 16) for v in views)
    assert torch.equal(y, split.train_y[idx])
    assert not torch.equal(views[0], views[1])
    # normalized with the training statistics: roughly zero mean, unit scale
    assert abs(float(torch.cat(views).mean())) < 0.5


def test_demo_eval_loader_is_ordered_and_normalized(split):
    xs, ys = zip(*eval_loader(split, split.test_x, split.test_y, batch_size=100), strict=False)
    assert torch.equal(torch.cat(ys), split.test_y)
    assert torch.allclose(torch.cat(xs), split.normalize(split.test_x))
