"""All-gather along the batch whose backward all-reduces the gradient and returns the local slice.

Same scheme as solo-learn's ``GatherLayer`` and official VICReg's ``FullGatherLayer``. Every rank
computes the same global loss; summing the gradient copies over ranks and letting DDP average the
parameter gradients gives exactly the full-batch gradient. Returning only the local slice without
the all-reduce would give 1/world_size of it after DDP's averaging (a known bug class).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor


def _world_size() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:  # type: ignore[override]
        world = dist.get_world_size()
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        ctx.rank = dist.get_rank()
        ctx.n = x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:  # type: ignore[override]
        # A private copy: the incoming gradient buffer may be shared with other graph nodes.
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` (n, ...) from all ranks -> (world * n, ...), rank order; gradient-correct.

    Identity when torch.distributed is unavailable, not initialized, or has one process. All ranks
    must pass the same shape (``all_gather`` needs it; a DistributedSampler gives equal per-rank
    batches, and solo-learn drops the last incomplete batch).
    """
    if _world_size() == 1:
        return x
    return _GatherWithGrad.apply(x)
