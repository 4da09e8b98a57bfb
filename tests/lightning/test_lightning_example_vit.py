"""examples/continue_dino_vit.py: a DINO ViT-S/16 full checkpoint (official layout, random
weights, small heads) continues with E2MC in lightly's DINO with a timm ViT for one step: every
tensor starts from the file (the written teacher is the release's teacher moved by one momentum
update towards the release's student), the E2MC terms are logged, and a DINO ViT-S/8 file is
refused by the timm ViT-S/16 in one line."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from e2mc_plugin.checkpoints.vit import ViTArchitectureError
from e2mc_plugin.testing.vit_official import DINOHead, DINOViT, randomise
from e2mc_plugin.testing.vit_releases import dino_full_release, save

# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from example_scripts import load_example, random_images  # noqa: E402

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("lightly") is None,
    reason="needs lightly 1.6 (requirements/host-1.0.6-no-deps.txt)",
)


SMALL = ["--hidden-dim", "64", "--bottleneck-dim", "32", "--out-dim", "50", "--local-views", "2",
         "--batch-size", "2", "--max-steps", "1", "--workers", "0", "--accelerator", "cpu",
         "--devices", "1"]  # fmt: skip


@pytest.mark.timeout(400)
def test_example_continues_a_dino_vit_release_with_e2mc(tmp_path, capsys):
    student, teacher = (randomise(DINOViT(384, 12, 6, 16), s) for s in (1, 2))
    heads = [randomise(DINOHead(384, 50, 64, 32), s) for s in (3, 4)]
    weights = save(dino_full_release(student, teacher, *heads, "vit_small", 16),
                   str(tmp_path / "dino_deitsmall16_pretrain_full_checkpoint.pth"))  # fmt: skip
    out = tmp_path / "run"
    images = random_images(tmp_path / "images", 4, 64)
    code = load_example("continue_dino_vit").main([str(images), "--out", str(out),
                                                   "--weights", weights, *SMALL])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert "student_backbone, student_head, teacher_backbone, teacher_head" in printed
    assert "train_aux/e2mc/entropy" in printed, printed[-2000:]
    written = torch.load(out / "teacher_backbone.pth", weights_only=True)
    s_state, t_state = student.state_dict(), teacher.state_dict()
    for key in ("blocks.5.attn.qkv.weight", "norm.weight", "cls_token", "patch_embed.proj.weight"):
        expected = 0.996 * t_state[key] + 0.004 * s_state[key]  # lightly's update_momentum
        assert torch.allclose(written[key], expected, rtol=0, atol=1e-6), key


def test_example_refuses_a_release_of_another_function(tmp_path):
    path = save(randomise(DINOViT(384, 12, 6, 8), 5).state_dict(),
                str(tmp_path / "dino_deitsmall8_pretrain.pth"))  # fmt: skip
    script = load_example("continue_dino_vit")
    model = script.DINO("vit_small_patch16_224", 64, 32, 50, 1e-5)
    with pytest.raises(ViTArchitectureError) as err:
        script.load_release(model, path, None, False, "vit_small_patch16_224")
    assert str(err.value).startswith(
        "DINO ViT-S/8 has patch 8; this lightly DINO's vit_small_patch16_224 has patch 16: set "
    )
