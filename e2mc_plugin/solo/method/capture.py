"""One solo-learn training step under the attach core's hooks: what is specific to solo-learn.

The core (:mod:`e2mc_plugin.attach`) does the capture, the crop matching, the views each aux set
reads and the fallback projection of crops the embedding module never saw. Here: the batch layout
``[indexes, [crop_0, ..., crop_{V-1}], targets]``, the backbone as the crop anchor (its calls are
the crops, large first, on both hosts), and the 1.0.2 methods whose ``training_step`` cannot take
small crops (shown the large crops only; the small ones are encoded here for the all-view losses).
With ``batched_crops: true`` the crops are the call order of the batched forward, split per crop.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence, Tuple

import torch
from torch import nn

from e2mc_plugin.attach import Capture, apply_aux_sets
from e2mc_plugin.solo.host import compat
from e2mc_plugin.solo.method.batched import batched_forward

__all__ = ["aux_step"]


def aux_step(
    model: nn.Module,
    host_step: Callable[[Sequence[Any]], Any],
    batch: Sequence[Any],
    groups: Sequence[Tuple[str, nn.Module]],
    host_small: bool,
    batched: bool = False,
) -> Tuple[Any, List[Tuple[str, Dict[str, torch.Tensor]]]]:
    """Run the host's step under the hooks, then every aux set on its views.

    Args:
        model: the wrapped method (``num_large_crops``, ``num_small_crops``, its modules).
        host_step: the host's ``training_step`` bound to the batch index: ``host_step(batch)``.
        batch: ``[indexes, [crop_0, ..., crop_{V-1}], targets]``, large crops first.
        groups: ``[(module path, AuxLossSet)]``.
        host_small: whether the host's step accepts small crops (False: 1.0.2 methods other than
            SimCLR / BYOL / W-MSE, shown only the large crops here; see the host profile).
        batched: the reference multi-crop forward (:mod:`.batched`): the modules run once per
            group of crops, their outputs are split back per crop (crop order = call order).

    Returns:
        ``(host output, [(path, AuxLossSet output)])``.
    """
    idx, X, targets = batch
    X = [X] if isinstance(X, torch.Tensor) else list(X)
    n_large, n_crops = model.num_large_crops, model.num_large_crops + model.num_small_crops
    backbone = compat.get_backbone(model)
    attr = compat.profile().backbone_attr
    modules = {p: (backbone if p == attr else model.get_submodule(p)) for p, _ in groups}
    owner = type(model).__name__
    if batched:
        with Capture(modules, owner=owner, rows_per_view=X[0].shape[0]) as cap:
            with batched_forward(model, batch):
                out = host_step(batch)
            cap.stop()
            return out, apply_aux_sets(cap, groups, n_large, n_crops)
    with Capture(modules, anchor=backbone, owner=owner) as cap:
        if model.num_small_crops and not host_small:
            with compat.large_crops_only(model):
                out = host_step([idx, X[:n_large], targets])
            if any(aux.wants_all_views for _, aux in groups):  # the host never encodes them
                for x in X[n_large:]:
                    backbone(x)
        else:
            out = host_step(batch)
        cap.stop()  # the core's fallback projections must not be captured
        return out, apply_aux_sets(cap, groups, n_large, n_crops)
