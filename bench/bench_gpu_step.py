"""Cost of each aux loss inside a real training step: (A) a raw step, (B) the solo-learn wrapper.

    python bench/bench_gpu_step.py                 # GPU: ResNet-50, 224 px, VICReg 8192 projector
    python bench/bench_gpu_step.py --toy           # CPU: resnet18, 32 px, 256 projector (tests)
    python bench/bench_gpu_step.py --parts A --json out.json

(A) Raw step: ResNet-50 (channels_last), bf16 autocast, 2 crops x ``--batch-a`` (256) at 224 px,
VICReg projector 2048-8192-8192-8192, plain VICReg loss (solo-learn's ``vicreg_loss_func``
arithmetic: 25 / 25 / 1), SGD; each variant adds one aux loss (paper coefficients, from
``e2mc_plugin.aux_losses.paper``) to that loss: none, E2MC with defaults / ``check_finite=False`` /
``check_finite=True`` (eager) / the paper's plain Algorithm 1 (``bench_criteria.plain_e2mc``),
VCReg, AUH, MMCR on the 2 crops, and MMCR on 8 views (SwAV's 2 + 6 crops; the 6 extra views are
the 2 projector outputs with rows rolled, so the step measures the criterion's own cost, not 6
small crops through the backbone).
(B) The real solo-learn VICReg through ``e2mc_plugin.solo.api`` and Lightning, 2 crops x
``--batch-b`` (128), bf16 mixed precision: the plain host class, the wrapper with
``aux_losses: []``, and the wrapper with each aux loss.

Timing: wall clock per step (device synchronized at the end of each step; (B) from
``on_train_batch_start`` to ``on_train_batch_end``). Variants run in interleaved rounds whose order
rotates, warm-up steps untimed; reported: the median step over all rounds, the ms added to the
baseline (A: none; B: ``aux_losses: []``) and the ratio. Deferred finiteness flags are checked
once per round outside the timed steps, as the host adapter does at its log points.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_criteria import plain_e2mc  # noqa: E402

from e2mc_plugin.aux_losses import build_aux_loss  # noqa: E402
from e2mc_plugin.aux_losses.paper import paper_aux_spec  # noqa: E402

AUX_NAMES = ("e2mc", "vcreg", "auh", "mmcr")


def aux_spec(name: str, **extra) -> dict:
    return {**paper_aux_spec("vicreg", name), **extra}


def vicreg_loss(z1: Tensor, z2: Tensor) -> Tensor:
    """solo-learn's ``vicreg_loss_func`` (sim 25, var 25, cov 1), written out."""
    sim = F.mse_loss(z1, z2)
    var = sum(F.relu(1.0 - torch.sqrt(z.var(dim=0) + 1e-4)).mean() for z in (z1, z2))
    n, d = z1.shape
    cov = 0.0
    for z in (z1, z2):
        z = z - z.mean(dim=0)
        c = (z.T @ z) / (n - 1)
        cov = cov + (c.pow(2).sum() - c.diagonal().pow(2).sum()) / d
    return 25.0 * sim + 25.0 * var + cov


# ------------------------------------------------------------------------------------------------
# (A) raw step
# ------------------------------------------------------------------------------------------------


def _aux_from_spec(spec: dict) -> Callable[[List[Tensor]], Tensor]:
    spec = dict(spec)
    loss = build_aux_loss(spec.pop("name"), **spec)
    return lambda views: loss(views)["loss"]


def _eight_views(fn: Callable[[List[Tensor]], Tensor]) -> Callable[[List[Tensor]], Tensor]:
    """The 2 views plus 6 more made by rolling their rows (SwAV's 8 crops, same batch)."""
    return lambda views: fn(views + [v.roll(k, 0) for k in (1, 2, 3) for v in views])


def _plain_algorithm1(views: List[Tensor]) -> Tensor:
    with torch.autocast(views[0].device.type, enabled=False):
        return plain_e2mc([v.float() for v in views])["loss"]


def raw_variants() -> Dict[str, Optional[dict]]:
    """label -> aux spec (None: no aux loss; "plain": Algorithm 1)."""
    return {
        "none": None,
        "e2mc (defaults)": aux_spec("e2mc"),
        "e2mc check_finite=False": aux_spec("e2mc", check_finite=False),
        "e2mc check_finite=True (eager)": aux_spec("e2mc", check_finite=True),
        "e2mc plain Algorithm 1": {"name": "plain"},
        "vcreg (defaults)": aux_spec("vcreg"),
        "auh (defaults)": aux_spec("auh"),
        "mmcr 2 views (defaults)": aux_spec("mmcr"),
        "mmcr 8 views (defaults)": {**aux_spec("mmcr"), "eight": True},
    }


