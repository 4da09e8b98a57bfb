"""``configs/cpu/vit_dinov2_e2mc.yaml``, the DINOv2 route: DINO's method and aux losses, the hub
file's backbone only (a fresh DINO head), and a backbone that the ``dinov2_backbone`` loader
accepts as the release's function, with or without registers (the kwargs the header names);
crops the patch-14 ViT takes. The run itself: tests/solo/launch/test_solo_launch_dinov2.py."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("hydra", reason="hydra-core is not installed")
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from e2mc_plugin.checkpoints import load_checkpoint  # noqa: E402
from e2mc_plugin.checkpoints.vit import ViTArchitectureError  # noqa: E402
from e2mc_plugin.checkpoints.vit.fit import check_fits  # noqa: E402
from e2mc_plugin.checkpoints.vit.target import solo_target  # noqa: E402
from e2mc_plugin.testing.vit_official import DINOv2ViT, randomise  # noqa: E402
from e2mc_plugin.testing.vit_releases import save  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
RECIPE = "vit_dinov2_e2mc"


def _compose(folder: str, name: str):
    with initialize_config_dir(config_dir=str(CONFIGS / folder), version_base="1.2"):
        return compose(config_name=name)


def _release(tmp_path, registers: int):
    """A one-block DINOv2 ViT-S/14 hub file (the loader reads heads from the name, the rest from
    the tensors)."""
    ref = randomise(DINOv2ViT(384, 1, 6, img_size=70, registers=registers), 1)
    name = f"dinov2_vits14{'_reg4' if registers else ''}_pretrain.pth"
    return load_checkpoint(save(ref.state_dict(), str(tmp_path / name))).architecture


def test_dinov2_recipe_continues_the_hub_backbone_with_dinos_method_and_e2mc():
    cfg, dino = _compose("cpu", RECIPE), _compose("pretrain_vit/dino", "e2mc")
    assert cfg.method == dino.method == "dino_aux"
    assert OmegaConf.to_container(cfg.aux_losses) == OmegaConf.to_container(dino.aux_losses)
    assert OmegaConf.is_missing(cfg.pretrained, "path")
    assert (cfg.pretrained.format, cfg.pretrained.scope, cfg.pretrained.strict) == (
        "dinov2_backbone", "backbone", True,
    )  # fmt: skip
    assert cfg.accelerator == "cpu" and cfg.devices == "1" and cfg.precision == 32


@pytest.mark.parametrize("registers", [0, 4])
def test_dinov2_recipe_builds_the_vit_the_loader_records(tmp_path, registers):
    cfg = _compose("cpu", RECIPE)
    kwargs = OmegaConf.to_container(cfg.backbone.kwargs)
    assert kwargs.pop("dynamic_img_size") is True  # the 98-px local crops
    release = _release(tmp_path, registers)
    needed = release.backbone_kwargs(img_size=224)
    extra = {k: v for k, v in needed.items() if k not in kwargs}
    assert {k: needed[k] for k in kwargs} == kwargs
    assert extra == ({"reg_tokens": 4, "no_embed_class": True} if registers else {})
    header = (CONFIGS / "cpu" / f"{RECIPE}.yaml").read_text()
    assert all(f"backbone.kwargs.{k}={str(v).lower()}" in header for k, v in extra.items())
    check_fits(release, solo_target("dino", cfg.backbone.name, {**kwargs, **extra}))
    if registers:
        with pytest.raises(ViTArchitectureError, match="register tokens"):
            check_fits(release, solo_target("dino", cfg.backbone.name, kwargs))


def test_dinov2_recipe_crops_are_multiples_of_the_patch():
    """timm's dynamic_img_size refuses other sizes (96 px with patch 14)."""
    cfg = _compose("cpu", RECIPE)
    crops = [(a.num_crops, a.crop_size) for a in cfg.augmentations]
    assert crops == [(2, 224), (2, 98)]
    assert all(size % cfg.backbone.kwargs.patch_size == 0 for _, size in crops)


def _readme_full_size_overrides() -> list:
    """The hydra overrides of configs/README.md's full-size DINOv2 command."""
    text = (CONFIGS / "README.md").read_text()
    start = text.index("--config-path configs/pretrain_vit/dino --config-name e2mc")
    command = text[start : text.index("```", start)].replace("\\\n", " ")
    return [t for t in command.split() if "=" in t and not t.startswith("--")]


def test_readme_full_size_dinov2_command_composes_a_vit_the_release_fits(tmp_path):
    overrides = _readme_full_size_overrides()
    with initialize_config_dir(config_dir=str(CONFIGS / "pretrain_vit/dino"), version_base="1.2"):
        cfg = compose(config_name="e2mc", overrides=overrides)
    assert (cfg.pretrained.format, cfg.pretrained.scope) == ("dinov2_backbone", "backbone")
    kwargs = OmegaConf.to_container(cfg.backbone.kwargs)
    check_fits(_release(tmp_path, 0), solo_target("dino", cfg.backbone.name, kwargs))
    assert all(a.crop_size % 14 == 0 for a in cfg.augmentations)
