"""When the deferred NaN/Inf check is read: at the host's log points and at epoch end.

Each aux loss keeps its NaN/Inf flags on the device (:mod:`e2mc_plugin.aux_losses.finite`); reading
them is a device sync, so the hosts read them only where Lightning syncs anyway (a logging step)
and at the end of each training epoch.
"""

from __future__ import annotations

from typing import Iterable

from torch import nn

__all__ = ["is_log_point", "raise_if_nonfinite"]


def is_log_point(batch_idx: int, log_every_n_steps: int) -> bool:
    """True after every ``log_every_n_steps``-th training batch of an epoch (a log step)."""
    return (batch_idx + 1) % max(1, int(log_every_n_steps)) == 0


def raise_if_nonfinite(aux_sets: Iterable[nn.Module]) -> None:
    """Each set's deferred finiteness check (one sync per loss; raises ``NonFiniteError`` naming
    the loss, the view and the steps covered)."""
    for aux in aux_sets:
        check = getattr(aux, "raise_if_nonfinite", None)
        if check is not None:
            check()
