"""Step time of a wrapped solo-learn method with E2MC vs ``aux_losses: []`` vs the plain host class.

One process, same model size and data; real Lightning fits on the CPU; per-step wall time from
``on_train_batch_start`` to ``on_train_batch_end`` (forward, aux loss, backward, optimizer step).
The variants run in interleaved rounds whose order rotates (plain, empty, e2mc / empty, e2mc,
plain / ...), so drifting machine load hits every variant alike; reported per variant: the median
over all timed steps and the best (lowest) per-round median, the more robust number on a shared
machine.

    python bench/bench_wrapper_overhead.py                      # VICReg, resnet18, 32 px, batch 32
    python bench/bench_wrapper_overhead.py --proj-dim 2048 --batch-size 64 --threads 2

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
    parser.add_argument("--method", default="vicreg")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--proj-dim", type=int, default=256, help="projector hidden and output dim")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--beta", type=float, default=1000.0)
    parser.add_argument("--gamma", type=float, default=100.0)
    parser.add_argument("--mapping", default="sigmoid")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.testing.data import synthetic_pretrain_loader
    from e2mc_plugin.testing.presets import tiny_cfg

    pl = compat.lightning()
    e2mc = [{"name": "e2mc", "beta": args.beta, "gamma": args.gamma, "mapping": args.mapping}]
    overrides = {
        "optimizer.batch_size": args.batch_size,
        "method_kwargs.proj_hidden_dim": args.proj_dim,
        "method_kwargs.proj_output_dim": args.proj_dim,
    }
    variants = {
        "plain host class": (False, []),
        "wrapped, aux_losses: []": (True, []),
        "wrapped, E2MC": (True, e2mc),
    }
    n_steps = args.warmup + args.steps
    loader = synthetic_pretrain_loader(n_steps * args.batch_size, batch_size=args.batch_size)

    def fit(name: str) -> List[float]:
        wrap, aux = variants[name]
        torch.manual_seed(0)
        model = api.build_method(tiny_cfg(args.method, aux_losses=aux, **overrides), wrap=wrap)
        timer = step_timer(pl)
        api.fit(model, loader, max_epochs=1, callbacks=[timer], enable_progress_bar=False, seed=0)
        return timer.times

    times, round_medians = timed_rounds(list(variants), args.rounds, args.warmup, fit)
    print(
        f"solo-learn {compat.HOST_DIST_VERSION or compat.HOST_VERSION}, torch {torch.__version__}, "
        f"CPU threads {args.threads}: {args.method} resnet18 32x32, batch {args.batch_size}, "
        f"2 crops, projector {args.proj_dim}-{args.proj_dim}-{args.proj_dim}; "
        f"{args.rounds} rounds x {args.steps} timed steps"
    )
    print_ratios(times, round_medians, "wrapped, aux_losses: []")
    print("  (x = ratio to 'wrapped, aux_losses: []')")


if __name__ == "__main__":
    main()
