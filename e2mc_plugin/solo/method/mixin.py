"""``AuxLossesMixin``: what a solo-learn method gains when it is wrapped (CaSSLe-style).

The factory (:func:`e2mc_plugin.solo.method.wrapper.with_aux_losses`) writes
``class VICRegWithAux(AuxLossesMixin, VICReg)``; every hook here calls ``super()``, so the host
keeps its forward, its own loss, optimizers, momentum updates and checkpoints::

    loss = host.training_step(batch) + sum_g AuxLossSet_g(large_views_g, all_views_g)["loss"]

``aux_losses: []`` registers nothing and adds no operation: the wrapped class is then the host
method bit for bit (same parameters, same RNG use, same losses). One exception, from
``pretrained:``: a parameter the source checkpoint lacks (a ``bias=False`` layer) is kept zero,
frozen and out of the optimizer (:mod:`e2mc_plugin.solo.method.frozen`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

from torch import nn

from e2mc_plugin.attach import (
    AUX_LOG_ROOT,
    add_aux_loss,
    aux_log_items,
    check_after_batch,
    check_after_epoch,
    check_before_save,
)
from e2mc_plugin.solo.host import compat
from e2mc_plugin.solo.method.batched import batched_forward, check_batched
from e2mc_plugin.solo.method.capture import aux_step
from e2mc_plugin.solo.method.embedding import check_embedding, default_embedding
from e2mc_plugin.solo.method.frozen import (
    freeze_absent,
    record_absent,
    restore_absent,
    without_params,
)
from e2mc_plugin.solo.method.param_groups import check_group_lrs, with_group_lrs
from e2mc_plugin.solo.method.resume import check_resume, record_aux
from e2mc_plugin.solo.recipe.parse import Recipe, parse_recipe
from e2mc_plugin.solo.recipe.placement import misplaced_recipe_key
from e2mc_plugin.solo.recipe.schema import (
    ADAPTER_TOP_LEVEL_KEYS,
    METHOD_BLOCK_DEFAULTS,
    ConfigError,
)

__all__ = ["SKIP_PRETRAINED_ENV", "AuxLossesMixin"]

log = logging.getLogger(__name__)

#: set by the kNN / UMAP launchers: the weights come from the evaluated checkpoint, so the
#: ``pretrained`` block recorded in its args.json must not be loaded (the file may be gone).
SKIP_PRETRAINED_ENV = "E2MC_PLUGIN_SKIP_PRETRAINED"


class AuxLossesMixin:
    """Named auxiliary losses on top of a solo-learn method (put it first in the bases).

    Parses ``aux_losses``, ``pretrained``, ``param_group_lr`` and ``resume_aux_override`` (see
    :mod:`e2mc_plugin.solo.recipe.schema`) once, in ``__init__``, from what the host's constructor
    receives (1.0.6: the DictConfig; 1.0.2: keyword arguments), and logs ``train_aux/loss`` and
    ``train_loss`` (progress bar) and ``train_aux/<loss>/<term>``. The hooks below are the only
    places the host calls into the plugin; the work is done by the modules they name.
    """

    #: the top-level config keys a keyword-argument constructor receives (compat.instantiate)
    cfg_passthrough: Tuple[str, ...] = ADAPTER_TOP_LEVEL_KEYS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # the recipe blocks, parsed once (before the slow host build) from what the constructor
        # received (one DictConfig, or keyword arguments of which the host gets only its own)
        cfg = compat.constructor_cfg(args, kwargs)
        recipe = parse_recipe(cfg)
        for key in ADAPTER_TOP_LEVEL_KEYS:
            kwargs.pop(key, None)
        with compat.host_method_name(cfg):
            super().__init__(*args, **kwargs)
        self._setup_aux(recipe)

    @classmethod
    def add_and_assert_specific_cfg(cls, cfg):
        """The host's defaults and checks, plus the plugin blocks' defaults (so that args.json
        records them). Called by hosts whose constructor takes one cfg (the profile's
        ``constructor: cfg``); a keyword-argument host has no such hook and never calls it."""
        from solo.utils.misc import omegaconf_select

        problem = misplaced_recipe_key(cfg)  # before the defaults below hide a typo
        if problem:
            raise ConfigError(problem)
        cfg = super().add_and_assert_specific_cfg(cfg)
        for key, default in METHOD_BLOCK_DEFAULTS.items():
            cfg[key] = omegaconf_select(cfg, key, default)
        return cfg

    def _setup_aux(self, recipe: Recipe) -> None:
        self._recipe = recipe
        if recipe.batched_crops:
            check_batched(type(self))
        self._param_group_lr = check_group_lrs(
            self, super().learnable_params, recipe.param_group_lr
        )
        self._aux_groups: List[Tuple[str, nn.Module]] = []
        if recipe.aux:
            self._aux_default = default_embedding(self)
            groups = recipe.aux_groups(self._aux_default)
            for path, _, first in groups:
                check_embedding(self, path, f"aux_losses[{first}].embedding")
            self.aux_losses = nn.ModuleList(aux for _, aux, _ in groups)
            self._aux_groups = [(path, aux) for path, aux, _ in groups]
            self._aux_host_small = compat.host_uses_small_crops(type(self))
            if self.num_small_crops and not self._aux_host_small:
                log.warning(
                    "solo-learn %s %s.training_step cannot take small crops: its own loss uses "
                    "the %d large crops; the %d small crops feed only all-view aux losses",
                    compat.HOST_VERSION,
                    getattr(type(self), "_e2mc_base_method", type(self)).__name__,
                    self.num_large_crops,
                    self.num_small_crops,
                )
        self.pretrained_report = None
        # parameters the pretrained source lacks (bias=False layers): zero, frozen, not optimized
        self._absent_in_source: List[str] = []

    def load_pretrained(self) -> Any:
        """Initialize from the recipe's ``pretrained:`` block now (once); the LoadReport or None.

        Called at the start of training (``setup("fit")``, in every process, before a resumed
        checkpoint is restored) and by :func:`e2mc_plugin.solo.api.build_method`; never by
        ``load_from_checkpoint`` (kNN / UMAP evaluation), so evaluating a run does not re-read
        its init file, which may have moved. ``$E2MC_PLUGIN_SKIP_PRETRAINED`` skips it.
        """
        spec = self._recipe.pretrained
        if spec is None or self.pretrained_report is not None:
            return self.pretrained_report
        if os.environ.get(SKIP_PRETRAINED_ENV):
            log.info("pretrained: %s skipped (%s is set)", spec.path, SKIP_PRETRAINED_ENV)
            return None
        from e2mc_plugin.checkpoints import initialize_from_checkpoint, pretrained_from_cfg

        loaded, strict = pretrained_from_cfg(spec)
        self.pretrained_report = initialize_from_checkpoint(
            self,
            loaded,
            strict=strict,
            scope=spec.scope,
            backbone_attr=compat.profile().backbone_attr,
        )
        log.info("pretrained: initialized from %s\n%s", spec.path, self.pretrained_report)
        self._absent_in_source = freeze_absent(
            self, self.pretrained_report.absent_in_source, f"pretrained {spec.path}"
        )
        return self.pretrained_report

    def setup(self, stage: Optional[str] = None) -> None:
        super().setup(stage)
        if str(getattr(stage, "value", stage)) != "fit":
            return
        resumed = getattr(getattr(self, "_trainer", None), "ckpt_path", None)
        if resumed and self._recipe.pretrained is not None:
            log.info("pretrained: not loaded, the run resumes from %s", resumed)
            return
        self.load_pretrained()

    @property
    def learnable_params(self) -> List[Dict[str, Any]]:
        params = without_params(self, super().learnable_params, self._absent_in_source)
        if self._param_group_lr:
            params = with_group_lrs(self, params, self._param_group_lr)
        extra = [p for _, m in self._aux_groups for p in m.parameters() if p.requires_grad]
        if extra:
            params = params + [{"name": "aux_losses", "params": extra}]
        return params

    def training_step(self, batch: Sequence[Any], batch_idx: int):
        batched = self._recipe.batched_crops and self.training
        if not self._aux_groups or not self.training:
            with batched_forward(self, batch) if batched else contextlib.nullcontext():
                return super().training_step(batch, batch_idx)

        host = super().training_step
        out, results = aux_step(
            self,
            lambda b: host(b, batch_idx),
            batch,
            self._aux_groups,
            self._aux_host_small,
            batched=batched,
        )
        total, items = aux_log_items(results, default_path=self._aux_default)
        # Lightning reads every progress-bar value to the host at each batch end (a sync): only
        # when a progress bar is there to show them.
        bar = getattr(getattr(self, "_trainer", None), "progress_bar_callback", None) is not None
        for name, value in items:  # train_aux/loss (the sum) comes last, on the progress bar
            prog_bar = bar and name == f"{AUX_LOG_ROOT}/loss"
            self.log(name, value, on_epoch=True, sync_dist=True, prog_bar=prog_bar)
        out, loss = add_aux_loss(out, total, owner=f"{type(self).__name__}.training_step")
        # the loss Lightning backpropagates, on the progress bar beside the aux term
        if bar and loss is not None:
            self.log("train_loss", loss.detach(), prog_bar=True)
        return out

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int, *args: Any) -> None:
        super().on_train_batch_end(outputs, batch, batch_idx, *args)
        if self._aux_groups:
            check_after_batch(self.aux_losses, self, batch_idx)

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        if self._aux_groups:
            check_after_epoch(self.aux_losses, self)

    def on_save_checkpoint(self, checkpoint: Dict[str, Any]) -> None:
        # runs inside trainer.save_checkpoint before anything is written, for every writer
        # (solo's Checkpointer, Lightning's ModelCheckpoint, a user's call)
        if self._aux_groups:
            check_before_save(self.aux_losses, self)
        super().on_save_checkpoint(checkpoint)
        record_aux(checkpoint, self._recipe)
        record_absent(checkpoint, self._absent_in_source)

    def on_load_checkpoint(self, checkpoint: Dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        check_resume(checkpoint, self._recipe)
        self._absent_in_source = restore_absent(self, checkpoint)
