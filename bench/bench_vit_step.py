"""E2MC's cost on a ViT-S/16 training step, as a ratio to the plain step, in the same process.

The method (MoCo v3 by default: solo's MoCo v3 ViT-S/16, 12 heads; or DINO: timm's ViT-S/16)
with its release's head widths, at 224 px, trains under three variants in interleaved rounds whose
order rotates (plain host class; wrapped, ``aux_losses: []``; wrapped + E2MC with the ViT
recipes' coefficients, beta 1, gamma 25, gaussian_cdf, on the projector / DINO's ``head.mlp``).
Per-step wall time from ``on_train_batch_start`` to ``on_train_batch_end`` (forward, loss,
backward, optimizer step); reported per variant: the median over all timed steps and the best
per-round median, each also as a ratio to the plain host class.

    python bench/bench_vit_step.py                             # mocov3, 224 px, batch 4, 1 thread
    python bench/bench_vit_step.py --method dino --threads 2 --batch-size 8

solo-learn 1.0.6 (``mocov3``); DINO runs on either host. A CPU bench: the GPU one with ViT-B/16
is ``bench/bench_gpu_step.py``.
"""

from __future__ import annotations

import argparse
from typing import List

import torch
from rounds import print_ratios, timed_rounds  # bench/ is sys.path[0] when run as a script
from step_timer import step_timer

HEADS = {  # the releases' head widths
    "mocov3": {"proj_hidden_dim": 4096, "proj_output_dim": 256, "pred_hidden_dim": 4096,
               "temperature": 0.2},
    "dino": {"proj_hidden_dim": 2048, "proj_output_dim": 256, "num_prototypes": 65536,
             "norm_last_layer": False, "teacher_temperature": 0.07,
             "warmup_teacher_temperature": 0.07},
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--method", default="mocov3", choices=sorted(HEADS))
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.testing.data import synthetic_pretrain_loader
    from e2mc_plugin.testing.presets import tiny_cfg

    pl = compat.lightning()
    e2mc = [{"name": "e2mc", "beta": 1, "gamma": 25, "mapping": "gaussian_cdf"}]
    overrides = {
        "backbone": {"name": "vit_small", "kwargs": {"img_size": args.img_size}},
        "optimizer": {"name": "adamw", "batch_size": args.batch_size, "lr": 1e-6,
                      "weight_decay": 0.1, "classifier_lr": 3e-4, "kwargs": {}},
        "method_kwargs": HEADS[args.method],
    }  # fmt: skip
    variants = {
        "plain host class": (False, []),
        "wrapped, aux_losses: []": (True, []),
        "wrapped, E2MC": (True, e2mc),
    }
    n_steps = args.warmup + args.steps
    loader = synthetic_pretrain_loader(
        n_steps * args.batch_size, batch_size=args.batch_size, size=args.img_size
    )

    def fit(name: str) -> List[float]:
        wrap, aux = variants[name]
        torch.manual_seed(0)
        cfg = tiny_cfg(args.method, aux_losses=aux, **overrides)
        cfg["optimizer"]["kwargs"] = {}  # AdamW: no SGD momentum
        model = api.build_method(cfg, wrap=wrap)
        timer = step_timer(pl)
        api.fit(model, loader, max_epochs=1, callbacks=[timer], enable_progress_bar=False, seed=0)
        return timer.times

    times, round_medians = timed_rounds(list(variants), args.rounds, args.warmup, fit)
    print(
        f"solo-learn {compat.HOST_DIST_VERSION or compat.HOST_VERSION}, torch {torch.__version__}, "
        f"CPU threads {args.threads}: {args.method} ViT-S/16 {args.img_size}x{args.img_size}, "
        f"batch {args.batch_size}, 2 crops, heads {HEADS[args.method]}; "
        f"{args.rounds} rounds x {args.steps} timed steps"
    )
    print_ratios(times, round_medians, "plain host class", ms_width=8)
    print("  (x = ratio to the plain host class's step)")


if __name__ == "__main__":
    main()
