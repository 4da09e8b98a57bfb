"""Base class of the named auxiliary losses: view selection, global-batch gathering, validation."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from e2mc_plugin.aux_losses import params
from e2mc_plugin.aux_losses.finite import OVERFLOW_HINT, FiniteMonitor
from e2mc_plugin.criteria.checks import NonFiniteError, check_finite, check_views
from e2mc_plugin.criteria.gather import (
    RankViewsError,
    agree_on_views,
    gather_views_with_grad,
    is_distributed,
)
from e2mc_plugin.criteria.precision import autocast_disabled, to_float32
from e2mc_plugin.criteria.sharding import Shard, combine_shares

VIEW_CHOICES = ("large", "all")


class AuxLoss(nn.Module):
    """An auxiliary criterion added to the host's SSL loss.

    Args:
        views: which crops the host passes: ``"large"`` (the 2 full-resolution crops) or ``"all"``
            (every crop, small multi-crops included, same batch and dim). ``None`` = the loss's
            ``default_views``.
        gather: all-gather every view over the processes (gradient-correct) before computing the
            statistics, so they are over the global batch (the reference does this). Per-rank
            batch sizes may differ (e.g. a last incomplete batch): the statistics are then over
            all the rows present. Before the gather every rank learns every rank's verdict on
            its views (in the exchange of the batch sizes): invalid views on any rank (e.g. an
            empty batch), or views that differ across ranks in dim, count or dtype, make every
            rank raise the same :class:`~e2mc_plugin.criteria.gather.RankViewsError` naming the
            ranks, instead of one rank raising while the others wait in the collective.
        check_finite: what happens when an input view (or the loss) holds NaN/Inf.
            ``"deferred"`` (default): no device-to-host read in the step; each forward adds
            NaN/Inf flags per view and for the loss to a counter on the device. The error, a
            :class:`NonFiniteError` (a ValueError) naming the loss, the view index and how many
            steps it covered, surfaces at :meth:`raise_if_nonfinite` (the host adapter calls it
            at Lightning's log points and at epoch end) or, without that call, at a later
            forward once the device has produced the flags (CUDA: a non-blocking copy, read when
            its event has completed, usually the next step; CPU: the next forward). A bad step
            can thus reach the optimizer before the run stops.
            ``True`` / ``"eager"``: check before the loss is computed and raise at once (one
            device sync per view and one for the loss). ``False``: no check, NaN/Inf propagate
            (e.g. so that an fp16 GradScaler skips the step). Under DDP with ``gather=False``
            each rank checks only its own views, so only the ranks holding NaN/Inf raise; with
            ``gather=True`` every rank sees the same tensors and raises together.
        shard: split the global-batch criterion across the ranks
            (:mod:`e2mc_plugin.criteria.sharding`): with ``gather=True`` on W > 1 processes each
            rank computes only its share (per-dimension terms on about d / W columns, the
            covariance as a block of rows of C, uniformity on a block of pairs) and a few scalars
            (plus one n x n all-reduce per view for the covariance when n < d) are summed. Values
            and every rank's parameter gradients equal the unsharded computation (to float
            rounding). ``"auto"`` (default): on where it applies (``gather=True``, W > 1, a loss
            that splits exactly); ``True`` / ``"on"``: required (an error for a loss that cannot
            split, e.g. MMCR, or without ``gather``); ``False`` / ``"off"``: every rank computes
            the whole criterion. With one process nothing changes.

    ``forward(views)`` returns ``{"loss": signed weighted term to ADD to the SSL loss, <terms>}``
    where the terms are unweighted tensors (never Python numbers), float32 (float64 for float64
    input), even under autocast. ``input_dtype`` is the dtype the host passed (before the upcast).

    A subclass declares its own keywords and passes the four above on as ``**common``; it writes
    its per-view math once, in :meth:`view_terms` (given ``shard``, this rank's shares, e.g.
    through :func:`~e2mc_plugin.criteria.sharding.covariance_term`), and the reduction over views
    in :meth:`combine`; a loss that is not a sum over views overrides :meth:`compute`.
    """

    name: str = ""
    default_views: str = "large"
    term_names: tuple = ()  # keys that forward() may return besides "loss" (for logging)
    kwargs_hint: str = ""  # shown when a required keyword is missing
    splits_exactly: bool = False  # True: compute_share() gives additive shares of compute()

    def __init__(
        self,
        *,
        views: Optional[str] = None,
        gather: bool = False,
        check_finite: Any = "deferred",
        shard: Any = "auto",
    ) -> None:
        super().__init__()
        label = self.label
        views = self.default_views if views is None else views
        self.views = params.choice(label, "views", views, VIEW_CHOICES)
        self.gather = params.flag(label, "gather", gather)
        self.check_finite = params.finite_mode(label, check_finite)
        self.shard = params.shard_mode(label, shard)
        if self.shard == "on" and not self.splits_exactly:
            raise params.InvalidParameterError(
                f"{label}: shard=True, but this loss cannot be split exactly across ranks; "
                "use shard: auto or false"
            )
        if self.shard == "on" and not self.gather:
            raise params.InvalidParameterError(
                f"{label}: shard=True needs gather=True (without the gather each rank's "
                "statistics are its own and there is nothing to share)"
            )
        self.input_dtype: Optional[torch.dtype] = None
        self._monitor = FiniteMonitor(label)

    @property
    def label(self) -> str:
        """The name used in error messages (registry name, else the class name)."""
        return self.name or type(self).__name__

    def prepare(self, views: Sequence[Tensor]) -> List[Tensor]:
        """Validate and upcast the views; gather them if ``gather`` (n = the global batch)."""
        error: Optional[Exception] = None
        try:
            check_views(views)
        except (TypeError, ValueError) as err:
            error = err
        if self.gather and is_distributed():
            # Every rank hears every rank's verdict before the gather (piggy-backed on the
            # exchange of the batch sizes): all raise the same error, none waits in a collective.
            out = [] if error else [to_float32(v) for v in views]
            try:
                sizes = agree_on_views(out, error)
            except RankViewsError as err:
                raise RankViewsError(f"{self.label}: {err}") from None
            return self._finish(gather_views_with_grad(out, sizes))
        if error is not None:
            raise self._named(error) from None
        return self._finish([to_float32(v) for v in views])

    def _finish(self, out: List[Tensor]) -> List[Tensor]:
        """The eager finiteness check of the prepared views."""
        if self.check_finite == "eager":
            # After the gather, so that every rank sees the same tensors and raises together.
            try:
                check_finite(out)
            except NonFiniteError as err:
                raise NonFiniteError(f"{self.label}: {err}") from None
        return out

    def view_terms(self, z: Tensor, shard: Optional[Shard]) -> Tuple[Tensor, ...]:
        """One view's unweighted terms, or with ``shard`` this rank's additive shares of them
        (a loss whose terms are per view implements this and :meth:`combine`)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def combine(
        self, per_view: List[Tuple[Tensor, ...]], views: List[Tensor], shard: Optional[Shard]
    ) -> Dict[str, Tensor]:
        """The per-view terms (or shares) -> ``{"loss": ..., <terms>}``; linear in them, so the
        same code reduces whole terms and shares."""
        raise NotImplementedError  # pragma: no cover - abstract

    def compute(self, views: List[Tensor], shard: Optional[Shard] = None) -> Dict[str, Tensor]:
        """The loss and its terms on the prepared views (with ``shard``: this rank's shares):
        :meth:`view_terms` of each view, then :meth:`combine`. A loss that is not a sum over
        views (MMCR) overrides this instead."""
        return self.combine([self.view_terms(z, shard) for z in views], views, shard)

    def compute_share(self, views: List[Tensor], shard: Shard) -> Dict[str, Tensor]:
        """This rank's additive shares of :meth:`compute`'s outputs (losses that split exactly)."""
        return self.compute(views, shard)

    def active_shard(self) -> Optional[Shard]:
        """The shard this process computes now, or None for the whole criterion."""
        if self.shard == "off" or not self.gather or not self.splits_exactly:
            return None
        return Shard.current()

    def forward(self, views: Sequence[Tensor]) -> Dict[str, Tensor]:
        prepared = self.prepare(views)
        self.input_dtype = views[0].dtype
        shard = self.active_shard()
        with autocast_disabled(prepared[0].device.type):
            try:
                if shard is None:
                    out = self.compute(prepared)
                else:
                    out = combine_shares(self.compute_share(prepared, shard), shard)
            except (TypeError, ValueError) as err:  # e.g. a batch too small for a term
                raise self._named(err) from None
        if self.check_finite == "deferred":
            self._monitor.record(prepared, out["loss"])
        elif self.check_finite == "eager" and not bool(torch.isfinite(out["loss"].detach())):
            raise NonFiniteError(
                f"{self.label}: the loss is not finite although every input view is: "
                f"{OVERFLOW_HINT}"
            )
        return out

    def _named(self, err: Exception) -> Exception:
        """``err`` with its message prefixed by the loss's label (unless it already is)."""
        if str(err).startswith(f"{self.label}:"):
            return err
        try:
            return type(err)(f"{self.label}: {err}")
        except TypeError:  # an exception class with another constructor: leave it as it is
            return err

    def raise_if_nonfinite(self) -> None:
        """Raise the deferred NaN/Inf error, if any forward since the last call recorded one.

        One device sync; resets the counter. A no-op for ``check_finite`` True / False.
        """
        self._monitor.raise_if_nonfinite()

    def extra_repr(self) -> str:
        return (
            f"views={self.views!r}, gather={self.gather}, check_finite={self.check_finite!r}, "
            f"shard={self.shard!r}"
        )


def zero_loss(like: Optional[Tensor] = None) -> Tensor:
    """A float32 scalar 0 on ``like``'s device, outside any graph."""
    if like is None:
        return torch.zeros((), dtype=torch.float32)
    return torch.zeros((), dtype=torch.float32, device=like.device)
