"""PASCAL VOC07 classification with per-class linear SVMs on frozen features (mAP).

The transfer protocol of the E2MC paper (Appendix A.2.3 / B.2.3 in its two versions), which follows
the benchmark of Goyal et al. 2019 ("Scaling and benchmarking self-supervised visual
representation learning", fair_self_supervision_benchmark ``tools/svm``) as SwAV does:

- features: the 2048-d globally pooled ResNet-50 features, each row L2-normalized
  (``x / (||x|| + 1e-5)``);
- one ``sklearn.svm.LinearSVC`` per class (squared hinge, L2, dual, class weights
  {+1: 2, -1: 1}, tol 1e-4, 2000 iterations); labels 1 = present, 0 = absent, -1 = difficult:
  difficult images count as negatives in training and are left out of the test AP;
- the cost C of each class is the one with the best mean AP over a 3-fold cross-validation on
  trainval (first best on ties), then the SVM is refit on all of trainval. The grid is the
  paper's (A.2.3 / B.2.3, :data:`PAPER_COSTS`, the default); the benchmark's own grid is
  :data:`BENCHMARK_COSTS` (``COST_GRIDS`` names both);
- a class with fewer trainval positives (or negatives) than folds cannot be cross-validated as
  is: a fold without a positive gives every cost the same AP, and the first cost would win by
  default. Such a class is cross-validated over as many folds as it has positives (each fold
  then holds one), and a class with a single positive skips the selection and takes
  :data:`FALLBACK_COST`; both cases are reported (:attr:`SVMResult.notes`, and a warning naming
  the class). A class without a positive or without a negative is an error;
- AP: area under the precision envelope (precision made non-increasing from the right), summed
  over the recall steps (the benchmark's ``calculate_ap``); the VOC07 devkit's 11-point AP is
  available as ``ap="11point"``. mAP = mean over classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    "BENCHMARK_COSTS",
    "COST_GRIDS",
    "CostSelectionWarning",
    "FALLBACK_COST",
    "PAPER_COSTS",
    "VOC07_COSTS",
    "VOC07_CLASSES",
    "normalize_rows",
    "average_precision",
    "voc07_11point_ap",
    "SVMResult",
    "train_and_test_svms",
]

#: The paper's C grid (A.2.3 / B.2.3: the library's defaults "did not work well"); the default.
PAPER_COSTS: tuple = (
    1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3,
    1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0,
)  # fmt: skip

#: The grid of the benchmark the protocol comes from (Goyal et al. 2019,
#: fair_self_supervision_benchmark): its VOC07 ``--costs_list`` (1e-7 ... 100, decades) plus the
#: ``0.5 ** k`` (k = 4..19) that its ``parse_cost_list`` always appends.
BENCHMARK_COSTS: tuple = tuple([10.0**e for e in range(-7, 3)] + [0.5**k for k in range(4, 20)])

#: The named grids (``e2mc-plugin voc07-svm --cost-grid NAME``).
COST_GRIDS: Dict[str, tuple] = {"paper": PAPER_COSTS, "benchmark": BENCHMARK_COSTS}

#: The default grid.
VOC07_COSTS: tuple = PAPER_COSTS

#: The cost of a class whose single trainval positive leaves nothing to cross-validate:
#: LIBLINEAR's and sklearn's default C (in both grids).
FALLBACK_COST: float = 1.0

VOC07_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)  # fmt: skip


def normalize_rows(features: np.ndarray) -> np.ndarray:
    """Each row divided by (its L2 norm + 1e-5), in float64."""
    x = np.asarray(features, dtype=np.float64)
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-5)


def _ranked_precision_recall(scores: np.ndarray, positive: np.ndarray):
    if positive.sum() == 0:
        raise ValueError("average precision is undefined without a positive example")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = positive[order].astype(np.float64)
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, hits.size + 1)
    recall = tp / hits.sum()
    return precision, recall


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Interpolated AP: sum over recall steps of the max precision at that recall or beyond.

    ``labels`` > 0 are positives, everything else negatives (drop difficult ones before).
    """
    precision, recall = _ranked_precision_recall(scores, np.asarray(labels) > 0)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))


def voc07_11point_ap(scores: np.ndarray, labels: np.ndarray) -> float:
    """VOC2007 devkit AP: mean over t in {0, 0.1, ..., 1} of the max precision at recall >= t."""
    precision, recall = _ranked_precision_recall(scores, np.asarray(labels) > 0)
    points = []
    for t in np.linspace(0.0, 1.0, 11):
        reached = precision[recall >= t - 1e-12]
        points.append(reached.max() if reached.size else 0.0)
    return float(np.mean(points))


_AP = {"interpolated": average_precision, "11point": voc07_11point_ap}


class CostSelectionWarning(UserWarning):
    """A class whose cost could not be chosen by the requested cross-validation."""


@dataclass
class SVMResult:
    classes: List[str]
    chosen_cost: List[float]
    cv_ap: np.ndarray  # (classes, costs) mean cross-validation AP on trainval (NaN: not run)
    test_ap: np.ndarray  # (classes,)
    costs: List[float] = field(default_factory=list)
    notes: Dict[str, str] = field(default_factory=dict)  # class -> how its cost was chosen

    @property
    def mean_ap(self) -> float:
        return float(np.mean(self.test_ap))

    def as_dict(self) -> Dict[str, object]:
        return {
            "mAP": self.mean_ap,
            "ap": dict(zip(self.classes, map(float, self.test_ap), strict=True)),
            "chosen_cost": dict(zip(self.classes, self.chosen_cost, strict=True)),
            "costs": list(self.costs),
            "notes": dict(self.notes),
        }


