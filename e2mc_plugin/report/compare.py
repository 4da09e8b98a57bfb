"""The runs of a report as the table's records: models (the varying coefficients), accuracy rows,
paired tests against the baseline of the same seed, and notes on replicates.

Runs stay distinct: two runs of one method with the same coefficients and the same seed (solo's
default seed is the same for every run) are two replicates of that model, both counted, and
:func:`collect` returns a note naming their folders and the ``args.json`` keys they differ in.
Runs of different methods never share a table: group them with :func:`by_method`. Reading the
run folders: :mod:`e2mc_plugin.report.runs`.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from e2mc_plugin.report.runs import BASELINE, RESULTS_FILE, Run, RunFolderError

__all__ = ["by_method", "collect"]


def by_method(runs: Sequence[Run]) -> Dict[str, List[Run]]:
    """Runs grouped by ``method``, methods sorted: each group is one table with its own
    baseline."""
    groups: Dict[str, List[Run]] = defaultdict(list)
    for run in runs:
        groups[run.method].append(run)
    return {m: groups[m] for m in sorted(groups)}


def _predictions(run: Run, r: Mapping[str, Any]) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    if not r.get("predictions"):
        return None
    path = os.path.join(run.path, r["predictions"])
    if not os.path.isfile(path):
        raise RunFolderError(
            f"{os.path.join(run.path, RESULTS_FILE)}: predictions file {r['predictions']!r} "
            f"not found in {run.path}"
        )
    with np.load(path) as z:
        if not {"pred", "target"} <= set(z.files):
            raise RunFolderError(f"{path}: needs arrays 'pred' and 'target', has {z.files}")
        return np.asarray(z["pred"]), np.asarray(z["target"])


def _varying(runs: Sequence[Run]) -> List[str]:
    """Coefficients that differ among the non-baseline runs (all of them if none differ)."""
    keys = list(dict.fromkeys(k for r in runs for k in r.coefficients))
    aux = [r for r in runs if not r.is_baseline]
    vary = [k for k in keys if len({r.coefficients.get(k) for r in aux}) > 1]
    return vary or keys


def _model(run: Run, keys: Sequence[str], short: Mapping[str, str]) -> Tuple[str, Dict]:
    """(label, coefficients shown) of a run."""
    if run.is_baseline:
        return BASELINE, {}
    c = {short[k]: run.coefficients[k] for k in keys if k in run.coefficients}
    label = ",".join(f"{k}={v:g}" for k, v in c.items()) or "+".join(run.losses)
    return label, c


def _replicate_notes(runs: Sequence[Run], models: Sequence[str]) -> List[str]:
    groups: Dict[Tuple[str, int], List[Run]] = defaultdict(list)
    for run, model in zip(runs, models, strict=True):
        groups[(model, run.seed)].append(run)
    notes = []
    for (model, seed), same in groups.items():
        if len(same) < 2:
            continue
        keys = sorted(set().union(*(r.args for r in same)))
        differ = [k for k in keys if len({json.dumps(r.args.get(k)) for r in same}) > 1]
        shown = ", ".join(differ[:6]) + (" ..." if len(differ) > 6 else "") or "nothing"
        notes.append(
            f"{len(same)} runs share model {model!r} and seed {seed}: counted as replicates "
            f"({', '.join(r.path for r in same)}); their args.json differs in {shown} (give "
            "each run its own seed=..., or report runs that differ in more than the seed "
            "separately)"
        )
    return notes


def collect(runs: Sequence[Run], *, n_permutations: int = 10_000) -> Dict[str, Any]:
    """The records of :mod:`e2mc_plugin.report.table` from the runs of ONE method (model = the
    varying coefficients), plus ``notes`` on runs that share a model and a seed."""
    from e2mc_plugin.evaluation.significance import compare_predictions

    methods = sorted({r.method for r in runs})
    if len(methods) > 1:
        raise ValueError(f"collect: one method per table, got {', '.join(methods)} (by_method)")
    keys = _varying(runs)
    short = {k: k.split(".", 1)[1] if k.count(".") == 1 else k for k in keys}
    if len(set(short.values())) < len(short):
        short = {k: k for k in keys}
    coefficients: Dict[str, Dict[str, float]] = {}
    rows, entropy = [], []
    preds: Dict[tuple, List[Tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    models = []
    for run in runs:
        model, c = _model(run, keys, short)
        models.append(model)
        if not run.is_baseline:
            coefficients[model] = c
        entropy.append({"seed": run.seed, "model": model, "entropy_mean": run.entropy_mean})
        for r in run.results:
            cell = (r["probe"], float(r.get("labels", 1.0)))
            rows.append(
                {"seed": run.seed, "model": model, "probe": cell[0], "labels": cell[1]}
                | {"accuracy": r["accuracy"], "run": run.path}
            )
            p = _predictions(run, r)
            if p is not None:
                preds[(model, run.seed, cell)].append(p)
    significance = []
    for (model, seed, cell), found in preds.items():
        ref = preds.get((BASELINE, seed, cell), [])
        if model == BASELINE or len(found) != 1 or len(ref) != 1:
            continue  # replicates: no single pair to test
        (pred, target), (ref_pred, ref_target) = found[0], ref[0]
        if not np.array_equal(ref_target, target):
            continue
        test = compare_predictions(target, pred, ref_pred, n_resamples=n_permutations, seed=seed)
        significance.append(
            {"seed": seed, "a": model, "b": BASELINE, "probe": cell[0], "labels": cell[1]} | test
        )
    return {
        "rows": rows,
        "significance": significance,
        "entropy": entropy,
        "coefficients": coefficients,
        "keys": [short[k] for k in keys],
        "notes": _replicate_notes(runs, models),
    }
