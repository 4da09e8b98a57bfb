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

How the runs become the table's models and paired tests: :mod:`e2mc_plugin.report.compare`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = [
    "RESULTS_FILE",
    "Run",
    "RunFolderError",
    "find_runs",
    "read_run",
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
