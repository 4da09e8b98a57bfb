"""``batched_crops: true``: the reference SwAV's multi-crop forward inside solo-learn's step.

solo-learn encodes one crop at a time, so every BatchNorm normalizes one crop's batch. The
reference SwAV (facebookresearch/swav, ``src/resnet50.py``, ``ResNet.forward``) concatenates
consecutive crops of the same resolution and runs the backbone once per group (the 2 large
crops, then the small crops), then runs the projection head, the L2 normalization and the
prototypes ONCE on the features of all crops (``forward_head``). BatchNorm statistics are then
per resolution group in the backbone and over every crop in the projector.

:func:`batched_forward` computes exactly that at the start of the training step and serves the
host's per-crop calls (``forward`` for the large crops, ``multicrop_forward`` for the small ones)
from it, split back per crop, so the host's own loss, queue and classifier code run unchanged.
Only on hosts whose step forwards each crop (the profile's ``per_crop_forward``: solo-learn
1.0.6); 1.0.2 SwAV projects the two large crops inside its ``training_step``.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Dict, Iterator, List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from e2mc_plugin.solo.host import compat

__all__ = ["BATCHED_HEADS", "batched_forward", "check_batched"]


def _swav_head(model: nn.Module, feats: Tensor) -> Dict[str, Tensor]:
    z = F.normalize(model.projector(feats))
    return {"z": z, "p": model.prototypes(z)}


#: host class name -> its head on the features of every crop (the reference's forward_head)
BATCHED_HEADS: Dict[str, Callable[[nn.Module, Tensor], Dict[str, Tensor]]] = {"SwAV": _swav_head}


def _head_of(method_cls: type) -> Any:
    for cls in method_cls.__mro__:
        if cls.__name__ in BATCHED_HEADS and cls.__module__.startswith("solo."):
            return BATCHED_HEADS[cls.__name__]
    return None


def check_batched(method_cls: type) -> None:
    """Refuse ``batched_crops: true`` for a host class or host layout that cannot serve it."""
    from e2mc_plugin.solo.recipe.schema import BATCHED_CROPS_KEY, ConfigError

    if not compat.profile().per_crop_forward:
        raise ConfigError(
            f"{BATCHED_CROPS_KEY}: needs solo-learn 1.0.6 (installed: {compat.HOST_VERSION}, "
            "whose SwAV projects its crops inside training_step); remove the key"
        )
    if _head_of(method_cls) is None:
        raise ConfigError(
            f"{BATCHED_CROPS_KEY}: {method_cls.__name__} has no batched multi-crop forward; "
            f"methods with one: {', '.join(n.lower() for n in BATCHED_HEADS)}"
        )


def _resolution_groups(X: Sequence[Tensor]) -> List[List[Tensor]]:
    """Consecutive crops with the same shape (the reference groups by consecutive widths)."""
    groups: List[List[Tensor]] = []
    for x in X:
        if groups and groups[-1][0].shape[1:] == x.shape[1:]:
            groups[-1].append(x)
        else:
            groups.append([x])
    return groups


@contextlib.contextmanager
def batched_forward(model: nn.Module, batch: Sequence[Any]) -> Iterator[int]:
    """Within the block, the host's ``forward`` / ``multicrop_forward`` of a crop of ``batch``
    (``[indexes, [crop_0, ...], targets]``) return its slice of one batched forward of all crops
    (computed on entry); yields the rows per crop.

    Raises:
        ValueError: the crops do not all have the same batch size.
    """
    X = batch[1]
    X = [X] if isinstance(X, Tensor) else list(X)
    sizes = {int(x.shape[0]) for x in X}
    if len(sizes) != 1:
        raise ValueError(f"batched_crops: the crops have different batch sizes {sorted(sizes)}")
    (rows,) = sizes
    n_large = model.num_large_crops
    backbone = compat.get_backbone(model)
    feats = []
    for group in _resolution_groups(X):
        x = torch.cat(group)
        if not getattr(model, "no_channel_last", True):
            x = x.to(memory_format=torch.channels_last)
        feats.append(backbone(x))
    feats_all = torch.cat(feats)
    outs = dict(_head_of(type(model))(model, feats_all), feats=feats_all)
    per_crop = {k: v.split(rows) for k, v in outs.items()}
    logits = model.classifier(feats_all[: n_large * rows].detach()).split(rows)
    served = {}
    for i, x in enumerate(X):
        out = {k: v[i] for k, v in per_crop.items()}
        if i < n_large:
            out["logits"] = logits[i]
        served[id(x)] = out

    def lookup(x: Tensor, *args: Any, **kwargs: Any) -> Dict[str, Tensor]:
        if id(x) not in served:
            raise RuntimeError(
                "batched_crops: the host forwarded a tensor that is not one of the step's crops"
            )
        return dict(served[id(x)])

    model.__dict__["forward"] = lookup
    model.__dict__["multicrop_forward"] = lookup
    try:
        yield rows
    finally:
        model.__dict__.pop("forward", None)
        model.__dict__.pop("multicrop_forward", None)
