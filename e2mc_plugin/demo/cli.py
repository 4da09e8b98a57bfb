"""``e2mc-plugin demo``: base (trained to a plateau, cached) -> continued (no aux) vs + E2MC ->
kNN / linear probes, on digits; ``--sweep beta=1,10,100,1000`` runs E2MC at each value instead.

Runs on CPU with data shipped inside scikit-learn. Writes ``results.csv``, ``summary.json``,
``base_curve.csv`` / ``.png``, the checkpoints and diagnostic PNGs to ``--out`` (with ``--sweep``
also ``sweep.csv`` and ``sweep.png``).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, Dict, List, Mapping, Optional

__all__ = ["main", "build_parser"]


def _csv(kind):
    return lambda s: tuple(kind(x) for x in s.split(",") if x.strip())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="e2mc-plugin demo",
        description="Continued pretraining with and without E2MC on handwritten digits, on CPU.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 1 seed, 1 epoch per stage, 2 batches, 600 images",
    )
    p.add_argument("--seeds", type=_csv(int), default=None, help="comma-separated, e.g. 0,1,2")
    p.add_argument("--out", default=os.path.join("runs", "e2mc-demo"), help="output folder")
    p.add_argument(
        "--methods",
        "--method",
        dest="methods",
        type=_csv(str),
        default=("vicreg",),
        help="comma-separated host methods (vicreg, swav, simsiam; default vicreg); with several, "
        "each runs the whole protocol into OUT/<method>",
    )
    p.add_argument(
        "--aux",
        type=_csv(str),
        default=None,
        help="comma-separated aux losses compared with 'continued' (e2mc,vcreg,auh,mmcr)",
    )
    p.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="E2MC coefficient sweep instead of --aux: beta=1,10,100,1000 and/or gamma=...; "
        "given twice (beta and gamma), the grid of both",
    )
    p.add_argument("--base-max-epochs", type=int, default=None, help="cap of the base (100)")
    p.add_argument("--base-eval-every", type=int, default=None, help="kNN every k epochs (3)")
    p.add_argument("--base-patience", type=int, default=None, help="evaluations without gain (4)")
    p.add_argument(
        "--base-min-delta", type=float, default=None, help="gain that counts, accuracy (0.005)"
    )
    p.add_argument(
        "--no-base-cache",
        action="store_true",
        help="train the base even if $E2MC_HOME/demo-bases holds it, and cache nothing",
    )
    p.add_argument("--continued-epochs", type=int, default=None)
    p.add_argument("--base-lr", type=float, default=None)
    p.add_argument(
        "--continued-lr-scale",
        type=float,
        default=None,
        help="continued lr = scale x base lr (default 0.1)",
    )
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--size", type=int, default=None, help="image side in pixels (default 16)")
    p.add_argument("--no-diagnostics", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: beside another job, two threads wait on each other at "
        "every operation, 5-45x slower on 2 cores; 2 is faster only on an idle machine)",
    )
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from e2mc_plugin.demo.variants import parse_sweep

    if args.threads < 1:
        parser.error(f"--threads: expected a positive number of threads, got {args.threads}")
    try:
        grid = parse_sweep(args.sweep)
    except ValueError as err:
        parser.error(str(err))
    from e2mc_plugin.diagnostics.logs import quiet_lightning

    quiet_lightning()
    import torch

    from e2mc_plugin.demo.preset import DemoConfig, with_overrides

    torch.set_num_threads(args.threads)
    base_dc = DemoConfig.quick() if args.quick else DemoConfig()
    base_dc = with_overrides(
        base_dc,
        seeds=args.seeds,
        aux=args.aux,
        base_max_epochs=args.base_max_epochs,
        base_eval_every=args.base_eval_every,
        base_patience=args.base_patience,
        base_min_delta=args.base_min_delta,
        continued_epochs=args.continued_epochs,
        base_lr=args.base_lr,
        continued_lr_scale=args.continued_lr_scale,
        batch_size=args.batch_size,
        size=args.size,
        diagnostics=False if args.no_diagnostics else None,
        progress=False if args.no_progress else None,
    )
    for method in args.methods:
        dc = with_overrides(base_dc, method=method)
        out = args.out if len(args.methods) == 1 else os.path.join(args.out, method)
        _run_one(dc, out, grid, use_cache=not args.no_base_cache)
    return 0


def _run_one(dc, out: str, grid: Mapping[str, Any], *, use_cache: bool) -> None:
    """Run the protocol for one method, print the tables and write the files into ``out``."""
    from e2mc_plugin.demo.protocol import run_demo
    from e2mc_plugin.demo.variants import sweep_variants

    t0 = time.perf_counter()
    variants = sweep_variants(dc, dict(grid)) if grid else None
    result = run_demo(dc, out, variants=variants, use_cache=use_cache)
    paths = _write_and_print(dc, result, out, list(grid))
    wall = time.perf_counter() - t0
    print(f"\nwrote {', '.join(paths)}; wall time {wall:.1f} s")


def _write_and_print(dc, result: Dict[str, Any], out: str, keys: List[str]) -> List[str]:
    from e2mc_plugin.demo.report import aggregate, format_significance, format_table, write_outputs
    from e2mc_plugin.diagnostics.plots import format_entropy_table

    paths = write_outputs(result, out)
    b = result["base"]
    print()
    print(
        f"method {dc.method}, host solo-learn {result['host']}; base {b['epochs']} ep at lr "
        f"{dc.base_lr} (stopped by {b['reason']}: {b['criterion']}; cache "
        f"{'hit' if b['cache_hit'] else 'miss'}); continued {dc.continued_epochs} ep at lr "
        f"{result['continued_lr']:g} (constant); {result['n_train']} train / "
        f"{result['n_test']} held-out digits"
    )
    print(format_table(aggregate(result["rows"])))
    files = [paths["csv"], paths["json"], b["files"]["csv"], b["files"]["png"]]
    if keys:
        files += _write_sweep(result, out, keys, dc)
    elif result["significance"]:
        print()
        print(format_significance(result["significance"]))
    if result["diagnostics"]:
        print()
        print(
            f"per-dimension m-spacings entropy of Psi(z) ({result['diagnostics']['mapping']}), "
            f"seed {dc.seeds[0]}, held-out split (0 = uniform):"
        )
        print(format_entropy_table(result["diagnostics"]["entropy"]))
        files += result["diagnostics"]["pngs"]
    return files


def _write_sweep(result: Mapping[str, Any], out: str, keys: List[str], dc) -> List[str]:
    from e2mc_plugin.report.plot import plot_sweep
    from e2mc_plugin.report.table import format_sweep, sweep_table, write_sweep_csv

    table = sweep_table(
        result["rows"], result["significance"], result["entropy"], result["variants"]
    )
    print()
    print(
        f"E2MC sweep ({', '.join(keys)}; other coefficients: the paper's {dc.method} values), "
        f"delta and paired p-values per seed vs continued:"
    )
    print(format_sweep(table))
    title = f"{dc.method} on digits: E2MC continued vs continued, {len(dc.seeds)} seed(s)"
    return [
        write_sweep_csv(table, os.path.join(out, "sweep.csv")),
        plot_sweep(table, os.path.join(out, "sweep.png"), keys, title=title),
    ]
