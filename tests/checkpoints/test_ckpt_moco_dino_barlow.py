"""MoCo v3, DINO and Barlow Twins releases: official key layouts -> real solo-learn 1.0.6 models.

The synthetic files are built the way the official code builds and saves its models (random
weights, reduced head widths): ``moco/builder.py`` ``MoCo_ResNet`` + ``main_moco.py``'s
``save_checkpoint``; ``main_dino.py``'s ``MultiCropWrapper(resnet, DINOHead)`` student / teacher
+ ``save_dict``; ``barlowtwins/main.py``'s ``BarlowTwins`` + its ``state`` and ``resnet50.pth``.
"""

from __future__ import annotations

import argparse
import json
from collections import OrderedDict

import pytest
import torch
import torchvision
from torch import nn

from e2mc_plugin.checkpoints import initialize_from_checkpoint, load_checkpoint
from e2mc_plugin.checkpoints.convert import main as convert_main
from e2mc_plugin.checkpoints.initialize import CheckpointMismatchError
from e2mc_plugin.checkpoints.registry import describe_layout

FEATURES = {"resnet18": 512, "resnet50": 2048}


def _ddp(prefix: str, module: nn.Module) -> "OrderedDict[str, torch.Tensor]":
    return OrderedDict((f"module.{prefix}{k}", v) for k, v in module.state_dict().items())


def _randomise(module: nn.Module, seed: int) -> nn.Module:
    """Distinct values everywhere (BN statistics too), so a wrong mapping cannot pass."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in module.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
    return module


# ---- facebookresearch/moco-v3 ------------------------------------------------------------------


def moco_mlp(num_layers, input_dim, mlp_dim, output_dim, last_bn=True) -> nn.Sequential:
    """``MoCo._build_mlp`` of moco/builder.py."""
    mlp = []
    for layer in range(num_layers):
        dim1 = input_dim if layer == 0 else mlp_dim
        dim2 = output_dim if layer == num_layers - 1 else mlp_dim
        mlp.append(nn.Linear(dim1, dim2, bias=False))
        if layer < num_layers - 1:
            mlp += [nn.BatchNorm1d(dim2), nn.ReLU(inplace=True)]
        elif last_bn:
            mlp.append(nn.BatchNorm1d(dim2, affine=False))
    return nn.Sequential(*mlp)


def moco_encoder(arch: str, dim: int, mlp_dim: int, seed: int) -> nn.Module:
    """``MoCo_ResNet``'s base / momentum encoder: torchvision ResNet whose fc is the projector."""
    encoder = getattr(torchvision.models, arch)(num_classes=mlp_dim, zero_init_residual=True)
    del encoder.fc
    encoder.fc = moco_mlp(2, FEATURES[arch], mlp_dim, dim)
    return _randomise(encoder, seed)


def mocov3_release(arch="resnet50", dim=32, mlp_dim=64):
    base = moco_encoder(arch, dim, mlp_dim, seed=1)
    momentum = moco_encoder(arch, dim, mlp_dim, seed=2)  # differs from base: a trained run
    predictor = _randomise(moco_mlp(2, dim, mlp_dim, dim, last_bn=False), seed=3)
    state = _ddp("base_encoder.", base)
    state.update(_ddp("momentum_encoder.", momentum))
    state.update(_ddp("predictor.", predictor))
    scaler = {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5}
    raw = {"epoch": 100, "arch": arch, "state_dict": state, "optimizer": {}, "scaler": scaler}
    return raw, base


# ---- facebookresearch/dino ---------------------------------------------------------------------


class DINOHead(nn.Module):
    """vision_transformer.py ``DINOHead`` (nlayers = 3)."""

    def __init__(self, in_dim, out_dim, use_bn=False, hidden_dim=2048, bottleneck_dim=256):
        super().__init__()
        layers = [nn.Linear(in_dim, hidden_dim)]
        for _ in range(2):
            if use_bn:
                layers.append(nn.BatchNorm1d(hidden_dim))
            layers.append(nn.GELU())
            layers.append(nn.Linear(hidden_dim, hidden_dim))
        layers[-1] = nn.Linear(hidden_dim, bottleneck_dim)
        self.mlp = nn.Sequential(*layers)
        self.last_layer = nn.utils.weight_norm(nn.Linear(bottleneck_dim, out_dim, bias=False))
        self.last_layer.weight_g.data.fill_(1)

    def forward(self, x):
        return self.last_layer(nn.functional.normalize(self.mlp(x), dim=-1))


