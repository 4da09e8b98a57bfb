"""Transfer probe head on res5 features: AvgPool(k, stride s) -> BatchNorm -> linear.

The iNaturalist-2018 linear probe of the E2MC paper (Appendix A.2.3 / B.2.3), as the reference
``eval_linear.py`` builds it with ``--global_pooling false --use_bn true`` (class ``RegLog``; the
protocol of Goyal et al. 2019 / SwAV):

    res5 map (n, C, h, w) --AvgPool2d(6, stride 1)--> (n, C, h-5, w-5) --BatchNorm2d(C)-->
    flatten (n, C (h-5) (w-5)) --Linear--> (n, classes)

For a ResNet-50 at 224 px, res5 is 7 x 7 x 2048, so the pooled feature is 2 x 2 x 2048 = 8192-d.
The BatchNorm normalizes per CHANNEL over the batch and the pooled positions (``BatchNorm2d`` on
the pooled map), not per each of the 8192 coordinates. The classifier starts as the reference's:
weight ~ N(0, 0.01^2), bias 0.

Split for solo-learn's linear launcher, whose backbone forward ends in
``flatten(avgpool(x))``: :func:`transfer_pool` replaces the backbone's ``avgpool`` (no
parameters: the frozen backbone stays frozen) and :class:`PooledBNLinear` takes the flattened
(n, C * positions) features, so its BatchNorm trains with the classifier.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = [
    "resnet_res5_size",
    "pooled_positions",
    "transfer_pool",
    "reference_init",
    "PooledBNLinear",
]

#: std of the reference probe classifier's weights
REFERENCE_INIT_STD = 0.01


def reference_init(linear: nn.Linear) -> nn.Linear:
    """The reference probe classifier's initialization, in place: weight ~ N(0, 0.01^2), bias 0.

    ``eval_linear.py`` ``RegLog`` (github.com/deepc94/e2mc, from SwAV's): ``linear.weight.data
    .normal_(mean=0.0, std=0.01)``, ``linear.bias.data.zero_()``. PyTorch's default draws
    U(-1/sqrt(in), 1/sqrt(in)) for both (weight std 1/sqrt(3 in): 0.0128 for 2048 inputs, a 28%
    larger norm); under LARS the weight norm sets the step size.
    """
    with torch.no_grad():
        linear.weight.normal_(mean=0.0, std=REFERENCE_INIT_STD)
        if linear.bias is not None:
            linear.bias.zero_()
    return linear


def resnet_res5_size(crop: int) -> int:
    """Side of a torchvision ResNet's res5 map for a ``crop`` x ``crop`` input (224 -> 7).

    conv1 (k7, s2, p3), max-pool (k3, s2, p1), then one stride-2 stage each in layer2..4.
    """
    if crop < 1:
        raise ValueError(f"crop must be a positive image side, got {crop}")
    side = (crop + 2 * 3 - 7) // 2 + 1
    side = (side + 2 * 1 - 3) // 2 + 1
    for _ in range(3):
        side = (side - 1) // 2 + 1
    return side


def pooled_positions(res5_side: int, kernel: int = 6, stride: int = 1) -> int:
    """Number of spatial positions after AvgPool2d(kernel, stride) on a square res5 map."""
    if res5_side < kernel:
        raise ValueError(
            f"the res5 map is {res5_side} x {res5_side}, smaller than the pooling kernel {kernel}: "
            f"use a larger crop (224 px gives 7 x 7) or a smaller kernel"
        )
    side = (res5_side - kernel) // stride + 1
    return side * side


def transfer_pool(kernel: int = 6, stride: int = 1) -> nn.Module:
    """The pooling that replaces the backbone's global average pool (no parameters)."""
    return nn.AvgPool2d(kernel, stride=stride)


class PooledBNLinear(nn.Module):
    """BatchNorm over channels of flattened pooled res5 features, then a linear classifier.

    Args:
        channels: C, channels of res5 (2048 for ResNet-50).
        positions: pooled spatial positions P (4 for 224 px and AvgPool(6, 1)).
        num_classes: outputs (8142 for iNat18).
        batchnorm: the reference's ``--use_bn`` (True in its iNat18 launch script).

    Shapes: input (n, C * P) in ``torch.flatten`` order of an (n, C, h, w) map (channel-major),
    output (n, num_classes).

    Examples:
        >>> head = PooledBNLinear(2048, 4, 8142)
        >>> head(torch.randn(8, 8192)).shape
        torch.Size([8, 8142])
    """

    def __init__(self, channels: int, positions: int, num_classes: int, batchnorm: bool = True):
        super().__init__()
        self.channels, self.positions = int(channels), int(positions)
        self.bn = nn.BatchNorm1d(self.channels) if batchnorm else None
        self.linear = reference_init(nn.Linear(self.channels * self.positions, num_classes))

    @property
    def in_features(self) -> int:
        return self.channels * self.positions

    def forward(self, feats: Tensor) -> Tensor:
        if feats.ndim != 2 or feats.shape[1] != self.in_features:
            raise ValueError(
                f"PooledBNLinear expects (n, {self.in_features}) = (n, channels {self.channels} x "
                f"positions {self.positions}) features, got {tuple(feats.shape)}"
            )
        if self.bn is not None:
            # (n, C, P): BatchNorm1d normalizes each channel over the batch AND the positions,
            # which is BatchNorm2d on the pooled (n, C, h', w') map.
            feats = self.bn(feats.view(feats.shape[0], self.channels, self.positions))
            feats = torch.flatten(feats, 1)
        return self.linear(feats)
