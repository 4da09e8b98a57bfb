"""What solo-learn's ``main_linear.py`` lacks for the paper's fine-tuning and transfer protocols.

The host's ``LinearModel`` trains backbone and classifier at ONE lr, decays a step schedule by a
hard-coded 0.1, and always classifies the globally pooled feature. The paper needs (Appendix
A.2.2, A.2.3; reference ``eval_semisup.py`` / ``eval_linear.py``):

- semi-supervised fine-tuning with separate backbone and classifier lrs, cosine or step decay by
  0.2 at epochs 12 and 16;
- the iNat18 transfer probe: res5 -> AvgPool(6, stride 1) -> BatchNorm -> linear
  (:mod:`e2mc_plugin.evaluation.probe_head`);
- the reference's probe classifier initialization, N(0, 0.01^2) weights and zero bias
  (``classifier_init: reference``; the host keeps PyTorch's default).

A recipe asks for them with an ``e2mc_linear:`` block and the hydra callback
:class:`PluginLinearModel`, which swaps the ``LinearModel`` name that ``main_linear.py``'s
``main`` uses for :func:`plugin_linear_model_class` (a subclass) during that job and restores it
afterwards. Host files are never edited; recipes without the callback run the host's class::

    hydra:
      callbacks:
        e2mc_linear:
          _target_: e2mc_plugin.solo.linear_model.PluginLinearModel
    e2mc_linear: {backbone_lr: 0.03, lr_decay_gamma: 0.2, head: null, classifier_init: null}

(the block's schema: :mod:`e2mc_plugin.solo.recipe.schema`). The backbone lr is scaled by the
host's own rule (:func:`e2mc_plugin.solo.host.devices.lr_scale`); the class pickles by name
(``ddp_spawn``).

Scheduler ``warmup_cosine`` with ``warmup_epochs: 0`` becomes torch's ``CosineAnnealingLR``
(the reference's): the host's ``LinearWarmupCosineAnnealingLR`` sets EVERY group to one
``warmup_start_lr`` at epoch 0 and would erase the two lrs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Optional

from torch import nn

from e2mc_plugin.evaluation.probe_head import (
    PooledBNLinear,
    pooled_positions,
    reference_init,
    resnet_res5_size,
    transfer_pool,
)
from e2mc_plugin.solo.host.devices import lr_scale
from e2mc_plugin.solo.host.picklable import picklable_subclass, rebuilding_getattr
from e2mc_plugin.solo.recipe.schema import (
    LINEAR_BLOCK,
    ConfigError,
    HeadSpec,
    LinearSpec,
    misplaced_recipe_key,
    parse_linear_block,
)

__all__ = [
    "HeadSpec",
    "LinearSpec",
    "PluginLinearModel",
    "parse_linear_block",
    "plugin_linear_model_class",
]


@lru_cache(maxsize=None)
def plugin_linear_model_class(host_cls: type) -> type:
    """Subclass of the host's ``LinearModel`` that reads ``cfg.e2mc_linear``."""

    class E2MCLinearModel(host_cls):
        def __init__(self, backbone: nn.Module, cfg: Any, loss_func=None, mixup_func=None):
            problem = misplaced_recipe_key(cfg)  # e.g. optimizer.e2mc_linear: read nowhere
            if problem:
                raise ConfigError(problem)
            spec = parse_linear_block(cfg.get(LINEAR_BLOCK))
            if spec.head is not None:
                if not hasattr(backbone, "avgpool") or not hasattr(backbone, "inplanes"):
                    raise ConfigError(
                        f"{LINEAR_BLOCK}.head: res5_pool_bn needs a ResNet backbone (avgpool, "
                        "inplanes); "
                        f"got {type(backbone).__name__}"
                    )
                backbone.avgpool = transfer_pool(spec.head.kernel, spec.head.stride)
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
            if self.layer_decay > 0:
                raise ConfigError(f"{LINEAR_BLOCK}: optimizer.layer_decay is not supported here")
            if self.scheduler == "warmup_cosine" and self.warmup_epochs > 0:
                raise ConfigError(
                    f"{LINEAR_BLOCK}: scheduler.warmup_epochs must be 0 (the host's warmup sets "
                    "every "
                    "param group to one lr); the reference protocols have no warmup"
                )
            if self.scheduler == "step" and not self.lr_decay_steps:
                raise ConfigError(
                    f"{LINEAR_BLOCK}: scheduler.name 'step' needs scheduler.lr_decay_steps (epochs)"
                )
            if self.scheduler not in ("none", "warmup_cosine", "step"):
                raise ConfigError(
                    f"{LINEAR_BLOCK}: scheduler.name {self.scheduler!r} is not supported here; "
                    "valid: "
                    "none, warmup_cosine (warmup_epochs 0), step"
                )

        def configure_optimizers(self):
            from torch.optim.lr_scheduler import CosineAnnealingLR, MultiStepLR

            groups = [{"name": "classifier", "params": list(self.classifier.parameters())}]
            if self.finetune:
                groups.insert(
                    0,
                    {
                        "name": "backbone",
                        "params": list(self.backbone.parameters()),
                        "lr": self.backbone_lr,
                    },
                )
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

    return picklable_subclass(E2MCLinearModel, __name__, f"{host_cls.__name__}{_SUFFIX}")


