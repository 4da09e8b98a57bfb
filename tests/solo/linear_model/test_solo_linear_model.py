"""The plugin's LinearModel variant for the fine-tuning and transfer recipes (solo-learn 1.0.6).

Checked against closed forms: each param group's lr after k epochs of cosine (per group) or of
x gamma steps, the lr scaling of both groups by solo's batch rule, the res5 head in place of the
host's classifier, and the hydra callback swapping and restoring ``main_linear``'s name.
"""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.host106

omegaconf = pytest.importorskip("omegaconf")
torch = pytest.importorskip("torch")
from omegaconf import OmegaConf  # noqa: E402

from e2mc_plugin.solo.linear_model import (  # noqa: E402
    PluginLinearModel,
    plugin_linear_model_class,
)
from e2mc_plugin.solo.recipe.linear import HeadSpec, LinearSpec, parse_linear_block  # noqa: E402
from e2mc_plugin.solo.recipe.schema import ConfigError  # noqa: E402


def _cfg(**over):
    base = {
        "max_epochs": 20,
        "devices": "1",
        "data": {"num_classes": 5, "augmentations": {"crop_size": 224}},
        "optimizer": {
            "name": "sgd",
            "batch_size": 128,
            "lr": 0.08 * 0.5,  # as main_linear.py hands it over: after parse_cfg's x batch/256
            "weight_decay": 0.0,
            "kwargs": {"momentum": 0.9},
        },
        "scheduler": {"name": "warmup_cosine", "warmup_epochs": 0, "interval": "epoch"},
        "finetune": True,
        "e2mc_linear": {"backbone_lr": 0.03, "lr_decay_gamma": 0.2, "head": None},
    }
    cfg = OmegaConf.merge(OmegaConf.create(base), OmegaConf.create(over))
    OmegaConf.set_struct(cfg, False)
    return cfg


def _model(cfg):
    import torchvision
    from solo.methods.linear import LinearModel

    backbone = torchvision.models.resnet18()
    backbone.fc = torch.nn.Identity()
    return plugin_linear_model_class(LinearModel)(backbone, cfg=cfg)


def _lrs_over_epochs(model, epochs: int):
    optimizers, schedulers = model.configure_optimizers()
    opt, sched = optimizers[0], schedulers[0]["scheduler"]
    out = []
    for _ in range(epochs):
        out.append({g["name"]: g["lr"] for g in opt.param_groups})
        opt.step()
        sched.step()
    return out


def test_block_parsing_and_errors():
    assert parse_linear_block(None) == LinearSpec()
    spec = parse_linear_block({"backbone_lr": 0.01, "head": {"name": "res5_pool_bn"}})
    assert spec == LinearSpec(backbone_lr=0.01, lr_decay_gamma=0.1, head=HeadSpec(6, 1, True))
    with pytest.raises(ConfigError, match="unknown key.*backbone_lrr.*valid keys"):
        parse_linear_block({"backbone_lrr": 0.01})
    with pytest.raises(ConfigError, match="head.name: unknown head 'gap'; valid: res5_pool_bn"):
        parse_linear_block({"head": {"name": "gap"}})
    with pytest.raises(ConfigError, match="lr_decay_gamma: expected a positive finite number"):
        parse_linear_block({"lr_decay_gamma": -1})
    with pytest.raises(ConfigError, match="head.kernel: expected a positive integer"):
        parse_linear_block({"head": {"name": "res5_pool_bn", "kernel": 0}})


def test_two_lrs_follow_their_own_cosine():
    """Reference: CosineAnnealingLR(epochs) per group, lr_e = lr0 (1 + cos(pi e / E)) / 2; both
    lrs scaled by solo's batch rule (128 x 1 device / 256 = 0.5)."""
    model = _model(_cfg())
    lrs = _lrs_over_epochs(model, 20)
    for e, got in enumerate(lrs):
        factor = 0.5 * (1 + math.cos(math.pi * e / 20))
        assert got["backbone"] == pytest.approx(0.03 * 0.5 * factor, abs=1e-12)
        assert got["classifier"] == pytest.approx(0.04 * factor, abs=1e-12)


def test_step_schedule_decays_both_lrs_by_gamma():
    cfg = _cfg(scheduler={"name": "step", "lr_decay_steps": [12, 16], "interval": "epoch"})
    lrs = _lrs_over_epochs(_model(cfg), 20)
    for e, got in enumerate(lrs):
        factor = 0.2 ** ((e >= 12) + (e >= 16))
        assert got["backbone"] == pytest.approx(0.015 * factor, rel=1e-12)
        assert got["classifier"] == pytest.approx(0.04 * factor, rel=1e-12)


