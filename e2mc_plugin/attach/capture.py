"""The outputs of the embedding modules during one training step, per crop, via forward hooks.

The hooks exist only inside the ``with`` block (the host's training step) and only on the module
objects given, so momentum copies (other objects, even ``deepcopy``-made ones) and evaluation
passes are never captured. Two ways to tell which output belongs to which crop:

* ``anchor=None`` (any host): each module's tensor outputs in call order; crop ``i`` is the
  ``i``-th call. This is the contract of :func:`e2mc_plugin.lightning.attach_aux_losses`: the
  training step calls the embedding module once per crop, large crops first.
* ``anchor=backbone`` (solo-learn): the backbone's outputs in call order are the crops; an
  embedding output is assigned to the crop whose backbone features are its input (tensor
  identity), so extra or reordered calls cannot shift crops. A crop the embedding module never
  saw is projected by :meth:`Capture.views` from its recorded features, after :meth:`stop`.

``rows_per_view=b`` (call order only): a host that runs several crops through a module in one
batched call (SwAV's reference forward: one backbone call per resolution group, one head call
on every crop) has each output split back into crops of ``b`` rows, in order.

Outputs are recorded before anything the host does with them (normalization, prototypes,
predictor), with their graph: the aux loss's gradient flows back through them. Only calls made
with gradients enabled are crops: a call under ``torch.no_grad()`` or ``torch.inference_mode()``
inside the step (a monitor, a target computed without gradients) has no graph for the aux loss
and is not a view, so it is not recorded and does not shift the crops that follow.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import torch
from torch import nn

__all__ = ["Capture", "ViewCountError"]


class ViewCountError(RuntimeError):
    """A training step produced fewer views than the aux losses need (the message names both)."""


class Capture:
    """Forward hooks that collect one step's embeddings per crop (a context manager).

    Args:
        modules: ``{path: module}``, the embedding modules (``path`` names them in errors).
        anchor: ``None`` (crops = call order of each module) or the backbone (see the module doc).
        owner: the model's name, for error messages.
        rows_per_view: split each captured output into crops of this many rows (call order
            only; see the module doc). ``None``: one call is one crop.
    """

    def __init__(
        self,
        modules: Mapping[str, nn.Module],
        *,
        anchor: Optional[nn.Module] = None,
        owner: str = "model",
        rows_per_view: Optional[int] = None,
    ) -> None:
        if rows_per_view is not None and anchor is not None:
            raise ValueError("Capture: rows_per_view splits call-order captures (anchor=None)")
        self.rows_per_view = rows_per_view
        self.modules = dict(modules)
        self.anchor = anchor
        self.owner = owner
        self.feats: List[torch.Tensor] = []  # anchor outputs, crop order
        self.emb: Dict[str, Dict[int, torch.Tensor]] = {p: {} for p in self.modules}
        self.calls: Dict[str, List[torch.Tensor]] = {p: [] for p in self.modules}
        self.non_tensor: Dict[str, List[str]] = {p: [] for p in self.modules}
        self.active = False
        self._handles: List[Any] = []

    # ---- hooks -------------------------------------------------------------------------------
    def _recording(self) -> bool:
        return self.active and torch.is_grad_enabled()  # inference_mode disables grad too

    def _on_anchor(self, module, inputs, output) -> None:
        if self._recording() and isinstance(output, torch.Tensor):
            self.feats.append(output)

    def _hook(self, path: str):
        def hook(module, inputs, output) -> None:
            if not self._recording():
                return
            if not isinstance(output, torch.Tensor):
                self.non_tensor[path].append(type(output).__name__)
                return
            if self.anchor is None:
                self.calls[path].extend(self._split(path, output))
                return
            x = inputs[0] if inputs else None
            for i, f in enumerate(self.feats):
                if x is f:
                    self.emb[path].setdefault(i, output)
                    return

        return hook

    def _split(self, path: str, output: torch.Tensor) -> List[torch.Tensor]:
        rows = self.rows_per_view
        if rows is None:
            return [output]
        if output.dim() == 0 or output.shape[0] % rows:
            raise ValueError(
                f"{self.owner}: {path!r} returned {tuple(output.shape)} in a batched call; "
                f"expected a multiple of {rows} rows (one block of {rows} per crop)"
            )
        return list(output.split(rows))

    def __enter__(self) -> "Capture":
        if self.anchor is not None:
            self._handles.append(self.anchor.register_forward_hook(self._on_anchor))
        for path, module in self.modules.items():
            if module is not self.anchor:
                self._handles.append(module.register_forward_hook(self._hook(path)))
        self.active = True
        return self

    def stop(self) -> None:
        """Record nothing more (the fallback projections of :meth:`views` must not count)."""
        self.active = False

    def __exit__(self, *exc) -> None:
        self.stop()
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    # ---- results -----------------------------------------------------------------------------
    def count(self, path: str) -> int:
        """How many crops were captured for ``path``."""
        if self.anchor is not None:
            return len(self.feats)
        return len(self.calls[path])

    def views(self, path: str, count: int) -> List[torch.Tensor]:
        """The first ``count`` crops' embeddings at ``path`` (crop order).

        Raises:
            ViewCountError: fewer crops were captured; the message names both counts.
        """
        got = self.count(path)
        if got < count:
            raise ViewCountError(self._too_few(path, got, count))
        module = self.modules[path]
        if self.anchor is None:
            return self.calls[path][:count]
        if module is self.anchor:
            return self.feats[:count]
        seen = self.emb[path]
        return [seen[i] if i in seen else module(self.feats[i]) for i in range(count)]

    def _too_few(self, path: str, got: int, needed: int) -> str:
        if self.anchor is not None:
            return (
                f"{self.owner}: the backbone ran on {got} crops during training_step, "
                f"the aux losses need {needed}"
            )
        msg = (
            f"{self.owner}: training_step called {path!r} {got} time(s) with a tensor output; "
            f"the aux losses need {needed} views, one call per crop (large crops first)"
        )
        others = self.non_tensor[path]
        if others:
            msg += f"; {len(others)} other call(s) returned {', '.join(sorted(set(others)))}"
        return msg
