"""load_torchvision_backbone: every supported ResNet release (synthetic files in the official
layouts) -> a state dict that torchvision.models.resnet*() minus fc loads strictly, tensor for
tensor the release's online backbone; other backbones and unsafe files are refused."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from e2mc_plugin.checkpoints import (
    CheckpointFormatError,
    UnsafeCheckpointError,
    load_torchvision_backbone,
)


def _official_releases():
    """The MoCo v3 / DINO / Barlow Twins builders of the checkpoint tests (not a package)."""
    path = Path(__file__).with_name("test_ckpt_moco_dino_barlow.py")
    spec = importlib.util.spec_from_file_location("ckpt_moco_dino_barlow_layouts", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _backbone_state(module: nn.Module):
    return {k: v for k, v in module.state_dict().items() if not k.startswith("fc.")}


def release(layouts, name):
    """(file name, raw checkpoint, the torchvision-named backbone it must give, its arch) of
    ``name``: ResNet-50 for the releases whose builders are cheap, ResNet-18 for the ones that
    randomise whole networks (same names, same code path)."""
    resnet = layouts.backbone_only(layouts.resnet_state("resnet50"))
    if name in ("vicreg_backbone", "vicreg_full", "swav", "simsiam"):
        file_name, raw = {
            "vicreg_backbone": ("resnet50.pth", resnet),
            "vicreg_full": ("resnet50_fullckpt.pth", layouts.vicreg_full()),
            "swav": ("swav_800ep_pretrain.pth.tar", layouts.swav_official()),
            "simsiam": ("checkpoint_0099.pth.tar", layouts.simsiam_official()),
        }[name]
        return file_name, raw, resnet, "resnet50"
    off = _official_releases()
    if name == "mocov3":
        raw, base = off.mocov3_release("resnet18")
        return "r-50-1000ep.pth.tar", raw, _backbone_state(base), "resnet18"
    if name == "dino":
        raw, student, _ = off.dino_release("resnet18")
        state = student.backbone.state_dict()
        return "dino_resnet50_pretrain_full_checkpoint.pth", raw, state, "resnet18"
    raw, barlow = off.barlow_release("resnet18")
    return "checkpoint.pth", raw, barlow.backbone.state_dict(), "resnet18"


NAMES = ["vicreg_backbone", "vicreg_full", "swav", "simsiam", "mocov3", "dino", "barlowtwins"]
FORMATS = {"vicreg_backbone": "vicreg_backbone", "barlowtwins": "barlowtwins_full"}


@pytest.mark.parametrize("name", NAMES)
def test_release_loads_strictly_into_torchvision_resnet(tmp_path, layouts, name):
    file_name, raw, expected, arch = release(layouts, name)
    expected = {k: v for k, v in expected.items() if not k.startswith("fc.")}
    path = tmp_path / file_name
    torch.save(raw, path)
    state = load_torchvision_backbone(path, FORMATS.get(name))
    net = getattr(torchvision.models, arch)()
    net.fc = nn.Identity()
    net.load_state_dict(state, strict=True)
    assert list(state) == [k for k in net.state_dict()]  # torchvision's order
    for key, value in expected.items():
        assert torch.equal(state[key], value), key


def test_vit_backbone_is_refused_naming_the_alternative(tmp_path):
    vit = {
        "patch_embed.proj.weight": torch.zeros(8, 3, 16, 16),
        "cls_token": torch.zeros(1, 1, 8),
        "blocks.0.norm1.weight": torch.ones(8),
    }
    path = tmp_path / "vit.pth"
    torch.save(vit, path)
    with pytest.raises(CheckpointFormatError, match="not a torchvision ResNet.*load_checkpoint"):
        load_torchvision_backbone(path, "timm")


def test_a_pickled_object_is_refused_unless_trusted(tmp_path, layouts):
    raw = layouts.vicreg_full("resnet18")
    raw["args"] = _Opaque()
    path = tmp_path / "resnet18_fullckpt.pth"
    torch.save(raw, path)
    with pytest.raises(UnsafeCheckpointError):
        load_torchvision_backbone(path)
    state = load_torchvision_backbone(path, trusted=True)
    net = torchvision.models.resnet18()
    net.fc = nn.Identity()
    net.load_state_dict(state, strict=True)


class _Opaque:
    pass
