"""Part (b): wrapped solo-learn training steps, every host sync located and judged against the
cadence the plugin documents (``e2mc_plugin/solo/README.md``, ``e2mc_plugin/attach/finite.py``):

- the deferred finiteness check reads its counters (one read per aux loss) at Lightning's log
  points (``on_train_batch_end`` after every ``log_every_n_steps``-th batch), at epoch end and
  before a checkpoint is written;
- Lightning reads the logged values at its log points (the logger) and the progress-bar values
  at every batch end (the wrapper puts ``train_aux/loss`` and ``train_loss`` on the bar only
  when there is one);
- anything outside the training batches (set-up, epoch end, tear-down).

Any other sync, in the step (forward, loss, backward, optimizer step) or after it, fails the
run, with the operation and the stack's innermost frames. Three runs of solo-learn's VICReg
through :func:`e2mc_plugin.solo.api.fit` with a CSV logger and the progress bar: E2MC (SGD), MMCR
(SGD), and E2MC with solo-learn's LARS (the paper recipes' optimizer; reported, not judged: its
syncs are the host's).
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import lightning.pytorch as pl
import torch

from e2mc_plugin.aux_losses.paper import paper_aux_spec
from e2mc_plugin.gpucheck.cadence import judge
from e2mc_plugin.gpucheck.result import Context, PartResult, verdict
from e2mc_plugin.gpucheck.sync_events import CpuSyncs, CudaSyncs, Phase, SyncEvent

#: (backbone, crop px, batch, projector width, steps, log_every_n_steps)
SIZES = {"gpu": ("resnet50", 224, 32, 2048, 10, 4), "cpu": ("resnet18", 32, 8, 64, 6, 3)}
LARS = {
    "name": "lars",
    "kwargs": {"eta": 0.02, "clip_lr": True, "exclude_bias_n_norm": True, "momentum": 0.9},
}
#: label -> (aux loss, optimizer override or None, judged)
RUNS = {
    "e2mc, SGD": ("e2mc", None, True),
    "mmcr, SGD": ("mmcr", None, True),
    "e2mc, solo-learn LARS": ("e2mc", LARS, False),
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


def _fit(aux: str, optimizer, size, cpu: bool, work) -> Tuple[List[SyncEvent], Dict[str, Any]]:
    from e2mc_plugin.solo import api
    from e2mc_plugin.testing.data import synthetic_pretrain_loader
    from e2mc_plugin.testing.presets import tiny_cfg

    backbone, px, batch, proj, steps, log_every = size
    overrides: Dict[str, Any] = {
        "backbone.name": backbone,
        "optimizer.batch_size": batch,
        "method_kwargs.proj_hidden_dim": proj,
        "method_kwargs.proj_output_dim": proj,
        "optimizer.lr": 1e-6,  # the syncs are the subject: no divergence on noise images
    }
    if optimizer is not None:
        overrides["optimizer"] = {**optimizer, "lr": 1e-6, "weight_decay": 1e-6}
    torch.manual_seed(0)
    model = api.build_method(
        tiny_cfg("vicreg", aux_losses=[paper_aux_spec("vicreg", aux)], **overrides)
    )
    loader = synthetic_pretrain_loader(steps * batch, batch_size=batch, size=px)
    phase = Phase()
    recorder = CpuSyncs(phase) if cpu else CudaSyncs(phase)
    with recorder:
        api.fit(
            model,
            loader,
            max_epochs=1,
            accelerator="cpu" if cpu else "gpu",
            precision="bf16-mixed",
            logger=pl.loggers.CSVLogger(str(work), name=aux),
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
        f"steps, log_every_n_steps {log_every}, progress bar on, CSV logger; counts per run, the "
        "progress bar's per step"
    ]
    data: Dict[str, Any] = {}
    for label, (aux, optimizer, judged) in RUNS.items():
        events, facts = _fit(aux, optimizer, size, ctx.cpu, ctx.work / label.replace(", ", "-"))
        row, more, data[label] = judge(label, events, facts, judged, ctx.cpu)
        rows.append(row)
        notes += more
    if ctx.cpu:
        notes.append(
            "dry run: reads by the data loader (CPU tensors) and the deferred check's CPU-only "
            "read are counted apart (JSON), not as syncs of the step"
        )
    judged = [r for r in rows if r["judged"]]
    passed = sum(bool(r["ok"]) for r in judged)
    return PartResult(
        verdict(passed == len(judged)),
        f"{passed} of {len(judged)} judged runs without a hidden sync",
        list(rows[0]),
        rows,
        notes,
        data,
    )
