"""Evaluation of frozen embeddings: kNN / linear probes and paired significance tests.

Also (imported from their modules, not here, to keep this import light): ``probe_head`` (the
iNat18 res5 transfer head), ``voc07`` (per-class linear SVMs, AP / mAP) and ``voc07_cli``
(``e2mc-plugin voc07-svm``).
"""

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
