"""The deferred NaN/Inf checks of a wrapped method, resolved with the training position.

The aux sets keep their NaN/Inf flags on the device (:mod:`e2mc_plugin.aux_losses.finite`); the
mixin resolves them at Lightning's log points, at epoch end and before every checkpoint is
written (``on_save_checkpoint`` runs inside ``trainer.save_checkpoint`` before any file is
touched). The error re-raised here adds the epoch and global step to the loss's own message.
"""

from __future__ import annotations

from typing import Any, Iterable

from e2mc_plugin.criteria.checks import NonFiniteError

__all__ = ["SAVE_REFUSED", "position", "raise_pending_nonfinite"]

#: what the error adds when the check runs before a checkpoint is written
SAVE_REFUSED = "; the checkpoint was not written (the previous one is kept)"


def position(module: Any) -> str:
    """``epoch E, global step S`` of the module's trainer (``""`` without one)."""
    trainer = getattr(module, "_trainer", None)
    if trainer is None:
        return ""
    return f"epoch {trainer.current_epoch}, global step {trainer.global_step}"


def raise_pending_nonfinite(module: Any, aux_sets: Iterable[Any], when: str = "") -> None:
    """Each set's ``raise_if_nonfinite`` (one sync each); a :class:`NonFiniteError` is re-raised
    naming the epoch and the global step reached, followed by ``when``."""
    try:
        for aux in aux_sets:
            check = getattr(aux, "raise_if_nonfinite", None)
            if check is not None:
                check()
    except NonFiniteError as err:
        where = position(module)
        raise NonFiniteError(f"{err} (at {where or 'the check'}{when})") from None