def run_raw(args, device: torch.device) -> Dict[str, List[float]]:
    import torchvision

    torch.manual_seed(0)
    backbone = getattr(torchvision.models, args.backbone)()
    feat = backbone.fc.in_features
    backbone.fc = nn.Identity()
    p = args.proj_dim
    projector = nn.Sequential(
        nn.Linear(feat, p), nn.BatchNorm1d(p), nn.ReLU(),
        nn.Linear(p, p), nn.BatchNorm1d(p), nn.ReLU(),
        nn.Linear(p, p),
    )  # fmt: skip
    model = nn.Sequential(backbone, projector).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=1e-6, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    crops = [
        torch.randn(args.batch_a, 3, args.size, args.size, generator=gen)
        .to(device)
        .contiguous(memory_format=torch.channels_last)
        for _ in range(2)
    ]
    variants = raw_variants()
    fns: Dict[str, Optional[Callable]] = {}
    for label, spec in variants.items():
        if spec is None:
            fns[label] = None
        elif spec["name"] == "plain":
            fns[label] = _plain_algorithm1
        else:
            spec = dict(spec)
            eight = spec.pop("eight", False)
            fn = _aux_from_spec(spec)
            fns[label] = _eight_views(fn) if eight else fn

    def step(fn) -> float:
        sync(device)
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp):
            z = [model(x) for x in crops]
            loss = vicreg_loss(*z)
            if fn is not None:
                loss = loss + fn(z)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync(device)
        return time.perf_counter() - t0

    times = {label: [] for label in variants}
    names = list(variants)
    for r in range(args.rounds):
        for label in names[r % len(names) :] + names[: r % len(names)]:
            for _ in range(args.warmup):
                step(fns[label])
            times[label] += [step(fns[label]) for _ in range(args.steps)]
    return times


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


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

    class StepTimer(pl.Callback):
        def __init__(self) -> None:
            self.times: List[float] = []
            self._t0 = 0.0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx, *rest):
            sync(device)
            self._t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *rest):
            sync(device)
            self.times.append(time.perf_counter() - self._t0)

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
    times: Dict[str, List[float]] = {k: [] for k in variants}
    names = list(variants)
    for r in range(args.rounds):
        for label in names[r % len(names) :] + names[: r % len(names)]:
            wrap, aux = variants[label]
            torch.manual_seed(0)
            model = api.build_method(tiny_cfg("vicreg", aux_losses=aux, **overrides), wrap=wrap)
            timer = StepTimer()
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
            times[label] += timer.times[args.warmup :]
    return times


# ------------------------------------------------------------------------------------------------


def table(title: str, times: Dict[str, List[float]], base: str) -> List[dict]:
    ref = statistics.median(times[base])
    rows = []
    print(f"\n{title}")
    print(f"  {'variant':<34} {'median ms':>10} {'added ms':>9} {'ratio':>7} {'steps':>6}")
    for label, ts in times.items():
        med = statistics.median(ts)
        row = {
            "variant": label,
            "median_ms": med * 1e3,
            "added_ms": (med - ref) * 1e3,
            "ratio": med / ref,
            "steps": len(ts),
        }
        rows.append(row)
        print(
            f"  {label:<34} {row['median_ms']:10.1f} {row['added_ms']:+9.1f} "
            f"{row['ratio']:7.3f} {row['steps']:6d}"
        )
    print(f"  (added ms and ratio against '{base}')")
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toy", action="store_true", help="CPU size: resnet18, 32 px, 256 proj")
    parser.add_argument("--parts", default="A,B", help="A (raw step), B (solo wrapper) or both")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps per round")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    full = dict(backbone="resnet50", size=224, proj_dim=8192, batch_a=256, batch_b=128)
    toy = dict(backbone="resnet18", size=32, proj_dim=256, batch_a=16, batch_b=16)
    for key, value in (toy if args.toy else full).items():
        setattr(args, key, value)
    defaults = (1, 2, 1) if args.toy else (3, 10, 3)
    for key, value in zip(("rounds", "steps", "warmup"), defaults, strict=True):
        if getattr(args, key) is None:
            setattr(args, key, value)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    args.amp = True
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        name = torch.cuda.get_device_name(device)
    else:
        name = f"CPU, {torch.get_num_threads()} threads"
    print(
        f"torch {torch.__version__}, {name}; {args.backbone} {args.size} px, projector "
        f"{args.proj_dim}; {args.rounds} rounds x {args.steps} timed steps "
        f"(+{args.warmup} warm-up) per variant"
    )
    result: Dict[str, List[dict]] = {}
    parts = set(args.parts.upper().split(","))
    if "A" in parts:
        times = run_raw(args, device)
        result["A"] = table(f"(A) raw step, bf16 autocast, 2 x {args.batch_a} crops", times, "none")
    if "B" in parts:
        times = run_wrapper(args, device)
        result["B"] = table(
            f"(B) solo-learn VICReg + wrapper, 2 x {args.batch_b} crops",
            times,
            "wrapped, aux_losses: []",
        )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    ok = all(math.isfinite(r["ratio"]) for rows in result.values() for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
