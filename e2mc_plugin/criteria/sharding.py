"""Additive shares of the global-batch criteria: each rank computes only its part of the work.

With ``gather=True`` every rank holds the same gathered views (n, d). Unsharded, every rank then
computes the whole criterion: the same work W times. Sharded, rank r computes a *share* s_r with

    sum_r value(s_r) = the unsharded value,    sum_r d s_r / dZ = the unsharded gradient,

so the shares add up exactly (to float rounding) in value and in gradient. How each term splits:

- entropy and variance are per dimension: rank r takes its contiguous block of about d / W
  columns (sorts only those), its share is ``sum_{j in block} H_j / d``;
- off-diagonal covariance, a sum over the rows of the d x d matrix C: for n < d the Gram form
  ``sum_{j in block} sum_k (X^T X)_jk^2 = <G_r, G>``, with ``G_r = X_B X_B^T`` and
  ``G = sum_r G_r`` (one n x n all-reduce); for n >= d the row block ``X_B^T X`` of C itself
  (d / W x d, no communication beyond the final scalars);
- uniformity ``log mean_{p<q} exp(-t ||z_p - z_q||^2)``: rank r takes a block of rows p (pairs
  p < q), computes its log-sum-exp, and the W log-sum-exps are all-reduced (a W-vector);
- the MMCR nuclear norm needs the spectrum of the whole centroid: it cannot be split exactly and
  is not sharded.

The aux losses combine the shares with :func:`combine_shares`: the values are all-reduced (a few
scalars per step), and the loss and each term back-propagate ``W * share`` so that, after the
gradient all-reduce of :func:`~e2mc_plugin.criteria.gather.gather_with_grad` and DDP's averaging,
every rank's parameter gradients equal the unsharded ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from e2mc_plugin.criteria.checks import check_min_rows, check_view
from e2mc_plugin.criteria.covariance import covariance_penalty, offdiag_sq_sum_gram
from e2mc_plugin.criteria.entropy import marginal_entropy
from e2mc_plugin.criteria.sphere import normalize_rows
from e2mc_plugin.criteria.uniformity import alignment, uniformity
from e2mc_plugin.criteria.variance import STD_EPS, variance_hinge

__all__ = [
    "Shard",
    "alignment_share",
    "alignment_term",
    "combine_shares",
    "covariance_share",
    "covariance_term",
    "entropy_share",
    "uniformity_share",
    "uniformity_term",
    "variance_share",
    "variance_term",
]


def _all_reduce_sum(x: Tensor) -> Tensor:
    """A summed copy of ``x`` over the default process group (``x`` is not modified)."""
    out = x.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def block(size: int, rank: int, world: int) -> slice:
    """Rank ``rank``'s contiguous block of ``range(size)``; the first ``size % world`` blocks are
    one longer (``numpy.array_split``), so any world size works."""
    base, extra = divmod(size, world)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


@dataclass(frozen=True)
class Shard:
    """Which share a process computes. ``reduce_sum`` returns a summed copy over the ranks (the
    default all-reduces over the default process group; a benchmark that simulates one rank in
    one process passes another function)."""

    rank: int
    world: int
    reduce_sum: Callable[[Tensor], Tensor] = field(default=_all_reduce_sum, compare=False)

    def __post_init__(self) -> None:
        if self.world < 1 or not 0 <= self.rank < self.world:
            raise ValueError(f"shard: need 0 <= rank < world, got rank={self.rank} of {self.world}")

    @classmethod
    def current(cls) -> Optional["Shard"]:
        """This process's shard of the default process group, or None with one process."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return None
        return cls(dist.get_rank(), dist.get_world_size())

    def columns(self, d: int) -> slice:
        return block(d, self.rank, self.world)

    def rows(self, n: int) -> slice:
        return block(n, self.rank, self.world)


