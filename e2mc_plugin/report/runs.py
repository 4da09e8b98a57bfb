"""Reading solo-learn run folders for ``e2mc-plugin report``.

A run folder is what ``main_pretrain.py`` writes (``trained_models/<method>/<id>/``): the
checkpoint(s) and ``args.json`` (the resolved recipe). From ``args.json`` the report reads the
method, the seed (``seed``, default 0) and the auxiliary losses (``aux_losses``). Only an empty
(or absent) ``aux_losses`` is the "continued" baseline; a loss given without numbers
(``[{name: mmcr}]``, its defaults) is a model of its own, labelled by its name. solo-learn logs
probe accuracies to its logger only, so the results come from a file in the run folder,
:data:`RESULTS_FILE`::

    {"results": [
        {"probe": "knn", "labels": 1.0, "accuracy": 0.712,
         "predictions": "knn_100.npz"},            # optional: arrays "pred" and "target"
        {"probe": "linear", "labels": 0.1, "accuracy": 0.655}],
     "entropy_mean": -0.41,                          # optional
     "unit": "fraction"}                             # optional: "fraction" or "percent"

Accuracies are fractions in [0, 1] or percentages in [0, 100], one unit per file: ``unit`` says
which; without it a file whose accuracies are all <= 1 is read as fractions, all > 1 as
percentages, and a file that mixes both (72.0 beside 0.9) is an error naming the file, since 0.9
could be 0.9 % or 90 %. ``predictions`` is a path relative to the run folder; paired tests are
made where a run and the baseline of the same seed both saved predictions of the same targets.

Runs stay distinct: two runs of one method with the same coefficients and the same seed (solo's
default seed is the same for every run) are two replicates of that model, both counted, and
:func:`collect` returns a note naming their folders and the ``args.json`` keys they differ in.
Runs of different methods never share a table: group them with :func:`by_method`.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    "RESULTS_FILE",
    "Run",
    "RunFolderError",
    "find_runs",
    "read_run",
    "by_method",
    "collect",
    "BASELINE",
]

RESULTS_FILE = "e2mc_results.json"
BASELINE = "continued"
UNITS = {"fraction": 1.0, "percent": 100.0}


class RunFolderError(ValueError):
    """A run folder's ``args.json`` or :data:`RESULTS_FILE` that cannot be read as documented."""


@dataclass
class Run:
    path: str
    method: str
    seed: int
    coefficients: Dict[str, float]  # flattened "<loss>.<key>" -> value; {} for the baseline
    results: List[Dict[str, Any]] = field(default_factory=list)
    entropy_mean: Optional[float] = None
    losses: List[str] = field(default_factory=list)  # aux loss names; [] for the baseline
    args: Dict[str, Any] = field(default_factory=dict)  # args.json, flattened "a.b" -> value

    @property
    def is_baseline(self) -> bool:
        return not self.losses


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


def _flatten(value: Any, prefix: str = "") -> Dict[str, Any]:
    if isinstance(value, dict):
        out: Dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value}


def _losses(aux_losses: Any, where: str) -> Tuple[List[str], Dict[str, float]]:
    if aux_losses is None:
        return [], {}
    if not isinstance(aux_losses, list) or not all(isinstance(s, dict) for s in aux_losses):
        raise RunFolderError(f"{where}: aux_losses must be a list of mappings, got {aux_losses!r}")
    names, out = [], {}
    for spec in aux_losses:
        name = str(spec.get("name", "aux"))
        names.append(name)
        for key, value in spec.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[f"{name}.{key}"] = float(value)
    return names, out


def _load_json(path: str) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise RunFolderError(f"{path}: not valid JSON ({err})") from None


def _unit(path: str, data: Mapping[str, Any], accuracies: Sequence[float]) -> float:
    """The divisor that turns this file's accuracies into fractions (module doc)."""
    unit = data.get("unit")
    if unit is not None:
        if unit not in UNITS:
            raise RunFolderError(f"{path}: unit must be one of {', '.join(UNITS)}, got {unit!r}")
        scale = UNITS[unit]
    elif all(a <= 1 for a in accuracies):
        scale = 1.0
    elif all(a > 1 for a in accuracies):
        scale = 100.0
    else:
        small = [a for a in accuracies if a <= 1][0]
        listed = ", ".join(f"{a:g}" for a in accuracies)
        raise RunFolderError(
            f"{path}: accuracies mix percentages and fractions ({listed}): is {small:g} a "
            f"fraction or {small:g} %? Write every accuracy in one unit, or add "
            '"unit": "percent" (or "fraction")'
        )
    bad = [a for a in accuracies if not 0 <= a <= scale]
    if bad:
        name = {1.0: "fraction", 100.0: "percent"}[scale]
        raise RunFolderError(f"{path}: accuracy {bad[0]:g} is outside [0, {scale:g}] ({name})")
    return scale


def _read_results(run: Run, path: str) -> None:
    data = _load_json(path)
    entries = data.get("results") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise RunFolderError(f'{path}: expected {{"results": [...]}} (see report/runs.py)')
    accuracies = []
    for i, r in enumerate(entries):
        if not isinstance(r, dict) or "probe" not in r or "accuracy" not in r:
            raise RunFolderError(f'{path}: results[{i}] needs "probe" and "accuracy": {r!r}')
        try:
            accuracies.append(float(r["accuracy"]))
        except (TypeError, ValueError):
            raise RunFolderError(
                f"{path}: results[{i}].accuracy is not a number: {r['accuracy']!r}"
            ) from None
    scale = _unit(path, data, accuracies) if accuracies else 1.0
    for r, acc in zip(entries, accuracies, strict=True):
        run.results.append({**r, "accuracy": acc / scale})
    run.entropy_mean = data.get("entropy_mean")


def read_run(path: str) -> Run:
    """One run folder: ``args.json`` + :data:`RESULTS_FILE` (missing results: an empty list)."""
    args_path = os.path.join(path, "args.json")
    args = _load_json(args_path)
    if not isinstance(args, dict):
        raise RunFolderError(f"{args_path}: expected a JSON object")
    try:
        seed = int(args.get("seed", 0) or 0)
    except (TypeError, ValueError):
        seed = args["seed"]
        raise RunFolderError(f"{args_path}: seed must be an integer, got {seed!r}") from None
    losses, coefficients = _losses(args.get("aux_losses"), f"{args_path}")
    run = Run(
        path=path,
        method=str(args.get("method", "?")),
        seed=seed,
        coefficients=coefficients,
        losses=losses,
        args=_flatten(args),
    )
    results_path = os.path.join(path, RESULTS_FILE)
    if os.path.isfile(results_path):
        _read_results(run, results_path)
    return run


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
