"""What a run leaves behind, printed at its end: checkpoint folder, metrics file, final metrics.

Pretrain / linear: :func:`fit_record` reads a finished Lightning ``Trainer`` (solo's
``Checkpointer`` folder and last checkpoint, ``trainer.callback_metrics``), :func:`write_record`
stores it as ``metrics.json`` beside the checkpoints. kNN (``main_knn.py`` only prints):
:func:`parse_knn` reads its printed results (``Result: acc@1=..., acc@5=...`` after each
``Running k-NN with params: ...`` under ``### BACKBONE ###`` / ``### PROJECTOR ###``), and the
launcher writes them as ``knn_metrics.json`` into the evaluated checkpoint folder.

Linear probes and fine-tuning (``linear``): the reference reports the best epoch's top-1
(``best_acc1``), solo logs ``val_acc1`` per epoch. :class:`BestEpoch` watches each validation
(not Lightning's sanity check) and the record carries both, ``{"val_acc1": {"last",
"last_epoch", "best", "best_epoch"}}`` (epochs counted from 0, as solo's ``ep=N`` names; the
first epoch wins a tie, as the reference's ``max``).

A resumed fit (``resume_from_checkpoint``, solo's ``auto_resume``, ``fit(ckpt_path=...)``) says
where it went on from at its first training epoch: :func:`resume_record` (the checkpoint, the
epoch being trained and the global step restored), printed by :func:`format_resumed` and kept
in the record as ``resumed_from``.
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, TextIO

__all__ = [
    "BEST_METRIC",
    "METRICS_FILE",
    "BestEpoch",
    "KNN_METRICS_FILE",
    "Tee",
    "fit_record",
    "format_record",
    "format_resumed",
    "knn_summary",
    "parse_knn",
    "resume_record",
    "umap_summary",
    "write_record",
]

METRICS_FILE = "metrics.json"
KNN_METRICS_FILE = "knn_metrics.json"
BEST_METRIC = "val_acc1"  # the reference's ``best_acc1``

_FEATURE = re.compile(r"^### (\w+) ###$")
_PARAMS = re.compile(r"^Running k-NN with params: (.*?)\.\.\.$")
_RESULT = re.compile(r"^Result: acc@1=([^,]+), acc@5=(\S+)$")


def _number(value: Any) -> Any:
    """A float for a scalar tensor / number (None for NaN stays NaN in JSON as null)."""
    try:
        out = float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError, RuntimeError):
        return str(value)
    return None if math.isnan(out) else out


def _checkpointer(trainer: Any) -> Optional[Any]:
    """solo-learn's ``Checkpointer`` among the trainer's callbacks (it picks the run folder)."""
    try:
        from solo.utils.checkpointer import Checkpointer
    except ImportError:  # pragma: no cover - a host without solo's checkpointer
        return None
    for callback in trainer.callbacks:
        if isinstance(callback, Checkpointer) and hasattr(callback, "path"):
            return callback
    return None


class BestEpoch:
    """The last and the best value of :data:`BEST_METRIC` over a fit's validations, with their
    epochs; :meth:`observe` after each validation (``on_validation_end``)."""

    def __init__(self) -> None:
        self.last: Optional[float] = None
        self.last_epoch: Optional[int] = None
        self.best: Optional[float] = None
        self.best_epoch: Optional[int] = None

    def observe(self, trainer: Any) -> None:
        if getattr(trainer, "sanity_checking", False):
            return
        value = trainer.callback_metrics.get(BEST_METRIC)
        value = _number(value) if value is not None else None
        if not isinstance(value, float):
            return
        self.last, self.last_epoch = value, int(trainer.current_epoch)
        if self.best is None or value > self.best:
            self.best, self.best_epoch = value, self.last_epoch

    def as_dict(self) -> Optional[Dict[str, Any]]:
        """None before any validation."""
        if self.last is None:
            return None
        return {
            "last": self.last,
            "last_epoch": self.last_epoch,
            "best": self.best,
            "best_epoch": self.best_epoch,
        }


def resume_record(trainer: Any) -> Optional[Dict[str, Any]]:
    """``{"checkpoint", "epoch", "global_step"}`` of a fit resumed from a checkpoint, read at its
    first training epoch's start (the epoch it trains, the step restored), or None."""
    path = getattr(trainer, "ckpt_path", None)
    if not path:
        return None
    return {
        "checkpoint": str(Path(path).resolve()),
        "epoch": int(trainer.current_epoch),
        "global_step": int(trainer.global_step),
    }


def format_resumed(command: str, resumed: Dict[str, Any]) -> str:
    """``e2mc-plugin pretrain: resumed from PATH at epoch 1, global step 2``."""
    return (
        f"e2mc-plugin {command}: resumed from {resumed['checkpoint']} at epoch "
        f"{resumed['epoch']}, global step {resumed['global_step']}"
    )


