"""MoCo v3 ViT releases load into solo-learn's ``mocov3`` as the same function (features,
projector and predictor outputs of both encoders, float64, 1e-10), and into a method whose
``vit_small`` is timm's 6-head ViT they are refused in one line (the qkv shapes are the same:
before, the file loaded there silently as another function)."""

from __future__ import annotations

import pytest
import torch

from e2mc_plugin.checkpoints import initialize_from_checkpoint, load_checkpoint
from e2mc_plugin.checkpoints.vit import ViTArchitectureError
from e2mc_plugin.solo.api import build_method
from e2mc_plugin.testing.vit_releases import (
    backbone_of,
    images,
    max_diff,
    moco_models,
    mocov3_release,
    save,
    solo_vit_cfg,
)

pytest.importorskip("solo.methods.mocov3", reason="solo-learn 1.0.6 (mocov3) not installed")

TOL = 1e-10
SEED = 3
HEAD = {"proj_hidden_dim": 64, "proj_output_dim": 32, "pred_hidden_dim": 64}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    base, momentum, predictor = moco_models(384, 32, 64, 32)
    path = str(tmp_path_factory.mktemp("moco") / "vit-s-300ep.pth.tar")
    save(mocov3_release(base, momentum, predictor, "vit_small"), path)
    return (base, momentum, predictor), path


def test_detected_with_12_heads_from_the_arch_it_records(release):
    loaded = load_checkpoint(release[1])
    assert loaded.format == "mocov3_vit"
    assert loaded.architecture.num_heads == 12
    assert loaded.architecture.heads_from.startswith("arch 'vit_small' in the file")
    assert loaded.report.mapped["module.base_encoder.head.0.weight"] == "projector.0.weight"
    assert loaded.report.mapped["module.momentum_encoder.head.6.weight"] == (
        "momentum_projector.6.weight"
    )


@torch.no_grad()
def test_full_checkpoint_is_the_same_function_in_solo_mocov3(release):
    (base, momentum, predictor), path = release
    model = build_method(solo_vit_cfg("mocov3", 384, {"img_size": 32}, **HEAD), wrap=False)
    model = model.double().eval()
    loaded = load_checkpoint(path)
    initialize_from_checkpoint(model, loaded)  # strict: every tensor from the file
    state = model.state_dict()
    for dst in loaded.report.mapped.values():
        assert torch.equal(state[dst], loaded.state_dict[dst].double()), dst
    x = images(32, n=4, seed=SEED)
    refs = [m.double().eval() for m in (base, momentum, predictor)]
    f, z = refs[0](x)
    fm, zm = refs[1](x)
    assert max_diff(backbone_of(model)(x), f) < TOL
    assert max_diff(model.projector(backbone_of(model)(x)), z) < TOL
    assert max_diff(model.predictor(model.projector(backbone_of(model)(x))), refs[2](z)) < TOL
    assert max_diff(backbone_of(model, momentum=True)(x), fm) < TOL
    assert max_diff(model.momentum_projector(backbone_of(model, momentum=True)(x)), zm) < TOL


@pytest.mark.parametrize("scope", ["backbone", "full"])
def test_refused_in_one_line_by_a_vicreg_vit_small_with_6_heads(release, scope):
    model = build_method(solo_vit_cfg("vicreg", 384, {"img_size": 32}), wrap=False)
    with pytest.raises(ViTArchitectureError) as err:
        initialize_from_checkpoint(model, load_checkpoint(release[1]), scope=scope, strict=False)
    assert str(err.value) == (
        "MoCo v3 ViT-S/16 has 12 heads; this vicreg's vit_small has 6: use method mocov3 "
        "(its vit_small is the MoCo v3 ViT with 12 heads)"
    )
    assert "\n" not in str(err.value)


def test_head_count_from_the_file_name_when_the_file_records_no_arch(tmp_path):
    base, momentum, predictor = moco_models(384, 32, 64, 32, seed=10)
    path = save(
        mocov3_release(base, momentum, predictor, None), str(tmp_path / "vit-s-300ep.pth.tar")
    )
    arch = load_checkpoint(path).architecture
    assert arch.num_heads == 12 and "file name 'vit-s-300ep.pth.tar'" in arch.heads_from


@pytest.mark.slow
@torch.no_grad()
def test_real_size_vit_s_release_heads_at_224_px(tmp_path):
    """The release's widths (projector 384-4096-4096-256, predictor 256-4096-256), 224 px."""
    base, momentum, predictor = moco_models(384, 224, 4096, 256, seed=30)
    path = save(
        mocov3_release(base, momentum, predictor, "vit_small"),
        str(tmp_path / "vit-s-300ep.pth.tar"),
    )
    cfg = solo_vit_cfg("mocov3", 384, {}, proj_hidden_dim=4096, proj_output_dim=256,
                       pred_hidden_dim=4096)  # fmt: skip
    model = build_method(cfg, wrap=False).double().eval()
    initialize_from_checkpoint(model, load_checkpoint(path))
    x = images(224, n=2, seed=SEED)
    f, z = base.double().eval()(x)
    assert max_diff(backbone_of(model)(x), f) < TOL
    assert max_diff(model.projector(backbone_of(model)(x)), z) < TOL
