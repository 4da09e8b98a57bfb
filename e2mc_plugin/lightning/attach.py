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
bit-identical to the plain module. The specs, the module lookup, the finiteness timing and
the resume policy are the host-neutral core's (:mod:`e2mc_plugin.attach`), the same as
solo-learn's wrapper uses; this module only translates them into the hooks.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional

from torch import nn

from e2mc_plugin.attach import (
    AUX_RECORD_KEY,
    Capture,
    ConfigError,
    add_aux_loss,
    apply_aux_sets,
    aux_log_items,
    aux_record,
    check_after_batch,
    check_after_epoch,
    check_before_save,
    check_resume,
    parse_aux_losses,
    resolve_module,
)
from e2mc_plugin.aux_losses import AuxLossSet
from e2mc_plugin.resume.random_state import ResumeRandomState

__all__ = ["AUX_MODULE_NAME", "LARGE_VIEWS", "attach_aux_losses"]

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
            "beta": 1000, "gamma": 100, "mapping": "sigmoid", "gather": True}]``, read by the
            recipes' schema (:func:`e2mc_plugin.attach.parse_aux_losses`; a ``ListConfig`` too);
            ``[]`` adds nothing (the "continued" baseline). An entry's ``embedding:`` key, if
            given, must name the module ``embedding`` names.
        embedding: dotted name of the submodule whose outputs are the views (e.g.
            ``"projection_head"``). ``training_step`` must call it once per crop, the two large
            crops first; only this object is hooked, never a momentum copy of it.
        resume_aux_override: resume from a checkpoint trained with other aux losses (warns)
            instead of refusing.

    Raises:
        TypeError: ``module`` is not a LightningModule, or ``embedding`` is not a string.
        ValueError: manual optimization (also when the module switches to it later: raised at
            its first training step), or aux losses already attached.
        ConfigError (a ValueError): unknown ``embedding`` (the message lists the submodules); a
            bad spec, named by its key (``aux_losses[0].name: unknown aux loss 'e2mx'...``).
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
    resolve_module(module, embedding, "embedding")
    _refuse_manual_optimization(module)
    entries = parse_aux_losses(specs)
    for entry in entries:
        if entry.embedding not in (None, embedding):
            raise ConfigError(
                f"aux_losses[{entry.index}].embedding: {entry.embedding!r}, but "
                f"attach_aux_losses hooks one module (embedding={embedding!r}); remove the key "
                "or attach that module"
            )
    aux = AuxLossSet([entry.loss for entry in entries]) if entries else None
    attachment = _Attachment(module, aux, embedding, aux_record(entries), bool(resume_aux_override))
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


def _refuse_manual_optimization(module: nn.Module, when: str = "") -> None:
    """Manual optimization is refused when attaching and, if the module switches to it later
    (e.g. in ``on_fit_start``), at its first training step, before anything is trained: the aux
    loss is added to the loss ``training_step`` returns, which only automatic optimization
    backpropagates, so it would silently not be applied."""
    if getattr(module, "automatic_optimization", True) is False:
        raise ValueError(
            f"{type(module).__name__} uses manual optimization{f' (it {when})' if when else ''}: "
            "the aux loss is added to the loss training_step returns, which Lightning "
            "backpropagates only under automatic optimization (attach_aux_losses does not support "
            "manual optimization): keep automatic_optimization=True"
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
        _refuse_manual_optimization(module, "was switched to it after attach_aux_losses")
        path = self.embedding
        owner = type(module).__name__
        with Capture({path: resolve_module(module, path, "embedding")}, owner=owner) as cap:
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
        check_after_batch([self.aux], self.module, batch_idx)
        return out

    def on_train_epoch_end(self, *args: Any, **kwargs: Any) -> Any:
        out = self._host("on_train_epoch_end")(*args, **kwargs)
        check_after_epoch([self.aux], self.module)
        return out

    def on_save_checkpoint(self, checkpoint: Dict[str, Any]) -> Any:
        check_before_save([self.aux], self.module)
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
        check_resume(
            checkpoint,
            self.record,
            override=self.resume_aux_override,
            how_to_override="pass resume_aux_override=True",
        )
        return out
