"""Tiny LightningModules and trainers for the attach tests (either Lightning package, CPU).

``pl`` is ``lightning.pytorch`` where installed (the 1.0.6 host: lightning 2.1), else
``pytorch_lightning`` (the 1.0.2 host: 1.9.5). Importable by pickle as ``lightning_models``.
"""

from __future__ import annotations

import copy
from typing import Dict, List, Optional, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

try:
    import lightning.pytorch as pl
except ImportError:  # pragma: no cover - depends on the host environment
    import pytorch_lightning as pl

PL2 = int(pl.__version__.split(".")[0]) >= 2
BF16 = "bf16-mixed" if PL2 else "bf16"
F64 = "64-true" if PL2 else 64
E2MC = {"name": "e2mc", "beta": 2.0, "gamma": 3.0, "mapping": "sigmoid"}


class ViewsDataset(Dataset):
    """``([view_0, ..., view_{V-1}], label)`` items of fixed random data (``nan_rows``: NaN)."""

    def __init__(self, n: int, dim: int = 16, views: int = 2, seed: int = 0, nan_rows=()):
        gen = torch.Generator().manual_seed(seed)
        self.x = torch.randn(views, n, dim, generator=gen)
        for row in nan_rows:
            self.x[0, row] = float("nan")
        self.y = torch.arange(n) % 3

    def __len__(self) -> int:
        return self.x.shape[1]

    def __getitem__(self, i: int):
        return [v[i] for v in self.x], self.y[i]

    def batch(self, rows: Sequence[int]) -> List[torch.Tensor]:
        return [v[list(rows)] for v in self.x]


def loader(n: int = 16, batch_size: int = 8, **kwargs) -> DataLoader:
    return DataLoader(ViewsDataset(n, **kwargs), batch_size=batch_size, shuffle=False)


class TinySSL(pl.LightningModule):
    """backbone -> projection_head per view; its own loss is the mean invariance of views 0, 1.

    ``momentum=True`` adds a deepcopy momentum head (scaled weights, so its outputs differ) that
    the step calls on every view too, interleaved with the online head. ``concat=True`` calls the
    head once on all views stacked (one capture). ``output="dict"`` returns ``{"loss", "extra"}``.
    """

    def __init__(
        self,
        dim: int = 16,
        feat: int = 12,
        emb: int = 8,
        lr: float = 0.1,
        momentum: bool = False,
        concat: bool = False,
        output: str = "tensor",
    ):
        super().__init__()
        self.save_hyperparameters()
        torch.manual_seed(0)
        self.backbone = nn.Sequential(nn.Linear(dim, feat), nn.Tanh())
        self.projection_head = nn.Sequential(nn.Linear(feat, feat), nn.Tanh(), nn.Linear(feat, emb))
        if momentum:
            self.projection_head_momentum = copy.deepcopy(self.projection_head)
            with torch.no_grad():
                for p in self.projection_head_momentum.parameters():
                    p.mul_(-1.5)
                    p.requires_grad = False

    def embed(self, views: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        if self.hparams.concat:
            z = self.projection_head(self.backbone(torch.cat(list(views))))
            return list(z.chunk(len(views)))
        out = []
        for x in views:
            f = self.backbone(x)
            out.append(self.projection_head(f))
            if self.hparams.momentum:
                with torch.no_grad():
                    self.projection_head_momentum(f)
        return out

    @staticmethod
    def host_loss(z: Sequence[torch.Tensor]) -> torch.Tensor:
        return (z[0] - z[1]).pow(2).mean()

    def training_step(self, batch, batch_idx):
        views, _ = batch
        loss = self.host_loss(self.embed(views))
        if self.hparams.output == "dict":
            return {"loss": loss, "extra": loss.detach() * 0}
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


class StepRecorder(pl.Callback):
    """Records each training batch's index, returned loss and the step values of the metrics."""

    def __init__(self) -> None:
        self.started: List[int] = []
        self.losses: List[torch.Tensor] = []
        self.metrics: List[Dict[str, float]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx, *args):
        self.started.append(batch_idx)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *args):
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.losses.append(loss.detach().clone())
        self.metrics.append({k: float(v) for k, v in trainer.callback_metrics.items()})


def trainer(max_steps: int = 1, callbacks=(), root: Optional[str] = None, **kwargs):
    """A CPU Trainer without logger, progress bar or summary."""
    options = dict(
        accelerator="cpu",
        devices=1,
        max_steps=max_steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
        num_sanity_val_steps=0,
        default_root_dir=root,
        callbacks=list(callbacks),
    )
    options.update(kwargs)
    return pl.Trainer(**options)
