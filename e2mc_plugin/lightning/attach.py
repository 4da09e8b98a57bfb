"""``attach_aux_losses``: named aux losses added to any LightningModule's training step.

The module keeps its class, its forward, its own loss, optimizers, momentum updates and
checkpoints. Six hooks are replaced on the instance (not the class) by objects that call the
class's own method and then the plugin's part:

* ``training_step``: forward hooks on the embedding submodule record its tensor outputs in call
  order while the step runs (:class:`e2mc_plugin.attach.Capture`); the first two are the large
  views, all of them the ``views: all`` views; the aux loss is added to the returned loss (a tensor
  or ``{"loss": ...}``) and its terms are logged as ``train_aux/<name>/<term>``;
* ``on_train_batch_end`` / ``on_train_epoch_end``: the deferred NaN/Inf check at Lightning's log
  points and at epoch end;
* ``on_save_checkpoint`` / ``on_load_checkpoint``: the aux configuration is recorded, and a resume
  with a different one is refused (unless ``resume_aux_override=True``); the random states are
  saved too and restored at ``on_train_epoch_start`` after a resume
  (:mod:`e2mc_plugin.resume.random_state`: the resumed run draws the numbers of an
  uninterrupted one).

``specs=[]`` installs only the checkpoint hooks (aux record, random states): training is
bit-identical to the plain module.
"""

from __future__ import annotations

import difflib
import logging
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional

from torch import nn

from e2mc_plugin.attach import (
    AUX_RECORD_KEY,
    SAVE_REFUSED,
    Capture,
    add_aux_loss,
    apply_aux_sets,
    aux_log_items,
    describe_aux_change,
    is_log_point,
    raise_if_nonfinite,
)
from e2mc_plugin.aux_losses import build_aux_losses
from e2mc_plugin.resume.random_state import ResumeRandomState

__all__ = ["AUX_MODULE_NAME", "LARGE_VIEWS", "attach_aux_losses"]

log = logging.getLogger(__name__)

#: the attribute (a registered submodule) holding the attached AuxLossSet
AUX_MODULE_NAME = "e2mc_aux_losses"
#: the leading captures that are the large views (``views: large``)
LARGE_VIEWS = 2
_ATTACHMENT = "_e2mc_aux_attachment"
_TRAIN_HOOKS = ("training_step", "on_train_batch_end", "on_train_epoch_end")
_CKPT_HOOKS = ("on_save_checkpoint", "on_load_checkpoint", "on_train_epoch_start")


def attach_aux_losses(
    module: nn.Module,
    specs: Optional[Iterable[Mapping[str, Any]]],
    *,
    embedding: str,
    resume_aux_override: bool = False,
) -> nn.Module:
    """Add the named aux losses ``specs`` to ``module``'s training step; returns ``module``.

    Args:
        module: any LightningModule instance (``lightning.pytorch`` or ``pytorch_lightning``)
            using automatic optimization, whose ``training_step`` returns its loss (a tensor or a
            dict with ``"loss"``).
        specs: the list of a recipe's ``aux_losses:`` block, e.g. ``[{"name": "e2mc",
            "beta": 1000, "gamma": 100, "mapping": "sigmoid", "gather": True}]``; ``[]`` adds
            nothing (the "continued" baseline).
        embedding: dotted name of the submodule whose outputs are the views (e.g.
            ``"projection_head"``). ``training_step`` must call it once per crop, the two large
            crops first; only this object is hooked, never a momentum copy of it.
        resume_aux_override: resume from a checkpoint trained with other aux losses (warns)
            instead of refusing.

    Raises:
        TypeError: ``module`` is not a LightningModule, or ``embedding`` is not a string.
        ValueError: unknown ``embedding`` (the message lists the submodules), manual
            optimization, or aux losses already attached.
        UnknownNameError / TypeError: a spec names an unknown loss or keyword (from
            :func:`e2mc_plugin.aux_losses.build_aux_losses`).
    """
    _check_module(module)
    if _ATTACHMENT in vars(module):
        done = vars(module)[_ATTACHMENT]
        raise ValueError(
            f"{type(module).__name__} already has aux losses attached ({done.record}, "
            f"embedding={done.embedding!r}); attach once, with every loss in one specs list"
        )
    if not isinstance(embedding, str) or not embedding:
        raise TypeError(f"embedding must be a submodule's dotted name, got {embedding!r}")
    _resolve(module, embedding)
    if getattr(module, "automatic_optimization", True) is False:
        raise ValueError(
            f"{type(module).__name__} uses manual optimization: the aux loss is added to the "
            "loss training_step returns, which Lightning backpropagates only under automatic "
            "optimization"
        )
    aux = build_aux_losses(specs)
    record = [{str(k): v for k, v in spec.items()} for spec in (specs or [])]
    attachment = _Attachment(
        module, aux if len(aux) else None, embedding, record, bool(resume_aux_override)
    )
    if attachment.aux is not None:
        if hasattr(module, AUX_MODULE_NAME):
            raise ValueError(
                f"{type(module).__name__} already has an attribute {AUX_MODULE_NAME!r}; "
                "the attached aux losses are registered under that name"
            )
        module.add_module(AUX_MODULE_NAME, attachment.aux)
    hooks = _CKPT_HOOKS + (_TRAIN_HOOKS if attachment.aux is not None else ())
    for name in hooks:
        attachment.prior[name] = vars(module).get(name)
        setattr(module, name, _Hook(attachment, name))
    object.__setattr__(module, _ATTACHMENT, attachment)
    return module


