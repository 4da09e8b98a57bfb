"""The ViT a recipe builds: read from the built backbone, or (for ``convert``) from solo-learn's
constructor table.

solo-learn 1.0.6 routes the ViT names by method (``solo/backbones/vit/__init__.py``):
``mocov3`` builds MoCo v3's ViT (``vit_mocov3.py``: 12 heads for tiny / small / base, a fixed
sin-cos position table), ``mae`` the MAE encoder (``vit_mae.py``: the same heads, a fixed table),
every other method timm's ViT (``vit.py``: 3 / 6 / 12 / 16 heads, a learned table). Extra
``backbone.kwargs`` go to the constructor: ``patch_size``, ``img_size``, ``init_values``
(LayerScale), ``reg_tokens``, ``no_embed_class``, ``dynamic_img_size``; the head count and the
width are fixed by the name (``num_heads`` collides with the constructor's own and fails).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

from torch import nn

from e2mc_plugin.backbone_names import KNOWN
from e2mc_plugin.method_families import host_method

_TIMM_HEADS = {"vit_tiny": 3, "vit_small": 6, "vit_base": 12, "vit_large": 16}
_TIMM_WIDTH = {"vit_tiny": 192, "vit_small": 384, "vit_base": 768, "vit_large": 1024}
_FIXED_TABLE_HEADS = {"vit_tiny": 12, "vit_small": 12, "vit_base": 12, "vit_large": 16}
#: methods for which solo-learn 1.0.6 builds its own ViT (fixed sin-cos table)
FIXED_TABLE_METHODS = ("mocov3", "mae")


@dataclass(frozen=True)
class ViTTarget:
    """The ViT backbone a method builds (what a release must match)."""

    method: str
    backbone: str
    embed_dim: int
    num_heads: int
    patch_size: int
    layerscale: bool
    pos_embed: str  # "learned" | "sin-cos (fixed)"
    pos_prefix: int
    registers: int
    grid: Tuple[int, int]
    layer_norm_eps: float = 1e-6

    @property
    def who(self) -> str:
        """``this vicreg's vit_small``."""
        return f"this {self.method}'s {self.backbone}"


def backbone_module(model: nn.Module) -> Optional[nn.Module]:
    """The online backbone of a built solo-learn method (``backbone``; 1.0.2: ``encoder``)."""
    for name in KNOWN:
        module = getattr(model, name, None)
        if isinstance(module, nn.Module):
            return module
    return None


def _method_name(model: nn.Module) -> str:
    cfg = getattr(model, "cfg", None)
    method = getattr(cfg, "method", None) if cfg is not None else None
    if not method:
        method = type(model).__name__.lower()
    return host_method(str(method))


def describe_target(model: nn.Module) -> Optional[ViTTarget]:
    """The ViT of a built method, or None when its backbone is not a ViT."""
    vit = backbone_module(model)
    if vit is None or not hasattr(vit, "patch_embed") or not hasattr(vit, "blocks"):
        return None
    block = next(iter(vit.blocks))
    patch = vit.patch_embed.patch_size
    pos = getattr(vit, "pos_embed", None)
    no_embed_class = bool(getattr(vit, "no_embed_class", False))
    registers = int(getattr(vit, "num_reg_tokens", 0) or 0)
    prefix = 0 if no_embed_class else int(getattr(vit, "num_prefix_tokens", 1))
    name = getattr(model, "backbone_name", None) or getattr(model, "encoder_name", None) or "vit"
    return ViTTarget(
        method=_method_name(model),
        backbone=str(name),
        embed_dim=int(vit.patch_embed.proj.weight.shape[0]),
        num_heads=int(block.attn.num_heads),
        patch_size=int(patch[0] if isinstance(patch, (tuple, list)) else patch),
        layerscale=hasattr(getattr(block, "ls1", None), "gamma"),
        pos_embed="learned" if pos is not None and pos.requires_grad else "sin-cos (fixed)",
        pos_prefix=prefix,
        registers=registers,
        grid=tuple(int(g) for g in vit.patch_embed.grid_size),
        layer_norm_eps=float(getattr(getattr(vit, "norm", None), "eps", 1e-6)),
    )


def solo_target(method: str, backbone: str, kwargs: Mapping[str, Any]) -> Optional[ViTTarget]:
    """The ViT solo-learn 1.0.6 builds for ``method`` / ``backbone`` / ``kwargs`` (from its
    constructors' constants: no model is built), or None for a non-ViT name."""
    if backbone not in _TIMM_HEADS:
        return None
    method = host_method(method)
    fixed = method in FIXED_TABLE_METHODS
    patch = int(kwargs.get("patch_size", 16))
    img = kwargs.get("img_size", 224)
    side = int(img[0] if isinstance(img, (tuple, list)) else img) // patch
    regs = int(kwargs.get("reg_tokens", 0) or 0)
    no_embed_class = bool(kwargs.get("no_embed_class", False))
    return ViTTarget(
        method=method,
        backbone=backbone,
        embed_dim=_TIMM_WIDTH[backbone],
        num_heads=(_FIXED_TABLE_HEADS if fixed else _TIMM_HEADS)[backbone],
        patch_size=patch,
        layerscale=bool(kwargs.get("init_values")),
        pos_embed="sin-cos (fixed)" if fixed else "learned",
        pos_prefix=0 if no_embed_class else 1 + regs,
        registers=regs,
        grid=(side, side),
    )
