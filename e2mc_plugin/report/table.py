"""The sweep table: one row per (model, probe, label fraction) with mean ± std over seeds, the
paired difference against the baseline ("continued"), the per-seed paired p-values and the mean
per-dimension entropy.

Inputs are plain records, the same for the demo and for real runs:

- ``rows``: ``{seed, model, probe, labels, accuracy}`` (accuracy in [0, 1]); several rows of one
  model, cell and seed are replicates (distinct runs): all count in the mean, std and
  ``n_seeds`` (the number of runs), and their mean is that seed's value in the paired delta;
- ``significance``: ``{seed, a, b, probe, labels, mcnemar: {pvalue}, permutation: {pvalue}}``,
  ``b`` the baseline (from :func:`e2mc_plugin.evaluation.significance.compare_predictions`);
- ``entropy``: ``{seed, model, entropy_mean}``;
- ``coefficients``: ``{model: {"beta": 10.0, ...}}`` (the baseline has none).
"""

from __future__ import annotations

import csv
import math
import os
from collections import defaultdict
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

__all__ = ["sweep_table", "write_sweep_csv", "format_sweep", "coefficient_keys", "SWEEP_COLUMNS"]

SWEEP_COLUMNS = [
    "probe",
    "labels",
    "n_seeds",
    "mean_pct",
    "std_pct",
    "delta_vs_continued_pts",
    "delta_std_pts",
    "mcnemar_p",
    "permutation_p",
    "entropy_mean",
]


def coefficient_keys(coefficients: Mapping[str, Mapping[str, Any]]) -> List[str]:
    """The coefficient names present, in first-seen order."""
    return list(dict.fromkeys(k for c in coefficients.values() for k in c))


def _std(x: Sequence[float]) -> float:
    return float(np.std(x, ddof=1)) if len(x) > 1 else 0.0


def _model_order(models: Sequence[str], coefficients, baseline: str) -> List[str]:
    keys = coefficient_keys(coefficients)
    rest = [m for m in models if m != baseline]
    rest.sort(key=lambda m: tuple(float(coefficients.get(m, {}).get(k, -math.inf)) for k in keys))
    return ([baseline] if baseline in models else []) + rest


def sweep_table(
    rows: Sequence[Mapping[str, Any]],
    significance: Sequence[Mapping[str, Any]] = (),
    entropy: Sequence[Mapping[str, Any]] = (),
    coefficients: Optional[Mapping[str, Mapping[str, Any]]] = None,
    *,
    baseline: str = "continued",
    exclude: Sequence[str] = ("base",),
) -> List[Dict[str, Any]]:
    """The table (list of dicts: ``model``, one column per coefficient, :data:`SWEEP_COLUMNS`).

    ``delta_vs_continued_pts`` is the mean over the seeds both models have of the per-seed
    accuracy difference (points); p-values are listed per seed, ``;``-separated, seed order.
    """
    coefficients = dict(coefficients or {})
    keys = coefficient_keys(coefficients)
    acc: Dict[tuple, Dict[int, List[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["model"] not in exclude:
            cell = acc[(r["model"], r["probe"], float(r["labels"]))]
            cell[int(r["seed"])].append(float(r["accuracy"]))
    tests: Dict[tuple, Dict[int, Mapping[str, Any]]] = defaultdict(dict)
    for t in significance:
        if t["b"] == baseline:
            tests[(t["a"], t["probe"], float(t["labels"]))][int(t["seed"])] = t
    ent: Dict[str, List[float]] = defaultdict(list)
    for e in entropy:
        if e.get("entropy_mean") is not None:
            ent[e["model"]].append(float(e["entropy_mean"]))
    models = _model_order(list(dict.fromkeys(k[0] for k in acc)), coefficients, baseline)
    cells = list(dict.fromkeys((k[1], k[2]) for k in acc))
    out: List[Dict[str, Any]] = []
    for model in models:
        for probe, labels in cells:
            a = acc.get((model, probe, labels))
            if not a:
                continue
            base = acc.get((baseline, probe, labels), {})
            seeds = sorted(s for s in a if s in base)
            deltas = [100 * (np.mean(a[s]) - np.mean(base[s])) for s in seeds]
            t = tests.get((model, probe, labels), {})
            vals = [v for s in sorted(a) for v in a[s]]
            row: Dict[str, Any] = {"model": model}
            row.update({k: coefficients.get(model, {}).get(k, "") for k in keys})
            row.update(
                probe=probe,
                labels=labels,
                n_seeds=len(vals),
                mean_pct=100 * float(np.mean(vals)),
                std_pct=100 * _std(vals),
                delta_vs_continued_pts=float(np.mean(deltas)) if deltas else "",
                delta_std_pts=_std([float(d) for d in deltas]) if deltas else "",
                mcnemar_p=";".join(f"{t[s]['mcnemar']['pvalue']:.4g}" for s in sorted(t)),
                permutation_p=";".join(f"{t[s]['permutation']['pvalue']:.4g}" for s in sorted(t)),
                entropy_mean=float(np.mean(ent[model])) if ent.get(model) else "",
            )
            out.append(row)
    return out


def write_sweep_csv(table: Sequence[Mapping[str, Any]], path: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fields = list(dict.fromkeys(k for r in table for k in r)) or ["model", *SWEEP_COLUMNS]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in table:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    return path


def _num(v: Any, fmt: str) -> str:
    return format(v, fmt) if isinstance(v, (int, float)) and v != "" else "-"


def format_sweep(table: Sequence[Mapping[str, Any]]) -> str:
    """The table as text: accuracy mean ± std (%), delta vs continued (points), p-values."""
    if not table:
        return "(no results)"
    mw = max(12, *(len(str(r["model"])) for r in table))
    lines = [
        f"{'model':<{mw}} {'probe':<6} {'labels':>6} {'n':>2} {'top-1 (%)':>14} "
        f"{'delta (pts)':>14} {'McNemar p':>22} {'perm. p':>22} {'H/dim':>7}"
    ]
    for r in table:
        acc = f"{r['mean_pct']:6.2f} ± {r['std_pct']:4.2f}"
        d = r["delta_vs_continued_pts"]
        delta = f"{d:+6.2f} ± {r['delta_std_pts']:4.2f}" if d != "" else "-"
        lines.append(
            f"{str(r['model']):<{mw}} {r['probe']:<6} {r['labels'] * 100:>5g}% {r['n_seeds']:>2} "
            f"{acc:>14} {delta:>14} {r['mcnemar_p'] or '-':>22} {r['permutation_p'] or '-':>22} "
            f"{_num(r['entropy_mean'], '7.3f'):>7}"
        )
    return "\n".join(lines)
