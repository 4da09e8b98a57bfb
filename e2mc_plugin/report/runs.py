"""Reading solo-learn run folders for ``e2mc-plugin report``.

A run folder is what ``main_pretrain.py`` writes (``trained_models/<method>/<id>/``): the
checkpoint(s) and ``args.json`` (the resolved recipe). From ``args.json`` the report reads the
method, the seed (``seed``, default 0) and the auxiliary-loss coefficients (``aux_losses``; an
empty list is the "continued" baseline). solo-learn logs probe accuracies to its logger only, so
the results come from a file in the run folder, :data:`RESULTS_FILE`::

    {"results": [
        {"probe": "knn", "labels": 1.0, "accuracy": 0.712,
         "predictions": "knn_100.npz"},            # optional: arrays "pred" and "target"
        {"probe": "linear", "labels": 0.1, "accuracy": 0.655}],
     "entropy_mean": -0.41}                          # optional

``accuracy`` is a fraction in [0, 1] (values above 1 are read as percent). ``predictions`` is a
path relative to the run folder; paired tests are made where a run and the baseline of the same
seed both saved predictions of the same targets.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = ["RESULTS_FILE", "Run", "find_runs", "read_run", "collect", "BASELINE"]

RESULTS_FILE = "e2mc_results.json"
BASELINE = "continued"


@dataclass
class Run:
    path: str
    method: str
    seed: int
    coefficients: Dict[str, float]  # flattened "<loss>.<key>" -> value; {} for the baseline
    results: List[Dict[str, Any]] = field(default_factory=list)
    entropy_mean: Optional[float] = None


def find_runs(paths: Sequence[str]) -> List[str]:
    """Run folders (holding ``args.json``) among ``paths`` and below them, sorted."""
    found: List[str] = []
    for p in paths:
        if not os.path.isdir(p):
            raise FileNotFoundError(f"report: {p} is not a folder")
        for root, _, files in os.walk(p):
            if "args.json" in files:
                found.append(root)
    if not found:
        raise FileNotFoundError(f"report: no run folder (with args.json) under {', '.join(paths)}")
    return sorted(dict.fromkeys(found))


def _coefficients(aux_losses: Any) -> Dict[str, float]:
    out: Dict[str, float] = {}
    for spec in aux_losses or []:
        name = spec.get("name", "aux")
        for key, value in spec.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[f"{name}.{key}"] = float(value)
    return out


def read_run(path: str) -> Run:
    """One run folder: ``args.json`` + :data:`RESULTS_FILE` (missing results: an empty list)."""
    with open(os.path.join(path, "args.json")) as f:
        args = json.load(f)
    run = Run(
        path=path,
        method=str(args.get("method", "?")),
        seed=int(args.get("seed", 0) or 0),
        coefficients=_coefficients(args.get("aux_losses")),
    )
    results_path = os.path.join(path, RESULTS_FILE)
    if os.path.isfile(results_path):
        with open(results_path) as f:
            data = json.load(f)
        for r in data.get("results", []):
            acc = float(r["accuracy"])
            run.results.append({**r, "accuracy": acc / 100 if acc > 1 else acc})
        run.entropy_mean = data.get("entropy_mean")
    return run


def _predictions(run: Run, r: Mapping[str, Any]) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    if not r.get("predictions"):
        return None
    with np.load(os.path.join(run.path, r["predictions"])) as z:
        return np.asarray(z["pred"]), np.asarray(z["target"])


def _varying(runs: Sequence[Run]) -> List[str]:
    """Coefficients that differ among the non-baseline runs (all of them if none differ)."""
    keys = list(dict.fromkeys(k for r in runs for k in r.coefficients))
    vary = [k for k in keys if len({r.coefficients.get(k) for r in runs if r.coefficients}) > 1]
    return vary or keys


def collect(runs: Sequence[Run], *, n_permutations: int = 10_000) -> Dict[str, Any]:
    """The records of :mod:`e2mc_plugin.report.table` from runs (model = varying coefficients)."""
    from e2mc_plugin.evaluation.significance import compare_predictions

    keys = _varying(runs)
    short = {k: k.split(".", 1)[1] if k.count(".") == 1 else k for k in keys}
    if len(set(short.values())) < len(short):
        short = {k: k for k in keys}
    coefficients: Dict[str, Dict[str, float]] = {}
    rows, entropy, preds = [], [], {}
    for run in runs:
        if run.coefficients:
            c = {short[k]: run.coefficients[k] for k in keys if k in run.coefficients}
            model = ",".join(f"{k}={v:g}" for k, v in c.items()) or "aux"
            coefficients[model] = c
        else:
            model = BASELINE
        entropy.append({"seed": run.seed, "model": model, "entropy_mean": run.entropy_mean})
        for r in run.results:
            cell = (r["probe"], float(r.get("labels", 1.0)))
            rows.append(
                {"seed": run.seed, "model": model, "probe": cell[0], "labels": cell[1]}
                | {"accuracy": r["accuracy"], "run": run.path}
            )
            p = _predictions(run, r)
            if p is not None:
                preds[(model, run.seed, cell)] = p
    significance = []
    for (model, seed, cell), (pred, target) in preds.items():
        ref = preds.get((BASELINE, seed, cell))
        if model == BASELINE or ref is None or not np.array_equal(ref[1], target):
            continue
        test = compare_predictions(target, pred, ref[0], n_resamples=n_permutations, seed=seed)
        significance.append(
            {"seed": seed, "a": model, "b": BASELINE, "probe": cell[0], "labels": cell[1]} | test
        )
    return {
        "rows": rows,
        "significance": significance,
        "entropy": entropy,
        "coefficients": coefficients,
        "keys": [short[k] for k in keys],
    }
