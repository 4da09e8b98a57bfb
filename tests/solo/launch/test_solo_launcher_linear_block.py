"""A bad or misplaced ``e2mc_linear:`` block stops the run (solo-learn 1.0.6, ``main_linear.py``).

Hydra turns an exception raised by a hydra callback into a warning and runs the job anyway: a
bad value checked only in the callback let the host's plain LinearModel train (one lr for both
groups) and exit 0. Here the job itself fails: through hydra's own callback machinery, and
through ``e2mc-plugin linear`` (one line naming the recipe file and the key, exit 2).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.host106

omegaconf = pytest.importorskip("omegaconf")
torch = pytest.importorskip("torch")
from omegaconf import OmegaConf  # noqa: E402

from e2mc_plugin.solo.recipe.schema import ConfigError  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from launcher_env import REPO, cli, host_checkout, image_folder  # noqa: E402

CALLBACK = {"e2mc_linear": {"_target_": "e2mc_plugin.solo.linear_model.PluginLinearModel"}}
BAD_BLOCKS = [
    ({"e2mc_linear": {"backbone_lr": -0.02}}, r"e2mc_linear\.backbone_lr: .*positive.*-0\.02"),
    ({"e2mc_linear": {"backbone_lr": "fast"}}, r"e2mc_linear\.backbone_lr: .*'fast'"),
    ({"e2mc_linear": {"backbone_lr": 0.02, "bakbone_lr": 1}}, r"unknown key.*bakbone_lr"),
    ({"e2mc_linear": {"head": {"name": "res5_pool_bn", "batchnorm": "false"}}}, r"batchnorm"),
    ({"optimizer": {"e2mc_linear": {"backbone_lr": 0.02}}}, r"optimizer\.e2mc_linear.*top level"),
]


def _job_cfg(**over):
    base = {
        "max_epochs": 1,
        "devices": "1",
        "data": {"num_classes": 5, "augmentations": {"crop_size": 224}},
        "optimizer": {
            "name": "sgd",
            "batch_size": 8,
            "lr": 0.1,
            "weight_decay": 0.0,
            "kwargs": {"momentum": 0.9},
        },  # fmt: skip
        "scheduler": {"name": "none"},
        "finetune": True,
    }
    cfg = OmegaConf.merge(OmegaConf.create(base), OmegaConf.create(over))
    OmegaConf.set_struct(cfg, False)
    return cfg


def _backbone():
    import torchvision

    backbone = torchvision.models.resnet18()
    backbone.fc = torch.nn.Identity()
    return backbone


def _main_linear_task():
    """A task function whose globals hold ``LinearModel``, as ``main_linear.py``'s ``main``."""
    from solo.methods.linear import LinearModel

    scope = {"LinearModel": LinearModel, "backbone": _backbone}
    return eval("lambda cfg: LinearModel(backbone(), cfg=cfg)", scope), scope


@pytest.mark.parametrize("block,match", BAD_BLOCKS, ids=["neg", "str", "unknown", "bn", "nested"])
def test_bad_block_fails_the_job_although_hydra_swallows_callback_errors(block, match):
    from hydra._internal.callbacks import Callbacks

    cfg = _job_cfg(**block)
    callbacks = Callbacks(OmegaConf.create({"hydra": {"callbacks": CALLBACK}}))
    task, scope = _main_linear_task()
    callbacks.on_job_start(config=cfg, task_function=task)  # hydra: errors become warnings
    try:
        with pytest.raises(ConfigError, match=match):
            task(cfg)
    finally:
        callbacks.on_job_end(config=cfg, job_return=None)


@pytest.fixture(scope="module")
def linear_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("linear-inputs")
    ckpt = root / "backbone.ckpt"
    torch.save({"state_dict": {}}, ckpt)  # main_linear loads it with strict=False
    return ckpt, image_folder(root / "images", classes=5, per_class=2, seed=0)


def _linear(tmp_path, inputs, *extra, traceback=False, folder=REPO / "configs" / "cpu"):
    ckpt, images = inputs
    args = [*(["--traceback"] if traceback else []), "linear", "--config-path",
            str(folder), "--config-name", "finetune_cpu",
            f"pretrained_feature_extractor='{ckpt}'", "pretrain_method=swav",
            f"data.train_path='{images}'", f"data.val_path='{images}'",
            f"checkpoint.dir='{tmp_path / 'out'}'", *extra]  # fmt: skip
    return cli(args, cwd=tmp_path, src=host_checkout(), check=False)


def test_launcher_bad_value_is_one_line_naming_recipe_and_key(tmp_path, linear_inputs):
    proc = _linear(tmp_path, linear_inputs, "e2mc_linear.backbone_lr=-0.02")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    recipe = REPO / "configs" / "cpu" / "finetune_cpu.yaml"
    assert last.startswith(f"error: recipe {recipe}: e2mc_linear.backbone_lr:"), last
    assert "-0.02" in last
    assert not list((tmp_path / "out").rglob("*.ckpt"))  # nothing trained


@pytest.mark.slow
def test_launcher_traceback_flag_shows_the_traceback(tmp_path, linear_inputs):
    proc = _linear(tmp_path, linear_inputs, "e2mc_linear.backbone_lr=fast", traceback=True)
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "ConfigError" in proc.stderr, proc.stderr[-3000:]


@pytest.mark.slow
def test_launcher_refuses_the_block_without_the_callback_that_reads_it(tmp_path, linear_inputs):
    """Without the hydra callback the host's LinearModel trains and ignores ``e2mc_linear``."""
    import yaml

    recipe = yaml.safe_load((REPO / "configs" / "cpu" / "finetune_cpu.yaml").read_text())
    del recipe["hydra"]["callbacks"]
    (tmp_path / "recipe").mkdir()
    (tmp_path / "recipe" / "finetune_cpu.yaml").write_text(yaml.safe_dump(recipe))
    proc = _linear(tmp_path, linear_inputs, folder=tmp_path / "recipe")
    assert proc.returncode == 2, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert "finetune_cpu.yaml: e2mc_linear:" in last and "PluginLinearModel" in last, last
    assert not list((tmp_path / "out").rglob("*.ckpt"))


@pytest.mark.slow
def test_launcher_refuses_a_misplaced_block(tmp_path, linear_inputs):
    proc = _linear(tmp_path, linear_inputs, "+optimizer.e2mc_linear={backbone_lr:0.1}")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "optimizer.e2mc_linear" in proc.stderr.strip().splitlines()[-1]
