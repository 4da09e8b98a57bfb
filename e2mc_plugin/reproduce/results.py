"""What a finished launcher call left in its attempt folder, read into the stage's result.

=========  ====================================================================================
kind       result
=========  ====================================================================================
convert    ``ckpt``: ``<attempt>/base/base.ckpt``, ``folder``: ``<attempt>/base`` (it holds the
           ``args.json`` that ``convert --out <attempt>/base`` writes)
subset     ``folder``: ``<attempt>/imagenet_<n>pct``, ``images``: the files linked into it
pretrain   ``ckpt``: the run's checkpoint (solo keeps the last one), ``folder``: its run folder;
           an attempt that went on from an earlier one's checkpoint: ``resumed_from`` too (and
           when it had nothing left to train, that checkpoint is the result)
linear,    ``top1``: the best ``val_acc1`` over the epochs (%), as the reference reports
semisup,   (``best_acc1``), ``top1_last``, ``best_epoch``: from the ``metrics.json`` that
inat18     ``e2mc-plugin linear`` writes beside the checkpoint
voc07      ``map``: the test mAP (%) of ``e2mc-plugin voc07-svm --out <attempt>/voc07.json``
=========  ====================================================================================

A launcher that exited 0 but left no such output is a failed stage (:class:`ResultError`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from e2mc_plugin.reproduce.plan import Stage

__all__ = ["ResultError", "read_result"]

_METRICS = "metrics.json"  # written by the launcher's RunSummary (solo/launch/run_summary.py)


class ResultError(RuntimeError):
    """The stage's command exited 0 but its output is missing or incomplete."""


def _one(found: List[Path], what: str, where: Path) -> Path:
    if len(found) != 1:
        listed = ", ".join(str(p) for p in found) or "none"
        raise ResultError(f"expected one {what} under {where}, found {len(found)}: {listed}")
    return found[0]


def _checkpoint_run(attempt: Path, resumed_from: Optional[Path]) -> Dict[str, Any]:
    ckpt_dir = attempt / "ckpt"
    found = sorted(ckpt_dir.rglob("*.ckpt"))
    if not found and resumed_from is not None:
        # the launcher exited 0 without training: the run it went on from had no epoch left
        ckpt = resumed_from
    else:
        ckpt = _one(found, "checkpoint (*.ckpt)", ckpt_dir)
    result = {"ckpt": str(ckpt), "folder": str(ckpt.parent)}
    if resumed_from is not None:
        result["resumed_from"] = str(resumed_from)
    return result


def _probe(attempt: Path) -> Dict[str, Any]:
    ckpt_dir = attempt / "ckpt"
    path = _one(sorted(ckpt_dir.rglob(_METRICS)), _METRICS, ckpt_dir)
    record = json.loads(path.read_text())
    summary = record.get("val_acc1")
    if not summary or summary.get("best") is None:
        raise ResultError(f"{path}: no val_acc1 (the run never validated)")
    return {
        "top1": float(summary["best"]),
        "top1_last": float(summary["last"]),
        "best_epoch": int(summary["best_epoch"]),
        "metrics": str(path),
    }


def read_result(stage: Stage, attempt: Path, resumed_from: Optional[Path] = None) -> Dict[str, Any]:
    """The result of ``stage`` from ``attempt`` (see the module table); ``resumed_from``: the
    checkpoint a pretraining attempt went on from."""
    kind = stage.kind
    if kind == "convert":
        ckpt = attempt / "base" / "base.ckpt"
        if not ckpt.is_file():
            raise ResultError(f"{ckpt}: not written")
        return {"ckpt": str(ckpt), "folder": str(ckpt.parent)}
    if kind == "subset":
        folder = attempt / f"imagenet_{stage.labels}pct"
        if not folder.is_dir():
            raise ResultError(f"{folder}: not written")
        return {
            "folder": str(folder),
            "images": sum(1 for p in folder.rglob("*") if not p.is_dir()),
        }
    if kind == "pretrain":
        return _checkpoint_run(attempt, resumed_from)
    if kind in ("linear", "semisup", "inat18"):
        return _probe(attempt)
    if kind == "voc07":
        path = attempt / "voc07.json"
        if not path.is_file():
            raise ResultError(f"{path}: not written")
        return {"map": 100.0 * float(json.loads(path.read_text())["mAP"]), "json": str(path)}
    raise ValueError(f"stage {stage.id}: unknown kind {kind!r}")
