"""DINOv2 torch.hub backbones (with and without registers) load into solo-learn's timm ViT as the
same function when ``backbone.kwargs`` give DINOv2's architecture (patch 14, LayerScale,
registers): the 518-px position table is resized at load as DINOv2's ``interpolate_pos_encoding``
does at every forward, ``mask_token`` is dropped and reported; without those kwargs the release is
refused in one line."""

from __future__ import annotations

import pytest
import torch

from e2mc_plugin.checkpoints import initialize_from_checkpoint, load_checkpoint
from e2mc_plugin.checkpoints.vit import ViTArchitectureError
from e2mc_plugin.solo.api import build_method
from e2mc_plugin.testing.vit_official import DINOv2ViT, randomise
from e2mc_plugin.testing.vit_releases import backbone_gap, images, save, solo_vit_cfg

TOL = 1e-10
SEED = 5


def _release(tmp_path, registers: int, seed: int = 0):
    kwargs = {"interpolate_offset": 0.0, "interpolate_antialias": True} if registers else {}
    ref = randomise(DINOv2ViT(384, 12, 6, registers=registers, **kwargs), seed)
    name = "dinov2_vits14_reg4_pretrain.pth" if registers else "dinov2_vits14_pretrain.pth"
    return ref, save(ref.state_dict(), str(tmp_path / name))


def _refusal(cfg, path) -> str:
    """The one-line error of initialising ``cfg``'s model from the release at ``path``."""
    with pytest.raises(ViTArchitectureError) as err:
        initialize_from_checkpoint(
            build_method(cfg, wrap=False), load_checkpoint(path), scope="backbone"
        )
    return str(err.value)


@pytest.mark.parametrize("registers", [0, 4])
@torch.no_grad()
def test_hub_backbone_is_the_same_function_with_its_backbone_kwargs(tmp_path, registers):
    ref, path = _release(tmp_path, registers)
    loaded = load_checkpoint(path)
    assert loaded.format == "dinov2_backbone"
    release = loaded.architecture
    assert release.num_heads == 6 and release.registers == registers and release.layerscale
    assert loaded.report.dropped == ["mask_token"]
    kwargs = release.backbone_kwargs(img_size=28)
    expected = {"patch_size": 14, "init_values": 1.0, "img_size": 28}
    if registers:
        expected.update(reg_tokens=4, no_embed_class=True)
    assert kwargs == expected
    model = build_method(solo_vit_cfg("dino", 384, kwargs), wrap=False).double().eval()
    report = initialize_from_checkpoint(model, loaded, scope="backbone")
    assert any("resized 37x37 -> 2x2" in n for n in report.notes)
    assert any("mask_token" in n for n in report.notes)
    assert backbone_gap(model, ref, images(28, seed=SEED)) < TOL


def test_refused_in_one_line_without_layerscale(tmp_path):
    _, path = _release(tmp_path, 0, seed=3)
    cfg = solo_vit_cfg("dino", 384, {"patch_size": 14, "img_size": 28})
    assert _refusal(cfg, path) == (
        "DINOv2 ViT-S/14 has LayerScale (ls1/ls2.gamma); this dino's vit_small has no "
        "LayerScale: set backbone.kwargs.patch_size=14, backbone.kwargs.init_values=1.0, "
        "backbone.kwargs.img_size=28"
    )


def test_registers_refused_in_one_line_without_reg_tokens(tmp_path):
    _, path = _release(tmp_path, 4, seed=4)
    cfg = solo_vit_cfg("dino", 384, {"patch_size": 14, "img_size": 28, "init_values": 1.0})
    assert _refusal(cfg, path) == (
        "DINOv2 ViT-S/14 with 4 registers has 4 register tokens and a position table with 0 "
        "prefix row(s); this dino's vit_small has 0 and 1: set backbone.kwargs.patch_size=14, "
        "backbone.kwargs.init_values=1.0, backbone.kwargs.reg_tokens=4, "
        "backbone.kwargs.no_embed_class=true, backbone.kwargs.img_size=28"
    )


@pytest.mark.slow
@torch.no_grad()
def test_real_size_vit_b14_with_registers_at_224_px(tmp_path):
    ref = randomise(
        DINOv2ViT(768, 12, 12, registers=4, interpolate_offset=0.0, interpolate_antialias=True), 9
    )
    path = save(ref.state_dict(), str(tmp_path / "dinov2_vitb14_reg4_pretrain.pth"))
    loaded = load_checkpoint(path)
    assert loaded.architecture.num_heads == 12
    kwargs = loaded.architecture.backbone_kwargs()
    model = build_method(solo_vit_cfg("dino", 768, kwargs), wrap=False).double().eval()
    initialize_from_checkpoint(model, loaded, scope="backbone")
    assert backbone_gap(model, ref, images(224, n=2, seed=SEED)) < TOL
