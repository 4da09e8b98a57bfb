"""``e2mc-plugin reproduce``: one row of the paper's tables from a base checkpoint, in one command.

    e2mc-plugin reproduce --row vicreg --imagenet /data/imagenet \\
        --checkpoint resnet50_fullckpt.pth --out runs/t1-vicreg --devices 8
    e2mc-plugin reproduce --row swav800 --plan --devices 1     # stages, commands, GPU-hours, disk
    e2mc-plugin reproduce --smoke --out runs/smoke             # every stage on CPU, tiny data

Runs the row's stages (:mod:`e2mc_plugin.reproduce.planner`) through the existing launchers,
resumes at the first stage not done (:mod:`e2mc_plugin.reproduce.runner`), and writes
``comparison.md`` / ``comparison.csv`` / ``deltas.png`` into ``--out``
(:mod:`e2mc_plugin.reproduce.outputs`). Seeds: the paper averages three trials but does not
record their seeds; the reference scripts default to 31, so the default is 31, 32, 33
(``--smoke``: 31, 32).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Tuple

from e2mc_plugin.reproduce.rows import ROWS

__all__ = ["main"]

_SEEDS = (31, 32, 33)
_SMOKE_SEEDS = (31, 32)
_DATA_FLAGS = ("imagenet", "checkpoint", "label_lists", "inat18", "voc07")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="e2mc-plugin reproduce",
        description="Run one row of the E2MC paper's tables (continued and criterion "
        "pretraining, probes over seeds, fine-tuning, transfer) and compare it with the paper.",
    )
    p.add_argument("--row", choices=list(ROWS), help="Table 1 rows and Table 3 ablations")
    p.add_argument("--imagenet", type=Path, help="folder with train/ and val/ class folders")
    p.add_argument("--checkpoint", type=Path, help="the row's official base release")
    p.add_argument("--out", type=Path, help="the reproduction folder (resumed when it exists)")
    p.add_argument("--devices", type=int, default=1, help="GPUs per stage (global batch kept)")
    p.add_argument("--seeds", default=None, help="probe seeds, comma-separated (31,32,33)")
    p.add_argument(
        "--label-lists", type=Path, help="folder of 1percent.txt / 10percent.txt (--imagenet)"
    )
    p.add_argument("--inat18", type=Path, help="iNat18 train/ and val/ class folders: Table 2")
    p.add_argument("--voc07", type=Path, help="VOCdevkit/VOC2007: Table 2")
    p.add_argument("--paper-version", choices=("A", "B"), default="A")
    p.add_argument("--solo-src", type=Path, help="solo-learn checkout (else $SOLO_LEARN_SRC)")
    p.add_argument("--step-time", type=Path, help="bench/bench_gpu_step.py --json output")
    p.add_argument("--plan", action="store_true", help="print the plan; nothing runs")
    p.add_argument("--smoke", action="store_true", help="every stage on CPU on generated data")
    p.add_argument("--stage", help="run this stage only (the stages it needs must be done)")
    return p


def _seeds(text: Optional[str], smoke: bool) -> Tuple[int, ...]:
    if text is None:
        return _SMOKE_SEEDS if smoke else _SEEDS
    try:
        return tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--seeds {text!r}: comma-separated integers, e.g. 31,32,33") from None


def _absolute(path: Optional[Path]) -> Optional[Path]:
    return None if path is None else path.expanduser().resolve()


def _inputs(args: argparse.Namespace, row, configs: Path):
    from e2mc_plugin.reproduce.plan import Inputs
    from e2mc_plugin.reproduce.smoke_data import make_smoke_inputs, smoke_inputs

    if args.smoke:
        given = [f"--{f.replace('_', '-')}" for f in _DATA_FLAGS if getattr(args, f) is not None]
        if given:
            raise ValueError(f"--smoke generates its own data: drop {', '.join(given)}")
        if args.plan:
            return smoke_inputs(args.out, row)
        return make_smoke_inputs(args.out, row, configs)
    missing = [f for f in ("imagenet", "checkpoint") if getattr(args, f) is None]
    if missing and not args.plan:
        raise ValueError(f"give {' and '.join('--' + m for m in missing)} (or --plan, --smoke)")
    imagenet = _absolute(args.imagenet) or Path("<imagenet>")
    return Inputs(
        imagenet=imagenet,
        checkpoint=_absolute(args.checkpoint) or Path(f"<{row.release.rsplit('/', 1)[-1]}>"),
        label_lists=_absolute(args.label_lists) or imagenet,
        inat18=_absolute(args.inat18),
        voc07=_absolute(args.voc07),
    )


def _check_inputs(plan) -> None:
    """Refuse, before any stage runs, inputs the plan needs and cannot find."""
    i = plan.inputs
    need = [(i.imagenet / "train", "dir"), (i.imagenet / "val", "dir"), (i.checkpoint, "file")]
    need += [(i.label_lists / f"{s.labels}percent.txt", "file") for s in plan.stages
             if s.kind == "subset"]  # fmt: skip
    if i.inat18 is not None:
        need += [(i.inat18 / "train", "dir"), (i.inat18 / "val", "dir")]
    if i.voc07 is not None:
        need += [(i.voc07 / "ImageSets" / "Main", "dir")]
    for path, kind in need:
        ok = path.is_dir() if kind == "dir" else path.is_file()
        if not ok:
            hint = ""
            if path.name.endswith("percent.txt"):
                hint = (
                    " (the SimCLR list: https://raw.githubusercontent.com/google-research/simclr"
                    f"/master/imagenet_subsets/{path.name}; --label-lists sets the folder)"
                )
            raise FileNotFoundError(
                f"{path}: no such {'folder' if kind == 'dir' else 'file'}{hint}"
            )


def _check_out(out: Path) -> None:
    from e2mc_plugin.reproduce.outputs import is_reproduction
    from e2mc_plugin.reproduce.smoke_data import SMOKE_DATA

    if not out.exists():
        return
    # an empty folder, or what a smoke run killed while generating its data left
    if out.is_dir() and (is_reproduction(out) or {p.name for p in out.iterdir()} <= {SMOKE_DATA}):
        return
    raise FileExistsError(
        f"--out {out}: exists and is not a reproduction folder (no reproduce.json); "
        "choose a new folder, or an earlier reproduction's folder to resume it"
    )


def _rerun(argv: List[str]) -> List[str]:
    out, skip = ["e2mc-plugin", "reproduce"], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--stage":
            skip = True
        elif not arg.startswith("--stage="):
            out.append(arg)
    return out


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    from e2mc_plugin._resources import resource_dir
    from e2mc_plugin.reproduce.cost import default_step_time, step_time_from_bench
    from e2mc_plugin.reproduce.outputs import record_plan, write_comparison
    from e2mc_plugin.reproduce.plan import Settings
    from e2mc_plugin.reproduce.planner import build_plan
    from e2mc_plugin.reproduce.rows import get_row
    from e2mc_plugin.reproduce.runner import StageFailed, run_plan
    from e2mc_plugin.reproduce.show_plan import format_plan

    if args.row is None and not args.smoke:
        raise ValueError(f"give --row (one of {', '.join(ROWS)}), or --smoke")
    row = get_row(args.row or "vicreg")
    if args.devices < 1:
        raise ValueError(f"--devices {args.devices}: at least 1")
    if args.out is None and not args.plan:
        if not args.smoke:
            raise ValueError("give --out DIR (the reproduction folder), or --plan")
        args.out = Path("runs") / f"reproduce-smoke-{row.name}"
    args.out = _absolute(args.out) or Path("<out>")
    configs = resource_dir("configs")
    settings = Settings(
        devices=1 if args.smoke else args.devices, seeds=_seeds(args.seeds, args.smoke),
        smoke=args.smoke, paper_version=args.paper_version, solo_src=_absolute(args.solo_src),
    )  # fmt: skip
    if not args.plan:
        _check_out(args.out)
    plan = build_plan(row, _inputs(args, row, configs), settings)
    if args.plan:
        step = None
        if not args.smoke:
            step = step_time_from_bench(args.step_time) if args.step_time else default_step_time()
        print(format_plan(plan, args.out, step))
        return 0
    _check_inputs(plan)
    record_plan(plan, args.out)
    print(f"e2mc-plugin reproduce --row {row.name}: {len(plan.stages)} stages into {args.out}")
    for note in plan.notes:
        print(f"note: {note}")
    failed: Optional[StageFailed] = None
    try:
        run_plan(plan, args.out, rerun=_rerun(argv), only=args.stage)
    except StageFailed as err:
        failed = err
    written = write_comparison(args.out)
    if failed is not None:
        print(f"error: {failed}", file=sys.stderr)
        print(f"the comparison so far: {written.md}", file=sys.stderr)
        return 1
    print("\n" + written.markdown)
    print(f"\nwrote {written.md}\nwrote {written.csv}")
    if written.png is not None:
        print(f"wrote {written.png}")
    elif written.deltas:
        print("plot skipped: matplotlib is not installed (pip install 'e2mc-plugin[plots]')")
    return 0
