"""The benches' one per-step wall-clock timer: a Lightning callback timing each training batch
from ``on_train_batch_start`` to ``on_train_batch_end`` (forward, loss, backward, optimizer
step)."""

from __future__ import annotations

import time
from typing import Callable, List, Optional


def step_timer(pl, synchronize: Optional[Callable[[], None]] = None):
    """A fresh callback of Lightning package ``pl``; its ``times`` list holds seconds per step.
    ``synchronize`` (e.g. ``torch.cuda.synchronize``) runs before reading the clock at both ends,
    so a step's queued device work is counted in that step."""
    wait = synchronize or (lambda: None)

    class StepTimer(pl.Callback):
        def __init__(self) -> None:
            self.times: List[float] = []
            self._t0 = 0.0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx, *args):
            wait()
            self._t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *args):
            wait()
            self.times.append(time.perf_counter() - self._t0)

    return StepTimer()
