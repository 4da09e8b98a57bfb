"""Float32 math under autocast: every criterion upcasts half-precision input and disables autocast.

Why: the m-spacings estimator packs values into [0, 1]; in fp16/bf16 neighbouring order statistics
round to the same value, spacings become 0 and gradients ~1/eps (paper Appendix B, reference runs).
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator, TypeVar

import torch
from torch import Tensor

F = TypeVar("F", bound=Callable[..., Any])

_HALF = (torch.float16, torch.bfloat16)


def to_float32(x: Tensor) -> Tensor:
    """Upcast fp16/bf16 to fp32; float32 / float64 pass through (float64 keeps gradcheck exact)."""
    if x.dtype in _HALF or not x.is_floating_point():
        return x.float()
    return x


@contextlib.contextmanager
def autocast_disabled(device_type: str) -> Iterator[None]:
    """Disable autocast for ``device_type`` (no-op for devices autocast does not know)."""
    try:
        ctx = torch.autocast(device_type=device_type, enabled=False)
    except (RuntimeError, ValueError):
        ctx = contextlib.nullcontext()
    with ctx:
        yield


def float32_math(fn: F) -> F:
    """Decorator: run ``fn`` with autocast disabled and its tensor arguments upcast to >= fp32."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        device_type = "cpu"
        for a in list(args) + list(kwargs.values()):
            if isinstance(a, Tensor):
                device_type = a.device.type
                break
        args = tuple(to_float32(a) if isinstance(a, Tensor) else a for a in args)
        kwargs = {k: to_float32(v) if isinstance(v, Tensor) else v for k, v in kwargs.items()}
        with autocast_disabled(device_type):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
