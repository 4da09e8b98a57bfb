"""Training the demo's base to a plateau of its kNN accuracy, as in the paper's premise (a base so
well trained that more epochs of its own loss alone gain about nothing).

Two phases, each run to its plateau: the base lr, then a cool-down at the continued stage's lr
(the paper's bases end a cosine schedule near lr 0, so continuing them at a small lr is not a
fresh annealing; a constant-lr base continued at a lower lr would gain from the lower lr alone).

Criterion (:class:`PlateauCriterion`), in each phase: every ``eval_every`` epochs, the accuracy
of a kNN probe (k = ``knn_k``, cosine, all labels) 5-fold cross-validated over the pretraining
split (the held-out test split is never looked at). Training stops when the best score has not
improved by at least ``min_delta`` for ``patience`` evaluations in a row, or at ``max_epochs``.
The model kept is the last one (the plateau itself, not a selected best). The untrained model's
score is drawn on the curve (epoch 0) but does not count as a best: random resnet features are
already good on digits, and the first SSL epochs can dip below them.
"""

from __future__ import annotations

import csv
import os
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from torch import nn

from e2mc_plugin.datasets.digits import DigitsSplit, eval_loader

__all__ = [
    "PlateauCriterion",
    "PlateauTracker",
    "knn_monitor",
    "plateau_callback",
    "write_curve",
    "read_curve",
    "plot_curve",
]


@dataclass(frozen=True)
class PlateauCriterion:
    # the demo's defaults (DemoConfig reads them): every 3 epochs with patience 4 waits 12 epochs
    # past the best (every 5 with patience 3 waited 15, 30 % of the base's epochs)
    eval_every: int = 3
    patience: int = 4
    min_delta: float = 0.005  # accuracy (0.5 points)
    max_epochs: int = 100

    def __post_init__(self) -> None:
        for name in ("eval_every", "patience", "max_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"plateau criterion: {name} must be >= 1")

    def describe(self) -> str:
        return (
            f"kNN every {self.eval_every} ep; stop when the best has not improved by >= "
            f"{100 * self.min_delta:g} points for {self.patience} evaluations; cap "
            f"{self.max_epochs} ep"
        )


@dataclass
class PlateauTracker:
    """The stopping rule, alone: feed ``(epoch, accuracy)``; :meth:`update` says when to stop."""

    criterion: PlateauCriterion
    offset: int = 0  # epochs trained before this phase (the cap counts from here)
    history: List[Tuple[int, float]] = field(default_factory=list)
    best: float = float("-inf")
    best_epoch: int = 0
    stale: int = 0
    reason: Optional[str] = None  # "plateau" | "cap" once stopped

    def record(self, epoch: int, acc: float) -> None:
        """A point of the curve that does not count for the rule (the untrained model)."""
        self.history.append((epoch, acc))

    def update(self, epoch: int, acc: float) -> bool:
        self.history.append((epoch, acc))
        if acc >= self.best + self.criterion.min_delta:
            self.best, self.best_epoch, self.stale = acc, epoch, 0
        else:
            self.stale += 1
        if self.stale >= self.criterion.patience:
            self.reason = "plateau"
        elif epoch - self.offset >= self.criterion.max_epochs:
            self.reason = "cap"
        return self.reason is not None


def knn_monitor(split: DigitsSplit, *, k: int, seed: int) -> Callable[[nn.Module], float]:
    """``model -> accuracy`` of a kNN probe, 5-fold cross-validated over the pretraining split.

    Every training digit is scored once (by a kNN fit on the other 4 folds): 1257 scored examples
    at the default size, so that noise does not pass for progress.
    """
    from sklearn.model_selection import StratifiedKFold

    from e2mc_plugin.evaluation.probes import knn_predict
    from e2mc_plugin.solo.api import extract_features

    y = split.train_y.numpy()
    folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(np.zeros(y.size), y))
    loader = eval_loader(split, split.train_x, split.train_y)

    def score(model: nn.Module) -> float:
        x = extract_features(model, loader).features.numpy()
        hits = 0
        for fit_idx, val_idx in folds:
            pred = knn_predict(x[fit_idx], y[fit_idx], x[val_idx], k=min(k, fit_idx.size))
            hits += int((pred == y[val_idx]).sum())
        return hits / y.size

    return score


def plateau_callback(
    tracker: PlateauTracker,
    score: Callable[[nn.Module], float],
    log: Callable[[str], None],
    *,
    score_start: bool = True,
):
    """A Lightning callback: scores the model before training (``score_start``) and every
    ``eval_every`` epochs, and sets ``trainer.should_stop`` when ``tracker`` says so."""
    from e2mc_plugin.solo.host import compat

    pl = compat.lightning()
    crit = tracker.criterion

    class _Plateau(pl.Callback):
        def on_train_start(self, trainer, pl_module) -> None:
            # random-init features are already good on digits: the rule starts from epoch 1 on
            if score_start:
                tracker.record(tracker.offset, score(pl_module))

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            local = trainer.current_epoch + 1
            if local % crit.eval_every and local < crit.max_epochs:
                return
            acc = score(pl_module)
            epoch = tracker.offset + local
            stop = tracker.update(epoch, acc)
            log(
                f"[base] epoch {epoch}: monitor kNN {100 * acc:.2f} % (best "
                f"{100 * tracker.best:.2f} at {tracker.best_epoch}, {tracker.stale} stale)"
            )
            if stop:
                trainer.should_stop = True

    return _Plateau()


def write_curve(history: Sequence[Tuple[int, float]], path: str) -> str:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "knn_monitor_accuracy"])
        for epoch, acc in history:
            w.writerow([epoch, f"{acc:.6f}"])
    return path


def read_curve(path: str) -> List[Tuple[int, float]]:
    with open(path, newline="") as f:
        return [(int(r["epoch"]), float(r["knn_monitor_accuracy"])) for r in csv.DictReader(f)]


def plot_curve(
    history: Sequence[Tuple[int, float]], path: str, info: Dict[str, Any], criterion: str
) -> str:
    """The base's learning curve: monitor kNN accuracy against epochs, stop and best marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [e for e, _ in history]
    acc = [100 * a for _, a in history]
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    ax.plot(epochs, acc, "o-", color="#4c72b0", ms=3, lw=1.4, label="kNN, 5-fold CV on train")
    for i, phase in enumerate(info.get("phases", [])):
        end = phase["end_epoch"]
        ax.axvline(end, color="grey", ls=":" if i else "--", lw=1)
        ax.annotate(
            f"lr {phase['lr']:g}: {phase['reason']}",
            (end, min(acc)),
            fontsize=6,
            rotation=90,
            ha="right",
            va="bottom",
        )
    best = max(acc)
    ax.axhspan(best - 100 * info.get("min_delta", 0.0), best, color="#55a868", alpha=0.15)
    ax.set_xlabel("base epoch", fontsize=8)
    ax.set_ylabel("top-1 (%)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("Base learning curve\n" + "\n".join(textwrap.wrap(criterion, 80)), fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
