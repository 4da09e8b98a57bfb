"""Training and saving one stage of the demo: :func:`pretrain` (build + fit through the host
adapter's public API), :func:`save_method` (the demo's only checkpoint write) and
:func:`load_method` (build + initialize from such a file)."""

from __future__ import annotations

import copy
import os
import sys
from typing import Any, Dict, Mapping, Optional, Sequence

import torch
from torch import nn

from e2mc_plugin.datasets.digits import DigitsSplit, train_loader
from e2mc_plugin.demo.centre_taps import use_centre_taps

__all__ = ["pretrain", "save_method", "load_method"]


def _progress_callback(total: int, desc: str, enabled: bool):
    """A Lightning callback showing one tqdm bar over all steps of a fit, with the loss."""
    from tqdm.auto import tqdm

    from e2mc_plugin.solo.host import compat

    pl = compat.lightning()

    class _Bar(pl.Callback):
        def __init__(self) -> None:
            self.bar = None

        def on_train_start(self, trainer, pl_module) -> None:
            self.bar = tqdm(total=total, desc=desc, unit="step", disable=not enabled, leave=True)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
            if self.bar is not None:
                self.bar.update(1)
                if torch.is_tensor(loss):
                    self.bar.set_postfix(epoch=trainer.current_epoch, loss=f"{float(loss):.3f}")

        def on_train_end(self, trainer, pl_module) -> None:
            if self.bar is not None:
                self.bar.close()

    return _Bar()


def pretrain(
    cfg: Mapping[str, Any],
    split: DigitsSplit,
    *,
    epochs: int,
    seed: int,
    batch_size: int,
    desc: str = "pretrain",
    progress: bool = True,
    limit_train_batches: Optional[int] = None,
    root_dir: Optional[str] = None,
    callbacks: Sequence[Any] = (),
) -> nn.Module:
    """Build the method of ``cfg`` (loading its ``pretrained`` weights, if any) and fit it.

    Model initialization, data order and augmentations are all seeded by ``seed``. A fit may end
    before ``epochs`` when a callback sets ``trainer.should_stop``.
    """
    from e2mc_plugin.solo.api import build_method, fit

    torch.manual_seed(seed)
    model = build_method(cfg)
    use_centre_taps(model)  # the same function, without layer3/4's products with padding zeros
    loader = train_loader(split, batch_size=batch_size, seed=seed)
    steps = len(loader) if limit_train_batches is None else min(len(loader), limit_train_batches)
    kwargs: Dict[str, Any] = {}
    if limit_train_batches is not None:
        kwargs["limit_train_batches"] = limit_train_batches
    fit(
        model,
        loader,
        max_epochs=epochs,
        seed=seed,
        enable_progress_bar=False,
        callbacks=[_progress_callback(steps * epochs, desc, progress), *callbacks],
        default_root_dir=root_dir,
        **kwargs,
    )
    bad = [n for n, p in model.named_parameters() if not torch.isfinite(p).all()]
    if bad:
        raise FloatingPointError(
            f"{desc}: training diverged, {len(bad)} parameter tensors are not finite "
            f"(first: {bad[0]}); lower the learning rate"
        )
    return model


def save_method(model: nn.Module, cfg: Mapping[str, Any], directory: str, name: str) -> str:
    """``{directory}/{name}.ckpt`` (solo-learn key names) + ``args.json``, through the plugin's one
    checkpoint writer (temporary files, verified, renamed atomically).

    The layout of solo-learn's checkpointer: ``e2mc-plugin diagnose`` and the ``pretrained:``
    block read it back. Every checkpoint the demo writes goes through this function. The folder is
    the demo's own output (``--out``): a checkpoint of an earlier demo run there is replaced, and
    the replacement is said on stderr.
    """
    from e2mc_plugin.checkpoints.writer import write_host_checkpoint

    args = copy.deepcopy(dict(cfg))
    args["pretrained"] = None  # the weights are in the .ckpt itself
    target = os.path.join(directory, f"{name}.ckpt")
    if os.path.exists(target):
        print(f"[demo] replacing the earlier demo checkpoint {target}", file=sys.stderr)
    written = write_host_checkpoint(model.state_dict(), args, directory, name, force=True)
    return str(written.ckpt)


def load_method(cfg: Mapping[str, Any], path: str) -> nn.Module:
    """Build the method of ``cfg`` initialized strictly from ``path`` (``pretrained:`` block)."""
    from e2mc_plugin.solo.api import build_method

    pretrained = {"path": path, "format": None, "strict": True, "trusted": False}
    model = build_method({**cfg, "aux_losses": [], "pretrained": pretrained})
    use_centre_taps(model)
    return model
