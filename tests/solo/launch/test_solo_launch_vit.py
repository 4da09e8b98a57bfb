"""A MoCo v3 ViT-S full checkpoint and a DINO ViT-S/16 full checkpoint (official layouts, random
weights) continue with E2MC through ``e2mc-plugin pretrain`` on solo-learn's own
``scripts/pretrain/imagenet-100/mocov3_vit.yaml`` / ``dino_vit.yaml`` (224-px crops, 2 CPU steps),
and every backbone and head tensor of the model at the start of training is the file's: a
third-party Lightning callback (the ``lightning.pytorch.callbacks_factory`` entry point) saves the
model's state at ``on_train_start``, after the plugin loaded the file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from launcher_env import cli, host_checkout, image_folder, state_spy  # noqa: E402

from e2mc_plugin.checkpoints import load_checkpoint  # noqa: E402
from e2mc_plugin.testing.vit_official import DINOHead, DINOViT, randomise  # noqa: E402
from e2mc_plugin.testing.vit_releases import (  # noqa: E402
    dino_full_release,
    moco_models,
    mocov3_release,
    save,
)

E2MC = "+aux_losses=[{name: e2mc, beta: 1, gamma: 25, mapping: gaussian_cdf}]"
CPU = [
    "data.dataset=custom", "data.format=image_folder", "data.num_workers=0", "data.val_path=null",
    "optimizer.batch_size=4", "max_epochs=1", "+limit_train_batches=2",
    "+num_sanity_val_steps=0", "accelerator=cpu", "devices='1'", "strategy=auto", "precision=32",
    "sync_batchnorm=False", "wandb.enabled=False", "auto_resume.enabled=False",
]  # fmt: skip


def _run(recipe: str, path: str, fmt: str, tmp_path: Path, *extra: str) -> dict:
    src = host_checkout()
    images = image_folder(tmp_path / "images" / "train", 3, 4, seed=1)
    state = tmp_path / "state.pt"
    cli(
        ["pretrain", "--config-path", str(src / "scripts/pretrain/imagenet-100"),
         "--config-name", recipe, f"data.train_path='{images}'",
         f"checkpoint.dir='{tmp_path / 'ckpt'}'", f"+pretrained={{path: '{path}', format: {fmt}}}",
         E2MC, *CPU, *extra],
        cwd=tmp_path, src=src, pythonpath=[state_spy(tmp_path / "spy")],
        env={"SPY_STATE": str(state)},
    )  # fmt: skip
    return torch.load(state)


def _assert_every_tensor_from_the_file(state: dict, path: str, heads: tuple) -> None:
    loaded = load_checkpoint(path)
    for key, value in loaded.state_dict.items():
        assert torch.equal(state[key], value.to(state[key].dtype)), key
    model_keys = [k for k in state if k.startswith(("backbone.",) + heads)]
    missing = [k for k in model_keys if k not in loaded.state_dict]
    assert not missing, missing


@pytest.mark.slow
@pytest.mark.host106
def test_mocov3_vit_full_checkpoint_continues_with_e2mc_on_solos_mocov3_vit_yaml(tmp_path):
    base, momentum, predictor = moco_models(384, 224, 64, 32, seed=40)
    path = save(mocov3_release(base, momentum, predictor, "vit_small"),
                str(tmp_path / "vit-s-300ep.pth.tar"))  # fmt: skip
    state = _run(
        "mocov3_vit.yaml", path, "mocov3_vit", tmp_path, "method=mocov3_aux",
        "method_kwargs.proj_hidden_dim=64", "method_kwargs.proj_output_dim=32",
        "method_kwargs.pred_hidden_dim=64",
    )  # fmt: skip
    heads = ("projector.", "predictor.", "momentum_backbone.", "momentum_projector.")
    _assert_every_tensor_from_the_file(state, path, heads)


@pytest.mark.slow
@pytest.mark.host106
def test_dino_vit_full_checkpoint_continues_with_e2mc_on_solos_dino_vit_yaml(tmp_path):
    refs = [randomise(DINOViT(384, 12, 6, 16), s) for s in (50, 51)]
    heads = [randomise(DINOHead(384, 50, 64, 32), s) for s in (52, 53)]
    path = save(dino_full_release(*refs, *heads, "vit_small", 16),
                str(tmp_path / "dino_deitsmall16_pretrain_full_checkpoint.pth"))  # fmt: skip
    state = _run(
        "dino_vit.yaml", path, "dino_vit_full", tmp_path, "method=dino_aux",
        "backbone.name=vit_small", "method_kwargs.proj_hidden_dim=64",
        "method_kwargs.proj_output_dim=32", "method_kwargs.num_prototypes=50",
    )  # fmt: skip
    _assert_every_tensor_from_the_file(
        state, path, ("head.", "momentum_backbone.", "momentum_head.", "dino_loss_func.")
    )