def _check_module(module: Any) -> None:
    if not isinstance(module, nn.Module) or not all(
        callable(getattr(module, a, None)) for a in ("training_step", "log")
    ):
        raise TypeError(
            f"attach_aux_losses needs a LightningModule instance, got {type(module).__name__}"
        )


def _resolve(module: nn.Module, path: str) -> nn.Module:
    """``module.get_submodule(path)``; an unknown name lists the valid ones."""
    try:
        return module.get_submodule(path)
    except AttributeError:
        pass
    names = [n for n, _ in module.named_modules() if n]
    close = difflib.get_close_matches(path, names, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    shown = names if len(names) <= 40 else [n for n in names if "." not in n]
    listing = ", ".join(shown) + ("" if shown is names else f" (top level of {len(names)})")
    raise ValueError(
        f"embedding={path!r}: {type(module).__name__} has no submodule {path!r}.{hint} "
        f"Valid submodules: {listing or '(none)'}"
    )


class _Hook:
    """A LightningModule hook replaced on the instance: delegates to the attachment.

    ``__wrapped__`` is the class's own function, so Lightning's signature and is-overridden
    checks see the user's method. Plain attributes: the module still pickles (ddp_spawn).
    """

    def __init__(self, attachment: "_Attachment", name: str) -> None:
        self.attachment = attachment
        self.name = name
        self.__wrapped__ = getattr(type(attachment.module), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.attachment, self.name)(*args, **kwargs)


class _Attachment:
    """The plugin's side of each replaced hook; ``_host(name)`` is the module's own method."""

    def __init__(
        self,
        module: nn.Module,
        aux: Optional[nn.Module],
        embedding: str,
        record: List[Dict],
        resume_aux_override: bool,
    ) -> None:
        self.module = module
        self.aux = aux
        self.embedding = embedding
        self.record = record
        self.resume_aux_override = resume_aux_override
        self.prior: Dict[str, Any] = {}
        self.random_states = ResumeRandomState()  # saved in checkpoints, restored on resume

    def _host(self, name: str) -> Callable[..., Any]:
        prior = self.prior.get(name)
        if prior is not None:
            return prior
        return getattr(type(self.module), name).__get__(self.module)

    def training_step(self, *args: Any, **kwargs: Any) -> Any:
        module, host = self.module, self._host("training_step")
        if not module.training:
            return host(*args, **kwargs)
        path = self.embedding
        owner = type(module).__name__
        with Capture({path: _resolve(module, path)}, owner=owner) as cap:
            out = host(*args, **kwargs)
        if out is None:  # Lightning skips this step
            return None
        results = apply_aux_sets(cap, [(path, self.aux)], LARGE_VIEWS, cap.count(path))
        total, items = aux_log_items(results, default_path=path)
        out, _ = add_aux_loss(out, total, owner=f"{owner}.training_step")
        batch_size = cap.views(path, 1)[0].shape[0]
        for name, value in items:
            module.log(name, value, on_epoch=True, sync_dist=True, batch_size=batch_size)
        return out

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int, *args: Any) -> Any:
        out = self._host("on_train_batch_end")(outputs, batch, batch_idx, *args)
        if is_log_point(batch_idx, self.module.trainer.log_every_n_steps):
            raise_if_nonfinite([self.aux], self.module)
        return out

    def on_train_epoch_end(self, *args: Any, **kwargs: Any) -> Any:
        out = self._host("on_train_epoch_end")(*args, **kwargs)
        raise_if_nonfinite([self.aux], self.module)
        return out

    def on_save_checkpoint(self, checkpoint: Dict[str, Any]) -> Any:
        # before anything is written: non-finite weights never replace the last good checkpoint
        raise_if_nonfinite([self.aux], self.module, SAVE_REFUSED)
        out = self._host("on_save_checkpoint")(checkpoint)
        checkpoint[AUX_RECORD_KEY] = [dict(spec) for spec in self.record]
        self.random_states.save(checkpoint)
        return out

    def on_train_epoch_start(self, *args: Any, **kwargs: Any) -> Any:
        self.random_states.epoch_start()  # the first epoch after a resume: the saved states
        return self._host("on_train_epoch_start")(*args, **kwargs)

    def on_load_checkpoint(self, checkpoint: Dict[str, Any]) -> Any:
        """Refuse to resume with other aux losses than the checkpoint's (unless overridden)."""
        out = self._host("on_load_checkpoint")(checkpoint)
        self.random_states.load(checkpoint)
        if AUX_RECORD_KEY not in checkpoint:
            log.warning(
                "aux losses: the checkpoint records no aux configuration (saved without "
                "attach_aux_losses); resuming with %s",
                self.record,
            )
            return out
        change = describe_aux_change(list(checkpoint[AUX_RECORD_KEY]), self.record)
        if change and not self.resume_aux_override:
            raise ValueError(
                f"aux losses differ from the checkpoint being resumed ({change}); attach the "
                "checkpoint's specs, or pass resume_aux_override=True to resume anyway"
            )
        if change:
            log.warning("aux losses: resuming with a different configuration (%s)", change)
        return out
