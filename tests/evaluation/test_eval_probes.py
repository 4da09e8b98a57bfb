"""kNN / linear probes and the labelled-subset selection."""

from __future__ import annotations

import numpy as np

from e2mc_plugin.evaluation.probes import accuracy, knn_predict, label_subset, linear_probe_predict


def test_eval_label_subset_is_stratified_seeded_and_sorted():
    y = np.repeat(np.arange(10), 50)
    keep = label_subset(y, 0.1, seed=1)
    assert np.array_equal(keep, np.sort(keep)) and np.array_equal(
        keep, label_subset(y, 0.1, seed=1)
    )
    assert np.array_equal(np.bincount(y[keep]), np.full(10, 5))
    assert np.array_equal(label_subset(y, 1.0), np.arange(500))
    assert np.bincount(y[label_subset(y, 0.001)]).min() == 1  # at least one per class


def test_eval_knn_matches_brute_force_loop():
    rng = np.random.default_rng(0)
    tr, te = rng.normal(size=(60, 5)), rng.normal(size=(15, 5))
    ytr = rng.integers(0, 4, 60)
    pred = knn_predict(tr, ytr, te, k=7, temperature=0.1)
    trn = tr / np.linalg.norm(tr, axis=1, keepdims=True)
    for i, q in enumerate(te / np.linalg.norm(te, axis=1, keepdims=True)):
        sims = trn @ q
        nn = np.argsort(-sims)[:7]
        votes = np.zeros(4)
        for j in nn:
            votes[ytr[j]] += np.exp(sims[j] / 0.1)
        assert pred[i] == votes.argmax()


def test_eval_probes_separate_clusters():
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(3, 8)) * 5
    y = rng.integers(0, 3, 200)
    x = centers[y] + rng.normal(size=(200, 8))
    assert accuracy(y[100:], knn_predict(x[:100], y[:100], x[100:], k=5, weighted=False)) == 1.0
    assert accuracy(y[100:], linear_probe_predict(x[:100], y[:100], x[100:])) == 1.0