class MultiCropWrapper(nn.Module):
    """utils.py ``MultiCropWrapper``: the ResNet's fc becomes Identity."""

    def __init__(self, backbone, head):
        super().__init__()
        backbone.fc = nn.Identity()
        self.backbone, self.head = backbone, head


def dino_network(arch, out_dim, hidden, bottleneck, use_bn, seed) -> nn.Module:
    resnet = getattr(torchvision.models, arch)()
    head = DINOHead(FEATURES[arch], out_dim, use_bn, hidden, bottleneck)
    return _randomise(MultiCropWrapper(resnet, head), seed)


def dino_release(arch="resnet50", out_dim=100, hidden=64, bottleneck=32, use_bn=False):
    student = dino_network(arch, out_dim, hidden, bottleneck, use_bn, seed=4)
    teacher = dino_network(arch, out_dim, hidden, bottleneck, use_bn, seed=5)
    args = argparse.Namespace(
        arch=arch, out_dim=out_dim, use_bn_in_head=use_bn, norm_last_layer=True,
        momentum_teacher=0.996, global_crops_scale=(0.14, 1.0), data_path="/data/train",
    )  # fmt: skip
    raw = {
        "student": _ddp("", student),  # DDP-wrapped
        "teacher": _ddp("", teacher),  # also DDP-wrapped: a ResNet has BatchNorm
        "optimizer": {"state": {}, "param_groups": []},
        "epoch": 100,
        "args": args,
        "dino_loss": {"center": torch.randn(1, out_dim)},
    }
    return raw, student, teacher


# ---- facebookresearch/barlowtwins --------------------------------------------------------------


class BarlowTwins(nn.Module):
    """main.py ``BarlowTwins`` (projector sizes reduced)."""

    def __init__(self, arch="resnet50", sizes=(64, 64, 64)):
        super().__init__()
        self.backbone = getattr(torchvision.models, arch)(zero_init_residual=True)
        self.backbone.fc = nn.Identity()
        sizes = [FEATURES[arch], *sizes]
        layers = []
        for i in range(len(sizes) - 2):
            layers += [nn.Linear(sizes[i], sizes[i + 1], bias=False), nn.BatchNorm1d(sizes[i + 1])]
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Linear(sizes[-2], sizes[-1], bias=False))
        self.projector = nn.Sequential(*layers)
        self.bn = nn.BatchNorm1d(sizes[-1], affine=False)


def barlow_release(arch="resnet50"):
    model = _randomise(BarlowTwins(arch), seed=6)
    return {"epoch": 1000, "model": _ddp("", model), "optimizer": {}}, model


# ---- real solo-learn methods -------------------------------------------------------------------

SOLO_KWARGS = {
    "mocov3": dict(proj_hidden_dim=64, proj_output_dim=32, pred_hidden_dim=64, temperature=0.2),
    "dino": dict(
        proj_hidden_dim=64, proj_output_dim=32, num_prototypes=100, use_bn_in_head=False,
        norm_last_layer=True, clip_grad=3.0, freeze_last_layer=1, student_temperature=0.1,
        teacher_temperature=0.04, warmup_teacher_temperature=0.04,
        warmup_teacher_temperature_epochs=0,
    ),
    "barlow_twins": dict(proj_hidden_dim=64, proj_output_dim=64, lamb=0.0051, scale_loss=1.0),
}  # fmt: skip


def solo_method(layouts, name, backbone="resnet50", **overrides):
    from solo.methods import METHODS

    cfg = layouts.solo_cfg(name, backbone, dict(SOLO_KWARGS[name], **overrides))
    return METHODS[name](cfg).eval()


def _assert_mapped_equal(model, report, source):
    state = model.state_dict()
    assert report.mapped
    for src, dst in report.mapped.items():
        assert torch.equal(state[dst], source[src]), f"{src} -> {dst}"


def _image():
    return torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


# ---- strict round trips into solo-learn 1.0.6 ---------------------------------------------------


