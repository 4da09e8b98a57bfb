"""Embeddings of one training step, per crop: forward hooks, and the views each aux set reads.

While (and only while) the wrapped ``training_step`` runs in training mode, forward hooks sit on
the online backbone and on each embedding module. The backbone hook records the features of every
crop in call order, i.e. crop order (large crops first, then small crops, on both hosts). The
embedding hook assigns each output to the crop whose backbone features are its input (matched by
tensor identity), so extra or reordered calls cannot shift crops; it sees the output BEFORE any
normalization, prototypes or predictor. A crop that never went through the embedding module
(small crops of methods whose ``multicrop_forward`` skips the projector; every small crop on
1.0.2) is projected here from its recorded backbone features, only when some loss wants all views.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence, Tuple

import torch
from torch import nn

from e2mc_plugin.solo.host import compat

__all__ = ["Capture", "aux_step"]


class Capture:
    """Forward hooks that collect backbone features and embeddings per crop for one step."""

    def __init__(self, backbone: nn.Module, modules: Dict[str, nn.Module]):
        self.backbone = backbone
        self.modules = modules
        self.feats: List[torch.Tensor] = []
        self.emb: Dict[str, Dict[int, torch.Tensor]] = {p: {} for p in modules}
        self.active = False
        self._handles: List[Any] = []

    def _on_backbone(self, module, inputs, output):
        if self.active and isinstance(output, torch.Tensor):
            self.feats.append(output)

    def _embedding_hook(self, path: str):
        def hook(module, inputs, output):
            if not self.active or not inputs or not isinstance(output, torch.Tensor):
                return
            x = inputs[0]
            for i, f in enumerate(self.feats):
                if x is f:
                    self.emb[path].setdefault(i, output)
                    return

        return hook

    def __enter__(self) -> "Capture":
        self._handles.append(self.backbone.register_forward_hook(self._on_backbone))
        for path, module in self.modules.items():
            if module is not self.backbone:
                self._handles.append(module.register_forward_hook(self._embedding_hook(path)))
        self.active = True
        return self

    def __exit__(self, *exc) -> None:
        self.active = False
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def views(self, path: str, count: int) -> List[torch.Tensor]:
        """The first ``count`` crops' embeddings at ``path``; crops the module never saw are
        projected now from their backbone features (call after the capture is inactive)."""
        module = self.modules[path]
        if module is self.backbone:
            return self.feats[:count]
        seen = self.emb[path]
        return [seen[i] if i in seen else module(self.feats[i]) for i in range(count)]


def aux_step(
    model: nn.Module,
    host_step: Callable[[Sequence[Any]], Any],
    batch: Sequence[Any],
    groups: Sequence[Tuple[str, nn.Module]],
    host_small: bool,
) -> Tuple[Any, List[Tuple[str, Dict[str, torch.Tensor]]]]:
    """Run the host's step under the hooks, then every aux set on its views.

    Args:
        model: the wrapped method (``num_large_crops``, ``num_small_crops``, its modules).
        host_step: the host's ``training_step`` bound to the batch index: ``host_step(batch)``.
        batch: ``[indexes, [crop_0, ..., crop_{V-1}], targets]``, large crops first.
        groups: ``[(module path, AuxLossSet)]``.
        host_small: whether the host's step accepts small crops (False: 1.0.2 methods other than
            SimCLR / BYOL / W-MSE, shown only the large crops here).

    Returns:
        ``(host output, [(path, AuxLossSet output)])``.
    """
    idx, X, targets = batch
    X = [X] if isinstance(X, torch.Tensor) else list(X)
    n_large, n_crops = model.num_large_crops, model.num_large_crops + model.num_small_crops
    want_all = any(aux.wants_all_views for _, aux in groups)
    backbone = compat.get_backbone(model)
    modules = {
        p: (backbone if p == compat.BACKBONE_ATTR else model.get_submodule(p)) for p, _ in groups
    }
    with Capture(backbone, modules) as cap:
        if model.num_small_crops and not host_small:
            with compat.large_crops_only(model):
                out = host_step([idx, X[:n_large], targets])
            if want_all:  # the host never encodes them: do it here, in crop order
                for x in X[n_large:]:
                    backbone(x)
        else:
            out = host_step(batch)
        cap.active = False  # fallback projections below must not be captured

        n_needed = n_crops if want_all else n_large
        if len(cap.feats) < n_needed:
            raise RuntimeError(
                f"{type(model).__name__}: the backbone ran on {len(cap.feats)} crops during "
                f"training_step, the aux losses need {n_needed}"
            )
        results = []
        for path, aux in groups:
            views = cap.views(path, n_crops if aux.wants_all_views else n_large)
            large = views[:n_large]
            results.append((path, aux(large, views if aux.wants_all_views else large)))
    return out, results