def entropy_share(
    x_block: Tensor,
    d: int,
    *,
    m: Optional[int],
    eps: float,
    nonnegative: bool = False,
    grad_floor: float = 0.0,
) -> Tensor:
    """Share of ``marginal_entropy(x).mean()`` from this rank's columns ``x_block`` (n, |B|) of
    the (n, d) view: ``sum_{j in block} H_j / d``. Entropy is per dimension: nothing else needed.
    """
    check_view(x_block, min_dim=0)
    if x_block.shape[1] == 0:  # more ranks than dimensions
        return x_block.sum() * 0.0
    h = marginal_entropy(x_block, m=m, eps=eps, nonnegative=nonnegative, grad_floor=grad_floor)
    return h.sum() / d


def variance_share(x_block: Tensor, d: int, *, target: float = 1.0) -> Tensor:
    """Share of ``variance_hinge(x, target)`` from this rank's columns ``x_block`` (n, |B|):
    ``sum_{j in block} relu(target - std_j) / d`` (0 for an empty block)."""
    check_view(x_block, min_dim=0)
    check_min_rows(x_block.shape[0], 2, "the variance hinge")
    if x_block.shape[1] == 0:  # more ranks than dimensions
        return x_block.sum() * 0.0
    std = torch.sqrt(x_block.var(dim=0) + STD_EPS)
    return F.relu(target - std).sum() / d


def covariance_share_gram(x_block: Tensor, d: int, shard: Shard) -> Tensor:
    """Share of ``covariance_penalty(x)`` from this rank's columns only (best when n < d).

    ``(<G_r, G> - sum_{j in block} |Xc_j|^4) / ((n - 1)^2 d)`` with ``G_r = Xc_B Xc_B^T`` and one
    n x n all-reduce ``G = sum_r G_r`` (= Xc Xc^T). Centering is per column, so the block centers
    itself (the mean needs no gradient: the penalty is translation invariant). An empty block
    (more ranks than dimensions) adds a zero G_r and shares 0.
    """
    check_view(x_block, min_dim=0)
    n = x_block.shape[0]
    check_min_rows(n, 2, "the covariance penalty")
    xb = x_block - x_block.mean(dim=0, keepdim=True).detach()
    return offdiag_sq_sum_gram(xb, shard.reduce_sum) / ((n - 1) ** 2 * d)


def covariance_share_rows(x: Tensor, shard: Shard) -> Tensor:
    """Share of ``covariance_penalty(x)`` as this rank's block of rows of C (best when n >= d):
    ``(|Xc_B^T Xc|_F^2 - sum_{j in block} |Xc_j|^4) / ((n - 1)^2 d)``; needs the whole view x
    (n, d) but no communication."""
    check_view(x)
    n, d = x.shape
    check_min_rows(n, 2, "the covariance penalty")
    xc = x - x.mean(dim=0, keepdim=True).detach()
    xb = xc[:, shard.columns(d)]
    c_rows = xb.t() @ xc  # (|B|, d): rows `block` of Xc^T Xc
    diag = xb.square().sum(dim=0).square().sum()
    return (c_rows.square().sum() - diag) / ((n - 1) ** 2 * d)


def covariance_share(x: Tensor, shard: Shard) -> Tensor:
    """Share of ``covariance_penalty(x)`` for the whole view x (n, d): the Gram form on this
    rank's columns when n < d, the row block of C otherwise (as the unsharded path chooses)."""
    check_view(x)
    n, d = x.shape
    if n < d:
        return covariance_share_gram(x[:, shard.columns(d)], d, shard)
    return covariance_share_rows(x, shard)


