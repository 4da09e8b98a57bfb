"""Step time of the demo's base model: the 3x3 convolutions as built vs their centre taps on 1x1
maps (``e2mc_plugin.demo.centre_taps``), in one process.

The demo's own configuration (``DemoConfig()``: VICReg, resnet18 on 16x16 digits, batch 128,
fused AdamW, projector 256-64) and its augmented digits loader; real Lightning fits; per-step wall
time from ``on_train_batch_start`` to ``on_train_batch_end`` (forward, loss, backward, optimizer
step). The two variants alternate over rounds whose order rotates, so drifting machine load hits
both alike; reported: the median over all timed steps and the best per-round median, and their
ratio to the model as built.

    python bench/bench_demo_step.py                 # one thread
    python bench/bench_demo_step.py --threads 2 --batch-size 64

Works on either host (solo-learn 1.0.2 or 1.0.6).
"""

from __future__ import annotations

import argparse
from typing import List

import torch
from rounds import print_ratios, timed_rounds  # bench/ is sys.path[0] when run as a script
from step_timer import step_timer


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--size", type=int, default=16, help="image side (8 = the digits' own)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    from e2mc_plugin.datasets.digits import load_digits_split, train_loader
    from e2mc_plugin.demo.centre_taps import use_centre_taps
    from e2mc_plugin.demo.preset import DemoConfig, method_cfg
    from e2mc_plugin.diagnostics.logs import quiet_lightning
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.host import compat

    quiet_lightning()
    pl = compat.lightning()
    dc = DemoConfig(batch_size=args.batch_size, size=args.size)
    cfg = method_cfg(dc, lr=dc.base_lr)
    split = load_digits_split(size=dc.size)
    loader = train_loader(split, batch_size=dc.batch_size, seed=0)
    variants = {"3x3 as built": False, "centre taps on 1x1 maps": True}

    def fit(name: str) -> List[float]:
        torch.manual_seed(0)
        model = api.build_method(cfg)
        if variants[name]:
            use_centre_taps(model)
        timer = step_timer(pl)
        api.fit(
            model,
            loader,
            max_epochs=1,
            callbacks=[timer],
            enable_progress_bar=False,
            seed=0,
            limit_train_batches=args.warmup + args.steps,
        )
        return timer.times

    names = list(variants)
    times, round_medians = timed_rounds(names, args.rounds, args.warmup, fit)
    print(
        f"solo-learn {compat.HOST_DIST_VERSION or compat.HOST_VERSION}, torch {torch.__version__}, "
        f"CPU threads {args.threads}: the demo's {dc.method} resnet18 {dc.size}x{dc.size}, "
        f"batch {dc.batch_size}, 2 crops; {args.rounds} rounds x {args.steps} timed steps"
    )
    print_ratios(times, round_medians, names[0], label_width=24)
    print(f"  (x = ratio to '{names[0]}')")


if __name__ == "__main__":
    main()
