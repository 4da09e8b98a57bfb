"""The demo's centre-tap convolutions compute what the 3x3 convolutions compute (float64)."""

import copy
import pickle

import pytest
import torch
from torch import nn

from e2mc_plugin.demo.centre_taps import CentreTapConv2d, use_centre_taps


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("bias", [False, True])
def test_one_by_one_input_matches_the_full_convolution_and_its_gradients(stride, bias):
    torch.manual_seed(0)
    plain = nn.Conv2d(8, 5, 3, stride=stride, padding=1, bias=bias).double()
    fast = copy.deepcopy(plain)
    assert use_centre_taps(fast) == 1 and type(fast) is CentreTapConv2d
    x = torch.randn(4, 8, 1, 1, dtype=torch.float64, requires_grad=True)
    x_fast = x.detach().clone().requires_grad_(True)
    out, out_fast = plain(x), fast(x_fast)
    assert out.shape == out_fast.shape == (4, 5, 1, 1)
    torch.testing.assert_close(out_fast, out)
    upstream = torch.randn_like(out)
    (out * upstream).sum().backward()
    (out_fast * upstream).sum().backward()
    torch.testing.assert_close(x_fast.grad, x.grad)
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad)
    # the off-centre taps get no gradient from a padded 1x1 input, in both
    off_centre = torch.ones(3, 3, dtype=torch.bool)
    off_centre[1, 1] = False
    assert plain.weight.grad[:, :, off_centre].abs().max() == 0


def test_larger_maps_take_the_ordinary_path():
    torch.manual_seed(0)
    plain = nn.Conv2d(3, 4, 3, padding=1).double()
    fast = copy.deepcopy(plain)
    use_centre_taps(fast)
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    torch.testing.assert_close(fast(x), plain(x))


def test_only_padding_one_three_by_three_convolutions_are_reclassed():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),  # yes
        nn.Conv2d(4, 4, 1),  # 1x1 kernel
        nn.Conv2d(4, 4, 3, padding=0),  # no padding: 1x1 input is invalid anyway
        nn.Conv2d(4, 4, 3, padding=2, dilation=2),  # dilated
        nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"),  # not zero padding
    )
    assert use_centre_taps(model) == 1
    assert [type(m).__name__ for m in model] == ["CentreTapConv2d"] + ["Conv2d"] * 4


def test_a_resnet18_on_16x16_images_is_unchanged_in_output_gradient_state_and_pickle():
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    plain = torchvision.models.resnet18(num_classes=7).double()
    fast = copy.deepcopy(plain)
    assert use_centre_taps(fast) == 16  # every 3x3 conv; not the 7x7 stem, not the 1x1 shortcuts
    x = torch.randn(3, 3, 16, 16, dtype=torch.float64)
    plain.eval(), fast.eval()
    torch.testing.assert_close(fast(x), plain(x))
    fast(x).square().sum().backward()
    plain(x).square().sum().backward()
    for (name, p), q in zip(plain.named_parameters(), fast.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, msg=name)
    assert list(fast.state_dict()) == list(plain.state_dict())
    again = pickle.loads(pickle.dumps(fast))
    assert type(again.layer4[0].conv1) is CentreTapConv2d
