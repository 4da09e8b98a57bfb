"""The transformers layouts of DINO (``ViTModel``) and DINOv2 (``Dinov2Model``, with registers
too): ``model.safetensors`` + ``config.json`` load into solo-learn's timm ViT as the same
function as the transformers-structured reference (separate query / key / value), float64,
1e-10; the file is the conversion scripts' renaming of an official model, which it also equals."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("safetensors")

from e2mc_plugin.checkpoints import initialize_from_checkpoint, load_checkpoint  # noqa: E402
from e2mc_plugin.solo.api import build_method  # noqa: E402
from e2mc_plugin.testing.vit_hf import HFViT, hf_state_from_official  # noqa: E402
from e2mc_plugin.testing.vit_official import DINOv2ViT, DINOViT, randomise  # noqa: E402
from e2mc_plugin.testing.vit_releases import (  # noqa: E402
    backbone_gap,
    backbone_of,
    hf_config,
    images,
    max_diff,
    save_hf,
    solo_vit_cfg,
)

TOL = 1e-10
SEED = 9


def _hf(official, heads: int, img: int, dinov2: bool, **extra):
    state = official.state_dict()
    config = hf_config(state, heads, img, dinov2, **extra)
    hf_state = hf_state_from_official(state, dinov2)
    ref = HFViT(config, dinov2)
    ref.load_state_dict(hf_state)
    return ref, hf_state, config


@torch.no_grad()
def test_dino_vitmodel_layout_with_the_original_eps_is_the_same_function(tmp_path):
    official = randomise(DINOViT(384, 12, 6, 16), 1)
    ref, state, config = _hf(official, 6, 224, False, layer_norm_eps=1e-6)
    path = save_hf(str(tmp_path / "dino-vits16"), state, config)
    loaded = load_checkpoint(path)
    assert loaded.format == "dino_vit_hf"
    assert loaded.architecture.num_heads == 6 and "config.json" in loaded.architecture.heads_from
    qkv = "backbone.blocks.3.attn.qkv.weight"
    assert [s for s, d in loaded.report.mapped.items() if d == qkv] == [
        f"encoder.layer.3.attention.attention.{n}.weight" for n in ("query", "key", "value")
    ]
    model = build_method(solo_vit_cfg("dino", 384, {}), wrap=False).double().eval()
    initialize_from_checkpoint(model, loaded, scope="backbone")
    x = images(224, n=2, seed=SEED)
    f = backbone_of(model)(x)
    assert max_diff(f, ref.double().eval()(x)) < TOL
    assert max_diff(f, official.double().eval()(x)) < TOL


def test_dino_vitmodel_eps_of_transformers_conversion_is_reported(tmp_path):
    official = randomise(DINOViT(384, 12, 6, 16), 2)
    _, state, config = _hf(official, 6, 224, False)  # ViTConfig's default eps 1e-12
    path = save_hf(str(tmp_path / "dino-vits16"), state, config)
    model = build_method(solo_vit_cfg("dino", 384, {}), wrap=False)
    report = initialize_from_checkpoint(model, load_checkpoint(path), scope="backbone")
    assert any("eps 1e-12" in n and "uses 1e-06" in n for n in report.notes)


def test_dino_vitmodel_without_config_json_says_its_heads_cannot_be_known(tmp_path):
    official = randomise(DINOViT(384, 12, 6, 16), 3)
    _, state, config = _hf(official, 6, 224, False)
    path = save_hf(str(tmp_path / "m"), state, config)
    (tmp_path / "m" / "config.json").unlink()
    arch = load_checkpoint(path).architecture
    assert arch.num_heads is None and arch.heads_from.startswith("cannot be known")


@pytest.mark.parametrize("registers", [0, 4])
@torch.no_grad()
def test_dinov2_layouts_are_the_same_function(tmp_path, registers):
    official = randomise(DINOv2ViT(384, 12, 6, img_size=70, registers=registers), 4 + registers)
    ref, state, config = _hf(official, 6, 70, True)
    path = save_hf(str(tmp_path / "dinov2-small"), state, config)
    loaded = load_checkpoint(path)
    assert loaded.format == "dinov2_hf"
    assert "embeddings.mask_token" in loaded.report.dropped
    kwargs = loaded.architecture.backbone_kwargs(img_size=28)
    model = build_method(solo_vit_cfg("dino", 384, kwargs), wrap=False).double().eval()
    report = initialize_from_checkpoint(model, loaded, scope="backbone")
    assert any("5x5 -> 2x2" in n for n in report.notes)
    assert backbone_gap(model, ref, images(28, seed=SEED)) < TOL
