"""The benches' one per-step wall-clock timer: a Lightning callback timing each training batch
from ``on_train_batch_start`` to ``on_train_batch_end`` (forward, loss, backward, optimizer
step)."""

from __future__ import annotations

import time
from typing import List


def step_timer(pl):
    """A fresh callback of Lightning package ``pl``; its ``times`` list holds seconds per step."""

    class StepTimer(pl.Callback):
        def __init__(self) -> None:
            self.times: List[float] = []
            self._t0 = 0.0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx, *args):
            self._t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *args):
            self.times.append(time.perf_counter() - self._t0)

    return StepTimer()
