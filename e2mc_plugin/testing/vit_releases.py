"""The official ViT releases' containers, written from the reference models of
:mod:`~e2mc_plugin.testing.vit_official` / :mod:`~e2mc_plugin.testing.vit_hf` (random weights),
and the solo-learn methods they load into: fixtures of the ViT loader tests, the example and the
bench.

Containers (what each repository saves): DINO ``hubconf``/README backbone files (a bare state
dict) and ``main_dino.py``'s ``save_dict`` (student DDP-wrapped, ViT teacher not, ``args`` an
``argparse.Namespace``); MoCo v3 ``main_moco.py``'s ``save_checkpoint`` dict; iBOT
``extract_backbone_weights.py``'s ``{"state_dict"}``; DINOv2's torch.hub state dict; MAE's
``{"model"}``; transformers' ``model.safetensors`` + ``config.json``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import OrderedDict
from typing import Any, Dict, Mapping, Optional

import torch
from torch import Tensor, nn

from e2mc_plugin.backbone_names import KNOWN
from e2mc_plugin.testing.vit_official import (
    DINOHead,
    DINOViT,
    MoCoViT,
    moco_mlp,
    randomise,
)

__all__ = [
    "backbone_gap", "backbone_of", "dino_full_release", "hf_config", "images", "max_diff",
    "moco_models", "mocov3_release", "prefixed", "save", "save_hf", "solo_vit_cfg",
]  # fmt: skip

#: width -> (solo backbone name, DINO / timm heads)
SOLO_NAME = {192: "vit_tiny", 384: "vit_small", 768: "vit_base"}


def prefixed(prefix: str, module: nn.Module) -> "OrderedDict[str, Tensor]":
    return OrderedDict((prefix + k, v.clone()) for k, v in module.state_dict().items())


def save(obj: Any, path: str) -> str:
    """``torch.save`` into ``path`` (its folder created); returns ``path``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save(obj, path)
    return path


def dino_full_release(
    student: DINOViT, teacher: DINOViT, s_head: DINOHead, t_head: DINOHead, arch: str, patch: int
) -> Dict[str, Any]:
    """``main_dino.py``'s ``save_dict`` of a ViT run: the student DDP-wrapped (``module.``), the
    teacher not (a ViT has no BatchNorm), ``args`` with ``arch`` / ``patch_size``."""
    student_state = prefixed("module.backbone.", student)
    student_state.update(prefixed("module.head.", s_head))
    teacher_state = prefixed("backbone.", teacher)
    teacher_state.update(prefixed("head.", t_head))
    out_dim = s_head.last_layer.weight_v.shape[0]
    args = argparse.Namespace(arch=arch, patch_size=patch, out_dim=out_dim, norm_last_layer=False)
    center = torch.randn(1, out_dim, generator=torch.Generator().manual_seed(7)) * 0.1
    return {
        "student": student_state, "teacher": teacher_state,
        "optimizer": {"state": {}, "param_groups": []}, "epoch": 800, "args": args,
        "dino_loss": {"center": center},
    }  # fmt: skip


def mocov3_release(
    base: MoCoViT, momentum: MoCoViT, predictor: nn.Module, arch: Optional[str]
) -> Dict[str, Any]:
    """``main_moco.py``'s ``save_checkpoint`` dict of ``MoCo_ViT`` (DDP: ``module.``)."""
    state = prefixed("module.base_encoder.", base)
    state.update(prefixed("module.momentum_encoder.", momentum))
    state.update(prefixed("module.predictor.", predictor))
    out: Dict[str, Any] = {"epoch": 300, "state_dict": state, "optimizer": {}, "scaler": {}}
    if arch is not None:
        out["arch"] = arch
    return out


def moco_models(dim: int, img_size: int, mlp_dim: int, out_dim: int, seed: int = 0):
    """Base encoder, momentum encoder (different weights: a trained run) and predictor."""
    make = lambda s: randomise(MoCoViT(dim, 12, 12, 16, img_size, mlp_dim, out_dim), s)  # noqa: E731
    predictor = randomise(moco_mlp(2, out_dim, mlp_dim, out_dim), seed + 3)
    return make(seed + 1), make(seed + 2), predictor


def hf_config(state: Mapping[str, Tensor], heads: int, img_size: int, dinov2: bool, **extra):
    """A transformers ``config.json`` dict for an official-named ViT state."""
    proj = state["patch_embed.proj.weight"]
    config = {
        "model_type": "dinov2" if dinov2 else "vit", "hidden_size": int(proj.shape[0]),
        "num_hidden_layers": len({k.split(".")[1] for k in state if k.startswith("blocks.")}),
        "num_attention_heads": heads, "patch_size": int(proj.shape[-1]), "image_size": img_size,
        "layer_norm_eps": 1e-6 if dinov2 else 1e-12, "qkv_bias": True,
        "num_register_tokens": int(state["register_tokens"].shape[1])
        if "register_tokens" in state else 0,
    }  # fmt: skip
    config.update(extra)
    return config


def save_hf(folder: str, state: Mapping[str, Tensor], config: Mapping[str, Any]) -> str:
    """``model.safetensors`` + ``config.json`` in ``folder``; returns the safetensors path."""
    from safetensors.torch import save_file

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.safetensors")
    save_file({k: v.contiguous() for k, v in state.items()}, path)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(dict(config), f)
    return path


def solo_vit_cfg(
    method: str, width: int, kwargs: Optional[Mapping[str, Any]] = None, **method_kwargs: Any
) -> Dict[str, Any]:
    """:func:`~e2mc_plugin.testing.presets.tiny_cfg` for ``method`` on solo's ViT of ``width``
    (``backbone.kwargs`` e.g. ``img_size``, ``patch_size``)."""
    from e2mc_plugin.testing.presets import tiny_cfg

    cfg = tiny_cfg(method, backbone={"name": SOLO_NAME[width], "kwargs": dict(kwargs or {})})
    cfg["method_kwargs"].update(method_kwargs)
    return cfg


def backbone_of(model: nn.Module, momentum: bool = False) -> nn.Module:
    """The (momentum) backbone of a built method on either host (1.0.2 names it ``encoder``)."""
    names = [f"momentum_{n}" for n in KNOWN] if momentum else KNOWN
    return next(getattr(model, n) for n in names if isinstance(getattr(model, n, None), nn.Module))


def images(size: int, n: int = 3, seed: int = 0) -> Tensor:
    """``(n, 3, size, size)`` float64 standard-normal images drawn from generator ``seed``."""
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed)).double()


def max_diff(a: Tensor, b: Tensor) -> float:
    """``max |a - b|`` over all elements."""
    return float((a - b).abs().max())


def backbone_gap(model: nn.Module, ref: nn.Module, x: Tensor) -> float:
    """``max |f(x) - ref(x)|`` of ``model``'s online backbone ``f`` and the reference ViT
    ``ref`` (cast to float64, eval mode) on the images ``x``."""
    return max_diff(backbone_of(model)(x), ref.double().eval()(x))
