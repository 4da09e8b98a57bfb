"""Run CUDA-hard-coded host code on the CPU, for the duration of a call.

solo-learn 1.0.6's ``main_knn.py`` sends every batch to ``.cuda()`` and ``main_umap.py`` moves the
backbone to ``"cuda:0"``; ``e2mc-plugin knn|umap --cpu`` runs them unchanged under
:func:`cpu_shim`. Host files are never edited.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

__all__ = ["cpu_shim"]


def _to_cpu(device):
    import torch

    if isinstance(device, str) and device.startswith("cuda"):
        return "cpu"
    if isinstance(device, torch.device) and device.type == "cuda":
        return torch.device("cpu")
    if isinstance(device, int) and not isinstance(device, bool):
        return "cpu"  # .to(0) / .cuda(0) style device ordinals
    return device


@contextlib.contextmanager
def cpu_shim() -> Iterator[None]:
    """Run CUDA-hard-coded host code on the CPU: ``Tensor.cuda`` / ``Module.cuda`` return the
    object unchanged and CUDA devices given to ``Tensor.to`` / ``Module.to`` become the CPU.
    Everything is restored on exit."""
    import torch
    from torch import nn

    saved = (torch.Tensor.cuda, nn.Module.cuda, torch.Tensor.to, nn.Module.to)
    tensor_to, module_to = torch.Tensor.to, nn.Module.to

    def tensor_cuda(self, *args, **kwargs):
        return self

    def module_cuda(self, *args, **kwargs):
        return self

    def tensor_to_cpu(self, *args, **kwargs):
        args = tuple(_to_cpu(a) for a in args)
        if "device" in kwargs:
            kwargs["device"] = _to_cpu(kwargs["device"])
        return tensor_to(self, *args, **kwargs)

    def module_to_cpu(self, *args, **kwargs):
        args = tuple(_to_cpu(a) for a in args)
        if "device" in kwargs:
            kwargs["device"] = _to_cpu(kwargs["device"])
        return module_to(self, *args, **kwargs)

    torch.Tensor.cuda, nn.Module.cuda = tensor_cuda, module_cuda
    torch.Tensor.to, nn.Module.to = tensor_to_cpu, module_to_cpu
    try:
        yield
    finally:
        torch.Tensor.cuda, nn.Module.cuda, torch.Tensor.to, nn.Module.to = saved
