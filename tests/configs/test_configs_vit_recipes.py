"""The ViT recipes (``configs/pretrain_vit/``) and their CPU variants: method, aux losses and
release as documented; the CPU variants mirror them and (slow) train through the launcher with
224-px crops, then a linear probe and kNN run on the result through the host's launchers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("hydra", reason="hydra-core is not installed")
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from e2mc_plugin.aux_losses.paper import paper_aux_spec  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from launcher_env import cli, host_checkout, image_folder  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
KINDS = ("continued", "e2mc", "vcreg", "auh", "mmcr")
FULL = {"dino": ("dino_aux", "dino_vit_full"), "mocov3": ("mocov3_aux", "mocov3_vit")}


def _compose(recipe: str, overrides=()):
    folder, name = os.path.split(recipe)
    with initialize_config_dir(config_dir=str(CONFIGS / folder), version_base="1.2"):
        return compose(config_name=name, overrides=list(overrides))


@pytest.mark.parametrize("method", FULL)
@pytest.mark.parametrize("kind", KINDS)
def test_vit_recipe_continues_the_release_with_swavs_coefficients(method, kind):
    cfg = _compose(f"pretrain_vit/{method}/{kind}")
    assert cfg.method == FULL[method][0] and cfg.pretrained.format == FULL[method][1]
    assert OmegaConf.is_missing(cfg.pretrained, "path")
    aux = OmegaConf.to_container(cfg.aux_losses)
    if kind == "continued":
        assert aux == []
    else:
        (entry,) = aux
        assert {k: entry[k] for k in paper_aux_spec("swav", kind)} == paper_aux_spec("swav", kind)
        assert entry["views"] == ("all" if kind == "mmcr" else "large")
    assert "embedding" not in (aux[0] if aux else {})  # the default: projector / head.mlp


@pytest.mark.parametrize("method", FULL)
@pytest.mark.parametrize("kind", ("continued", "e2mc"))
def test_vit_cpu_variant_mirrors_its_recipe(method, kind):
    cfg = _compose(f"cpu/vit_{method}_{kind}")
    full = _compose(f"pretrain_vit/{method}/{kind}")
    assert cfg.method == full.method
    assert OmegaConf.to_container(cfg.aux_losses) == OmegaConf.to_container(full.aux_losses)
    assert cfg.backbone.name == "vit_tiny" and cfg.pretrained is None
    assert [a.crop_size for a in cfg.augmentations][0] == 224
    assert cfg.accelerator == "cpu" and cfg.devices == "1" and cfg.precision == 32
    assert cfg.optimizer.name == full.optimizer.name and cfg.scheduler.name == "none"


def _q(path: Path) -> str:
    return f"'{path}'"


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return image_folder(tmp_path_factory.mktemp("vit-images") / "train", 5, 4, seed=0)


def _pretrain(recipe: str, images: Path, out: Path, *extra: str):
    folder, name = os.path.split(recipe)
    out.mkdir(parents=True, exist_ok=True)
    args = ["pretrain", "--config-path", str(CONFIGS / folder), "--config-name", name,
            f"data.train_path={_q(images)}", f"checkpoint.dir={_q(out / 'ckpt')}",
            *extra]  # fmt: skip
    return cli(args, cwd=out, src=host_checkout())


@pytest.mark.slow
@pytest.mark.host106
@pytest.mark.parametrize("method", FULL)
def test_vit_cpu_variants_train_then_probe_and_knn_through_the_launchers(
    method, images, tmp_path, knn_cli_args
):
    _pretrain(f"cpu/vit_{method}_continued", images, tmp_path / "continued")
    _pretrain(f"cpu/vit_{method}_e2mc", images, tmp_path / "e2mc")
    (ckpt,) = sorted((tmp_path / "e2mc" / "ckpt").rglob("*.ckpt"))
    cli(["linear", "--config-path", str(CONFIGS / "cpu"), "--config-name", "probe_cpu",
         f"pretrained_feature_extractor={_q(ckpt)}", f"pretrain_method={method}",
         "backbone.name=vit_tiny", f"data.train_path={_q(images)}",
         f"data.val_path={_q(images)}", f"checkpoint.dir={_q(tmp_path / 'linear')}"],
        cwd=tmp_path, src=host_checkout())  # fmt: skip
    res = cli(["knn", "--cpu", *knn_cli_args(ckpt.parent, images, images)], cwd=tmp_path,
              src=host_checkout())  # fmt: skip
    assert "Result: acc@1=" in res.stdout
