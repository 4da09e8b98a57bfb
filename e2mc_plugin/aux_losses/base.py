"""Base class of the named auxiliary losses: view selection, global-batch gathering, validation."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor, nn

from e2mc_plugin.criteria.checks import check_finite, check_views
from e2mc_plugin.criteria.gather import gather_with_grad
from e2mc_plugin.criteria.precision import autocast_disabled, to_float32

VIEW_CHOICES = ("large", "all")


class AuxLoss(nn.Module):
    """An auxiliary criterion added to the host's SSL loss.

    Args:
        views: which crops the host passes: ``"large"`` (the 2 full-resolution crops) or ``"all"``
            (every crop, small multi-crops included, same batch and dim). ``None`` = the loss's
            ``default_views``.
        gather: all-gather every view over the processes (gradient-correct) before computing the
            statistics, so they are over the global batch (the reference does this).
        check_finite: raise a ValueError naming the view if an input has NaN/Inf (one device sync
            per view). Set False to let non-finite values propagate, e.g. so that an fp16
            GradScaler can skip the step instead of the run stopping.

    ``forward(views)`` returns ``{"loss": signed weighted term to ADD to the SSL loss, <terms>}``
    where the terms are unweighted, float32 (float64 for float64 input), even under autocast.
    """

    name: str = ""
    default_views: str = "large"
    term_names: tuple = ()  # keys that forward() may return besides "loss" (for logging)
    kwargs_hint: str = ""  # shown when a required keyword is missing

    def __init__(
        self, *, views: Optional[str] = None, gather: bool = False, check_finite: bool = True
    ) -> None:
        super().__init__()
        views = self.default_views if views is None else views
        if views not in VIEW_CHOICES:
            raise ValueError(
                f"{self.name or type(self).__name__}: views must be one of "
                f"{', '.join(map(repr, VIEW_CHOICES))}, got {views!r}"
            )
        self.views = views
        self.gather = bool(gather)
        self.check_finite = bool(check_finite)

    def prepare(self, views: Sequence[Tensor]) -> List[Tensor]:
        """Validate and upcast the views; gather them if ``gather`` (n = the global batch)."""
        check_views(views)
        out = [to_float32(v) for v in views]
        if self.gather:
            out = [gather_with_grad(v) for v in out]
        if self.check_finite:
            # After the gather, so that every rank sees the same tensors and raises together.
            check_finite(out)
        return out

    def compute(self, views: List[Tensor]) -> Dict[str, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, views: Sequence[Tensor]) -> Dict[str, Tensor]:
        prepared = self.prepare(views)
        with autocast_disabled(prepared[0].device.type):
            return self.compute(prepared)

    def extra_repr(self) -> str:
        return f"views={self.views!r}, gather={self.gather}"


def zero_loss(like: Optional[Tensor] = None) -> Tensor:
    """A float32 scalar 0 on ``like``'s device, outside any graph."""
    if like is None:
        return torch.zeros((), dtype=torch.float32)
    return torch.zeros((), dtype=torch.float32, device=like.device)
