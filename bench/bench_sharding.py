"""Benchmark: one rank's share of the global-batch criteria vs the unsharded computation.

    python bench/bench_sharding.py [--n 4096] [--d 8192] [--worlds 1,2,4,8,16] [--reps 3]
                                   [--threads N] [--device cpu|cuda] [--losses e2mc,vcreg,auh]

Every rank of a ``gather: true`` run holds the same gathered views (n, d), 2 views here. Today
(unsharded) each rank computes the whole criterion; sharded, rank r computes only its share
(``e2mc_plugin.criteria.sharding``). This bench simulates one rank in one process: rank 0 (the
largest blocks) of a world of size W computes its shares of the criterion from the full global
batch, forward + backward, with the communication replaced by the identity (the values are then
not the global ones; the 2- and 3-process gloo tests prove that the shares add up). So the table
shows arithmetic only. What sharding adds on the wire, per step and view:

- entropy, variance: nothing (a few scalars at the end, with the other terms);
- covariance, n < d (Gram form): one n x n all-reduce (n = 4096: 64 MiB in fp32); n >= d (row
  block of C): nothing. The Gram form wins when n < d, as unsharded;
- uniformity: a W-vector all-reduce.
All terms: one all-reduce of a few scalars (the values). MMCR is not sharded (its nuclear norm
needs the whole spectrum).

Time: wall clock of forward + backward, median of ``--reps`` after a warm-up, the unsharded and the
sharded runs interleaved round by round.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable, Dict, List

import torch
import torch.nn.functional as F
from torch import Tensor

from e2mc_plugin.criteria import sharding as sh
from e2mc_plugin.criteria.covariance import covariance_penalty
from e2mc_plugin.criteria.entropy import marginal_entropy
from e2mc_plugin.criteria.uniformity import uniformity
from e2mc_plugin.criteria.variance import variance_hinge

Criterion = Callable[[List[Tensor]], Tensor]


def _identity(t: Tensor) -> Tensor:
    return t.detach().clone()


def unsharded(loss: str) -> Criterion:
    """Today's per-rank work: the whole criterion on the gathered views."""

    def e2mc(views: List[Tensor]) -> Tensor:
        xs = [torch.sigmoid(z) for z in views]
        ent = torch.stack([marginal_entropy(x, nonnegative=True).mean() for x in xs]).mean()
        cov = torch.stack([covariance_penalty(x) for x in xs]).sum()
        return -ent + cov

    def vcreg(views: List[Tensor]) -> Tensor:
        return sum(variance_hinge(z) + covariance_penalty(z) for z in views)

    def auh(views: List[Tensor]) -> Tensor:
        return sum(uniformity(z) for z in views)

    return {"e2mc": e2mc, "vcreg": vcreg, "auh": auh}[loss]


def sharded(loss: str, shard: sh.Shard) -> Criterion:
    """Rank ``shard.rank``'s share of the same criterion."""

    def e2mc(views: List[Tensor]) -> Tensor:
        n, d = views[0].shape
        cols = shard.columns(d)
        # n < d: every share needs only this rank's columns, so Psi maps only those.
        xs = [torch.sigmoid(z[:, cols]) for z in views]
        ent = torch.stack(
            [sh.entropy_share(x, d, m=None, eps=1e-7, nonnegative=True) for x in xs]
        ).mean()
        cov = torch.stack([sh.covariance_share_gram(x, d, shard) for x in xs]).sum()
        return sh.combine_shares({"loss": -ent + cov}, shard)["loss"]

    def vcreg(views: List[Tensor]) -> Tensor:
        d = views[0].shape[1]
        cols = shard.columns(d)
        total = sum(
            sh.variance_share(z[:, cols], d) + sh.covariance_share_gram(z[:, cols], d, shard)
            for z in views
        )
        return sh.combine_shares({"loss": total}, shard)["loss"]

    def auh(views: List[Tensor]) -> Tensor:
        total = sum(sh.uniformity_share(F.normalize(z, dim=1), shard) for z in views)
        return sh.combine_shares({"loss": total}, shard)["loss"]

    return {"e2mc": e2mc, "vcreg": vcreg, "auh": auh}[loss]


def _time(fn: Criterion, base: List[Tensor]) -> float:
    views = [b.clone().requires_grad_(True) for b in base]
    if base[0].is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn(views).backward()
    if base[0].is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def measure(loss: str, base: List[Tensor], worlds: List[int], reps: int) -> Dict[int, float]:
    """Median seconds of rank 0's work per world size (1 = unsharded), interleaved rounds."""
    fns = {1: unsharded(loss)}
    fns.update({w: sharded(loss, sh.Shard(0, w, reduce_sum=_identity)) for w in worlds if w > 1})
    for fn in fns.values():  # warm-up
        _time(fn, base)
    times: Dict[int, List[float]] = {w: [] for w in fns}
    for _ in range(reps):
        for w, fn in fns.items():
            times[w].append(_time(fn, base))
    return {w: statistics.median(t) for w, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=4096, help="global batch (rows after gather)")
    parser.add_argument("--d", type=int, default=8192, help="embedding dimension")
    parser.add_argument("--worlds", default="1,2,4,8,16")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--losses", default="e2mc,vcreg,auh")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    worlds = [int(w) for w in args.worlds.split(",")]
    gen = torch.Generator().manual_seed(0)
    base = [torch.randn(args.n, args.d, generator=gen).to(args.device) for _ in range(2)]
    print(
        f"one rank's criterion time (forward + backward, 2 views, n={args.n}, d={args.d}, "
        f"{args.device}, {torch.get_num_threads()} threads), median of {args.reps}"
    )
    header = f"{'loss':<6} " + " ".join(f"{'W=' + str(w):>16}" for w in worlds)
    print(header)
    for loss in args.losses.split(","):
        t = measure(loss, base, worlds, args.reps)
        cells = []
        for w in worlds:
            ratio = t[w] / t[1]
            cells.append(f"{t[w]:8.3f}s {ratio:5.3f}x" if w > 1 else f"{t[1]:8.3f}s  1.000")
        print(f"{loss:<6} " + " ".join(f"{c:>16}" for c in cells))
    print("ratio = one rank's time / the unsharded time (target at W=16: <= 0.125 on CPU)")


if __name__ == "__main__":
    main()
