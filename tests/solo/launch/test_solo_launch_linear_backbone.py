"""``e2mc-plugin linear`` refuses a probe whose backbone is not the checkpoint's.

solo-learn's ``main_linear.py`` builds the backbone from the linear recipe and loads the checkpoint
with ``strict=False``: a DINOv2 ViT-S/14 probed with ``patch_size: 14`` but without
``init_values`` trains the probe on a ViT without LayerScale (the gammas are dropped silently, exit
0). The launcher compares the composed job with the ``args.json`` beside the checkpoint (what
``e2mc-plugin convert`` and every solo-learn run write) and stops with one line naming the keys."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from e2mc_plugin.solo.launch.linear_backbone import probe_backbone_problem

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from launcher_env import REPO, cli, host_checkout, image_folder  # noqa: E402

DINOV2 = {"patch_size": 14, "init_values": 1.0, "img_size": 224}  # e2mc-plugin convert's
REG4 = {**DINOV2, "reg_tokens": 4, "no_embed_class": True}
WHERE = "/runs/x/args.json"


def _run(method: str, name: str, kwargs: dict) -> dict:
    return {"method": method, "backbone": {"name": name, "kwargs": kwargs}}


def _job(method, name, kwargs=None) -> dict:
    backbone = {"name": name, **({"kwargs": kwargs} if kwargs is not None else {})}
    return {"pretrain_method": method, "backbone": backbone}


def test_the_same_backbone_passes_and_training_only_kwargs_are_not_compared():
    run = _run("dino_aux", "vit_small", {**DINOV2, "dynamic_img_size": True, "drop_path_rate": 0.1})
    assert probe_backbone_problem(_job("dino", "vit_small", DINOV2), run, WHERE) is None
    assert probe_backbone_problem(_job("vicreg", "resnet18"), _run("vicreg", "resnet18", {}),
                                  WHERE) is None  # fmt: skip


def test_a_dinov2_probe_without_layerscale_is_refused_naming_the_key():
    problem = probe_backbone_problem(
        _job("dino", "vit_small", {"patch_size": 14, "img_size": 224}),
        _run("dino", "vit_small", DINOV2), WHERE,
    )  # fmt: skip
    assert problem == (
        "backbone.kwargs: the checkpoint's vit_small was built with {init_values: 1.0} "
        "(/runs/x/args.json); this linear job builds it with {}, and main_linear.py loads with "
        "strict=False (what differs is dropped or left random): set "
        "backbone.kwargs.init_values=1.0 ('+' before a key the recipe lacks)"
    )


def test_registers_missing_or_extra_kwargs_are_named():
    problem = probe_backbone_problem(
        _job("dino", "vit_small", {**DINOV2, "class_token": False}),
        _run("dino", "vit_small", REG4), WHERE,
    )  # fmt: skip
    assert "set backbone.kwargs.no_embed_class=true, backbone.kwargs.reg_tokens=4" in problem
    assert problem.endswith("; remove backbone.kwargs.class_token")


def test_another_backbone_name_is_refused():
    problem = probe_backbone_problem(
        _job("dino", "resnet18"), _run("dino", "vit_small", DINOV2), WHERE
    )
    assert problem.startswith("backbone.name: the checkpoint is a vit_small (/runs/x/args.json)")
    assert problem.endswith("set backbone.name=vit_small")


def test_a_mocov3_vit_probed_as_another_method_is_refused_for_its_heads():
    """solo builds MoCo v3's ViT (12 heads) for pretrain_method mocov3, timm's (6) otherwise."""
    problem = probe_backbone_problem(
        _job("dino", "vit_small"), _run("mocov3_aux", "vit_small", {}), WHERE
    )
    assert problem == (
        "pretrain_method: the checkpoint's vit_small is mocov3's (12 heads, /runs/x/args.json); "
        "with pretrain_method=dino main_linear.py builds one with 6 heads (the same shapes, "
        "another function): set pretrain_method=mocov3"
    )
    assert probe_backbone_problem(_job("mocov3", "vit_small"), _run("mocov3_aux", "vit_small", {}),
                                  WHERE) is None  # fmt: skip


@pytest.mark.host106
def test_launcher_refuses_a_dinov2_probe_without_layerscale_before_training(tmp_path):
    """The checkpoint folder as ``e2mc-plugin convert`` writes it (args.json beside the .ckpt);
    without the check the host's probe trains on a ViT without LayerScale and exits 0."""
    torch = pytest.importorskip("torch")
    folder = tmp_path / "converted"
    folder.mkdir()
    ckpt = folder / "dinov2_vits14_pretrain.ckpt"
    torch.save({"state_dict": {}}, ckpt)
    (folder / "args.json").write_text(json.dumps(_run("dino", "vit_small", DINOV2)))
    images = image_folder(tmp_path / "images", 5, 2, seed=0)
    proc = cli(
        ["linear", "--config-path", str(REPO / "configs" / "cpu"), "--config-name", "probe_cpu",
         f"pretrained_feature_extractor='{ckpt}'", "pretrain_method=dino",
         "backbone.name=vit_small", "+backbone.kwargs={patch_size: 14, img_size: 224}",
         f"data.train_path='{images}'", f"data.val_path='{images}'",
         f"checkpoint.dir='{tmp_path / 'out'}'"],
        cwd=tmp_path, src=host_checkout(), check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: recipe ") and "probe_cpu.yaml: backbone.kwargs:" in last, last
    assert "set backbone.kwargs.init_values=1.0" in last and str(folder) in last, last
    assert not list((tmp_path / "out").rglob("*.ckpt"))  # nothing trained
