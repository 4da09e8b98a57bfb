"""Cost of each aux loss inside a real training step: (A) a raw step, (B) the solo-learn wrapper.

    python bench/bench_gpu_step.py                 # GPU: ResNet-50 / ViT-B/16, 224 px, 8192 proj.
    python bench/bench_gpu_step.py --toy           # CPU: resnet18 / vit_tiny, 32 px, 256 projector
    python bench/bench_gpu_step.py --parts A,B --batch-b 256 --json out.json

(A) Raw step: ResNet-50 (channels_last), bf16 autocast, 2 crops x ``--batch-a`` (256) at 224 px,
VICReg projector 2048-8192-8192-8192, plain VICReg loss (solo-learn's ``vicreg_loss_func``
arithmetic: 25 / 25 / 1), SGD; each variant adds one aux loss (paper coefficients, from
``e2mc_plugin.aux_losses.paper``) to that loss: none, E2MC with defaults / ``check_finite=False`` /
``check_finite=True`` (eager) / the paper's plain Algorithm 1 (``bench_criteria.plain_e2mc``),
VCReg, AUH, MMCR on the 2 crops, and MMCR on 8 views (SwAV's 2 + 6 crops; the 6 extra views are
the 2 projector outputs with rows rolled, so the step measures the criterion's own cost, not 6
small crops through the backbone).
(V) The raw step of (A) with solo-learn main's ViT-B/16 (``solo.backbones.vit_base``, 768-d
features) instead of the ResNet-50, for the variants none, E2MC, VCReg, AUH and MMCR; skipped with
a note when solo-learn main is not importable.
(B) The real solo-learn VICReg through ``e2mc_plugin.solo.api`` and Lightning, 2 crops x
``--batch-b`` (128), bf16 mixed precision: the plain host class, the wrapper with
``aux_losses: []``, and the wrapper with each aux loss.

Timing: wall clock per step (device synchronized at the end of each step; (B) from
``on_train_batch_start`` to ``on_train_batch_end``). Variants run in interleaved rounds whose order
rotates, warm-up steps untimed; reported: the median step over all rounds, the ms added to the
baseline (A: none; B: ``aux_losses: []``) and the ratio. Deferred finiteness flags are checked
once per round outside the timed steps, as the host adapter does at its log points.

Goals (``bench/step_goals.py``): each row of a criterion gets its share of the step and whether it
meets its goal; with A and B at the same batch, the wrapper's own share is printed too. The JSON
(``--json``) is rewritten after each part, so a run cut short keeps the parts it finished.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import sys
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from raw_step import AUX_NAMES, VIT_VARIANTS, aux_spec, run_raw, sync, vit_unavailable  # noqa: E402
from rounds import timed_rounds  # noqa: E402
from step_goals import annotate_raw, wrapper_rows  # noqa: E402
from step_timer import step_timer  # noqa: E402

# ------------------------------------------------------------------------------------------------
# (B) the real solo-learn wrapper
# ------------------------------------------------------------------------------------------------


def run_wrapper(args, device: torch.device) -> Dict[str, List[float]]:
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.testing.data import synthetic_pretrain_loader
    from e2mc_plugin.testing.presets import tiny_cfg

    for name in ("lightning", "lightning.pytorch", "pytorch_lightning", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)  # the per-fit banners, not our tables
    warnings.filterwarnings("ignore")
    pl = compat.lightning()
    major = int(pl.__version__.split(".")[0])
    if device.type == "cuda":
        accelerator, precision = "gpu", ("bf16-mixed" if major >= 2 else "bf16")
    else:
        accelerator, precision = "cpu", 32

    variants = {"plain host class": (False, []), "wrapped, aux_losses: []": (True, [])}
    for name in AUX_NAMES:
        variants[f"wrapped, {name}"] = (True, [aux_spec(name)])
    variants["wrapped, e2mc check_finite=False"] = (True, [aux_spec("e2mc", check_finite=False)])
    overrides = {
        "backbone.name": args.backbone,
        "optimizer.batch_size": args.batch_b,
        "optimizer.lr": 1e-6,
        "method_kwargs.proj_hidden_dim": args.proj_dim,
        "method_kwargs.proj_output_dim": args.proj_dim,
    }
    n_steps = args.warmup + args.steps
    loader = synthetic_pretrain_loader(
        n_steps * args.batch_b, batch_size=args.batch_b, size=args.size
    )

    def fit(label: str) -> List[float]:
        wrap, aux = variants[label]
        torch.manual_seed(0)
        model = api.build_method(tiny_cfg("vicreg", aux_losses=aux, **overrides), wrap=wrap)
        timer = step_timer(pl, synchronize=lambda: sync(device))
        api.fit(
            model,
            loader,
            max_epochs=1,
            callbacks=[timer],
            enable_progress_bar=False,
            accelerator=accelerator,
            precision=precision,
            seed=0,
        )
        return timer.times

    times, _ = timed_rounds(list(variants), args.rounds, args.warmup, fit)
    return times


# ------------------------------------------------------------------------------------------------


def table(title: str, times: Dict[str, List[float]], base: str) -> List[dict]:
    ref = statistics.median(times[base])
    rows = []
    print(f"\n{title}")
    head = f"{'median ms':>10} {'IQR ms':>7} {'added ms':>9} {'ratio':>7} {'steps':>6}"
    print(f"  {'variant':<34} {head}")
    for label, ts in times.items():
        med = statistics.median(ts)
        q1, _, q3 = statistics.quantiles(ts, n=4) if len(ts) > 1 else (med, med, med)
        row = {
            "variant": label,
            "median_ms": med * 1e3,
            "iqr_ms": (q3 - q1) * 1e3,
            "added_ms": (med - ref) * 1e3,
            "ratio": med / ref,
            "steps": len(ts),
        }
        rows.append(row)
        print(
            f"  {label:<34} {row['median_ms']:10.1f} {row['iqr_ms']:7.1f} {row['added_ms']:+9.1f} "
            f"{row['ratio']:7.3f} {row['steps']:6d}"
        )
    print(f"  (added ms and ratio against '{base}'; IQR: spread of the steps)")
    return rows


def print_goals(title: str, rows: List[dict]) -> None:
    print(f"\n{title}")
    for row in rows:
        if "goal" in row:
            verdict = "meets" if row["meets_goal"] else "MISSES"
            print(
                f"  {row['variant']:<34} share {100 * row['share']:+6.2f} %   "
                f"goal <= {100 * row['goal']:.1f} %: {verdict}"
            )


def sizes(args) -> None:
    """Fill the model and batch sizes of a full (GPU) or --toy (CPU) run, unless given."""
    full = dict(backbone="resnet50", vit="vit_base", size=224, proj_dim=8192, batch_a=256)
    toy = dict(backbone="resnet18", vit="vit_tiny", size=32, proj_dim=256, batch_a=16)
    for key, value in (toy if args.toy else full).items():
        setattr(args, key, value)
    if args.batch_b is None:
        args.batch_b = 16 if args.toy else 128
    defaults = (1, 2, 1) if args.toy else (3, 10, 3)
    for key, value in zip(("rounds", "steps", "warmup"), defaults, strict=True):
        if getattr(args, key) is None:
            setattr(args, key, value)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toy", action="store_true", help="CPU size: resnet18 / vit_tiny, 32 px")
    parser.add_argument(
        "--parts", default="A,B,V", help="A (raw ResNet step), B (solo wrapper), V (raw ViT step)"
    )
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--batch-b", type=int, default=None, help="B's crops per view (128)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps per round")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes(args)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    args.amp = True
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        name = torch.cuda.get_device_name(device)
    else:
        name = f"CPU, {torch.get_num_threads()} threads"
    print(
        f"torch {torch.__version__}, {name}; {args.backbone} / {args.vit} {args.size} px, "
        f"projector {args.proj_dim}; {args.rounds} rounds x {args.steps} timed steps "
        f"(+{args.warmup} warm-up) per variant"
    )
    result: Dict[str, object] = {"device": name, "torch": torch.__version__}
    keys = ("backbone", "vit", "size", "proj_dim", "batch_a", "batch_b")
    result["sizes"] = {k: getattr(args, k) for k in keys}

    def save() -> None:
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1))

    parts = [p.strip().upper() for p in args.parts.split(",")]
    if "A" in parts:
        times = run_raw(args, device, args.backbone)
        title = f"(A) raw step, {args.backbone}, bf16 autocast, 2 x {args.batch_a} crops"
        result["A"] = annotate_raw(table(title, times, "none"))
        print_goals("(A) each criterion's share of the step", result["A"])
        save()
    if "B" in parts:
        times = run_wrapper(args, device)
        result["B"] = table(
            f"(B) solo-learn VICReg + wrapper, 2 x {args.batch_b} crops",
            times,
            "wrapped, aux_losses: []",
        )
        if "A" in result and args.batch_b == args.batch_a:
            result["B_wrapper"] = wrapper_rows(result["A"], result["B"])
            print_goals(
                "(B) the wrapper's own share (criterion time from A removed)", result["B_wrapper"]
            )
        save()
    if "V" in parts:
        why = vit_unavailable()
        if why:
            print(f"\n(V) skipped: {why}")
            result["skipped"] = {"V": why}
        else:
            times = run_raw(args, device, args.vit, only=VIT_VARIANTS)
            title = (
                f"(V) raw step, {args.vit} (solo-learn), bf16 autocast, 2 x {args.batch_a} crops"
            )
            result["V"] = annotate_raw(table(title, times, "none"))
            print_goals("(V) each criterion's share of the ViT step", result["V"])
        save()
    rows = [r for key in ("A", "B", "V") for r in result.get(key, [])]  # type: ignore[union-attr]
    return 0 if all(math.isfinite(r["ratio"]) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
