"""Python API of the host adapter: build a (wrapped) solo-learn method from a config dict, fit it,
extract frozen features. Works on both hosts (solo-learn 1.0.2 from PyPI and 1.0.6 from git).

The config is always the 1.0.6-style nested dict (what ``main_pretrain.py`` receives from hydra)::

    {"method": "vicreg" | "vicreg_aux",       # both build the wrapped variant (see build_method)
     "backbone": {"name": "resnet18", "kwargs": {}},
     "method_kwargs": {...},                   # the method's own keys, as in the host recipes
     "data": {"dataset": "custom", "num_classes": 10, "num_large_crops": 2, "num_small_crops": 0},
     "optimizer": {"name": "sgd", "batch_size": 8, "lr": 0.01, "weight_decay": 1e-5,
                   "classifier_lr": 0.1, "kwargs": {"momentum": 0.9}},
     "scheduler": {"name": "none"},
     "momentum": {"base_tau": 0.99, "final_tau": 1.0},   # momentum methods only
     "max_epochs": 1,
     "aux_losses": [{"name": "e2mc", "beta": 1000, "gamma": 100, "mapping": "sigmoid"}],
     "pretrained": {"path": "...", "format": None, "strict": True, "trusted": False} | None}

On 1.0.2 :func:`e2mc_plugin.solo.compat.cfg_to_kwargs` translates it into that host's constructor
keyword arguments. The learning rate is used as given: unlike ``main_pretrain.py``'s ``parse_cfg``,
nothing here rescales it by the batch size.

Batches follow the host's pretraining format ``[indexes, [crop_0, ..., crop_{V-1}], targets]``,
large crops first; :func:`pretrain_loader` and :func:`synthetic_pretrain_loader` build such
loaders.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from e2mc_plugin.solo import compat
from e2mc_plugin.solo.config import RECIPE_BLOCKS

__all__ = [
    "build_method",
    "fit",
    "extract_features",
    "tiny_cfg",
    "pretrain_loader",
    "synthetic_pretrain_loader",
    "synthetic_eval_loader",
    "TINY_METHOD_KWARGS",
]

# Small heads for CPU runs; every key a host needs is explicit (1.0.2 has no defaults).
TINY_METHOD_KWARGS: Dict[str, Dict[str, Any]] = {
    "vicreg": {
        "proj_hidden_dim": 64,
        "proj_output_dim": 64,
        "sim_loss_weight": 25.0,
        "var_loss_weight": 25.0,
        "cov_loss_weight": 1.0,
    },
    "swav": {
        "proj_hidden_dim": 64,
        "proj_output_dim": 32,
        "num_prototypes": 30,
        "sk_iters": 3,
        "sk_epsilon": 0.05,
        "temperature": 0.1,
        "queue_size": 0,
        "epoch_queue_starts": 0,
        "freeze_prototypes_epochs": 0,
    },
    "simsiam": {"proj_hidden_dim": 64, "proj_output_dim": 64, "pred_hidden_dim": 32},
    "byol": {"proj_hidden_dim": 64, "proj_output_dim": 32, "pred_hidden_dim": 64},
    "mocov3": {
        "proj_hidden_dim": 64,
        "proj_output_dim": 32,
        "pred_hidden_dim": 64,
        "temperature": 0.2,
    },
    "dino": {
        "proj_hidden_dim": 64,
        "proj_output_dim": 32,
        "num_prototypes": 50,
        "use_bn_in_head": False,
        "norm_last_layer": True,
        "clip_grad": 0.0,
        "freeze_last_layer": 0,
        "student_temperature": 0.1,
        "teacher_temperature": 0.07,
        "warmup_teacher_temperature": 0.04,
        "warmup_teacher_temperature_epochs": 0,
    },
}
MOMENTUM_METHODS = ("byol", "mocov2plus", "mocov3", "dino", "nnbyol", "ressl")


def _deep_merge(base: Dict[str, Any], update: Mapping[str, Any]) -> Dict[str, Any]:
    for key, value in update.items():
        if "." in key:  # dotted key: "data.num_small_crops"
            head, rest = key.split(".", 1)
            base[head] = _deep_merge(dict(base.get(head) or {}), {rest: value})
        elif isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            base[key] = _deep_merge(dict(base[key]), value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def tiny_cfg(method: str, **overrides: Any) -> Dict[str, Any]:
    """A small CPU configuration for ``method`` (1.0.6-style nested dict, both hosts).

    resnet18 on 32x32 images with the ImageNet stem (``data.dataset="custom"``: the 7x7/2 conv and
    max-pool shrink 32x32 to 8x8 at once, ~16x cheaper than the CIFAR stem that
    ``data.dataset="cifar10"`` selects), 64-unit heads, 10 classes, SGD with a small constant
    learning rate (``scheduler.name="none"``, as in the continued-pretraining protocol), batch 8,
    2 large crops, no small crops, ``aux_losses: []``.

    Args:
        method: host method name, with or without the ``_aux`` suffix (``"vicreg"``,
            ``"swav_aux"``...). Methods outside :data:`TINY_METHOD_KWARGS` get 64/32-unit
            projector keys only; pass the rest through ``method_kwargs=``.
        **overrides: deep-merged into the result; nested dicts merge key by key and dotted keys
            address nested entries, e.g. ``tiny_cfg("swav", aux_losses=[...],
            **{"data.num_small_crops": 2, "optimizer.batch_size": 16})``.

    Returns:
        A fresh dict (safe to mutate) accepted by :func:`build_method`.
    """
    base = method[: -len("_aux")] if method.endswith("_aux") else method
    cfg: Dict[str, Any] = {
        "name": f"tiny-{base}",
        "method": method,
        "backbone": {"name": "resnet18", "kwargs": {}},
        "method_kwargs": copy.deepcopy(
            TINY_METHOD_KWARGS.get(base, {"proj_hidden_dim": 64, "proj_output_dim": 32})
        ),
        "data": {
            "dataset": "custom",
            "num_classes": 10,
            "num_large_crops": 2,
            "num_small_crops": 0,
        },
        "optimizer": {
            "name": "sgd",
            "batch_size": 8,
            "lr": 0.01,
            "weight_decay": 1e-5,
            "classifier_lr": 0.1,
            "kwargs": {"momentum": 0.9},
        },
        "scheduler": {"name": "none"},
        "max_epochs": 1,
        "accumulate_grad_batches": 1,
        "aux_losses": [],
        "pretrained": None,
    }
    if base in MOMENTUM_METHODS:
        cfg["momentum"] = {"base_tau": 0.99, "final_tau": 1.0, "classifier": False}
    return _deep_merge(cfg, overrides)


def build_method(cfg: Mapping[str, Any], *, wrap: bool = True) -> nn.Module:
    """Build a solo-learn method (a LightningModule) from a 1.0.6-style config dict.

    ``cfg["method"]`` may name a host method (``"vicreg"``) or its wrapped variant
    (``"vicreg_aux"``); with ``wrap=True`` (default) both build the wrapped class
    ``with_aux_losses(METHODS["vicreg"])``, which reads ``aux_losses`` and ``pretrained``.
    ``aux_losses: []`` behaves exactly like the host method (same parameters, same losses).
    ``wrap=False`` builds the plain host class (for comparisons); ``aux_losses`` must then be
    empty and ``pretrained`` unset.

    On 1.0.6 the class receives an ``omegaconf.DictConfig`` (struct mode off), on 1.0.2 the
    keyword arguments from :func:`e2mc_plugin.solo.compat.cfg_to_kwargs`.

    Raises:
        e2mc_plugin.solo.config.ConfigError: bad ``aux_losses`` / ``pretrained`` blocks or an
            unknown method; the message names the bad key and the valid choices.
    """
    from e2mc_plugin.solo.config import ConfigError
    from e2mc_plugin.solo.wrapper import with_aux_losses

    cfg = copy.deepcopy(dict(cfg))
    name = str(cfg.get("method", ""))
    base = name[: -len("_aux")] if name.endswith("_aux") else name
    methods = compat.host_methods()
    if base not in methods or base in ("base", "linear"):
        valid = sorted(m for m in methods if m not in ("base", "linear"))
        raise ConfigError(
            f"method: unknown method {name!r}; valid: {', '.join(valid)} (or <name>_aux)"
        )
    cls = methods[base]
    if wrap:
        cls = with_aux_losses(cls)
        cfg["method"] = f"{base}_aux"
    else:
        if any(cfg.get(key) for key in RECIPE_BLOCKS):
            raise ConfigError(
                "wrap=False builds the plain host method: aux_losses must be empty and "
                "pretrained / param_group_lr unset"
            )
        for key in RECIPE_BLOCKS:
            cfg.pop(key, None)
        cfg["method"] = base
    return compat.instantiate(cls, cfg)


def fit(
    model: nn.Module,
    train_loader: Iterable,
    *,
    max_epochs: int,
    val_loader: Optional[Iterable] = None,
    accelerator: str = "cpu",
    devices: Any = 1,
    precision: Any = 32,
    seed: Optional[int] = None,
    logger: Any = None,
    callbacks: Sequence[Any] = (),
    enable_progress_bar: bool = True,
    default_root_dir: Optional[str] = None,
    **trainer_kwargs: Any,
):
    """Train ``model`` with the host's Lightning ``Trainer`` and return the trainer.

    Args:
        model: a method from :func:`build_method`.
        train_loader: batches ``[indexes, [crops...], targets]``.
        max_epochs: epochs to run (``limit_train_batches=`` / ``max_steps=`` in ``trainer_kwargs``
            shorten them).
        val_loader: optional ``(images, targets)`` batches for the host's ``validation_step``.
        accelerator, devices, precision: passed to ``Trainer``.
        seed: if given, ``seed_everything(seed)`` right before the trainer is built.
        logger: a Lightning logger, or ``None``/``False`` for none.
        callbacks: Lightning callbacks.
        enable_progress_bar: show the progress bar.
        default_root_dir: where Lightning writes (defaults to the current directory).
        **trainer_kwargs: any other ``Trainer`` argument (``limit_train_batches``,
            ``num_sanity_val_steps``, ``enable_checkpointing``, ...). Checkpointing and model
            summaries are off unless asked for.

    Returns:
        The fitted ``Trainer`` (``trainer.callback_metrics`` holds the logged ``train_aux/*``).
    """
    pl = compat.lightning()
    if seed is not None:
        pl.seed_everything(seed, workers=True)
    kwargs: Dict[str, Any] = dict(
        max_epochs=max_epochs,
        accelerator=accelerator,
        devices=devices,
        precision=precision,
        logger=logger if logger is not None else False,
        callbacks=list(callbacks),
        enable_progress_bar=enable_progress_bar,
        enable_checkpointing=False,
        enable_model_summary=False,
        default_root_dir=default_root_dir,
    )
    if val_loader is None:
        kwargs["limit_val_batches"] = 0
        kwargs["num_sanity_val_steps"] = 0
    kwargs.update(trainer_kwargs)
    trainer = pl.Trainer(**kwargs)
    if val_loader is None:
        trainer.fit(model, train_dataloaders=train_loader)
    else:
        trainer.fit(model, train_dataloaders=train_loader, val_dataloaders=val_loader)
    return trainer


@torch.no_grad()
def extract_features(model: nn.Module, loader: Iterable) -> Tuple[torch.Tensor, torch.Tensor]:
    """Backbone features of every sample in ``loader`` (eval mode, no grad, frozen backbone).

    Args:
        model: a solo-learn method (either host) or a bare backbone module.
        loader: batches ``(images, targets)``, or pretraining batches
            ``[indexes, [crops...], targets]`` (the first crop is used).

    Returns:
        ``(features (N, D) float32 on CPU, labels (N,) int64 on CPU)``. The module's previous
        train/eval mode is restored afterwards.
    """
    backbone = compat.get_backbone(model) if compat.has_backbone(model) else model
    was_training = backbone.training
    device = next(backbone.parameters()).device
    backbone.eval()
    feats, labels = [], []
    try:
        for batch in loader:
            if len(batch) == 3:  # pretraining batch: [indexes, crops, targets]
                _, x, y = batch
                x = x[0] if isinstance(x, (list, tuple)) else x
            else:
                x, y = batch[0], batch[1]
            feats.append(backbone(x.to(device)).float().cpu())
            labels.append(torch.as_tensor(y).long().cpu())
    finally:
        backbone.train(was_training)
    return torch.cat(feats), torch.cat(labels)


class _MultiCropDataset(Dataset):
    """Wraps an ``(image, target)`` dataset into the host's ``(index, [crops...], target)``."""

    def __init__(self, dataset: Dataset, transforms: Sequence[Callable]):
        self.dataset = dataset
        self.transforms = list(transforms)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int):
        image, target = self.dataset[index]
        return index, [t(image) for t in self.transforms], target


def pretrain_loader(
    dataset: Dataset,
    transforms: Sequence[Callable],
    *,
    batch_size: int,
    shuffle: bool = True,
    num_workers: int = 0,
    drop_last: bool = True,
    generator: Optional[torch.Generator] = None,
) -> DataLoader:
    """A pretraining loader over an ``(image, target)`` dataset: one transform per crop.

    Put the large-crop transforms first (``num_large_crops`` of them), then the small ones; the
    loader yields ``[indexes, [crop_0, ..., crop_{V-1}], targets]`` as the hosts expect.
    ``drop_last=True`` because entropy estimators need full batches.
    """
    return DataLoader(
        _MultiCropDataset(dataset, transforms),
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        drop_last=drop_last,
        generator=generator,
    )


class _SyntheticMultiCrop(Dataset):
    def __init__(self, n, num_large_crops, num_small_crops, size, small_size, num_classes, seed):
        g = torch.Generator().manual_seed(seed)
        self.large = torch.randn(num_large_crops, n, 3, size, size, generator=g)
        self.small = torch.randn(num_small_crops, n, 3, small_size, small_size, generator=g)
        self.targets = torch.randint(0, num_classes, (n,), generator=g)

    def __len__(self) -> int:
        return self.targets.numel()

    def __getitem__(self, i: int):
        crops = [c[i] for c in self.large] + [c[i] for c in self.small]
        return i, crops, int(self.targets[i])


def synthetic_pretrain_loader(
    num_samples: int = 32,
    *,
    batch_size: int = 8,
    num_large_crops: int = 2,
    num_small_crops: int = 0,
    size: int = 32,
    small_size: int = 16,
    num_classes: int = 10,
    seed: int = 0,
) -> DataLoader:
    """Deterministic Gaussian-noise crops in the host's batch format (tests, benchmarks).

    Each crop of each sample is fixed at construction (no augmentation, no shuffling), so two
    loaders with the same arguments yield bit-identical batches.
    """
    ds = _SyntheticMultiCrop(
        num_samples, num_large_crops, num_small_crops, size, small_size, num_classes, seed
    )
    return DataLoader(ds, batch_size=batch_size, shuffle=False, drop_last=True, num_workers=0)


def synthetic_eval_loader(
    num_samples: int = 32,
    *,
    batch_size: int = 8,
    size: int = 32,
    num_classes: int = 10,
    seed: int = 1,
) -> DataLoader:
    """Deterministic ``(images, targets)`` batches for validation / feature extraction."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(num_samples, 3, size, size, generator=g)
    y = torch.randint(0, num_classes, (num_samples,), generator=g)
    return DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size, shuffle=False)
