"""The check's report: ``gpu_check.json`` (everything) and ``gpu_check.md`` (one summary table,
then each part's table), both rewritten after each part so that a run cut short keeps what it
finished."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Sequence

JSON_NAME = "gpu_check.json"
MD_NAME = "gpu_check.md"


def cell(value: Any) -> str:
    """A table cell: floats to 4 significant digits (scientific when tiny or huge), booleans as
    yes / no, None as a dash; ``|`` escaped."""
    if value is None:
        text = "—"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        if not math.isfinite(value):
            text = str(value)
        elif value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            text = f"{value:.2e}"
        else:
            text = f"{value:.4g}"
    elif isinstance(value, (list, tuple)):
        text = ", ".join(cell(v) for v in value)
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def table(columns: Sequence[str], rows: Sequence[Dict[str, Any]]) -> List[str]:
    """Markdown table lines of ``rows`` (dicts) under ``columns``."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(cell(row.get(c)) for c in columns) + " |")
    return lines


def markdown(entries: Sequence[Dict[str, Any]], *, cpu: bool) -> str:
    """The Markdown report of ``entries`` (the environment first, when present)."""
    env = next((e for e in entries if e["name"] == "env"), None)
    facts = env["data"] if env else {}
    where = "CPU dry run (tiny sizes, no CUDA)" if cpu else facts.get("device", "GPU")
    lines = [f"# GPU check: {where}", ""]
    said = [f"run {facts['date']}"] if facts.get("date") else []
    said += list(facts.get("versions", []))
    if said:
        text = "; ".join(said)
        lines += [text[0].upper() + text[1:] + ".", ""]
    if cpu:
        lines += [
            "A dry run proves that the script, the kit and every part work end to end; what "
            "each part cannot prove without a GPU is said under it.",
            "",
        ]
    summary = [
        {
            "part": e["title"],
            "status": e["status"],
            "time": f"{e['seconds']:.0f} s",
            "result": e["summary"],
        }
        for e in entries
    ]
    lines += table(["part", "status", "time", "result"], summary)
    for e in entries:
        lines += ["", f"## {e['title']}: {e['status']}", "", f"Proves: {e['proves']}."]
        if e.get("dry_run_cannot"):
            lines.append(f"The dry run cannot prove: {e['dry_run_cannot']}.")
        lines += ["", e["summary"]]
        if e.get("columns") and e.get("rows"):
            lines += [""] + table(e["columns"], e["rows"])
        if e.get("notes"):
            lines += [""] + [f"- {n}" for n in e["notes"]]
    return "\n".join(lines) + "\n"


def write_report(out: Path, entries: Sequence[Dict[str, Any]], *, cpu: bool) -> None:
    """Write ``gpu_check.json`` and ``gpu_check.md`` into ``out`` (replacing both)."""
    out.mkdir(parents=True, exist_ok=True)
    doc = {"mode": "cpu dry run" if cpu else "gpu", "parts": list(entries)}
    (out / JSON_NAME).write_text(json.dumps(doc, indent=1, default=str) + "\n")
    (out / MD_NAME).write_text(markdown(entries, cpu=cpu))