def _svm(cost: float, seed: int):
    from sklearn.svm import LinearSVC

    return LinearSVC(
        C=cost,
        class_weight={1: 2, -1: 1},
        penalty="l2",
        loss="squared_hinge",
        dual=True,
        tol=1e-4,
        max_iter=2000,
        intercept_scaling=1.0,
        random_state=seed,
    )


def _svm_targets(labels: np.ndarray) -> np.ndarray:
    """1 -> +1; 0 (absent) and -1 (difficult) -> -1, as the benchmark trains."""
    return np.where(np.asarray(labels) > 0, 1, -1)


def _cv_folds(name: str, y: np.ndarray, folds: int) -> Tuple[int, str]:
    """(folds to cross-validate with, 0 = none; a note, empty when nothing changed) of a class
    with targets ``y`` in {+1, -1}."""
    positives, negatives = int(np.sum(y > 0)), int(np.sum(y < 0))
    fewest = min(positives, negatives)
    kind = "positive" if positives <= negatives else "negative"
    if fewest == 0:
        raise ValueError(
            f"class {name!r}: no {kind} trainval image ({positives} positives, "
            f"{negatives} negatives): its SVM cannot be trained"
        )
    if fewest >= folds:
        return folds, ""
    if fewest >= 2:
        return fewest, (
            f"class {name!r}: {fewest} {kind} trainval images, fewer than --folds {folds}: "
            f"cross-validated over {fewest} folds (one {kind} in each)"
        )
    return 0, (
        f"class {name!r}: 1 {kind} trainval image: no cross-validation can rank the costs; "
        f"C = {FALLBACK_COST:g} (the fallback cost)"
    )


def _one_class(name, xtr, ytr, xte, yte, costs, folds, ap, seed):
    """(CV APs over costs, chosen cost, test AP, note) of one class; labels in {1, 0, -1}."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    y = _svm_targets(ytr)
    keep = yte != -1  # difficult: not scored
    if not np.any(yte[keep] > 0):
        raise ValueError(f"class {name!r}: no positive test image: its AP is undefined")
    used, note = _cv_folds(name, y, folds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if used:
            # StratifiedKFold is what cross_val_score(cv=int) uses for a classifier
            split = StratifiedKFold(n_splits=used)
            cv = np.array(
                [
                    cross_val_score(
                        _svm(c, seed), xtr, y, cv=split, scoring="average_precision"
                    ).mean()
                    for c in costs
                ]
            )
            best = costs[int(np.argmax(cv))]  # first best on ties
        else:
            cv, best = np.full(len(costs), np.nan), FALLBACK_COST
        clf = _svm(best, seed).fit(xtr, y)
    return cv, best, _AP[ap](clf.decision_function(xte[keep]), yte[keep]), note


def train_and_test_svms(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    *,
    costs: Sequence[float] = VOC07_COSTS,
    classes: Optional[Sequence[str]] = None,
    folds: int = 3,
    ap: str = "interpolated",
    seed: int = 0,
    jobs: int = 1,
) -> SVMResult:
    """Per-class SVMs with C chosen by ``folds``-fold CV AP on (train_x, train_y); test APs.

    Shapes: train_x (n, D), train_y (n, K) in {1, 0, -1}; test_x (m, D), test_y (m, K).
    Features are L2-normalized here (:func:`normalize_rows`). ``jobs`` classes run in parallel
    (joblib processes; the result does not depend on it). A class with fewer positives than
    ``folds`` is handled as the module doc says, with a :class:`CostSelectionWarning` naming it.
    """
    import warnings

    from joblib import Parallel, delayed

    if ap not in _AP:
        raise ValueError(f"ap must be one of {', '.join(_AP)}, got {ap!r}")
    if int(folds) != folds or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
    costs = [float(c) for c in costs]
    if not costs or not all(c > 0 and np.isfinite(c) for c in costs):
        raise ValueError(f"costs must be positive finite numbers, got {costs}")
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    if train_y.ndim != 2 or test_y.ndim != 2 or train_y.shape[1] != test_y.shape[1]:
        raise ValueError(f"labels must be (n, K) and (m, K); got {train_y.shape}, {test_y.shape}")
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise ValueError(
            f"features and labels must have the same number of rows: train {len(train_x)} "
            f"features, {len(train_y)} labels; test {len(test_x)} features, {len(test_y)} labels"
        )
    k = train_y.shape[1]
    names = list(classes) if classes is not None else [f"class{i}" for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} class names ({' '.join(names)}) for {k} label columns")
    xtr, xte = normalize_rows(train_x), normalize_rows(test_x)
    per_class = Parallel(n_jobs=jobs)(
        delayed(_one_class)(names[c], xtr, train_y[:, c], xte, test_y[:, c], costs, folds, ap, seed)
        for c in range(k)
    )
    notes = {names[c]: r[3] for c, r in enumerate(per_class) if r[3]}
    for note in notes.values():
        warnings.warn(note, CostSelectionWarning, stacklevel=2)
    cv_ap = np.stack([r[0] for r in per_class])
    chosen = [r[1] for r in per_class]
    test_ap = np.array([r[2] for r in per_class])
    return SVMResult(names, chosen, cv_ap, test_ap, costs, notes)
