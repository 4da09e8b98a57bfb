"""The iNat18 transfer head: res5 -> AvgPool(6, 1) -> per-channel BatchNorm -> linear."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from e2mc_plugin.evaluation.probe_head import (
    PooledBNLinear,
    pooled_positions,
    resnet_res5_size,
    transfer_pool,
)


def _res5(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
        x = getattr(model, name)(x)
    return x


@pytest.mark.parametrize("crop", [32, 96, 160, 224, 225, 256, 299])
def test_res5_size_matches_a_torchvision_forward(crop):
    with torch.device("meta"):
        model = torchvision.models.resnet50().eval()
        side = _res5(model, torch.empty(1, 3, crop, crop)).shape[-1]
    assert resnet_res5_size(crop) == side


def test_resnet50_at_224_gives_the_8192d_feature():
    """The backbone forward with the pooling swapped: flatten(AvgPool(6, 1)(res5)) is 8192-d."""
    with torch.device("meta"):
        model = torchvision.models.resnet50().eval()
        model.fc = nn.Identity()
        model.avgpool = transfer_pool(6, 1)
        feats = model(torch.empty(2, 3, 224, 224))
    assert feats.shape == (2, 8192)
    assert pooled_positions(resnet_res5_size(224), 6, 1) * model.inplanes == 8192


def test_small_res5_map_is_rejected_with_the_sizes():
    with pytest.raises(ValueError, match="smaller than the pooling kernel 6"):
        pooled_positions(resnet_res5_size(96), 6, 1)


def test_head_equals_batchnorm2d_on_the_pooled_map_then_linear():
    """Independent reference: the reference's RegLog order (pool, BatchNorm2d, flatten, linear)."""
    torch.manual_seed(0)
    res5 = torch.randn(16, 8, 7, 7) * 3 + 1
    head = PooledBNLinear(channels=8, positions=4, num_classes=5)
    ref_bn = nn.BatchNorm2d(8)
    with torch.no_grad():
        head.bn.weight.uniform_(0.5, 2)
        head.bn.bias.uniform_(-1, 1)
        ref_bn.load_state_dict(head.bn.state_dict())
    pooled = transfer_pool(6, 1)(res5)
    for mode in (True, False):  # batch statistics, then the running ones
        head.train(mode)
        ref_bn.train(mode)
        expected = head.linear(torch.flatten(ref_bn(pooled), 1))
        torch.testing.assert_close(head(torch.flatten(pooled, 1)), expected)
    torch.testing.assert_close(head.bn.running_mean, ref_bn.running_mean)
    torch.testing.assert_close(head.bn.running_var, ref_bn.running_var)


def test_head_initialization_and_trainable_parameters():
    torch.manual_seed(0)
    head = PooledBNLinear(2048, 4, 100)
    assert head.linear.in_features == head.in_features == 8192
    assert abs(head.linear.weight.std().item() - 0.01) < 5e-4
    assert torch.count_nonzero(head.linear.bias) == 0
    names = {n for n, p in head.named_parameters() if p.requires_grad}
    assert names == {"bn.weight", "bn.bias", "linear.weight", "linear.bias"}
    assert PooledBNLinear(2048, 4, 100, batchnorm=False).bn is None


def test_head_rejects_features_of_the_wrong_width():
    with pytest.raises(ValueError, match=r"\(n, 8192\)"):
        PooledBNLinear(2048, 4, 10)(torch.randn(2, 2048))


def test_one_training_epoch_on_a_tiny_image_folder_lowers_the_loss(tmp_path):
    """Frozen resnet18 (eval) + the head trained by SGD on 20 images of 2 separable classes."""
    torch.manual_seed(0)
    backbone = torchvision.models.resnet18()
    backbone.fc = nn.Identity()
    backbone.avgpool = transfer_pool(6, 1)
    backbone.eval().requires_grad_(False)
    x = torch.rand(20, 3, 224, 224)
    y = torch.arange(20) % 2
    x[y == 1] += 0.5  # a brightness shift the frozen features see
    with torch.no_grad():
        feats = backbone(x)
    assert feats.shape == (20, 512 * 4)
    head = PooledBNLinear(512, 4, 2)
    opt = torch.optim.SGD(head.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    losses = []
    for _ in range(15):  # an "epoch" of 15 full-batch steps
        loss = nn.functional.cross_entropy(head(feats), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
