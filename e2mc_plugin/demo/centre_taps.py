"""3x3 convolutions on 1x1 maps computed with their centre tap: the demo's exact CPU speed-up.

At 16x16 with the ImageNet stem (stride-2 conv, max-pool), resnet18's layer3 and layer4 run on 1x1
feature maps. A 3x3 convolution with zero padding 1 there multiplies eight of its nine taps by
padding zeros, and oneDNN computes those products anyway: layer4 alone was about half of a demo
step. On a 1x1 input the output is, for any stride, the 1x1 convolution with the centre tap
``weight[:, :, 1:2, 1:2]`` (the one output's window is centred on the one input pixel), and the
gradients are too: the other taps multiply zeros, so they get zero gradient either way.

:func:`use_centre_taps` re-classes such convolutions in place (:class:`CentreTapConv2d`, a
``Conv2d`` with the same parameters, buffers and state-dict keys; any other input size takes the
ordinary path), so checkpoints, ``deepcopy`` (momentum networks) and pickling are unchanged.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CentreTapConv2d", "use_centre_taps"]


class CentreTapConv2d(nn.Conv2d):
    """A 3x3, padding-1 ``Conv2d`` that uses only its centre tap on 1x1 inputs (the same result)."""

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] == (1, 1):
            centre = self.weight[:, :, 1:2, 1:2]
            return F.conv2d(x, centre, self.bias, 1, 0, 1, self.groups)
        return super().forward(x)


def _eligible(module: nn.Module) -> bool:
    return (
        type(module) is nn.Conv2d
        and module.kernel_size == (3, 3)
        and module.padding == (1, 1)
        and module.dilation == (1, 1)
        and module.padding_mode == "zeros"
    )


def use_centre_taps(model: nn.Module) -> int:
    """Re-class every plain 3x3, padding-1, dilation-1 ``Conv2d`` of ``model`` as
    :class:`CentreTapConv2d`; returns how many."""
    count = 0
    for module in model.modules():
        if _eligible(module):
            module.__class__ = CentreTapConv2d
            count += 1
    return count
