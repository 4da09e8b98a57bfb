"""``LinearModelE2MC``: the host's ``LinearModel`` reading ``cfg.e2mc_linear`` (two lrs, the
step factor, the res5 head, the classifier's initialization), made per host class and pickled by
name (``ddp_spawn``).

The backbone lr is scaled by the host's own rule (:func:`e2mc_plugin.solo.host.devices.lr_scale`).
Scheduler ``warmup_cosine`` with ``warmup_epochs: 0`` becomes torch's ``CosineAnnealingLR`` (the
reference's): the host's ``LinearWarmupCosineAnnealingLR`` sets EVERY group to one
``warmup_start_lr`` at epoch 0 and would erase the two lrs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Optional

from torch import nn

from e2mc_plugin.evaluation.probe_head import (
    PooledBNLinear,
    pooled_positions,
    resnet_res5_size,
    transfer_pool,
)
from e2mc_plugin.solo.host.devices import lr_scale
from e2mc_plugin.solo.host.picklable import picklable_subclass, rebuilding_getattr
from e2mc_plugin.solo.linear_model.classifier import init_classifier
from e2mc_plugin.solo.recipe.linear import parse_linear_block
from e2mc_plugin.solo.recipe.placement import misplaced_recipe_key
from e2mc_plugin.solo.recipe.schema import LINEAR_BLOCK, ConfigError

__all__ = ["plugin_linear_model_class"]

#: the published name is ``<host class name><_SUFFIX>``: ``LinearModelE2MC``
_SUFFIX = "E2MC"


def _check_settings(model: Any) -> None:
    """The host settings the variant cannot honour, refused naming the key."""
    if model.layer_decay > 0:
        raise ConfigError(f"{LINEAR_BLOCK}: optimizer.layer_decay is not supported here")
    if model.scheduler == "warmup_cosine" and model.warmup_epochs > 0:
        raise ConfigError(
            f"{LINEAR_BLOCK}: scheduler.warmup_epochs must be 0 (the host's warmup sets every "
            "param group to one lr); the reference protocols have no warmup"
        )
    if model.scheduler == "step" and not model.lr_decay_steps:
        raise ConfigError(
            f"{LINEAR_BLOCK}: scheduler.name 'step' needs scheduler.lr_decay_steps (epochs)"
        )
    if model.scheduler not in ("none", "warmup_cosine", "step"):
        raise ConfigError(
            f"{LINEAR_BLOCK}: scheduler.name {model.scheduler!r} is not supported here; valid: "
            "none, warmup_cosine (warmup_epochs 0), step"
        )


def _res5_head(backbone: nn.Module, spec: Any) -> None:
    """Pool the ResNet's res5 as the reference transfer probe does (the classifier follows)."""
    if not hasattr(backbone, "avgpool") or not hasattr(backbone, "inplanes"):
        raise ConfigError(
            f"{LINEAR_BLOCK}.head: res5_pool_bn needs a ResNet backbone (avgpool, inplanes); "
            f"got {type(backbone).__name__}"
        )
    backbone.avgpool = transfer_pool(spec.head.kernel, spec.head.stride)


@lru_cache(maxsize=None)
def plugin_linear_model_class(host_cls: type) -> type:
    """``LinearModelE2MC``: the subclass of the host's ``LinearModel`` that reads
    ``cfg.e2mc_linear`` (cached per host class)."""

    class LinearModelE2MC(host_cls):
        def __init__(self, backbone: nn.Module, cfg: Any, loss_func=None, mixup_func=None):
            problem = misplaced_recipe_key(cfg)  # e.g. optimizer.e2mc_linear: read nowhere
            if problem:
                raise ConfigError(problem)
            spec = parse_linear_block(cfg.get(LINEAR_BLOCK))
            if spec.head is not None:
                _res5_head(backbone, spec)
            super().__init__(backbone, cfg=cfg, loss_func=loss_func, mixup_func=mixup_func)
            self.e2mc_linear = spec
            if spec.head is not None:
                side = resnet_res5_size(int(cfg.data.augmentations.crop_size))
                positions = pooled_positions(side, spec.head.kernel, spec.head.stride)
                self.classifier = PooledBNLinear(
                    backbone.inplanes, positions, cfg.data.num_classes, spec.head.batchnorm
                )
            init_classifier(self.classifier, spec.classifier_init)
            if spec.backbone_lr is not None and not self.finetune:
                raise ConfigError(
                    f"{LINEAR_BLOCK}.backbone_lr needs finetune: True (frozen backbone)"
                )
            self.backbone_lr = (
                self.lr if spec.backbone_lr is None else spec.backbone_lr * lr_scale(cfg)
            )
            _check_settings(self)

        def configure_optimizers(self):
            from torch.optim.lr_scheduler import CosineAnnealingLR, MultiStepLR

            groups = [{"name": "classifier", "params": list(self.classifier.parameters())}]
            if self.finetune:
                backbone = list(self.backbone.parameters())
                groups.insert(0, {"name": "backbone", "params": backbone, "lr": self.backbone_lr})
            if self.exclude_bias_n_norm_wd:
                from solo.utils.misc import remove_bias_and_norm_from_weight_decay

                groups = remove_bias_and_norm_from_weight_decay(groups)
            optimizer = self._OPTIMIZERS[self.optimizer](
                groups, lr=self.lr, weight_decay=self.weight_decay, **self.extra_optimizer_args
            )
            if self.scheduler == "none":
                return optimizer
            if self.scheduler == "step":
                scheduler = MultiStepLR(
                    optimizer, list(self.lr_decay_steps), gamma=self.e2mc_linear.lr_decay_gamma
                )
            else:  # warmup_cosine without warmup: each group decays from its own lr
                steps = (
                    self.trainer.estimated_stepping_batches
                    if self.scheduler_interval == "step"
                    else self.max_epochs
                )
                scheduler = CosineAnnealingLR(optimizer, T_max=steps, eta_min=self.min_lr)
            return [optimizer], [{"scheduler": scheduler, "interval": self.scheduler_interval}]

    return picklable_subclass(LinearModelE2MC, __name__, f"{host_cls.__name__}{_SUFFIX}")


def _rebuild(name: str) -> Optional[type]:
    """``LinearModelE2MC`` in a fresh process (an unpickled model, ``ddp_spawn``)."""
    if name != f"LinearModel{_SUFFIX}":
        return None
    from solo.methods.linear import LinearModel

    return plugin_linear_model_class(LinearModel)


__getattr__ = rebuilding_getattr(__name__, _rebuild)
