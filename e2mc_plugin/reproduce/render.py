"""The comparison as the paper prints it: Markdown tables (ours / paper / difference under each
model) and a CSV with one line per cell."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from e2mc_plugin.reproduce.compare import Comparison, Delta, Estimate
from e2mc_plugin.reproduce.rows import COLUMNS

__all__ = ["CSV_COLUMNS", "markdown", "write_csv"]

CSV_COLUMNS = [
    "table", "row", "model", "method", "epochs", "column", "ours_mean", "ours_se", "ours_n",
    "paper_mean", "paper_se", "paper_mark", "paper_version", "difference", "difference_se",
    "within_2se", "stages_done", "stages_planned",
]  # fmt: skip


def _num(x: Optional[float], signed: bool = False) -> str:
    if x is None:
        return ""
    return f"{x:+.2f}" if signed else f"{x:.2f}"


def within_text(within: Optional[bool]) -> str:
    return {True: "yes", False: "no", None: "n/a"}[within]


def _estimate(e: Optional[Estimate], signed: bool = False) -> str:
    if e is None:
        return "…"
    text = _num(e.mean, signed)
    return f"{text} ± {e.se:.2f}" if e.se is not None else text


def _cells(c: Optional[Comparison]) -> List[str]:
    """(ours, paper, difference) of one cell: "-" where the paper prints none."""
    if c is None:
        return ["-", "-", "-"]
    cell = c.cell  # as printed: mean, mark, standard error ("54.53 * ± 0.12")
    paper = f"{cell.mean:.2f}" + (f" {cell.mark}" if cell.mark else "")
    paper += f" ± {cell.se:.2f}" if cell.se is not None else ""
    if c.ours is None:
        return [f"… (0/{c.planned} runs)", paper, "…"]
    ours = _estimate(c.ours) + (f" ({c.done}/{c.planned})" if c.done < c.planned else "")
    mark = {True: "✓", False: "✗", None: "n/a"}[c.within]
    return [ours, paper, f"{_estimate(c.diff, signed=True)} {mark}"]


def _table(
    table: int, title: str, rows: Sequence[Comparison], titles: Mapping[str, str]
) -> List[str]:
    columns = [c for c in COLUMNS if any(r.cell.column == c for r in rows)]
    by_model: Dict[tuple, Dict[str, Comparison]] = {}
    for r in rows:
        by_model.setdefault((r.cell.row, r.cell.model), {})[r.cell.column] = r
    lines = [f"### Table {table}: {title}", ""]
    lines.append("| method | epochs | | " + " | ".join(titles[c] for c in columns) + " |")
    lines.append("|---|---|---|" + "---|" * len(columns))
    for key in by_model:  # the paper's order (cells arrive in it)
        found = by_model[key]
        first = next(iter(found.values())).cell
        per_column = [_cells(found.get(c)) for c in columns]
        for i, what in enumerate(("ours", "paper", "Δ")):
            lead = f"| {first.label} | {first.epochs} |" if i == 0 else "| | |"
            lines.append(f"{lead} {what} | " + " | ".join(p[i] for p in per_column) + " |")
    return lines + [""]


def _deltas(deltas: Sequence[Delta], titles: Mapping[str, str]) -> List[str]:
    if not deltas:
        return []
    lines = ["### Criterion - continued (points), linear probes", ""]
    lines.append("| row | criterion | labels | ours | paper |")
    lines.append("|---|---|---|---|---|")
    for d in deltas:
        lines.append(
            f"| {d.row} | {d.criterion} | {titles[d.column]} | {_estimate(d.ours, True)} | "
            f"{_estimate(d.paper, True)} |"
        )
    return lines + [""]


def markdown(
    comparisons: Sequence[Comparison],
    deltas: Sequence[Delta],
    table_titles: Mapping[int, str],
    column_titles: Mapping[str, str],
) -> str:
    """The Markdown report: one table per paper table, then the deltas."""
    lines = [
        "Top-1 % (VOC07: mAP %). Under each model: ours (mean ± standard error over the "
        "seeds; (k/n) while runs are missing), the paper's (± its standard error; † from the "
        "base method's paper, * reproduced by the authors), and Δ = ours - paper ± the "
        "combined standard error: ✓ within 2 standard errors, ✗ not, n/a no standard error "
        'on either side. "-": the paper reports none.',
        "",
    ]
    for table in sorted({c.cell.table for c in comparisons}):
        rows = [c for c in comparisons if c.cell.table == table]
        lines += _table(table, table_titles[table], rows, column_titles)
    return "\n".join(lines + _deltas(deltas, column_titles))


def write_csv(comparisons: Sequence[Comparison], path: Path) -> Path:
    """One line per paper cell (:data:`CSV_COLUMNS`); empty fields where nothing is known."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for c in comparisons:
            cell, ours, diff = c.cell, c.ours, c.diff
            writer.writerow({
                "table": cell.table, "row": cell.row, "model": cell.model, "method": cell.label,
                "epochs": cell.epochs, "column": cell.column,
                "ours_mean": _num(ours and ours.mean), "ours_se": _num(ours and ours.se),
                "ours_n": c.done, "paper_mean": _num(cell.mean), "paper_se": _num(cell.se),
                "paper_mark": cell.mark, "paper_version": cell.version,
                "difference": _num(diff and diff.mean, signed=True),
                "difference_se": _num(diff and diff.se),
                "within_2se": within_text(c.within) if ours else "",
                "stages_done": c.done, "stages_planned": c.planned,
            })  # fmt: skip
    return path
