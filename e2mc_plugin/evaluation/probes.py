"""Frozen-feature probes: kNN and linear classifiers on extracted embeddings.

Pure numpy / scikit-learn; features are (n, D) arrays, labels (n,) ints. Both probes return the
predicted labels of the test set so that two models can be compared with the paired tests in
:mod:`e2mc_plugin.evaluation.significance`.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["label_subset", "knn_predict", "linear_probe_predict", "accuracy"]


def label_subset(labels: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Indices of a class-stratified ``fraction`` of ``labels`` (at least one per class), sorted.

    The semi-supervised protocol: a probe sees only these labelled training examples.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    labels = np.asarray(labels)
    if fraction == 1.0:
        return np.arange(labels.size)
    rng = np.random.default_rng(seed)
    keep = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        k = max(1, int(round(fraction * idx.size)))
        keep.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(keep))


def _l2_normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def knn_predict(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    *,
    k: int = 20,
    temperature: float = 0.07,
    weighted: bool = True,
) -> np.ndarray:
    """Cosine kNN (the InstDisc / solo-learn weighting ``exp(sim / T)``) or plain majority vote.

    Returns (n_test,) predicted labels. Ties in the vote go to the smallest class id.
    """
    train_y = np.asarray(train_y)
    classes, y_idx = np.unique(train_y, return_inverse=True)
    k = int(min(k, train_x.shape[0]))
    sim = _l2_normalize(test_x) @ _l2_normalize(train_x).T  # (n_test, n_train)
    nn = np.argpartition(-sim, kth=k - 1, axis=1)[:, :k]
    nn_sim = np.take_along_axis(sim, nn, axis=1)
    w = np.exp(nn_sim / temperature) if weighted else np.ones_like(nn_sim)
    votes = np.zeros((sim.shape[0], classes.size))
    np.add.at(votes, (np.arange(sim.shape[0])[:, None], y_idx[nn]), w)
    return classes[votes.argmax(axis=1)]


def linear_probe_predict(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    *,
    C: float = 1.0,
    max_iter: int = 1000,
    seed: Optional[int] = 0,
) -> np.ndarray:
    """Multinomial logistic regression on standardized frozen features (lbfgs).

    Standardization statistics come from the labelled training subset only.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(
        StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    )
    clf.fit(np.asarray(train_x, dtype=np.float64), np.asarray(train_y))
    return clf.predict(np.asarray(test_x, dtype=np.float64))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of correct predictions, in [0, 1]."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shape mismatch {y_true.shape} vs {y_pred.shape}")
    return float((y_true == y_pred).mean())
