"""Deferred finiteness check: NaN/Inf flags kept on the device, read without stalling the step.

Why: reading a flag on the host (``.item()``, ``bool()``) waits for every queued kernel, a stall
per view per step on a GPU. Here each forward adds its flags to a device counter; the counter is
copied to pinned host memory without blocking and read at a later forward once the copy has
landed (a CUDA event says so), or at :meth:`FiniteMonitor.raise_if_nonfinite` (one sync).
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from e2mc_plugin.criteria.checks import NonFiniteError, nonfinite_flags

OVERFLOW_HINT = (
    "a float32 overflow of finite inputs (embeddings of huge magnitude, e.g. |z| ~ 1e20 on "
    "space='projector'): normalize the embedding, lower the learning rate, or use the "
    "hypersphere space"
)


class FiniteMonitor:
    """Counts, per input view and for the loss, the forwards that saw NaN/Inf (on the device).

    Layout of the counter: index 0 the loss, index 1 + i view i.
    """

    def __init__(self, loss_name: str) -> None:
        self.loss_name = loss_name
        self.counts: Optional[Tensor] = None
        self.steps = 0  # forwards recorded since the last reset (a host int: no sync)
        self._host: Optional[Tensor] = None  # pinned snapshot of counts (CUDA)
        self._event = None  # marks when the snapshot copy has landed
        self._snap_steps = 0

    def __getstate__(self) -> dict:
        # CUDA events do not pickle or deep-copy; a copy starts with no snapshot in flight.
        return {**self.__dict__, "_host": None, "_event": None}

    def record(self, views: Sequence[Tensor], loss: Tensor) -> None:
        """Add this forward's flags; raise first if an earlier snapshot is ready and bad."""
        self.poll()
        bad = nonfinite_flags([loss, *views])
        if self.counts is None:
            self.counts = torch.zeros_like(bad)
        elif self.counts.device != bad.device:
            self.counts = self.counts.to(bad.device)
        k = max(self.counts.numel(), bad.numel())
        if self.counts.numel() < k:
            self.counts = F.pad(self.counts, (0, k - self.counts.numel()))
        if bad.numel() < k:
            bad = F.pad(bad, (0, k - bad.numel()))
        self.counts.add_(bad)
        self.steps += 1
        self._snapshot()

    def _snapshot(self) -> None:
        counts = self.counts
        if counts is None or counts.device.type != "cuda":
            return
        if self._host is None or self._host.numel() != counts.numel():
            self._host = torch.empty(counts.shape, dtype=counts.dtype, pin_memory=True)
        if self._event is None:
            self._event = torch.cuda.Event()
        self._host.copy_(counts, non_blocking=True)
        self._event.record()
        self._snap_steps = self.steps

    def poll(self) -> None:
        """Raise if a snapshot already on the host shows NaN/Inf; never waits for the device."""
        if self.counts is None:
            return
        if self.counts.device.type == "cpu":
            self._check(self.counts.tolist(), self.steps)
        elif self._event is not None and self._event.query():
            self._check(self._host.tolist(), self._snap_steps)

    def raise_if_nonfinite(self) -> None:
        """Read the counter (one device sync), raise :class:`NonFiniteError` if any, reset."""
        if self.counts is None:
            return
        self._check(self.counts.tolist(), self.steps)

    def _check(self, counts: List[int], steps: int) -> None:
        if not any(counts):
            return
        self.reset()
        views = [i for i, c in enumerate(counts[1:]) if c]
        if views:
            detail = ", ".join(f"view {i} in {counts[1 + i]}" for i in views)
            msg = f"non-finite input values (NaN/Inf): {detail} of the last {steps} step(s)"
        else:
            msg = (
                f"the loss was not finite in {counts[0]} of the last {steps} step(s) although "
                f"every input view was finite: {OVERFLOW_HINT}"
            )
        raise NonFiniteError(
            f"{self.loss_name}: {msg}. Set check_finite=False to let non-finite values "
            "propagate (e.g. for an fp16 GradScaler to skip such steps)"
        )

    def reset(self) -> None:
        if self.counts is not None:
            self.counts.zero_()
        self.steps = 0
        self._event = None
