"""``e2mc-plugin convert``: the written directory is what the host's launchers can load."""

from __future__ import annotations

import json

import pytest
import torch

from e2mc_plugin.checkpoints import CheckpointMismatchError
from e2mc_plugin.checkpoints.convert import main
from e2mc_plugin.checkpoints.coverage import reference_backbone_shapes, verify_backbone_coverage
from e2mc_plugin.cli import main as cli_main


@pytest.fixture
def swav_dir(tmp_path, layouts):
    raw = layouts.swav_official("resnet18", hidden=64, out=32, protos=40)
    src = tmp_path / "swav_800ep_pretrain.pth.tar"
    torch.save(raw, src)
    out = tmp_path / "converted"
    assert main([str(src), "--out", str(out)]) == 0
    return raw, out


def test_convert_writes_a_weights_only_checkpoint_and_args(swav_dir):
    raw, out = swav_dir
    ckpt = torch.load(out / "swav_800ep_pretrain.ckpt", map_location="cpu", weights_only=True)
    assert {"state_dict", "pytorch-lightning_version", "epoch", "global_step"} <= set(ckpt)
    state = ckpt["state_dict"]
    assert torch.equal(state["backbone.layer4.1.bn2.weight"], raw["module.layer4.1.bn2.weight"])
    assert torch.equal(state["prototypes.weight_v"], raw["module.prototypes.weight"])
    args = json.loads((out / "args.json").read_text())
    assert args["method"] == "swav"
    assert args["backbone"]["name"] == "resnet18"
    assert args["data"]["dataset"] == "imagenet"  # 7x7 stem: not solo's CIFAR ResNet
    kwargs = args["method_kwargs"]
    assert (kwargs["proj_hidden_dim"], kwargs["proj_output_dim"], kwargs["num_prototypes"]) == (
        64,
        32,
        40,
    )
    assert verify_backbone_coverage(
        out / "swav_800ep_pretrain.ckpt", reference_backbone_shapes("resnet18")
    ) == len(reference_backbone_shapes("resnet18"))


def test_cli_dispatches_convert(tmp_path, layouts, capsys):
    src = tmp_path / "resnet18.pth"
    torch.save(layouts.resnet_state("resnet18"), src)
    assert cli_main(["convert", str(src), "--out", str(tmp_path / "o"), "--name", "tv"]) == 0
    assert (tmp_path / "o" / "tv.ckpt").is_file()
    assert "coverage verified" in capsys.readouterr().out
    args = json.loads((tmp_path / "o" / "args.json").read_text())
    assert args["method"] == "vicreg"  # backbone-only formats default to vicreg


def test_coverage_check_lists_missing_and_mis_shaped_tensors(swav_dir, tmp_path):
    _, out = swav_dir
    path = out / "swav_800ep_pretrain.ckpt"
    ckpt = torch.load(path, weights_only=True)
    del ckpt["state_dict"]["backbone.layer2.0.downsample.0.weight"]
    broken = tmp_path / "broken.ckpt"
    torch.save(ckpt, broken)
    with pytest.raises(CheckpointMismatchError) as err:
        verify_backbone_coverage(broken, reference_backbone_shapes("resnet18", "cifar10"))
    message = str(err.value)
    assert "missing layer2.0.downsample.0.weight" in message
    assert "conv1.weight: checkpoint (64, 3, 7, 7) vs backbone (64, 3, 3, 3)" in message
    with pytest.raises(CheckpointMismatchError, match="missing layer2.0.downsample.0.weight"):
        verify_backbone_coverage(broken, list(reference_backbone_shapes("resnet18")))


def test_unknown_method_needs_args(tmp_path, layouts):
    src = tmp_path / "resnet18.pth"
    torch.save(layouts.resnet_state("resnet18"), src)
    with pytest.raises(ValueError, match="supported: vicreg, swav, simsiam, byol"):
        main([str(src), "--out", str(tmp_path / "o"), "--method", "dino"])


def _main_linear_backbone_load(ckpt_path, backbone):
    """The steps of the host's main_linear.py (1.0.6) that read ``pretrained_feature_extractor``."""
    assert str(ckpt_path).endswith((".ckpt", ".pth", ".pt"))
    state = torch.load(ckpt_path, map_location="cpu")["state_dict"]
    for k in list(state.keys()):
        if "encoder" in k:
            state[k.replace("encoder", "backbone")] = state[k]
        if "backbone" in k:
            state[k.replace("backbone.", "")] = state[k]
        del state[k]
    return backbone.load_state_dict(state, strict=False)


@pytest.mark.host106
def test_main_linear_loading_fills_the_whole_backbone(swav_dir):
    from solo.methods.base import BaseMethod

    raw, out = swav_dir
    backbone = BaseMethod._BACKBONES["resnet18"](method="swav")
    backbone.fc = torch.nn.Identity()
    result = _main_linear_backbone_load(out / "swav_800ep_pretrain.ckpt", backbone)
    assert result.missing_keys == []
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, raw["module." + key]), key


@pytest.mark.host106
@pytest.mark.parametrize("fmt", ["swav_official", "simsiam_official", "vicreg_full"])
def test_main_knn_rebuilds_the_model_from_args_json(tmp_path, layouts, fmt):
    """main_knn.py: METHODS[args["method"]].load_from_checkpoint(ckpt, strict=False, cfg=args)."""
    from omegaconf import OmegaConf
    from solo.methods import METHODS

    raw = {
        "swav_official": lambda: layouts.swav_official("resnet18", hidden=64, out=32, protos=40),
        "simsiam_official": lambda: layouts.simsiam_official("resnet18", dim=64, pred=16),
        "vicreg_full": lambda: layouts.vicreg_full("resnet18", hidden=64),
    }[fmt]()
    src = tmp_path / "release.pth.tar"
    torch.save(raw, src)
    out = tmp_path / "knn_dir"
    main([str(src), "--out", str(out)])
    ckpt_path = [p for p in out.iterdir() if p.suffix == ".ckpt"][0]
    args = json.loads((out / "args.json").read_text())
    model = METHODS[args["method"]].load_from_checkpoint(
        ckpt_path, strict=False, cfg=OmegaConf.create(args)
    )
    converted = torch.load(ckpt_path, weights_only=True)["state_dict"]
    state = model.state_dict()
    assert set(converted) <= set(state)
    for key, value in converted.items():
        assert torch.equal(state[key], value), key


def _solo_checkpoint(tmp_path, layouts):
    state = layouts.prefixed("backbone.", layouts.backbone_only(layouts.resnet_state("resnet18")))
    state["projector.0.weight"] = torch.zeros(64, 512)
    run = tmp_path / "run"
    run.mkdir()
    path = run / "byol-x-ep=9.ckpt"
    torch.save({"state_dict": state, "pytorch-lightning_version": "2.1.2"}, path)
    return path


def test_solo_checkpoint_reuses_its_args_json(tmp_path, layouts):
    path = _solo_checkpoint(tmp_path, layouts)
    host_args = {"method": "byol", "backbone": {"name": "resnet18"}, "data": {"dataset": "x"}}
    (path.parent / "args.json").write_text(json.dumps(host_args))
    main([str(path), "--out", str(tmp_path / "o")])
    assert json.loads((tmp_path / "o" / "args.json").read_text()) == host_args
    assert (tmp_path / "o" / "byol-x-ep=9.ckpt").is_file()


def test_solo_checkpoint_without_args_json_needs_method(tmp_path, layouts):
    path = _solo_checkpoint(tmp_path, layouts)
    with pytest.raises(ValueError, match="--method"):
        main([str(path), "--out", str(tmp_path / "o")])
