"""Layout detection (refinement, identical layouts told apart by file name), safetensors files
and torch.hub cache paths. No host needed: bare tensors in the official key layouts."""

from __future__ import annotations

import json
from collections import OrderedDict

import pytest
import torch
from safetensors.torch import save_file

from e2mc_plugin.checkpoints import (
    CheckpointFormatError,
    CheckpointLoader,
    detect_format,
    get_checkpoint_loader,
    load_checkpoint,
)
from e2mc_plugin.checkpoints.convert import main as convert_main
from e2mc_plugin.checkpoints.loaders.safetensors_file import is_safetensors
from e2mc_plugin.checkpoints.registry import describe_layout, detect_layout
from e2mc_plugin.registry import Registry


def _resnet18_backbone(layouts):
    return layouts.backbone_only(layouts.resnet_state("resnet18"))


def _barlow_model(layouts, hidden=16):
    """barlowtwins/main.py ``model.state_dict()`` (DDP): bias-free projector + ``module.bn``."""
    state = layouts.prefixed("module.backbone.", _resnet18_backbone(layouts))
    projector = torch.nn.Sequential(
        torch.nn.Linear(512, hidden, bias=False), torch.nn.BatchNorm1d(hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden, bias=False), torch.nn.BatchNorm1d(hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden, bias=False),
    )  # fmt: skip
    state.update(layouts.prefixed("module.projector.", projector.state_dict()))
    bn = torch.nn.BatchNorm1d(hidden, affine=False)
    state.update(layouts.prefixed("module.bn.", bn.state_dict()))
    return state


# ---- detection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "file_name, expected",
    [
        ("dino_resnet50_pretrain.pth", "dino_backbone"),
        ("resnet50.pth", "vicreg_backbone"),  # VICReg and Barlow Twins both publish this name
        ("my_backbone.pth", "vicreg_backbone"),  # no hint: the layout's default
    ],
)
def test_identical_backbone_layouts_are_told_apart_by_file_name(layouts, file_name, expected):
    raw = _resnet18_backbone(layouts)
    detection = detect_layout(raw, f"/cache/torch/hub/checkpoints/{file_name}")
    assert detection.name == expected
    assert set(detection.candidates) == {"vicreg_backbone", "dino_backbone", "barlowtwins_backbone"}
    assert detect_format(raw, path=file_name) == expected
    if file_name == "resnet50.pth":
        assert "used by barlowtwins_backbone, vicreg_backbone" in detection.reason
    if file_name == "my_backbone.pth":
        assert "pass format=" in detection.reason


def test_barlow_full_refines_vicreg_full(layouts):
    raw = {"epoch": 1, "model": _barlow_model(layouts), "optimizer": {}}
    assert get_checkpoint_loader("vicreg_full").detect(raw)  # it would accept it too
    detection = detect_layout(raw)
    assert detection.name == "barlowtwins_full"
    assert "more specific than vicreg_full" in detection.reason
    # a real VICReg file stays VICReg
    assert detect_layout(layouts.vicreg_full("resnet18", hidden=16)).name == "vicreg_full"


def test_different_layouts_stay_ambiguous_and_identical_ones_do_not():
    registry = Registry("checkpoint loader")

    class A(CheckpointLoader):
        file_names = ("a.pth",)

        def detect(self, raw):
            return True

    class B(A):
        same_layout_as = "a"
        file_names = ("b.pth",)

    class C(A):
        pass

    registry.register("a", A)
    registry.register("b", B)
    assert detect_layout({}, "x/b.pth", registry).name == "b"
    assert detect_layout({}, "x/a.pth", registry).name == "a"
    assert detect_layout({}, None, registry).name == "a"
    registry.register("c", C)  # accepts everything too, but is not declared identical
    detection = detect_layout({}, "x/b.pth", registry)
    assert detection.name is None and detection.candidates == ("a", "b", "c")
    with pytest.raises(CheckpointFormatError, match="a, b, c"):
        detect_format({}, registry)


def test_describe_layout_names_release_file_and_twins():
    text = describe_layout(
        "dino_backbone", "/root/.cache/torch/hub/checkpoints/dino_resnet50_pretrain.pth"
    )
    assert text.startswith("dino_backbone: DINO ResNet backbone (facebookresearch/dino)")
    assert "file name 'dino_resnet50_pretrain.pth'" in text
    assert "same key layout as barlowtwins_backbone, vicreg_backbone" in text


# ---- safetensors -------------------------------------------------------------------------------


def test_safetensors_backbone_and_flat_release_state_dicts(tmp_path, layouts):
    backbone = _resnet18_backbone(layouts)
    # content decides, not the suffix (torch.load only dispatches on ".safetensors")
    path = tmp_path / "dino_resnet50_pretrain.pth"
    save_file({k: v.contiguous() for k, v in backbone.items()}, str(path))
    assert is_safetensors(path)
    loaded = load_checkpoint(path)
    assert loaded.format == "dino_backbone"
    assert all(torch.equal(loaded.state_dict["backbone." + k], v) for k, v in backbone.items())

    barlow = _barlow_model(layouts)
    flat = tmp_path / "model.safetensors"
    save_file(dict(barlow), str(flat))
    loaded = load_checkpoint(flat)
    assert loaded.format == "barlowtwins_full"
    assert torch.equal(loaded.state_dict["projector.3.weight"], barlow["module.projector.3.weight"])

    moco = OrderedDict(
        (k.replace("module.", "module.base_encoder.", 1), v)
        for k, v in layouts.prefixed("module.", backbone).items()
    )
    moco_path = tmp_path / "mocov3.safetensors"
    save_file(dict(moco), str(moco_path))
    assert load_checkpoint(moco_path).format == "mocov3_official"


def test_torch_files_are_not_taken_for_safetensors(tmp_path, layouts):
    path = tmp_path / "resnet.bin"
    torch.save(_resnet18_backbone(layouts), path)
    assert not is_safetensors(path)
    assert load_checkpoint(path).format == "vicreg_backbone"
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    assert not is_safetensors(empty)


# ---- torch.hub cache paths ------------------------------------------------------------------


@pytest.mark.parametrize(
    "file_name, layout, method",
    [
        ("dino_resnet50_pretrain.pth", "dino_backbone", "dino"),
        ("resnet50.pth", "vicreg_backbone", "vicreg"),
    ],
)
def test_convert_accepts_hub_cache_path_and_names_the_layout(
    tmp_path, layouts, capsys, file_name, layout, method
):
    hub = tmp_path / "torch" / "hub" / "checkpoints"  # torch.hub.get_dir() / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(_resnet18_backbone(layouts), hub / file_name)
    assert convert_main([str(hub / file_name), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert describe_layout(layout, hub / file_name) in printed
    assert f"file name {file_name!r}" in describe_layout(layout, hub / file_name)
    args = json.loads((tmp_path / "out" / "args.json").read_text())
    assert args["method"] == method and args["backbone"]["name"] == "resnet18"