def test_without_backbone_lr_the_groups_share_the_host_lr():
    cfg = _cfg(e2mc_linear={"backbone_lr": None})
    first = _lrs_over_epochs(_model(cfg), 1)[0]
    assert first == {"backbone": pytest.approx(0.04), "classifier": pytest.approx(0.04)}


def test_frozen_backbone_trains_only_the_classifier():
    cfg = _cfg(finetune=False, e2mc_linear={"backbone_lr": None})
    optimizers, _ = _model(cfg).configure_optimizers()
    assert [g["name"] for g in optimizers[0].param_groups] == ["classifier"]
    with pytest.raises(ConfigError, match="backbone_lr needs finetune: True"):
        _model(_cfg(finetune=False))


@pytest.mark.parametrize(
    "scheduler, match",
    [
        ({"name": "warmup_cosine", "warmup_epochs": 2}, "warmup_epochs must be 0"),
        ({"name": "exponential"}, "valid: none, warmup_cosine"),
        ({"name": "step"}, "needs scheduler.lr_decay_steps"),
    ],
)
def test_unsupported_schedules_are_named(scheduler, match):
    with pytest.raises(ConfigError, match=match):
        _model(_cfg(scheduler={**scheduler, "interval": "epoch"}))


def test_res5_head_replaces_the_classifier_of_the_host():
    cfg = _cfg(
        finetune=False,
        e2mc_linear={"backbone_lr": None, "head": {"name": "res5_pool_bn", "kernel": 6}},
    )
    model = _model(cfg)
    assert model.classifier.in_features == 512 * 4  # resnet18: 512 channels, 2 x 2 positions
    model.eval()
    out = model(torch.rand(2, 3, 224, 224))
    assert out["feats"].shape == (2, 2048) and out["logits"].shape == (2, 5)
    # the trainable parameters are the head's (backbone frozen by the host)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {
        "classifier.bn.weight",
        "classifier.bn.bias",
        "classifier.linear.weight",
        "classifier.linear.bias",
    }


def test_callback_swaps_the_launcher_name_for_the_job_and_restores_it():
    from solo.methods.linear import LinearModel

    scope = {"LinearModel": LinearModel}
    task = eval("lambda cfg: LinearModel", scope)  # a function whose globals are `scope`
    callback = PluginLinearModel()
    callback.on_job_start(OmegaConf.create({}), task_function=task)
    assert issubclass(task(None), LinearModel) and task(None) is not LinearModel
    callback.on_job_end(OmegaConf.create({}), None)
    assert task(None) is LinearModel

    with pytest.raises(ConfigError, match="runs with solo-learn's main_linear.py"):
        PluginLinearModel().on_job_start(OmegaConf.create({}), task_function=lambda c: c)
    # hydra turns a callback's exception into a warning: the block is checked by the swapped
    # class, inside the job (tests/solo/launch/test_solo_launcher_linear_block.py)
    PluginLinearModel().on_job_start(
        OmegaConf.create({"e2mc_linear": {"nope": 1}}), task_function=task
    )
    assert task(None) is not LinearModel


@pytest.mark.parametrize("devices", [2, "2", "0,1", [0, 1]])
def test_backbone_lr_scales_by_the_processes_lightning_starts(devices):
    """``main_linear.py`` hands the model the user's ``devices`` back after ``parse_cfg`` (the
    launcher's device-count rule); the backbone lr must scale like the host's lr: 128 x 2 / 256."""
    cfg = _cfg(devices=devices, accelerator="cpu")
    first = _lrs_over_epochs(_model(cfg), 1)[0]
    assert first["backbone"] == pytest.approx(0.03 * 128 * 2 / 256, rel=1e-12)


def test_linear_model_pickles_and_unpickles_in_a_fresh_process(tmp_path):
    """``ddp_spawn`` pickles the model into fresh processes: the class must be found by name."""
    import pickle
    import subprocess
    import sys

    from solo.methods.linear import LinearModel

    model = _model(_cfg())
    blob = pickle.dumps(model)
    again = pickle.loads(blob)
    assert type(again) is type(model) and issubclass(type(again), LinearModel)
    assert again.backbone_lr == model.backbone_lr
    path = tmp_path / "model.pkl"
    path.write_bytes(blob)
    code = (
        "import pickle, sys\n"
        "m = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "from solo.methods.linear import LinearModel\n"
        "assert isinstance(m, LinearModel), type(m).__mro__\n"
        "print(type(m).__module__ + '.' + type(m).__qualname__, m.backbone_lr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    name, lr = done.stdout.split()
    assert name == f"{type(model).__module__}.{type(model).__qualname__}"
    assert float(lr) == pytest.approx(model.backbone_lr)