def uniformity_share(z: Tensor, shard: Shard, *, t: float = 2.0, normalize: bool = True) -> Tensor:
    """Share of ``uniformity(z, t)``: rank r's block of rows p over the pairs p < q.

    The value of each share is the total / W (the log of a sum does not split additively); its
    gradient is ``exp(lse_r - lse) * d lse_r``, which sums over the ranks to the total's.
    """
    check_view(z)
    n = z.shape[0]
    check_min_rows(n, 2, "the uniformity potential")
    if normalize:
        z = normalize_rows(z)
    rows = shard.rows(n)
    zr = z[rows]
    sq = torch.linalg.vector_norm(z, dim=1).square()
    sq_dist = (sq[rows].unsqueeze(1) + sq.unsqueeze(0) - 2.0 * (zr @ z.t())).clamp_min(0.0)
    p = torch.arange(rows.start, rows.stop, device=z.device).unsqueeze(1)
    q = torch.arange(n, device=z.device).unsqueeze(0)
    logits = (-t * sq_dist).masked_fill(q <= p, float("-inf"))
    if rows.start >= min(rows.stop, n - 1):  # no pair p < q starts in this block
        lse_r = logits.new_full((), float("-inf"))
        surrogate = z.sum() * 0.0
    else:
        lse_r = torch.logsumexp(logits.flatten(), dim=0)
    # A W-vector holding each rank's log-sum-exp in its own slot: the sum gathers them.
    slots = torch.zeros(shard.world, dtype=z.dtype, device=z.device)
    slots[shard.rank] = lse_r.detach()
    lse = torch.logsumexp(shard.reduce_sum(slots), dim=0)
    value = lse - math.log(n * (n - 1) / 2)
    if rows.start < min(rows.stop, n - 1):
        surrogate = torch.exp(lse_r.detach() - lse) * lse_r
    return value / shard.world + (surrogate - surrogate.detach())


def alignment_share(a: Tensor, b: Tensor, shard: Shard, *, normalize: bool = True) -> Tensor:
    """Share of ``alignment(a, b)`` (``mean_i |a_i - b_i|^2``): this rank's block of rows."""
    check_view(a, 0)
    check_view(b, 1)
    n = a.shape[0]
    rows = shard.rows(n)
    a, b = a[rows], b[rows]
    if normalize:
        a, b = normalize_rows(a), normalize_rows(b)
    return (a - b).square().sum() / n


# ---- whole criterion or this rank's share: one call for the aux losses' per-view code --------


def variance_term(x: Tensor, shard: Optional[Shard], *, target: float = 1.0) -> Tensor:
    """``variance_hinge(x, target)``, or with ``shard`` this rank's share of it."""
    if shard is None:
        return variance_hinge(x, target=target)
    d = x.shape[1]
    return variance_share(x[:, shard.columns(d)], d, target=target)


def covariance_term(x: Tensor, shard: Optional[Shard]) -> Tensor:
    """``covariance_penalty(x)``, or with ``shard`` this rank's share of it."""
    return covariance_penalty(x) if shard is None else covariance_share(x, shard)


def uniformity_term(z: Tensor, shard: Optional[Shard], *, t: float = 2.0) -> Tensor:
    """``uniformity(z, t)``, or with ``shard`` this rank's share of it."""
    return uniformity(z, t=t) if shard is None else uniformity_share(z, shard, t=t)


def alignment_term(a: Tensor, b: Tensor, shard: Optional[Shard]) -> Tensor:
    """``alignment(a, b)``, or with ``shard`` this rank's share of it."""
    return alignment(a, b) if shard is None else alignment_share(a, b, shard)


def combine_shares(shares: Dict[str, Tensor], shard: Shard) -> Dict[str, Tensor]:
    """Global values of every share (one all-reduce of a small vector), each carrying its
    gradient.

    ``shares["loss"]`` is this rank's share of the weighted loss, the other keys its shares of
    the terms. Every result holds the unsharded value on every rank and back-propagates
    ``W * share``: the gradient all-reduce of ``gather_with_grad`` sums the ranks' shares and DDP
    divides by W, which gives the unsharded parameter gradients exactly, for the loss and for
    each term alone (a user may weight the terms himself).
    """
    keys = list(shares)
    local = torch.stack([shares[k].detach().reshape(()) for k in keys])
    total = shard.reduce_sum(local)
    out = {}
    for i, k in enumerate(keys):
        scaled = shares[k] * shard.world
        out[k] = total[i] + (scaled - scaled.detach())
    return out