def fit_record(
    trainer: Any,
    command: str,
    best: Optional[BestEpoch] = None,
    resumed: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """``{"command", "folder", "checkpoint", "epoch", "global_step", "metrics"}`` of a finished
    fit, plus ``BEST_METRIC: {"last", "last_epoch", "best", "best_epoch"}`` when ``best`` saw a
    validation and ``resumed_from`` (:func:`resume_record`) for a resumed fit; ``folder`` is
    solo's checkpoint folder (None without ``checkpoint.enabled``)."""
    ckpt = _checkpointer(trainer)
    folder = Path(ckpt.path).resolve() if ckpt is not None else None
    last = getattr(ckpt, "last_ckpt", None) if ckpt is not None else None
    metrics = {k: _number(v) for k, v in sorted(trainer.callback_metrics.items())}
    record = {
        "command": command,
        "folder": str(folder) if folder else None,
        "checkpoint": str(Path(last).resolve()) if last else None,
        "epoch": int(trainer.current_epoch),
        "global_step": int(trainer.global_step),
        "metrics": metrics,
    }
    summary = best.as_dict() if best is not None else None
    if summary is not None:
        record[BEST_METRIC] = summary
    if resumed is not None:
        record["resumed_from"] = resumed
    return record


def write_record(record: Dict[str, Any], path: Path) -> Optional[Path]:
    """Write ``record`` as JSON to ``path``; None (and nothing written) if the folder is not
    writable."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    except OSError:
        return None
    return path.resolve()


def format_record(record: Dict[str, Any], metrics_file: Optional[Path]) -> str:
    """The block printed at the end of a run."""
    lines = [f"e2mc-plugin {record['command']}: done"]
    folder = record.get("folder") or "(none: checkpoint.enabled is false)"
    lines.append(f"  checkpoint folder: {folder}")
    if record.get("checkpoint"):
        lines.append(f"  last checkpoint:   {record['checkpoint']}")
    lines.append(f"  metrics file:      {metrics_file or '(not written: folder not writable)'}")
    metrics = _headline(record.get("metrics") or {})
    if record.get("metrics") is not None:
        if not metrics:
            lines.append("  final metrics:     (none logged)")
        else:
            lines.append("  final metrics:")
            width = max(map(len, metrics))
            lines += [f"    {k:<{width}}  {_fmt(v)}" for k, v in metrics.items()]
    if record.get(BEST_METRIC):
        s = record[BEST_METRIC]
        lines.append(
            f"  {BEST_METRIC}:          last {_fmt(s['last'])} (epoch {s['last_epoch']}), "
            f"best {_fmt(s['best'])} (epoch {s['best_epoch']}; epochs from 0)"
        )
    for row in record.get("results", []):
        lines.append(
            f"  {row['feature']:<9} {row['params']}: acc@1={_fmt(row['acc1'])} "
            f"acc@5={_fmt(row['acc5'])}"
        )
    return "\n".join(lines)


def _headline(metrics: Dict[str, Any]) -> Dict[str, Any]:
    """The metrics without Lightning's ``<key>_step`` / ``<key>_epoch`` copies of a logged
    ``<key>`` (the file keeps them all)."""
    out = {}
    for key, value in metrics.items():
        base = key.rsplit("_", 1)[0]
        if key.endswith(("_step", "_epoch")) and base in metrics:
            continue
        out[key] = value
    return out


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def parse_knn(text: str) -> List[Dict[str, Any]]:
    """The results ``main_knn.py`` printed: one row per (feature, params) with acc@1, acc@5."""
    rows: List[Dict[str, Any]] = []
    feature, params = "", ""
    for line in text.splitlines():
        line = line.strip()
        if m := _FEATURE.match(line):
            feature = m.group(1).lower()
        elif m := _PARAMS.match(line):
            params = m.group(1)
        elif m := _RESULT.match(line):
            rows.append(
                {
                    "feature": feature,
                    "params": params,
                    "acc1": _number(m.group(1)),
                    "acc5": _number(m.group(2)),
                }
            )
    return rows


def _flag_value(args: Sequence[str], flag: str) -> Optional[str]:
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def knn_summary(args: Sequence[str], printed: str) -> None:
    """After ``e2mc-plugin knn``: its results (read from what ``main_knn.py`` printed) written
    to ``knn_metrics.json`` in the evaluated checkpoint folder, and printed."""
    folder = _flag_value(args, "--pretrained_checkpoint_dir")
    rows = parse_knn(printed)
    record = {"command": "knn", "folder": str(Path(folder).resolve()) if folder else None}
    record.update(metrics=None, results=rows)
    written = write_record(record, Path(folder) / KNN_METRICS_FILE) if folder and rows else None
    print("\n" + format_record(record, written), flush=True)


def umap_summary() -> None:
    """After ``e2mc-plugin umap``: the plots ``main_umap.py`` wrote (in the working folder)."""
    plots = [p.resolve() for p in map(Path, ("im100_train_umap.pdf", "im100_val_umap.pdf"))]
    found = [str(p) for p in plots if p.is_file()]
    print("\ne2mc-plugin umap: done\n  plots: " + (", ".join(found) or "(none written)"))


class Tee(io.TextIOBase):
    """A text stream writing to ``stream`` and keeping a copy (``getvalue()``)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._copy = io.StringIO()

    def write(self, text: str) -> int:
        self._copy.write(text)
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def getvalue(self) -> str:
        return self._copy.getvalue()
