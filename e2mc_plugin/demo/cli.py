"""``e2mc-plugin demo``: base -> continued (no aux) vs + E2MC -> kNN / linear probes, on digits.

Runs on CPU in about ten minutes (``--quick``: well under one) with data shipped inside
scikit-learn. Writes ``results.csv``, ``summary.json``, the checkpoints and diagnostic PNGs to
``--out``.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from typing import List, Optional

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
    p.add_argument("--base-epochs", type=int, default=None)
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
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return p


def quiet_lightning() -> None:
    """Silence Lightning's INFO banners (call after the host is imported: it sets its levels)."""
    from e2mc_plugin.solo import compat

    compat.lightning()
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_lightning()
    import torch

    from e2mc_plugin.demo.stages import DemoConfig, with_overrides

    if args.threads:
        torch.set_num_threads(args.threads)
    base_dc = DemoConfig.quick() if args.quick else DemoConfig()
    base_dc = with_overrides(
        base_dc,
        seeds=args.seeds,
        aux=args.aux,
        base_epochs=args.base_epochs,
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
        _run_one(dc, out)
    return 0


def _run_one(dc, out: str) -> None:
    """Run the protocol for one method, print the tables and write the files into ``out``."""
    from e2mc_plugin.demo.report import aggregate, format_significance, format_table, write_outputs
    from e2mc_plugin.demo.stages import run_demo
    from e2mc_plugin.diagnostics.plots import format_entropy_table

    t0 = time.perf_counter()
    result = run_demo(dc, out)
    paths = write_outputs(result, out)
    wall = time.perf_counter() - t0
    print()
    print(
        f"method {dc.method}, host solo-learn {result['host']}; base {dc.base_epochs} ep at lr "
        f"{dc.base_lr}; continued {dc.continued_epochs} ep at lr {result['continued_lr']:g} "
        f"(constant); {result['n_train']} train / {result['n_test']} held-out digits"
    )
    print(format_table(aggregate(result["rows"])))
    if result["significance"]:
        print()
        print(format_significance(result["significance"]))
    if result["diagnostics"]:
        print()
        print(
            f"per-dimension m-spacings entropy of Psi(z) ({result['diagnostics']['mapping']}), "
            f"seed {dc.seeds[0]}, held-out split (0 = uniform):"
        )
        print(format_entropy_table(result["diagnostics"]["entropy"]))
        print("figures:", ", ".join(result["diagnostics"]["pngs"]))
    print(f"\nwrote {paths['csv']}, {paths['json']}; wall time {wall:.1f} s")
