"""All-gather along the batch whose backward all-reduces the gradient and returns the local slice.

Same scheme as solo-learn's ``GatherLayer`` and official VICReg's ``FullGatherLayer``. Every rank
computes the same global loss; summing the gradient copies over ranks and letting DDP average the
parameter gradients gives exactly the full-batch gradient. Returning only the local slice without
the all-reduce would give 1/world_size of it after DDP's averaging (a known bug class).

Per-rank batch sizes may differ (e.g. a last incomplete batch without ``drop_last``): the sizes
are exchanged first (a few integers, over a CPU gloo group so the device never syncs), each rank
pads its rows to the largest size, and the padding is cut out of the gathered result; values and
gradients stay exact.
"""

from __future__ import annotations

import zlib
from typing import Any, List, Optional, Sequence

import torch
import torch.distributed as dist
from torch import Tensor

_SIZE_GROUPS: dict = {}


def _world_size() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def is_distributed() -> bool:
    """True inside an initialized process group of more than one process."""
    return _world_size() > 1


def _size_group() -> Optional[Any]:
    """A gloo group for host integers (None = the default group, when it is gloo already)."""
    if dist.get_backend() == "gloo":
        return None
    key = id(dist.distributed_c10d._get_default_group())
    if key not in _SIZE_GROUPS:
        _SIZE_GROUPS[key] = dist.new_group(backend="gloo")
    return _SIZE_GROUPS[key]


def gather_shapes(x: Tensor) -> List[List[int]]:
    """``[[n_r, d_r] per rank r]`` (one small all-gather, on the CPU: no device sync)."""
    local = torch.tensor([x.shape[0], x.shape[1] if x.dim() > 1 else 1], dtype=torch.int64)
    parts = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, local, group=_size_group())
    return [p.tolist() for p in parts]


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, sizes: List[int]) -> Tensor:  # type: ignore[override]
        world, rank = dist.get_world_size(), dist.get_rank()
        top, n = max(sizes), x.shape[0]
        send = x.contiguous()
        if n < top:  # all_gather needs one shape: pad with rows that are cut out below
            send = torch.cat([send, send.new_zeros((top - n, *x.shape[1:]))])
        parts = [torch.empty_like(send) for _ in range(world)]
        dist.all_gather(parts, send)
        ctx.start = sum(sizes[:rank])
        ctx.n = n
        return torch.cat([p[:s] for p, s in zip(parts, sizes, strict=True)], dim=0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor):  # type: ignore[override]
        # A private copy: the incoming gradient buffer may be shared with other graph nodes.
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.start : ctx.start + ctx.n], None


def gather_with_grad(x: Tensor, sizes: Optional[Sequence[int]] = None) -> Tensor:
    """Concatenate ``x`` (n_r, ...) of all ranks -> (sum_r n_r, ...), rank order; gradient-correct.

    Identity when torch.distributed is unavailable, not initialized, or has one process.
    ``sizes``: the per-rank row counts if known (see :func:`gather_views_with_grad`); otherwise
    they are exchanged first. The trailing dimensions must agree across ranks.
    """
    if _world_size() == 1:
        return x
    if sizes is None:
        sizes = _checked_sizes(gather_shapes(x))
    return _GatherWithGrad.apply(x, list(sizes))


def _checked_sizes(shapes: List[List[int]]) -> List[int]:
    dims = {d for _, d in shapes}
    if len(dims) > 1:
        per_rank = ", ".join(f"rank {r}: {tuple(s)}" for r, s in enumerate(shapes))
        raise ValueError(f"gather: the embedding dimension differs across ranks ({per_rank})")
    return [n for n, _ in shapes]


class RankViewsError(ValueError, TypeError):
    """The ranks' views cannot be gathered (one rank's are invalid, or they differ in dim,
    count or dtype); every rank raises it with the same message."""


def _dtype_code(views: Sequence[Tensor]) -> int:
    """The views' dtypes as one integer, equal on two ranks iff their dtype lists are."""
    return zlib.crc32(",".join(str(v.dtype) for v in views).encode())


def agree_on_views(views: Sequence[Tensor], error: Optional[BaseException] = None) -> List[int]:
    """Every rank's row count, after every rank has seen every rank's verdict on its views.

    One small all-gather (on the CPU: no device sync) carries each rank's
    ``[invalid, n, d, number of views, dtypes]``; ``error`` is this rank's own validation error
    (its views are not used then). If any rank's views are invalid, or the ranks' views differ
    in dim, count or dtype, every rank raises the same :class:`RankViewsError` naming the ranks
    (the invalid ranks' messages travel in a second exchange, made only then): no rank is left
    waiting in a collective that another rank never reaches.
    """
    if error is None:
        local = [0, views[0].shape[0], views[0].shape[1], len(views), _dtype_code(views)]
    else:
        local = [1, 0, 0, 0, 0]
    parts = [torch.empty(5, dtype=torch.int64) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, torch.tensor(local, dtype=torch.int64), group=_size_group())
    rows = [p.tolist() for p in parts]
    if any(r[0] for r in rows):
        messages: List[Any] = [None] * len(rows)
        dist.all_gather_object(messages, "" if error is None else str(error), group=_size_group())
        bad = "; ".join(f"rank {r}: {m}" for r, m in enumerate(messages) if rows[r][0])
        raise RankViewsError(f"invalid views on {bad}")
    for what, col in (("embedding dimension differs", 2), ("number of views differs", 3)):
        if len({r[col] for r in rows}) > 1:
            per_rank = ", ".join(
                f"rank {r}: " + (f"({row[1]}, {row[2]})" if col == 2 else f"{row[3]} views")
                for r, row in enumerate(rows)
            )
            raise RankViewsError(f"the {what} across ranks ({per_rank})")
    if len({r[4] for r in rows}) > 1:
        dtypes: List[Any] = [None] * len(rows)
        dtypes_here = ", ".join(str(v.dtype).replace("torch.", "") for v in views)
        dist.all_gather_object(dtypes, dtypes_here, group=_size_group())
        per_rank = "; ".join(f"rank {r}: {t}" for r, t in enumerate(dtypes))
        raise RankViewsError(f"the view dtypes differ across ranks ({per_rank})")
    return [r[1] for r in rows]


def gather_views_with_grad(
    views: Sequence[Tensor], sizes: Optional[Sequence[int]] = None
) -> List[Tensor]:
    """:func:`gather_with_grad` on each view, with one exchange of the sizes for all of them
    (``sizes``: the per-rank row counts if already exchanged, e.g. by :func:`agree_on_views`)."""
    if _world_size() == 1:
        return list(views)
    if sizes is None:
        sizes = agree_on_views(views)
    return [_GatherWithGrad.apply(v, list(sizes)) for v in views]
