"""DINO ViT releases (backbone files and full checkpoints, patch 16 and 8) load into solo-learn's
``dino`` as the same function: features and head outputs equal the reference model's (built as
facebookresearch/dino builds it, random weights) in float64 to 1e-10, at an input size whose
patch grid differs from the table's (the table is resized as DINO's ``interpolate_pos_encoding``
does) and, in the slow suite, at 224 px.
"""

from __future__ import annotations

import pytest
import torch

from e2mc_plugin.checkpoints import initialize_from_checkpoint, load_checkpoint
from e2mc_plugin.checkpoints.registry import detect_layout
from e2mc_plugin.checkpoints.vit import ViTArchitectureError
from e2mc_plugin.solo.api import build_method
from e2mc_plugin.testing.vit_official import DINOHead, DINOViT, randomise
from e2mc_plugin.testing.vit_releases import (
    backbone_gap,
    backbone_of,
    dino_full_release,
    images,
    max_diff,
    save,
    solo_vit_cfg,
)

TOL = 1e-10
SEED = 11
HEAD = {"proj_hidden_dim": 64, "proj_output_dim": 32, "num_prototypes": 50}


def _refs(patch: int, width: int = 384, heads: int = 6, seed: int = 0):
    student = randomise(DINOViT(width, 12, heads, patch), seed)
    teacher = randomise(DINOViT(width, 12, heads, patch), seed + 1)
    s_head = randomise(DINOHead(width, 50, 64, 32), seed + 2)
    t_head = randomise(DINOHead(width, 50, 64, 32), seed + 3)
    return student, teacher, s_head, t_head


def _solo(kwargs, method="dino"):
    model = build_method(solo_vit_cfg(method, 384, kwargs, **HEAD), wrap=False)
    return model.double().eval()


@pytest.fixture(scope="module")
def s16(tmp_path_factory):
    refs = _refs(16)
    folder = tmp_path_factory.mktemp("dino")
    full = save(dino_full_release(*refs, "vit_small", 16),
                str(folder / "dino_deitsmall16_pretrain_full_checkpoint.pth"))  # fmt: skip
    backbone = save(refs[1].state_dict(), str(folder / "dino_deitsmall16_pretrain.pth"))
    return refs, full, backbone


def test_full_checkpoint_is_detected_as_the_vit_layout_with_6_heads_from_its_args(s16):
    _, full, _ = s16
    loaded = load_checkpoint(full)
    assert loaded.format == "dino_vit_full"
    assert loaded.architecture.num_heads == 6
    assert "arch 'vit_small' in the file's args" in loaded.architecture.heads_from
    assert loaded.architecture.name == "DINO ViT-S/16"


@torch.no_grad()
def test_full_checkpoint_is_the_same_function_in_solo_dino(s16):
    (student, teacher, s_head, t_head), full, _ = s16
    model = _solo({"img_size": 32})
    report = initialize_from_checkpoint(model, load_checkpoint(full))  # strict, full scope
    assert any("resized 14x14 -> 2x2" in n for n in report.notes)
    x = images(32, seed=SEED)
    ref = [m.double().eval() for m in (student, teacher, s_head, t_head)]
    f_s, f_t = backbone_of(model)(x), backbone_of(model, momentum=True)(x)
    assert max_diff(f_s, ref[0](x)) < TOL
    assert max_diff(f_t, ref[1](x)) < TOL
    assert max_diff(model.head(f_s), ref[2](ref[0](x))) < TOL
    assert max_diff(model.momentum_head(f_t), ref[3](ref[1](x))) < TOL


@torch.no_grad()
def test_backbone_file_is_the_teachers_function_and_named_by_its_file_name(s16):
    (_, teacher, _, _), _, backbone = s16
    loaded = load_checkpoint(backbone)
    assert loaded.format == "dino_vit_backbone"
    assert (
        "file name 'dino_deitsmall16_pretrain.pth'"
        in detect_layout(torch.load(backbone), backbone).reason
    )
    model = _solo({"img_size": 48})
    initialize_from_checkpoint(model, loaded, scope="backbone")
    assert backbone_gap(model, teacher, images(48, seed=SEED)) < TOL


@torch.no_grad()
def test_patch_8_loads_through_backbone_kwargs_and_is_refused_without(tmp_path):
    teacher = randomise(DINOViT(384, 12, 6, 8), 5)
    path = save(teacher.state_dict(), str(tmp_path / "dino_deitsmall8_pretrain.pth"))
    loaded = load_checkpoint(path)
    with pytest.raises(ViTArchitectureError) as err:
        initialize_from_checkpoint(_solo({"img_size": 32}), loaded, scope="backbone")
    assert str(err.value) == (
        "DINO ViT-S/8 has patch 8; this dino's vit_small has patch 16: set "
        "backbone.kwargs.patch_size=8, backbone.kwargs.img_size=32"
    )
    model = _solo({"img_size": 32, "patch_size": 8})
    initialize_from_checkpoint(model, loaded, scope="backbone")
    assert backbone_gap(model, teacher, images(32, seed=SEED)) < TOL


@pytest.mark.slow
@torch.no_grad()
def test_real_size_vit_b16_full_checkpoint_at_224_px(tmp_path):
    """ViT-B/16 (12 heads), full head widths of the release but 65536 -> 4096 prototypes."""
    student = randomise(DINOViT(768, 12, 12, 16), 20)
    teacher = randomise(DINOViT(768, 12, 12, 16), 21)
    heads = [randomise(DINOHead(768, 4096, 2048, 256), s) for s in (22, 23)]
    path = save(dino_full_release(student, teacher, *heads, "vit_base", 16),
                str(tmp_path / "dino_vitbase16_pretrain_full_checkpoint.pth"))  # fmt: skip
    cfg = solo_vit_cfg("dino", 768, {}, proj_hidden_dim=2048, proj_output_dim=256,
                       num_prototypes=4096)  # fmt: skip
    model = build_method(cfg, wrap=False).double().eval()
    initialize_from_checkpoint(model, load_checkpoint(path))
    x = images(224, n=2, seed=SEED)
    f = backbone_of(model)(x)
    assert max_diff(f, student.double().eval()(x)) < TOL
    assert max_diff(model.head(f), heads[0].double().eval()(student(x))) < TOL
