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
     "pretrained": {"path": "...", "format": None, "strict": True, "trusted": False,
                    "scope": "full"} | None}

On 1.0.2 :func:`e2mc_plugin.solo.host.args_layout.cfg_to_kwargs` translates it into that host's
constructor keyword arguments (the host profile's args layout). The learning rate is used as
given: unlike ``main_pretrain.py``'s ``parse_cfg``, nothing here rescales it by the batch size.

Frozen features: :func:`extract_features` (:mod:`e2mc_plugin.solo.features`).

Batches follow the host's pretraining format ``[indexes, [crop_0, ..., crop_{V-1}], targets]``,
large crops first; :mod:`e2mc_plugin.testing.data` builds such loaders, and
:mod:`e2mc_plugin.testing.presets` holds small CPU configurations.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from e2mc_plugin.attach.plain import to_plain
from e2mc_plugin.method_families import SUFFIX, host_method, is_momentum_method
from e2mc_plugin.solo.features import Features, extract_features
from e2mc_plugin.solo.host import compat
from e2mc_plugin.solo.recipe.placement import misplaced_recipe_key
from e2mc_plugin.solo.recipe.schema import METHOD_BLOCKS, ConfigError

__all__ = [
    "Features",
    "HOST_METHOD_KWARGS",
    "build_method",
    "extract_features",
    "fit",
    "pretrain_loader",
    "small_cfg",
]


#: keys besides the projector widths that 1.0.2 needs (it has no defaults): solo-learn's own
#: recipe values (``scripts/pretrain/cifar/*.yaml``), without queues or frozen-prototype epochs
HOST_METHOD_KWARGS: Mapping[str, Mapping[str, Any]] = {
    "vicreg": {"sim_loss_weight": 25.0, "var_loss_weight": 25.0, "cov_loss_weight": 1.0},
    "swav": {
        "num_prototypes": 100,
        "sk_iters": 3,
        "sk_epsilon": 0.05,
        "temperature": 0.1,
        "queue_size": 0,
        "epoch_queue_starts": 0,
        "freeze_prototypes_epochs": 0,
    },
}


def small_cfg(
    method: str,
    *,
    method_kwargs: Mapping[str, Any],
    optimizer: Mapping[str, Any],
    max_epochs: int = 1,
    aux_losses: Sequence[Mapping[str, Any]] = (),
    pretrained: Optional[Mapping[str, Any]] = None,
    num_classes: int = 10,
    name: Optional[str] = None,
) -> Dict[str, Any]:
    """A 1.0.6-style config for :func:`build_method`: a resnet18 on small images, every key the
    hosts need (1.0.2 has no defaults).

    ``data.dataset: custom`` keeps the ImageNet stem (stride-2 conv + max-pool: ~16x cheaper on
    32x32 or 16x16 inputs than the CIFAR stem), 2 large crops and no small ones, a constant lr
    (``scheduler.name: none``, as in the continued-pretraining protocol); momentum methods get
    their ``momentum`` block. ``optimizer`` holds name, batch_size, lr, weight_decay,
    classifier_lr and kwargs.
    """
    cfg: Dict[str, Any] = {
        "name": name or f"small-{host_method(method)}",
        "method": method,
        "backbone": {"name": "resnet18", "kwargs": {}},
        "method_kwargs": copy.deepcopy(dict(method_kwargs)),
        "data": {
            "dataset": "custom",
            "num_classes": num_classes,
            "num_large_crops": 2,
            "num_small_crops": 0,
        },
        "optimizer": copy.deepcopy(dict(optimizer)),
        # "epoch": the host warns about "step" (its default) at every build, though without a
        # scheduler the interval means nothing
        "scheduler": {"name": "none", "interval": "epoch"},
        "max_epochs": max_epochs,
        "accumulate_grad_batches": 1,
        "aux_losses": [dict(a) for a in aux_losses],
        "pretrained": None if pretrained is None else dict(pretrained),
    }
    if is_momentum_method(method):
        cfg["momentum"] = {"base_tau": 0.99, "final_tau": 1.0, "classifier": False}
    return cfg


def build_method(cfg: Mapping[str, Any], *, wrap: bool = True) -> nn.Module:
    """Build a solo-learn method (a LightningModule) from a 1.0.6-style config dict.

    ``cfg["method"]`` may name a host method (``"vicreg"``) or its wrapped variant
    (``"vicreg_aux"``); with ``wrap=True`` (default) both build the wrapped class
    ``with_aux_losses(METHODS["vicreg"])``, which reads ``aux_losses`` and ``pretrained``.
    ``aux_losses: []`` behaves exactly like the host method (same parameters, same losses).
    ``wrap=False`` builds the plain host class (for comparisons); ``aux_losses`` must then be
    empty and ``pretrained`` unset.

    On 1.0.6 the class receives an ``omegaconf.DictConfig`` (struct mode off), on 1.0.2 the
    keyword arguments from :func:`e2mc_plugin.solo.host.args_layout.cfg_to_kwargs`. A
    ``pretrained:`` block is loaded here, at once (the host's launchers build the class
    themselves: it then loads at the start of ``fit``, and never in ``load_from_checkpoint``).

    Raises:
        e2mc_plugin.solo.recipe.schema.ConfigError: bad ``aux_losses`` / ``pretrained`` blocks or an
            unknown method; the message names the bad key and the valid choices.
    """
    from e2mc_plugin.solo.method.registration import SKIP, variant_name
    from e2mc_plugin.solo.method.wrapper import with_aux_losses

    cfg = copy.deepcopy(dict(to_plain(cfg)))
    name = str(cfg.get("method", ""))
    base = host_method(name)
    methods = compat.host_methods()
    if base not in methods or base in SKIP:
        valid = sorted(m for m in methods if m not in SKIP and not m.endswith(SUFFIX))
        raise ConfigError(
            f"method: unknown method {name!r}; valid: {', '.join(valid)} (or <name>{SUFFIX})"
        )
    # 1.0.2 receives only the keys it knows: a misspelled block would vanish without this
    problem = misplaced_recipe_key(cfg)
    if problem:
        raise ConfigError(problem)
    cls = methods[base]
    if wrap:
        cls = with_aux_losses(cls)
        cfg["method"] = variant_name(base)
    else:
        if any(cfg.get(key) for key in METHOD_BLOCKS):
            raise ConfigError(
                "wrap=False builds the plain host method: aux_losses must be empty and "
                "pretrained / param_group_lr unset"
            )
        for key in METHOD_BLOCKS:
            cfg.pop(key, None)
        cfg["method"] = base
    model = compat.instantiate(cls, cfg)
    if wrap:
        model.load_pretrained()  # built from the API: initialized at once (launchers: at fit)
    return model


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
    ckpt_path: Optional[str] = None,
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
        ckpt_path: a Lightning checkpoint to resume from (``trainer.save_checkpoint`` output).
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
    loaders: Dict[str, Any] = {"train_dataloaders": train_loader}
    if val_loader is not None:
        loaders["val_dataloaders"] = val_loader
    trainer.fit(model, ckpt_path=ckpt_path, **loaders)
    return trainer


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