_SUFFIX = "E2MC"


def init_classifier(classifier: nn.Module, how: Optional[str]) -> None:
    """``e2mc_linear.classifier_init`` on the classifier's Linear (the host's ``nn.Linear`` or
    the res5 head's ``linear``): ``reference`` = N(0, 0.01^2) weights and zero bias (the
    reference ``eval_linear.py``), ``default`` = PyTorch's ``reset_parameters``, None = as built."""
    if how is None:
        return
    linear = classifier if isinstance(classifier, nn.Linear) else classifier.linear
    if how == "reference":
        reference_init(linear)
    else:
        linear.reset_parameters()


def _rebuild(name: str) -> Optional[type]:
    """``LinearModelE2MC`` in a fresh process (an unpickled model, ``ddp_spawn``)."""
    if name != f"LinearModel{_SUFFIX}":
        return None
    from solo.methods.linear import LinearModel

    return plugin_linear_model_class(LinearModel)


__getattr__ = rebuilding_getattr(__name__, _rebuild)


try:  # the callback base class is hydra's; the plugin imports without hydra too
    from hydra.experimental.callback import Callback as _HydraCallback
except ImportError:  # pragma: no cover - hydra ships with every host that has main_linear.py
    _HydraCallback = object


class PluginLinearModel(_HydraCallback):
    """Hydra callback: ``main_linear.py`` builds :func:`plugin_linear_model_class` during the job.

    ``task_function`` is the launcher's ``main``; its globals hold the ``LinearModel`` name the
    script imported from ``solo.methods.linear``.

    Hydra turns an exception raised by a callback into a warning and runs the job anyway, so
    nothing is validated here: the swapped class parses ``e2mc_linear`` in its constructor,
    inside the job, where an error stops the run. Should the swap itself fail (a task without
    ``LinearModel``), the plugin's ``RecipeGuard`` refuses the host model that then carries an
    ``e2mc_linear`` block at ``setup``.
    """

    def __init__(self) -> None:
        self._saved: Optional[tuple] = None

    def on_job_start(self, config: Any, *, task_function: Any = None, **kwargs: Any) -> None:
        scope = getattr(task_function, "__globals__", {})
        host_cls = scope.get("LinearModel")
        if not isinstance(host_cls, type):
            raise ConfigError(
                f"{LINEAR_BLOCK}: the hydra callback {type(self).__name__} runs with solo-learn's "
                "main_linear.py (which defines LinearModel); this task has none"
            )
        base = getattr(host_cls, "_e2mc_host_cls", host_cls)
        variant = plugin_linear_model_class(base)
        variant._e2mc_host_cls = base
        self._saved = (scope, host_cls)
        scope["LinearModel"] = variant

    def on_job_end(self, config: Any, job_return: Any = None, **kwargs: Any) -> None:
        if self._saved is not None:
            scope, host_cls = self._saved
            scope["LinearModel"] = host_cls
            self._saved = None
