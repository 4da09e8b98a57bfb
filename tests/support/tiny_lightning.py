"""The smallest trainable LightningModule, built on the Lightning package the caller passes (the
host's: ``compat.lightning()``), for tests of callbacks and launch hooks."""

from __future__ import annotations

from types import ModuleType

import torch


def tiny_module_class(pl: ModuleType) -> type:
    """A ``pl.LightningModule`` with one ``Linear(2, 1)``: its loss is the mean squared output on
    batches ``(x,)`` of shape (n, 2), minimized by SGD (lr 0.1). Subclass it to log or validate."""

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 1)

        def training_step(self, batch, batch_idx):
            return self.lin(batch[0]).pow(2).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    return Tiny
