"""Synthetic checkpoints in the official layouts, and real solo-learn models of either host.

Weights are random (torchvision ``resnet50()`` / ``resnet18()``); key names, shapes and containers
are those of the released files (see docs: checkpoint layouts). Projector widths are reduced
(``PROJ`` below) except in the meta-device test, which checks the full-size VICReg layout
without allocating it.
"""

from __future__ import annotations

import functools
import types
from collections import OrderedDict
from importlib import metadata
from typing import Dict, Optional

import pytest
import torch
import torchvision
from torch import nn

from e2mc_plugin.testing import official

try:
    HOST: Optional[str] = metadata.version("solo-learn")
except metadata.PackageNotFoundError:
    HOST = None

PROJ = 256  # reduced projector width (the official VICReg one is 8192)


@functools.lru_cache(maxsize=None)
def resnet_state(arch: str = "resnet50") -> "OrderedDict[str, torch.Tensor]":
    """Random torchvision weights (built once per session; treat as read-only)."""
    torch.manual_seed(0)
    return getattr(torchvision.models, arch)().state_dict()


def backbone_only(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    return OrderedDict((k, v) for k, v in state.items() if not k.startswith("fc."))


def prefixed(prefix: str, state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    return OrderedDict((prefix + k, v) for k, v in state.items())


def vicreg_projector(features: int, hidden: int) -> nn.Sequential:
    """facebookresearch/vicreg ``Projector`` (mlp ``hidden-hidden-hidden``): the last Linear has
    no bias."""
    return official.vicreg_projector([features, hidden, hidden, hidden])


def _optimizer_state() -> dict:
    return {"state": {}, "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": [0, 1]}]}


def vicreg_full(arch: str = "resnet50", hidden: int = PROJ) -> dict:
    features = 2048 if arch == "resnet50" else 512
    model = prefixed("module.backbone.", backbone_only(resnet_state(arch)))
    model.update(prefixed("module.projector.", vicreg_projector(features, hidden).state_dict()))
    return {"epoch": 100, "model": model, "optimizer": _optimizer_state()}


def swav_official(arch: str = "resnet50", hidden: int = PROJ, out: int = 128, protos: int = 300):
    """Flat dict as in ``swav_800ep_pretrain.pth.tar`` (2048-2048-128 head, 3000 prototypes)."""
    features = 2048 if arch == "resnet50" else 512
    state = prefixed("module.", backbone_only(resnet_state(arch)))
    head = nn.Sequential(
        nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(True), nn.Linear(hidden, out)
    )
    state.update(prefixed("module.projection_head.", head.state_dict()))
    state["module.prototypes.weight"] = nn.Linear(out, protos, bias=False).weight.detach().clone()
    return state


def simsiam_official(arch: str = "resnet50", dim: int = PROJ, pred: int = 64) -> dict:
    """``checkpoint_0099.pth.tar``: the projector replaces ``encoder.fc`` (facebookresearch)."""
    features = 2048 if arch == "resnet50" else 512
    encoder = backbone_only(resnet_state(arch))
    fc = nn.Sequential(
        nn.Linear(features, features, bias=False), nn.BatchNorm1d(features), nn.ReLU(True),
        nn.Linear(features, features, bias=False), nn.BatchNorm1d(features), nn.ReLU(True),
        nn.Linear(features, dim), nn.BatchNorm1d(dim, affine=False),
    )  # fmt: skip
    predictor = nn.Sequential(
        nn.Linear(dim, pred, bias=False), nn.BatchNorm1d(pred), nn.ReLU(True), nn.Linear(pred, dim)
    )
    state = prefixed("module.encoder.", encoder)
    state.update(prefixed("module.encoder.fc.", fc.state_dict()))
    state.update(prefixed("module.predictor.", predictor.state_dict()))
    return {"epoch": 100, "arch": arch, "state_dict": state, "optimizer": _optimizer_state()}


# ---- real solo-learn methods ----------------------------------------------------------------