@pytest.mark.host106
def test_mocov3_full_strict_round_trip_keeps_momentum_encoder(tmp_path, layouts):
    raw, base = mocov3_release()
    path = tmp_path / "r-50-1000ep.pth.tar"
    torch.save(raw, path)
    loaded = load_checkpoint(path)
    assert loaded.format == "mocov3_official"
    assert set(loaded.report.dropped) == {"epoch", "arch", "optimizer", "scaler"}
    model = solo_method(layouts, "mocov3")
    report = initialize_from_checkpoint(model, loaded, strict=True)
    _assert_mapped_equal(model, report, raw["state_dict"])
    mapped = report.mapped
    assert mapped["module.base_encoder.fc.4.running_var"] == "projector.4.running_var"
    assert mapped["module.momentum_encoder.fc.0.weight"] == "momentum_projector.0.weight"
    assert mapped["module.momentum_encoder.layer4.2.bn3.weight"] == (
        "momentum_backbone.layer4.2.bn3.weight"
    )
    assert mapped["module.predictor.3.weight"] == "predictor.3.weight"
    assert report.created == {}  # the momentum networks come from the file, not copies
    assert not torch.equal(model.momentum_backbone.conv1.weight, model.backbone.conv1.weight)
    assert set(report.untouched) == {"classifier.weight", "classifier.bias"}
    # the official encoder (fc = projector) and solo's backbone -> projector compute the same
    base.eval()
    with torch.no_grad():
        expected = base(_image())
        actual = model.projector(model.backbone(_image()))
    torch.testing.assert_close(actual, expected)


@pytest.mark.host106
def test_dino_full_strict_round_trip_student_online_teacher_momentum(tmp_path, layouts):
    raw, student, teacher = dino_release()
    path = tmp_path / "dino_resnet50_pretrain_full_checkpoint.pth"
    torch.save(raw, path)
    loaded = load_checkpoint(path)  # safe loading: the argparse Namespace is allow-listed
    assert loaded.format == "dino_full"
    assert set(loaded.report.dropped) == {"optimizer", "epoch", "args"}
    model = solo_method(layouts, "dino")
    report = initialize_from_checkpoint(model, loaded, strict=True)
    source = {f"{part}.{k}": v for part in ("student", "teacher") for k, v in raw[part].items()}
    source["dino_loss.center"] = raw["dino_loss"]["center"]
    _assert_mapped_equal(model, report, source)
    assert report.mapped["teacher.module.head.last_layer.weight_v"] == (
        "momentum_head.last_layer.weight_v"
    )
    assert report.mapped["student.module.backbone.layer1.0.conv1.weight"] == (
        "backbone.layer1.0.conv1.weight"
    )
    assert torch.equal(model.dino_loss_func.center, raw["dino_loss"]["center"])
    assert report.created == {}
    x = torch.rand(3, FEATURES["resnet50"])
    with torch.no_grad():
        torch.testing.assert_close(model.head(x), student.head(x))
        torch.testing.assert_close(model.momentum_head(x), teacher.head(x))


@pytest.mark.host106
def test_dino_head_with_batchnorm_fits_solo_use_bn_in_head(tmp_path, layouts):
    raw, _, _ = dino_release(arch="resnet18", use_bn=True)
    path = tmp_path / "checkpoint.pth"
    torch.save(raw, path)
    loaded = load_checkpoint(path)
    assert "head.mlp.1.running_mean" in loaded.state_dict
    model = solo_method(layouts, "dino", backbone="resnet18", use_bn_in_head=True)
    initialize_from_checkpoint(model, loaded, strict=True)
    with pytest.raises(CheckpointMismatchError, match="head.mlp.1.running_mean"):
        initialize_from_checkpoint(
            solo_method(layouts, "dino", backbone="resnet18"), loaded, strict=True
        )


@pytest.mark.host106
def test_dino_backbone_file_fills_backbone_and_its_momentum_copy(tmp_path, layouts):
    _, _, teacher = dino_release()
    source = OrderedDict(teacher.backbone.state_dict())
    path = tmp_path / "dino_resnet50_pretrain.pth"
    torch.save(source, path)
    loaded = load_checkpoint(path)
    assert loaded.format == "dino_backbone"  # chosen by the release file name
    model = solo_method(layouts, "dino")
    with pytest.raises(CheckpointMismatchError, match="head.last_layer.weight_v"):
        initialize_from_checkpoint(model, loaded, strict=True)  # no head in a backbone file
    report = initialize_from_checkpoint(model, loaded, strict=False)
    _assert_mapped_equal(model, report, source)
    assert len(report.mapped) == len(source) == 318
    assert torch.equal(
        model.momentum_backbone.layer3[1].conv2.weight, source["layer3.1.conv2.weight"]
    )
    assert all(k.startswith("momentum_backbone.") for k in report.created)


