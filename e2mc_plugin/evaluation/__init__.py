"""Evaluation of frozen embeddings: kNN / linear probes and paired significance tests."""

from e2mc_plugin.evaluation.probes import accuracy, knn_predict, label_subset, linear_probe_predict
from e2mc_plugin.evaluation.significance import (
    McNemarResult,
    PermutationResult,
    compare_predictions,
    mcnemar,
    paired_permutation_test,
)

__all__ = [
    "McNemarResult",
    "PermutationResult",
    "accuracy",
    "compare_predictions",
    "knn_predict",
    "label_subset",
    "linear_probe_predict",
    "mcnemar",
    "paired_permutation_test",
]
