"""gather_with_grad without a process group is the identity (the 2-rank test is test_aux_ddp.py)."""

import torch
import torch.distributed as dist

from e2mc_plugin.criteria.gather import gather_with_grad


def test_identity_when_not_distributed():
    assert not (dist.is_available() and dist.is_initialized())
    x = torch.randn(4, 3, requires_grad=True)
    y = gather_with_grad(x)
    assert y is x
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones(4, 3))
