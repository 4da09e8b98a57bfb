"""Probes of one model on the digits: kNN and linear on frozen backbone features, trained with a
fraction of the pretraining split's labels and tested on the held-out split, plus the mean
per-dimension m-spacings entropy of the mapped projector outputs on that split."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from torch import nn

from e2mc_plugin.datasets.digits import DigitsSplit, eval_loader
from e2mc_plugin.evaluation.probes import accuracy, knn_predict, label_subset, linear_probe_predict

__all__ = ["EvalResult", "evaluate"]


@dataclass
class EvalResult:
    """Probe predictions on the held-out split: keys ``(probe, label_fraction)``."""

    predictions: Dict[Tuple[str, float], np.ndarray] = field(default_factory=dict)
    accuracy: Dict[Tuple[str, float], float] = field(default_factory=dict)
    test_labels: Optional[np.ndarray] = None
    entropy_mean: Optional[float] = None  # mean per-dim entropy of Psi(z), held-out split
    test_projections: Optional[np.ndarray] = None  # (n_test, d) raw z, for the figures


def evaluate(
    model: nn.Module,
    split: DigitsSplit,
    *,
    label_fractions: Sequence[float] = (0.1, 1.0),
    knn_k: int = 20,
    seed: int = 0,
    mapping: Optional[str] = None,
) -> EvalResult:
    """kNN (cosine, ``exp(sim / 0.07)``-weighted) and linear probes on frozen backbone features.

    With ``mapping`` (a criteria mapping name), also the mean m-spacings entropy per dimension of
    ``mapping(z)`` on the held-out split (0 = uniform).
    """
    from e2mc_plugin.solo.api import extract_features

    train = extract_features(model, eval_loader(split, split.train_x, split.train_y))
    test = extract_features(model, eval_loader(split, split.test_x, split.test_y))
    tr_x, tr_y = train.features.numpy(), train.labels.numpy()
    te_x, te_y = test.features.numpy(), test.labels.numpy()
    out = EvalResult(test_labels=te_y, test_projections=test.projections.numpy())
    for frac in label_fractions:
        keep = label_subset(tr_y, frac, seed=seed)
        preds = {
            "knn": knn_predict(tr_x[keep], tr_y[keep], te_x, k=knn_k),
            "linear": linear_probe_predict(tr_x[keep], tr_y[keep], te_x, seed=seed),
        }
        for probe, pred in preds.items():
            out.predictions[(probe, frac)] = pred
            out.accuracy[(probe, frac)] = accuracy(te_y, pred)
    if mapping is not None:
        from e2mc_plugin.diagnostics.stats import map_embeddings, per_dim_entropy

        out.entropy_mean = float(per_dim_entropy(map_embeddings(test.projections, mapping)).mean())
    return out
