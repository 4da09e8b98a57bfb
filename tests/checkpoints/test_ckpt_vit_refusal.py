"""Never a silent other function: a ViT release whose heads, patch, LayerScale or kind of
position table differ from the target backbone is refused with one line naming both sides and
what fits, whether it is initialised into a built method (any scope, strict or not) or converted
for the host's launchers; a head count the file does not record is said to be unknown."""

from __future__ import annotations

import logging

import pytest
import torch

from e2mc_plugin.checkpoints import initialize_from_checkpoint, load_checkpoint
from e2mc_plugin.checkpoints.convert import convert
from e2mc_plugin.checkpoints.vit import ViTArchitectureError, check_fits, solo_target
from e2mc_plugin.checkpoints.vit.release import ViTRelease
from e2mc_plugin.solo.api import build_method
from e2mc_plugin.testing.vit_official import DINOViT, randomise
from e2mc_plugin.testing.vit_releases import moco_models, mocov3_release, save, solo_vit_cfg

pytest.importorskip(
    "solo.backbones.vit.vit_mocov3", reason="solo-learn 1.0.6 (mocov3) not installed"
)


def _dino(width: int, heads: int, seed: int = 0) -> DINOViT:
    return randomise(DINOViT(width, 12, heads, 16), seed)


def test_dino_vit_s_into_mocov3_is_refused_for_its_heads(tmp_path):
    path = save(_dino(384, 6).state_dict(), str(tmp_path / "dino_deitsmall16_pretrain.pth"))
    model = build_method(solo_vit_cfg("mocov3", 384, {"img_size": 32}), wrap=False)
    with pytest.raises(ViTArchitectureError) as err:
        initialize_from_checkpoint(model, load_checkpoint(path), scope="backbone", strict=False)
    assert str(err.value) == (
        "DINO ViT-S/16 has 6 heads; this mocov3's vit_small has 12: use a method other than "
        "mocov3, mae (solo builds timm's vit_small with 6 heads for them)"
    )


def test_learned_table_into_a_fixed_sincos_one_is_refused():
    """DINO ViT-B/16 and solo's mocov3 vit_base both have 12 heads; the table kind differs."""
    release = ViTRelease("DINO", 768, 12, 16, 12, "test", grid=(14, 14), resample="dino")
    with pytest.raises(ViTArchitectureError) as err:
        check_fits(release, solo_target("mocov3_aux", "vit_base", {}))
    assert str(err.value) == (
        "DINO ViT-B/16 learns its position embedding; this mocov3's vit_base keeps a fixed "
        "sin-cos table (solo's mocov3 ViT): use a method other than mocov3, mae"
    )


def test_sincos_release_on_another_grid_without_resizing_is_refused():
    release = ViTRelease("MoCo v3", 384, 12, 16, 12, "test", pos_embed="sin-cos", grid=(14, 14))
    with pytest.raises(ViTArchitectureError, match="set backbone.kwargs.img_size=224$"):
        check_fits(release, solo_target("mocov3", "vit_small", {"img_size": 32}))


def test_unknown_head_count_of_a_bare_timm_file_is_said_and_warned(tmp_path, caplog):
    path = save(_dino(384, 6, seed=3).state_dict(), str(tmp_path / "my_vit.pth"))
    loaded = load_checkpoint(path)
    assert loaded.format == "timm" and loaded.architecture.num_heads is None
    model = build_method(solo_vit_cfg("vicreg", 384, {"img_size": 32}), wrap=False)
    with caplog.at_level(logging.WARNING):
        report = initialize_from_checkpoint(model, loaded, scope="backbone")
    assert any("head count" in n and "cannot be known" in n for n in report.notes)
    assert "cannot be known" in caplog.text


def test_convert_refuses_a_mocov3_file_for_a_vicreg_args_json(tmp_path):
    base, momentum, predictor = moco_models(384, 224, 64, 32)
    src = save(
        mocov3_release(base, momentum, predictor, "vit_small"),
        str(tmp_path / "vit-s-300ep.pth.tar"),
    )
    with pytest.raises(ViTArchitectureError, match="^MoCo v3 ViT-S/16 has 12 heads; this vicreg's"):
        convert(src, tmp_path / "out", method="vicreg")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    result = convert(src, tmp_path / "ok")  # method from the release: mocov3
    assert result["method"] == "mocov3" and result["format"] == "mocov3_vit"


@torch.no_grad()
def test_convert_writes_dinov2_backbone_kwargs_and_the_resized_table(tmp_path):
    import json

    from e2mc_plugin.testing.vit_official import DINOv2ViT

    ref = randomise(DINOv2ViT(384, 12, 6, img_size=70, registers=4, interpolate_offset=0.0,
                              interpolate_antialias=True), 6)  # fmt: skip
    src = save(ref.state_dict(), str(tmp_path / "dinov2_vits14_reg4_pretrain.pth"))
    result = convert(src, tmp_path / "out")
    args = json.loads((tmp_path / "out" / "args.json").read_text())
    assert args["method"] == "dino"
    assert args["backbone"] == {"name": "vit_small", "kwargs": {
        "patch_size": 14, "init_values": 1.0, "reg_tokens": 4, "no_embed_class": True,
        "img_size": 224}}  # fmt: skip
    state = torch.load(result["ckpt"])["state_dict"]
    assert state["backbone.pos_embed"].shape == (1, 256, 384)
