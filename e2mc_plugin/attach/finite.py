"""When the deferred NaN/Inf check is read: at the host's log points, at epoch end and before
every checkpoint is written.

Each aux loss keeps its NaN/Inf flags on the device (:mod:`e2mc_plugin.aux_losses.finite`); reading
them is a device sync, so the hosts read them only where Lightning syncs anyway (a logging step),
at the end of each training epoch and in ``on_save_checkpoint`` (it runs inside
``trainer.save_checkpoint`` before any file is touched, for every writer), so non-finite weights
never replace the last good checkpoint. The error re-raised here adds the epoch and global step
to the loss's own message. Both hosts call the three hooks below, so the timing is this one
policy: :func:`check_after_batch`, :func:`check_after_epoch`, :func:`check_before_save`.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from torch import nn

from e2mc_plugin.criteria.checks import NonFiniteError

__all__ = [
    "SAVE_REFUSED",
    "check_after_batch",
    "check_after_epoch",
    "check_before_save",
    "is_log_point",
    "position",
    "raise_if_nonfinite",
]

#: what the error adds when the check runs before a checkpoint is written
SAVE_REFUSED = "; the checkpoint was not written (the previous one is kept)"


def is_log_point(batch_idx: int, log_every_n_steps: int) -> bool:
    """True after every ``log_every_n_steps``-th training batch of an epoch (a log step)."""
    return (batch_idx + 1) % max(1, int(log_every_n_steps)) == 0


def position(module: Any) -> str:
    """``epoch E, global step S`` of the module's trainer (``""`` without one)."""
    trainer = getattr(module, "_trainer", None)
    if trainer is None:
        return ""
    return f"epoch {trainer.current_epoch}, global step {trainer.global_step}"


def raise_if_nonfinite(
    aux_sets: Iterable[nn.Module], module: Optional[Any] = None, when: str = ""
) -> None:
    """Each set's deferred finiteness check (one sync per loss). A :class:`NonFiniteError`
    (naming the loss, the view and the steps covered) is re-raised naming the epoch and global
    step of ``module``'s trainer, followed by ``when``."""
    try:
        for aux in aux_sets:
            check = getattr(aux, "raise_if_nonfinite", None)
            if check is not None:
                check()
    except NonFiniteError as err:
        where = position(module) if module is not None else ""
        raise NonFiniteError(f"{err} (at {where or 'the check'}{when})") from None


def check_after_batch(aux_sets: Iterable[nn.Module], module: Any, batch_idx: int) -> None:
    """``on_train_batch_end``: the check after every ``log_every_n_steps``-th batch of an epoch
    (where Lightning reads the logged values anyway)."""
    if is_log_point(batch_idx, module.trainer.log_every_n_steps):
        raise_if_nonfinite(aux_sets, module)


def check_after_epoch(aux_sets: Iterable[nn.Module], module: Any) -> None:
    """``on_train_epoch_end``: the check covering the batches after the last log point."""
    raise_if_nonfinite(aux_sets, module)


def check_before_save(aux_sets: Iterable[nn.Module], module: Any) -> None:
    """``on_save_checkpoint`` (before any file is written): a pending NaN/Inf flag refuses the
    save, so non-finite weights never replace the last good checkpoint."""
    raise_if_nonfinite(aux_sets, module, SAVE_REFUSED)
