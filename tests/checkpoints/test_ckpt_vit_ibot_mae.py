"""iBOT teacher backbones (``{'state_dict': ...}``) and MAE encoders (``{'model': ...}``) load into
solo-learn's timm ViT as the same function (float64, 1e-10): iBOT's table resized as its
``interpolate_pos_encoding`` (DINO's) does; MAE's as ``interpolate_pos_embed`` does, its
sin-cos table becoming the learned one (as MAE's fine-tuning does), its heads reported absent."""

from __future__ import annotations

import pytest
import torch

from e2mc_plugin.checkpoints import initialize_from_checkpoint, load_checkpoint
from e2mc_plugin.checkpoints.initialize import CheckpointMismatchError
from e2mc_plugin.solo.api import build_method
from e2mc_plugin.testing.vit_official import IBOTViT, MAEEncoder, randomise
from e2mc_plugin.testing.vit_releases import backbone_gap, images, save, solo_vit_cfg

TOL = 1e-10
SEED = 8


@torch.no_grad()
def test_ibot_teacher_backbone_is_the_same_function_in_solo_dino(tmp_path):
    ref = randomise(IBOTViT(384, 12, 6, 16), 1)
    path = save({"state_dict": ref.state_dict()}, str(tmp_path / "checkpoint_teacher.pth"))
    loaded = load_checkpoint(path)
    assert loaded.format == "ibot_backbone"
    assert loaded.architecture.name == "iBOT ViT-S/16" and loaded.architecture.num_heads == 6
    assert "width 384" in loaded.architecture.heads_from
    model = build_method(solo_vit_cfg("dino", 384, {"img_size": 32}), wrap=False).double().eval()
    initialize_from_checkpoint(model, loaded, scope="backbone")
    assert backbone_gap(model, ref, images(32, seed=SEED)) < TOL


@torch.no_grad()
def test_ibot_student_with_layerscale_gammas_and_masked_embed(tmp_path):
    """``gamma_1/_2`` (init_values > 0) -> timm's LayerScale; ``masked_embed`` dropped."""
    ref = randomise(IBOTViT(384, 12, 6, 16, layerscale=True, masked=True), 2)
    path = save({"state_dict": ref.state_dict()}, str(tmp_path / "checkpoint_student.pth"))
    loaded = load_checkpoint(path)
    assert "masked_embed" in loaded.report.dropped and loaded.architecture.layerscale
    kwargs = loaded.architecture.backbone_kwargs(img_size=32)
    assert kwargs == {"init_values": 1.0, "img_size": 32}
    model = build_method(solo_vit_cfg("dino", 384, kwargs), wrap=False).double().eval()
    initialize_from_checkpoint(model, loaded, scope="backbone")
    assert backbone_gap(model, ref, images(32, seed=SEED)) < TOL


@torch.no_grad()
def test_mae_encoder_is_the_same_function_and_its_heads_are_reported_absent(tmp_path):
    ref = randomise(MAEEncoder(768, 12, 12, 16), 3)
    path = save({"model": ref.state_dict()}, str(tmp_path / "mae_pretrain_vit_base.pth"))
    loaded = load_checkpoint(path)
    assert loaded.format == "mae_encoder"
    assert loaded.architecture.num_heads == 12 and loaded.architecture.pos_embed == "sin-cos"
    assert any("projector and other heads are absent" in n for n in loaded.report.notes)
    model = build_method(solo_vit_cfg("vicreg", 768, {"img_size": 48}), wrap=False)
    model = model.double().eval()
    with pytest.raises(CheckpointMismatchError, match="scope='backbone'"):
        initialize_from_checkpoint(model, loaded)  # the projector has no source
    report = initialize_from_checkpoint(model, loaded, scope="backbone")
    assert any("sin-cos position table initialises" in n for n in report.notes)
    assert any("3x3" in n and "(mae)" in n for n in report.notes)
    assert backbone_gap(model, ref.resized(48), images(48, seed=SEED)) < TOL


@pytest.mark.slow
@torch.no_grad()
def test_real_size_mae_vit_b16_at_224_px(tmp_path):
    ref = randomise(MAEEncoder(768, 12, 12, 16), 4)
    path = save({"model": ref.state_dict()}, str(tmp_path / "mae_pretrain_vit_base.pth"))
    model = build_method(solo_vit_cfg("byol", 768, {}), wrap=False).double().eval()
    initialize_from_checkpoint(model, load_checkpoint(path), scope="backbone")
    assert backbone_gap(model, ref, images(224, n=2, seed=SEED)) < TOL
