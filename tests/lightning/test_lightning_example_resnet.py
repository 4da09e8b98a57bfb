"""examples/continue_torchvision_resnet50.py: continues a released ResNet (here a torchvision
ResNet-18 file, for speed) with VICReg + E2MC on a generated image folder, one step, writes the
backbone in torchvision names, and refuses to replace it without --force."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from example_scripts import load_example, random_images  # noqa: E402


@pytest.mark.timeout(200)
@pytest.mark.skipif(
    importlib.util.find_spec("lightly") is None,
    reason="needs lightly 1.6 (requirements/host-1.0.6-no-deps.txt)",
)
def test_example_continues_a_release_with_e2mc_and_writes_a_torchvision_backbone(tmp_path, capsys):
    images = random_images(tmp_path / "images", 8, 40, classes=2)
    torch.manual_seed(0)
    release = torchvision.models.resnet18().state_dict()
    release["bn1.running_var"].fill_(5.0)  # a fresh ResNet has 1.0: tells where training began
    weights = tmp_path / "resnet18-f37072fd.pth"  # the torchvision hub file name
    torch.save(release, weights)
    out = tmp_path / "run"
    args = [str(images), "--out", str(out), "--weights", str(weights), "--arch", "resnet18"]
    small = ["--max-steps", "1", "--batch-size", "4", "--input-size", "32", "--proj-dim", "32"]
    script = load_example("continue_torchvision_resnet50")
    code = script.main([*args, *small, "--workers", "0", "--accelerator", "cpu", "--devices", "1"])
    printed = capsys.readouterr()
    assert code == 0
    assert "train_aux/e2mc/entropy" in printed.out, printed.out[-2000:]
    net = torchvision.models.resnet18()
    net.fc = nn.Identity()
    net.load_state_dict(torch.load(out / "backbone.pth", weights_only=True), strict=True)
    # one step = two forwards (one per view), BatchNorm momentum 0.1: from the release's 5.0
    # that is 0.81 * 5 + 0.19 * (batch variances) > 4; from a fresh 1.0 it would stay near 1
    assert float(net.bn1.running_var.min()) > 3.0
    assert not torch.equal(net.conv1.weight, release["conv1.weight"])  # and it trained

    assert script.main([*args, *small]) == 2  # before any training
    assert "--force" in capsys.readouterr().err
