"""A reproduction folder's manifest and its written comparison (Markdown, CSV, plot).

``<out>/reproduce.json`` records, per row run into ``<out>``, which paper cells it measures and
with which stages (one per seed), and the paper version compared against. It is what makes a
folder a reproduction for ``e2mc-plugin report`` (:func:`is_reproduction`): the comparison is
rebuilt from the manifest and the stages' done-markers alone, without the plan.

Several rows may share one ``<out>`` (e.g. ``swav800`` and ``swav800-vcreg``): their common
stages (the converted base, the continued run and its probes) are run once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from e2mc_plugin.reproduce.compare import Comparison, Delta, compare_cells, deltas
from e2mc_plugin.reproduce.markers import write_json_atomic
from e2mc_plugin.reproduce.paper import PaperCell, paper_tables
from e2mc_plugin.reproduce.plan import Plan
from e2mc_plugin.reproduce.plot import plot_deltas
from e2mc_plugin.reproduce.render import markdown, write_csv

__all__ = ["MANIFEST", "Written", "is_reproduction", "record_plan", "write_comparison"]

MANIFEST = "reproduce.json"
_FORMAT = 1


def is_reproduction(folder: Path) -> bool:
    return (Path(folder) / MANIFEST).is_file()


def _read(out: Path) -> Dict[str, Any]:
    path = out / MANIFEST
    if not path.is_file():
        return {"format": _FORMAT, "rows": {}}
    try:
        data = json.loads(path.read_text())
        if data.get("format") != _FORMAT or not isinstance(data.get("rows"), dict):
            raise ValueError(f"format {data.get('format')!r}, expected {_FORMAT}")
    except ValueError as err:
        raise ValueError(f"{path}: not a reproduce manifest ({err})") from None
    return data


def record_plan(plan: Plan, out: Path) -> Path:
    """Add (or refresh) ``plan``'s row in ``<out>/reproduce.json``."""
    data = _read(out)
    s = plan.settings
    data["rows"][plan.row.name] = {
        "paper_row": plan.row.paper_row, "criterion": plan.row.criterion,
        "tables": list(plan.row.tables), "paper_version": s.paper_version, "smoke": s.smoke,
        "seeds": list(s.seeds),
        "measurements": [
            {"table": m.cell.table, "row": m.cell.row, "model": m.cell.model,
             "column": m.cell.column, "stages": list(m.stages)}
            for m in plan.measurements
        ],
    }  # fmt: skip
    return write_json_atomic(out / MANIFEST, data)


def _measured(out: Path) -> Tuple[List[Tuple[PaperCell, List[str]]], Dict[str, Tuple], Any]:
    data = _read(out)
    if not data["rows"]:
        raise ValueError(f"{out / MANIFEST}: no row recorded")
    measured, seen, rows, paper = [], set(), {}, None
    for name, row in data["rows"].items():
        paper = paper_tables(row["paper_version"])
        for m in row["measurements"]:
            key = (m["table"], m["row"], m["model"], m["column"])
            cell = paper.cell(*key)
            if cell is None:
                raise ValueError(f"{out / MANIFEST}: row {name}: {key} is not a paper cell")
            if key not in seen:
                seen.add(key)
                measured.append((cell, m["stages"]))
        # Table 1 rows compare in Table 1; Table 3 rows in Table 3
        rows[name] = (row["paper_row"], row["criterion"], min(row["tables"]))
    return measured, rows, paper


@dataclass(frozen=True)
class Written:
    markdown: str
    md: Path
    csv: Path
    png: Optional[Path]
    comparisons: Tuple[Comparison, ...]
    deltas: Tuple[Delta, ...]


def write_comparison(out: Path, dest: Optional[Path] = None) -> Written:
    """Write ``comparison.md``, ``comparison.csv`` and ``deltas.png`` of the reproduction in
    ``out`` into ``dest`` (default ``out``); done stages only, missing ones shown as such."""
    dest = dest or out
    measured, rows, paper = _measured(out)
    comparisons = compare_cells(out, measured)
    found = deltas(comparisons, rows)
    text = markdown(comparisons, found, paper.table_titles, paper.column_titles)
    dest.mkdir(parents=True, exist_ok=True)
    md = dest / "comparison.md"
    md.write_text(text + "\n")
    csv_path = write_csv(comparisons, dest / "comparison.csv")
    png = plot_deltas(found, paper.column_titles, dest / "deltas.png")
    return Written(text, md, csv_path, png, tuple(comparisons), tuple(found))
