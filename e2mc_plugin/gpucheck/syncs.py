"""Part (b): wrapped solo-learn training steps, every host sync located and judged against the
cadence the plugin documents (:mod:`e2mc_plugin.gpucheck.cadence`: the finiteness check and the
logger at Lightning's log points, progress-bar values after each batch, anything outside the
batches).

solo-learn's own step is not sync-free (its VICReg loss indexes with a boolean mask, forward and
backward; its LARS reads two norms per parameter), so the plugin is judged on what it adds: four
runs of solo-learn's VICReg through :func:`e2mc_plugin.solo.api.fit` with a CSV logger and the
progress bar, the same steps each: ``aux_losses: []`` (the baseline: the host's own syncs),
E2MC and MMCR (judged: any hidden sync beyond the baseline's, per operation and place, fails),
and ``aux_losses: []`` with solo-learn's LARS, the paper recipes' optimizer (reported).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import lightning.pytorch as pl
import torch
from torch import Tensor
from torch.utils.data import Dataset

from e2mc_plugin.aux_losses.paper import paper_aux_spec
from e2mc_plugin.gpucheck.cadence import count, judge
from e2mc_plugin.gpucheck.result import Context, PartResult, verdict
from e2mc_plugin.gpucheck.sync_events import CpuSyncs, CudaSyncs, Phase, SyncEvent

#: (backbone, crop px, batch, projector width, steps, log_every_n_steps)
SIZES = {"gpu": ("resnet50", 224, 32, 2048, 10, 4), "cpu": ("resnet18", 32, 8, 64, 6, 3)}
LARS = {"name": "lars", "kwargs": {"eta": 0.02, "clip_lr": True, "exclude_bias_n_norm": True}}
#: label -> (aux loss or None, optimizer override or None); the first is the baseline of the
#: judged runs (same steps, aux_losses: []), the last is the host's optimizer (reported)
BASELINE = "aux_losses: [], SGD"
RUNS = {
    BASELINE: (None, None),
    "e2mc, SGD": ("e2mc", None),
    "mmcr, SGD": ("mmcr", None),
    "aux_losses: [], solo-learn LARS": (None, LARS),
}


class PhaseTracker(pl.Callback):
    """Stamps where the loop is (first in the callback list, so the step ends before any other
    ``on_train_batch_end`` runs)."""

    def __init__(self, phase: Phase) -> None:
        self.phase = phase

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx, *args) -> None:
        self.phase.name, self.phase.batch = "step", batch_idx

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *args) -> None:
        self.phase.name = "after"

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.phase.name, self.phase.batch = "outside", None


class NoiseImages(Dataset):
    """``n`` fixed Gaussian-noise images ``(3, px, px)`` with labels (seeded): the step's data."""

    def __init__(self, n: int, px: int, classes: int = 10, seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.images = torch.randn(n, 3, px, px, generator=gen)
        self.labels = torch.randint(0, classes, (n,), generator=gen).tolist()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> Tuple[Tensor, int]:
        return self.images[i], self.labels[i]


def method_cfg(aux: Optional[str], optimizer: Optional[dict], size: tuple) -> Dict[str, Any]:
    """solo-learn VICReg at ``size`` through the public API (``api.small_cfg``), with the
    paper's ``aux`` loss (or none) and SGD at lr 1e-6, or ``optimizer`` (the syncs are the
    subject: no divergence on noise images)."""
    from e2mc_plugin.solo import api

    backbone, _, batch, proj, _, _ = size
    opt = {"name": "sgd", "batch_size": batch, "lr": 1e-6, "weight_decay": 1e-6}
    opt.update(classifier_lr=0.1, kwargs={"momentum": 0.9})
    if optimizer is not None:
        opt = {**opt, **optimizer, "kwargs": {**opt["kwargs"], **optimizer["kwargs"]}}
    kwargs = {"proj_hidden_dim": proj, "proj_output_dim": proj, **api.HOST_METHOD_KWARGS["vicreg"]}
    specs = [paper_aux_spec("vicreg", aux)] if aux else []
    cfg = api.small_cfg("vicreg", method_kwargs=kwargs, optimizer=opt, aux_losses=specs)
    cfg["backbone"]["name"] = backbone
    return cfg


def _fit(
    aux: Optional[str], optimizer: Optional[dict], size: tuple, cpu: bool, work: Path
) -> Tuple[List[SyncEvent], Dict[str, Any]]:
    """Fit ``steps`` batches under the recorder; the syncs seen and the loop's facts."""
    from e2mc_plugin.solo import api

    _, px, batch, _, steps, log_every = size
    torch.manual_seed(0)
    model = api.build_method(method_cfg(aux, optimizer, size))
    flip = [lambda x: x, lambda x: x.flip(-1)]  # the two crops
    loader = api.pretrain_loader(NoiseImages(steps * batch, px), flip, batch_size=batch)
    phase = Phase()
    recorder = CpuSyncs(phase) if cpu else CudaSyncs(phase)
    with recorder:
        api.fit(
            model,
            loader,
            max_epochs=1,
            accelerator="cpu" if cpu else "gpu",
            precision="bf16-mixed",
            logger=pl.loggers.CSVLogger(str(work), name="logs"),
            log_every_n_steps=log_every,
            callbacks=[PhaseTracker(phase)],
            enable_progress_bar=True,
            default_root_dir=str(work),
        )
    return recorder.events, {"steps": steps, "log_every": log_every}


def run(ctx: Context) -> PartResult:
    if ctx.cpu:
        torch.set_num_threads(1)
    size = SIZES["cpu" if ctx.cpu else "gpu"]
    backbone, px, batch, proj, steps, log_every = size
    rows: List[Dict[str, Any]] = []
    notes = [
        f"{backbone} at {px} px, 2 x {batch} crops, VICReg projector {proj}, bf16-mixed, {steps} "
        f"steps, log_every_n_steps {log_every}, progress bar on, CSV logger. Counts per run; "
        "the progress bar's and the host's own per step after the first (the first step's "
        "one-time syncs are counted apart). The host's own: the syncs of the same steps without "
        f"aux losses ({BASELINE}); the plugin is judged on what it adds"
    ]
    data: Dict[str, Any] = {}
    baseline = None
    for label, (aux, optimizer) in RUNS.items():
        events, facts = _fit(aux, optimizer, size, ctx.cpu, ctx.work / f"run{len(rows)}")
        judged = aux is not None and optimizer is None
        row, more, data[label] = judge(label, events, facts, ctx.cpu, baseline if judged else None)
        if label == BASELINE:
            baseline = count(events, facts, ctx.cpu)[1]
        rows.append(row)
        notes += more
    if ctx.cpu:
        notes.append(
            "dry run: reads by the data loader (CPU tensors) and the deferred check's CPU-only "
            "read are counted apart (JSON), not as syncs of the step"
        )
    judged_rows = [r for r in rows if r["ok"] is not None]
    passed = sum(bool(r["ok"]) for r in judged_rows)
    return PartResult(
        verdict(passed == len(judged_rows)),
        f"{passed} of {len(judged_rows)} aux losses add no hidden sync to the host's step",
        list(rows[0]),
        rows,
        notes,
        data,
    )