METHOD_KWARGS = {
    "vicreg": dict(
        proj_hidden_dim=PROJ, proj_output_dim=PROJ,
        sim_loss_weight=25.0, var_loss_weight=25.0, cov_loss_weight=1.0,
    ),
    "swav": dict(
        proj_hidden_dim=PROJ, proj_output_dim=128, num_prototypes=300, sk_iters=3,
        sk_epsilon=0.05, temperature=0.1, queue_size=0, epoch_queue_starts=0,
        freeze_prototypes_epochs=0,
    ),
    "simsiam": dict(proj_hidden_dim=None, proj_output_dim=PROJ, pred_hidden_dim=64),
    "byol": dict(proj_hidden_dim=64, proj_output_dim=32, pred_hidden_dim=64),
}  # fmt: skip


def build_method(name: str, backbone: str = "resnet50", **overrides):
    """A real solo-learn method of the installed host (1.0.6: cfg; 1.0.2: kwargs)."""
    import solo.methods as sm

    features = 2048 if backbone == "resnet50" else 512
    kwargs = dict(METHOD_KWARGS[name], **overrides)
    if kwargs.get("proj_hidden_dim") is None:
        kwargs["proj_hidden_dim"] = features  # SimSiam's hidden width is the feature width
    cls = {"vicreg": sm.VICReg, "swav": sm.SwAV, "simsiam": sm.SimSiam, "byol": sm.BYOL}[name]
    if HOST == "1.0.2":
        base = dict(
            encoder=backbone, num_classes=10, backbone_args={"cifar": False}, max_epochs=1,
            batch_size=4, optimizer="sgd", lars=False, lr=0.1, weight_decay=1e-5,
            classifier_lr=0.1, exclude_bias_n_norm=False, accumulate_grad_batches=1,
            extra_optimizer_args={}, scheduler="none", min_lr=0.0, warmup_start_lr=0.0,
            warmup_epochs=0, num_large_crops=2, num_small_crops=0,
        )  # fmt: skip
        if name == "byol":
            base.update(base_tau_momentum=0.99, final_tau_momentum=1.0, momentum_classifier=False)
        return cls(**base, **kwargs)
    return cls(solo_cfg(name, backbone, kwargs))


def solo_cfg(method: str, backbone: str, method_kwargs: dict):
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(
        {
            "name": "test", "method": method,
            "backbone": {"name": backbone, "kwargs": {}},
            "method_kwargs": method_kwargs,
            "data": {
                "dataset": "imagenet100", "train_path": ".", "val_path": ".",
                "format": "image_folder", "num_workers": 0, "num_large_crops": 2,
                "num_small_crops": 0, "num_classes": 10,
            },
            "optimizer": {
                "name": "sgd", "batch_size": 4, "lr": 0.1, "classifier_lr": 0.1,
                "weight_decay": 1e-5, "kwargs": {"momentum": 0.9},
            },
            "scheduler": {"name": "warmup_cosine"},
            "checkpoint": {"enabled": False},
            "auto_resume": {"enabled": False},
            "momentum": {"base_tau": 0.99, "final_tau": 1.0},
            "max_epochs": 1, "devices": 1, "accelerator": "cpu", "num_nodes": 1,
        }
    )  # fmt: skip
    OmegaConf.set_struct(cfg, False)
    return cfg


def backbone_prefix() -> str:
    return "encoder." if HOST == "1.0.2" else "backbone."


@pytest.fixture(scope="session")
def layouts():
    """The builders above, for test modules (importlib mode: conftest is not importable)."""
    return types.SimpleNamespace(
        resnet_state=resnet_state, backbone_only=backbone_only, prefixed=prefixed,
        vicreg_full=vicreg_full, swav_official=swav_official, simsiam_official=simsiam_official,
        vicreg_projector=vicreg_projector, build_method=build_method, solo_cfg=solo_cfg,
        backbone_prefix=backbone_prefix, host=HOST, PROJ=PROJ,
    )  # fmt: skip


@pytest.fixture(scope="session")
def needs_host():
    if HOST is None:
        pytest.skip("needs a solo-learn host (1.0.2 or 1.0.6); this environment has none")
    return HOST
