"""``e2mc-plugin report RUN_DIR... [--out DIR]``: the kNN / linear results of solo-learn runs (e.g.
a ``pretrain -m aux_losses.0.beta=10,100,1000`` multirun and its ``aux_losses=[]`` baseline) as the
sweep table and plot of ``e2mc-plugin demo --sweep``; paired tests where predictions were saved.
Where the results come from: :mod:`e2mc_plugin.report.runs`. Runs of different methods get one
table each (``sweep_<method>.csv`` / ``.png``), each with its own baseline. Folders of
``e2mc-plugin reproduce`` get their comparison with the paper
(:mod:`e2mc_plugin.report.reproductions`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import List, Optional

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="e2mc-plugin report",
        description="Sweep table (sweep.csv) and plot (sweep.png) of solo-learn run folders.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders, or folders above them")
    p.add_argument("--out", default=os.path.join("runs", "e2mc-report"), help="output folder")
    p.add_argument("--permutations", type=int, default=10_000, help="paired permutation test")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from e2mc_plugin.report.compare import by_method, collect
    from e2mc_plugin.report.plot import plot_sweep
    from e2mc_plugin.report.reproductions import outside, report_reproductions, split_reproductions
    from e2mc_plugin.report.runs import RESULTS_FILE, RunFolderError, find_runs, read_run
    from e2mc_plugin.report.table import format_sweep, sweep_table, write_sweep_csv

    reproductions, args.runs = split_reproductions(args.runs)  # e2mc-plugin reproduce folders
    if reproductions:
        code = report_reproductions(reproductions, Path(args.out))
        if code or not args.runs:
            return code
    try:
        runs = [read_run(p) for p in outside(find_runs(args.runs), reproductions)]
    except (OSError, RunFolderError) as err:
        print(f"error: {err}")
        return 2
    if reproductions and not runs:
        return 0
    empty = [r.path for r in runs if not r.results]
    for path in empty:
        print(f"[report] {path}: no {RESULTS_FILE}, skipped")
    runs = [r for r in runs if r.results]
    if not runs:
        print(f"error: no run has a {RESULTS_FILE} (see e2mc_plugin/report/runs.py)")
        return 2
    groups = by_method(runs)
    for method, group in groups.items():
        try:
            rec = collect(group, n_permutations=args.permutations)
        except (OSError, RunFolderError) as err:
            print(f"error: {err}")
            return 2
        for note in rec["notes"]:
            print(f"[report] {method}: {note}")
        if not any(r.is_baseline for r in group):
            print(f"[report] {method}: no baseline run (aux_losses: []): no delta, no p-values")
        table = sweep_table(rec["rows"], rec["significance"], rec["entropy"], rec["coefficients"])
        print(f"{method}: {len(group)} run(s); coefficients: {', '.join(rec['keys']) or '-'}")
        print(format_sweep(table))
        stem = "sweep" if len(groups) == 1 else f"sweep_{method}"
        csv_path = write_sweep_csv(table, os.path.join(args.out, f"{stem}.csv"))
        png = plot_sweep(table, os.path.join(args.out, f"{stem}.png"), rec["keys"], title=method)
        print(f"wrote {csv_path}, {png}")
    return 0
