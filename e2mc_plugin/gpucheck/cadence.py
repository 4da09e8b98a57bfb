"""The documented cadence of host syncs in a training step, and the judge of each sync seen.

Allowed (``e2mc_plugin/solo/README.md``, ``e2mc_plugin/attach/finite.py``):

- outside the training batches (set-up, epoch end, tear-down);
- after a batch (from the first ``on_train_batch_end`` callback on): the deferred finiteness
  check (``raise_if_nonfinite``) and Lightning's logger (``log_metrics``) at Lightning's log
  points (every ``log_every_n_steps``-th batch, and the last), the progress-bar values
  (Lightning's ``_ResultCollection.metrics``) at every batch when there is a progress bar;
- the first step of the run, once: Lightning registers each logged value there (its state
  tensors are created on the CPU and copied to the device) and the monitors allocate; the
  cadence is judged on the steps that follow;
- the data loader's reads of its own CPU tensors (no device involved on any machine);
- MMCR's eigendecomposition in the step (``criteria/nuclear_norm.py``): ``torch.linalg.eigh``
  reads cuSOLVER's status to the host, one sync per MMCR loss per step; the exact nuclear norm
  needs it (every ``torch.linalg`` decomposition on CUDA checks its status; no variant skips it);
- in the CPU dry run only: the deferred check's CPU branch (``FiniteMonitor.poll`` reads a CPU
  counter at each forward; on CUDA it polls an event instead).

Anything else is hidden: in the step (forward, loss, backward, optimizer step) or after it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Dict, List, Optional, Tuple

from e2mc_plugin.attach.finite import is_log_point
from e2mc_plugin.gpucheck.sync_events import SyncEvent

FIRST_STEP = "the first step (once: Lightning registers each logged value)"
MMCR_EIGH = "MMCR's eigendecomposition (cuSOLVER status, once per step)"
SKIP_FILES = ("torch/", "warnings.py", "traceback.py", "e2mc_plugin/gpucheck/sync_events.py")


def where(event: SyncEvent) -> str:
    """The innermost frame outside torch and the recorders: ``file:line function``."""
    for file, line, func in reversed(event.frames):
        if not file.startswith(SKIP_FILES) and "python_dispatch" not in file:
            return f"{file}:{line} {func}"
    return "?"


def _has(event: SyncEvent, file_end: str, func: str) -> bool:
    return any(f.endswith(file_end) and fn == func for f, _, fn in event.frames)


def classify(
    event: SyncEvent, *, log_every: int, last: int, bar: bool, cpu: bool
) -> Tuple[str, bool]:
    """``(category, allowed)`` of one sync against the documented cadence."""
    if event.phase == "outside":
        return "outside the training batches", True
    at_log = event.batch is not None and (
        is_log_point(event.batch, log_every) or event.batch == last
    )
    if event.batch == 0:
        return FIRST_STEP, True
    if any(f.startswith("torch/utils/data/") for f, _, _ in event.frames):
        return "the data loader (CPU tensors: no device read)", True
    if event.op.endswith("linalg_eigh") and _has(event, "criteria/nuclear_norm.py", "forward"):
        return MMCR_EIGH, True
    if cpu and _has(event, "aux_losses/finite.py", "poll"):
        return "the deferred check's CPU-only read (none on CUDA)", True
    if event.phase == "after":
        if _has(event, "attach/finite.py", "raise_if_nonfinite"):
            return "finiteness check at a log point", at_log
        if _has(event, "logger_connector.py", "log_metrics"):
            return "logger at a log point", at_log
        if _has(event, "logger_connector/result.py", "metrics"):
            return "progress-bar value", bar
    return f"hidden ({event.phase}): {event.op} at {where(event)}", False


CADENCE = {  # row column -> the category counted in it
    "finiteness check": "finiteness check at a log point",
    "logger": "logger at a log point",
    "progress bar": "progress-bar value",
    "outside batches": "outside the training batches",
    "first step": FIRST_STEP,
    "MMCR eigh": MMCR_EIGH,
}


def count(events: List[SyncEvent], facts: Dict[str, int], cpu: bool) -> Tuple[Counter, Counter]:
    """``(allowed, hidden)``: the run's syncs per category."""
    allowed: Counter = Counter()
    hidden: Counter = Counter()
    last = facts["steps"] - 1
    for e in events:
        category, ok = classify(e, log_every=facts["log_every"], last=last, bar=True, cpu=cpu)
        (allowed if ok else hidden)[category] += 1
    return allowed, hidden


def judge(
    label: str,
    events: List[SyncEvent],
    facts: Dict[str, int],
    cpu: bool,
    baseline: Optional[Counter] = None,
) -> Tuple[Dict[str, Any], List[str], Dict[str, Any]]:
    """The run's row, its notes and its per-category counts (JSON).

    Without ``baseline`` the run is the host's (its hidden syncs are reported, not judged). With
    the hidden syncs of the same steps without aux losses as ``baseline``, only what the plugin
    adds is judged: per category (operation and place), the count beyond the baseline's. A
    judged run passes when it adds none and the finiteness check read its counters at least once
    (the cadence really ran).
    """
    steps = facts["steps"] - 1  # judged: the steps after the first
    allowed, hidden = count(events, facts, cpu)
    added = hidden - baseline if baseline is not None else Counter()
    host = sum(hidden.values()) - sum(added.values())
    row: Dict[str, Any] = {"run": label, "syncs": len(events)}
    row.update({col: allowed[cat] for col, cat in CADENCE.items()})
    row["progress bar"] = round(row["progress bar"] / steps, 1)  # per step
    row["host's own"] = round(host / steps, 1)  # per step
    row["added by the plugin"] = sum(added.values()) if baseline is not None else None
    reads = allowed[CADENCE["finiteness check"]]
    row["ok"] = (not added and reads > 0) if baseline is not None else None
    if baseline is not None:
        notes = [f"{label}: {n} x {category}" for category, n in added.most_common(4)]
        if not reads:
            notes.append(f"{label}: the deferred finiteness check never read its counters")
    else:
        notes = [f"{label} (host): {n} x {category}" for category, n in hidden.most_common(3)]
    return row, notes, {"allowed": dict(allowed), "hidden": dict(hidden), "added": dict(added)}
