"""ViT state dicts in the official (timm / DINO) names: recognition and geometry."""

from __future__ import annotations

import math
from typing import Any, Mapping, Tuple

from torch import Tensor

#: keys every official ViT layout has (DINO, MoCo v3 encoder, iBOT, DINOv2, MAE, timm)
VIT_KEYS = ("cls_token", "pos_embed", "patch_embed.proj.weight", "blocks.0.attn.qkv.weight")


def looks_like_vit(state: Any, prefix: str = "") -> bool:
    """True if ``state`` holds an official-named ViT under ``prefix``."""
    return isinstance(state, Mapping) and all(prefix + k in state for k in VIT_KEYS)


def depth(state: Mapping[str, Tensor], prefix: str = "") -> int:
    """Number of transformer blocks (``blocks.N.``)."""
    start = prefix + "blocks."
    return len({k[len(start) :].split(".", 1)[0] for k in state if k.startswith(start)})


def is_square(rows: int) -> bool:
    """True if ``rows`` position rows form an (n, n) grid."""
    side = int(round(math.sqrt(rows)))
    return side * side == rows


def square_grid(rows: int) -> Tuple[int, int]:
    """The (n, n) grid of ``rows`` position rows; ValueError if not a square."""
    if not is_square(rows):
        raise ValueError(f"a position table of {rows} patch rows is not a square grid")
    side = int(round(math.sqrt(rows)))
    return side, side


def geometry(state: Mapping[str, Tensor], prefix: str = "") -> dict:
    """``embed_dim``, ``depth``, ``patch_size``, ``layerscale``, ``registers`` and the position
    table's ``rows`` of the ViT under ``prefix``."""
    proj = state[prefix + "patch_embed.proj.weight"]
    regs = state.get(prefix + "reg_token", state.get(prefix + "register_tokens"))
    return {
        "embed_dim": int(proj.shape[0]),
        "depth": depth(state, prefix),
        "patch_size": int(proj.shape[-1]),
        "layerscale": prefix + "blocks.0.ls1.gamma" in state
        or prefix + "blocks.0.gamma_1" in state,
        "registers": int(regs.shape[1]) if regs is not None else 0,
        "rows": int(state[prefix + "pos_embed"].shape[1]),
    }


def file_base(path: str) -> str:
    """The file name of ``path`` (no folders)."""
    import os

    return os.path.basename(os.fspath(path)) if path else ""
