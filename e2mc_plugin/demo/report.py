"""Tables and files of the demo: ``results.csv`` (one row per seed/model/probe/labels),
``summary.json`` (means, stds, tests, timings) and the printed mean ± std table."""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from typing import Any, Dict, List, Mapping, Sequence

import numpy as np

__all__ = ["aggregate", "format_table", "format_significance", "write_outputs"]


def _labels_name(frac: float) -> str:
    return f"{frac * 100:g}%"


def aggregate(rows: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Mean / std (ddof=1; 0 for a single seed) of the accuracy per (model, probe, labels)."""
    groups: Dict[tuple, List[float]] = defaultdict(list)
    order: List[tuple] = []
    for r in rows:
        key = (r["model"], r["probe"], float(r["labels"]))
        if key not in groups:
            order.append(key)
        groups[key].append(float(r["accuracy"]))
    out = []
    for key in order:
        acc = np.asarray(groups[key])
        out.append(
            {
                "model": key[0],
                "probe": key[1],
                "labels": key[2],
                "n_seeds": int(acc.size),
                "mean": float(acc.mean()),
                "std": float(acc.std(ddof=1)) if acc.size > 1 else 0.0,
            }
        )
    return out


def format_table(summary: Sequence[Mapping[str, Any]]) -> str:
    """Rows = models, columns = probe x label fraction, cells = ``mean ± std`` top-1 (%)."""
    models = list(dict.fromkeys(s["model"] for s in summary))
    cols = list(dict.fromkeys((s["probe"], s["labels"]) for s in summary))
    cell = {(s["model"], s["probe"], s["labels"]): s for s in summary}
    heads = [f"{p} {_labels_name(f)}" for p, f in cols]
    width = max(13, *(len(h) for h in heads))
    mw = max(10, *(len(m) for m in models))
    n_seeds = max(s["n_seeds"] for s in summary)
    lines = [
        f"top-1 accuracy (%) on the held-out split, mean ± std over {n_seeds} seed(s)",
        f"{'model':<{mw}} " + " ".join(f"{h:>{width}}" for h in heads),
    ]
    for m in models:
        vals = []
        for p, f in cols:
            s = cell.get((m, p, f))
            vals.append(f"{100 * s['mean']:6.2f} ± {100 * s['std']:4.2f}" if s else "-")
        lines.append(f"{m:<{mw}} " + " ".join(f"{v:>{width}}" for v in vals))
    return "\n".join(lines)


def format_significance(tests: Sequence[Mapping[str, Any]]) -> str:
    """One line per (variant, probe, labels): per-seed accuracy difference and both p-values."""
    groups: Dict[tuple, List[Mapping[str, Any]]] = defaultdict(list)
    for t in tests:
        groups[(t["a"], t["b"], t["probe"], float(t["labels"]))].append(t)
    lines = [
        "paired tests on the same held-out examples, per seed (delta = acc(a) - acc(b), points):",
        f"{'a vs b':<22} {'probe':<7} {'labels':>6}  {'delta':>18}  "
        f"{'McNemar p':>20}  {'permutation p':>20}",
    ]
    fmt = lambda xs, f: "/".join(f.format(x) for x in xs)  # noqa: E731
    for (a, b, probe, frac), ts in groups.items():
        delta = [100 * (t["acc_a"] - t["acc_b"]) for t in ts]
        pm = [t["mcnemar"]["pvalue"] for t in ts]
        pp = [t["permutation"]["pvalue"] for t in ts]
        lines.append(
            f"{a + ' vs ' + b:<22} {probe:<7} {_labels_name(frac):>6}  "
            f"{fmt(delta, '{:+.2f}'):>18}  "
            f"{fmt(pm, '{:.3f}'):>20}  {fmt(pp, '{:.3f}'):>20}"
        )
    return "\n".join(lines)


def write_outputs(result: Mapping[str, Any], out_dir: str) -> Dict[str, str]:
    """Write ``results.csv`` and ``summary.json`` into ``out_dir``; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    csv_path = os.path.join(out_dir, "results.csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["seed", "model", "probe", "labels", "accuracy"])
        w.writeheader()
        for r in result["rows"]:
            w.writerow({**r, "accuracy": f"{r['accuracy']:.6f}"})
    summary = {k: v for k, v in result.items() if k != "rows"}
    summary["summary"] = aggregate(result["rows"])
    json_path = os.path.join(out_dir, "summary.json")
    with open(json_path, "w") as f:
        json.dump(summary, f, indent=2, default=_default)
    return {"csv": csv_path, "json": json_path}


def _default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