@pytest.mark.host106
def test_barlowtwins_full_strict_round_trip_with_zero_biases(tmp_path, layouts):
    raw, official = barlow_release()
    path = tmp_path / "checkpoint.pth"
    torch.save(raw, path)
    loaded = load_checkpoint(path)
    assert loaded.format == "barlowtwins_full"  # not vicreg_full: module.bn, no biases
    assert set(loaded.report.dropped) == {
        "epoch", "optimizer", "module.bn.running_mean", "module.bn.running_var",
        "module.bn.num_batches_tracked",
    }  # fmt: skip
    model = solo_method(layouts, "barlow_twins")
    report = initialize_from_checkpoint(model, loaded, strict=True)
    _assert_mapped_equal(model, report, raw["model"])
    assert set(report.created) == {"projector.0.bias", "projector.3.bias", "projector.6.bias"}
    official.eval()
    with torch.no_grad():
        expected = official.projector(official.backbone(_image()))
        actual = model.projector(model.backbone(_image()))
    torch.testing.assert_close(actual, expected)


@pytest.mark.host106
def test_barlowtwins_backbone_explicit_format(tmp_path, layouts):
    _, official = barlow_release("resnet18")
    source = OrderedDict(official.backbone.state_dict())
    hub = tmp_path / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(source, hub / "resnet50.pth")
    loaded = load_checkpoint(hub / "resnet50.pth", format="barlowtwins_backbone")
    model = solo_method(layouts, "barlow_twins", backbone="resnet18")
    report = initialize_from_checkpoint(model, loaded, strict=False)
    _assert_mapped_equal(model, report, source)
    assert all(k.startswith(("projector.", "classifier.")) for k in report.untouched)


# ---- convert, then the host's own kNN loading ------------------------------------------------


def _small_release(fmt):
    """resnet18 files with small heads, as each release stores them."""
    if fmt == "mocov3_official":
        return "r-50-100ep.pth.tar", mocov3_release("resnet18")[0]
    if fmt == "dino_full":
        return "dino_resnet50_pretrain_full_checkpoint.pth", dino_release("resnet18")[0]
    if fmt == "dino_backbone":
        return "dino_resnet50_pretrain.pth", dino_release("resnet18")[2].backbone.state_dict()
    if fmt == "barlowtwins_full":
        return "checkpoint.pth", barlow_release("resnet18")[0]
    return "resnet50.pth", barlow_release("resnet18")[1].backbone.state_dict()


@pytest.mark.host106
@pytest.mark.parametrize(
    "fmt, method",
    [
        ("mocov3_official", "mocov3"),
        ("dino_full", "dino"),
        ("dino_backbone", "dino"),
        ("barlowtwins_full", "barlow_twins"),
        ("barlowtwins_backbone", "barlow_twins"),
    ],
)
def test_convert_then_main_knn_loading(tmp_path, fmt, method, capsys):
    """main_knn.py: METHODS[method].load_from_checkpoint(ckpt, strict=False, cfg=args)."""
    from omegaconf import OmegaConf
    from solo.methods import METHODS

    name, raw = _small_release(fmt)
    src = tmp_path / name
    torch.save(raw, src)
    out = tmp_path / "knn_dir"
    extra = ["--format", fmt] if fmt == "barlowtwins_backbone" else []  # shares VICReg's name
    assert convert_main([str(src), "--out", str(out), *extra]) == 0
    assert describe_layout(fmt, src) in capsys.readouterr().out  # convert names the layout
    args = json.loads((out / "args.json").read_text())
    assert args["method"] == method
    ckpt = next(p for p in out.iterdir() if p.suffix == ".ckpt")
    model = METHODS[args["method"]].load_from_checkpoint(
        ckpt, strict=False, cfg=OmegaConf.create(args)
    )
    converted = torch.load(ckpt, weights_only=True)["state_dict"]
    state = model.state_dict()
    assert set(converted) <= set(state)
    for key, value in converted.items():
        assert torch.equal(state[key], value), key
    assert any(k.startswith("backbone.layer4.") for k in converted)
