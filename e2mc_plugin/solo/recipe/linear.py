"""The ``e2mc_linear:`` block of the fine-tuning and transfer recipes, read into a
:class:`LinearSpec` (by the plugin's LinearModel, :mod:`e2mc_plugin.solo.linear_model`, and by
the launcher before hydra runs the job, :mod:`e2mc_plugin.solo.launch.linear_check`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from e2mc_plugin.attach.plain import to_plain
from e2mc_plugin.solo.recipe.schema import LINEAR_BLOCK, ConfigError
from e2mc_plugin.solo.recipe.values import flag, positive_number

__all__ = ["CLASSIFIER_INITS", "HeadSpec", "LinearSpec", "parse_linear_block"]

_LINEAR_KEYS = ("backbone_lr", "lr_decay_gamma", "head", "classifier_init")
#: ``e2mc_linear.classifier_init`` values (None: as built: the host's Linear keeps PyTorch's
#: default, the res5_pool_bn head is built with the reference's)
CLASSIFIER_INITS = ("reference", "default")
_HEADS = ("res5_pool_bn",)
_HEAD_KEYS = ("name", "kernel", "stride", "batchnorm")


@dataclass(frozen=True)
class HeadSpec:
    kernel: int = 6
    stride: int = 1
    batchnorm: bool = True


@dataclass(frozen=True)
class LinearSpec:
    backbone_lr: Optional[float] = None  # base (per-256) lr; None = the classifier's
    lr_decay_gamma: float = 0.1
    head: Optional[HeadSpec] = None
    classifier_init: Optional[str] = None  # one of CLASSIFIER_INITS, None = as built


def parse_linear_block(block: Any) -> LinearSpec:
    """The ``e2mc_linear:`` block (a mapping or None) -> :class:`LinearSpec`; ConfigError names
    the key and the valid choices."""
    block = to_plain(block)
    if block is None:
        return LinearSpec()
    if not isinstance(block, Mapping):
        raise ConfigError(f"{LINEAR_BLOCK}: expected a mapping, got {type(block).__name__}")
    unknown = sorted(set(block) - set(_LINEAR_KEYS))
    if unknown:
        raise ConfigError(
            f"{LINEAR_BLOCK}: unknown key(s) {unknown}; valid keys: {', '.join(_LINEAR_KEYS)}"
        )
    backbone_lr = block.get("backbone_lr")
    head = block.get("head")
    init = block.get("classifier_init")
    if init is not None and init not in CLASSIFIER_INITS:
        raise ConfigError(
            f"{LINEAR_BLOCK}.classifier_init: unknown initialization {init!r}; valid: "
            f"{', '.join(CLASSIFIER_INITS)} (or null: as built)"
        )
    return LinearSpec(
        backbone_lr=None
        if backbone_lr is None
        else positive_number(f"{LINEAR_BLOCK}.backbone_lr", backbone_lr),
        lr_decay_gamma=positive_number(
            f"{LINEAR_BLOCK}.lr_decay_gamma", block.get("lr_decay_gamma", 0.1)
        ),
        head=None if head is None else _parse_head(head),
        classifier_init=init,
    )


def _parse_head(head: Any) -> HeadSpec:
    if not isinstance(head, Mapping) or head.get("name") not in _HEADS:
        name = head.get("name") if isinstance(head, Mapping) else head
        raise ConfigError(
            f"{LINEAR_BLOCK}.head.name: unknown head {name!r}; valid: {', '.join(_HEADS)}"
        )
    unknown = sorted(set(head) - set(_HEAD_KEYS))
    if unknown:
        raise ConfigError(
            f"{LINEAR_BLOCK}.head: unknown key(s) {unknown}; valid keys: {', '.join(_HEAD_KEYS)}"
        )
    kernel, stride = head.get("kernel", 6), head.get("stride", 1)
    for key, value in (("kernel", kernel), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"{LINEAR_BLOCK}.head.{key}: expected a positive integer, got {value!r}"
            )
    batchnorm = flag(f"{LINEAR_BLOCK}.head.batchnorm", head.get("batchnorm", True))
    return HeadSpec(kernel=kernel, stride=stride, batchnorm=batchnorm)
