"""Resize a position table the way the release's own model does for another input size.

Each official model resizes its table at every forward whose patch grid differs from the
table's; doing the same once, at load, for the target's grid gives the same function at that
resolution. The modes repeat each repository's ``nn.functional.interpolate`` call (arguments,
precision) on the patch rows; prefix rows (class token) are kept:

=================  ========================================================================
``dino``           DINO / iBOT ``interpolate_pos_encoding``: bicubic, ``scale_factor =
                   (rows + 0.1) / sqrt(N)``, in the model's dtype
``dinov2``         DINOv2 (``interpolate_offset 0.1``, no antialias): as ``dino`` but computed
                   in float32 (``pos_embed.float()``) and cast back
``dinov2_reg``     DINOv2 with registers (``interpolate_offset 0``, ``antialias=True``) and
                   transformers' ``Dinov2WithRegistersEmbeddings``: ``size = grid``, float32
``hf_dinov2``      transformers' ``Dinov2Embeddings``: ``size = grid``, ``align_corners=False``,
                   no antialias, float32
``timm``           timm's ``resample_abs_pos_embed`` (``dynamic_img_size``): ``size = grid``,
                   antialias, float32: the same call as ``dinov2_reg``
``mae``            MAE ``util/pos_embed.py`` ``interpolate_pos_embed``: ``size = grid``,
                   bicubic, ``align_corners=False``, on the checkpoint's tensor (its dtype:
                   MAE resizes the file's table before loading it)
=================  ========================================================================
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Tuple

import torch
from torch import Tensor
from torch.nn import functional as F

Grid = Tuple[int, int]


def _dino(x: Tensor, old: Grid, new: Grid) -> Tensor:
    n = old[0] * old[1]
    scale = ((new[0] + 0.1) / math.sqrt(n), (new[1] + 0.1) / math.sqrt(n))
    return F.interpolate(x, scale_factor=scale, mode="bicubic")


def _dinov2(x: Tensor, old: Grid, new: Grid) -> Tensor:
    scale = (float(new[0] + 0.1) / old[0], float(new[1] + 0.1) / old[1])
    return F.interpolate(x.float(), scale_factor=scale, mode="bicubic", antialias=False)


def _dinov2_reg(x: Tensor, old: Grid, new: Grid) -> Tensor:
    return F.interpolate(x.float(), size=new, mode="bicubic", antialias=True)


def _hf_dinov2(x: Tensor, old: Grid, new: Grid) -> Tensor:
    return F.interpolate(x.float(), size=new, mode="bicubic", align_corners=False)


def _mae(x: Tensor, old: Grid, new: Grid) -> Tensor:
    return F.interpolate(x, size=new, mode="bicubic", align_corners=False)


#: mode -> f(table (1, D, rows, cols) in the target dtype, old grid, new grid)
RESAMPLERS: Dict[str, Callable[[Tensor, Grid, Grid], Tensor]] = {
    "dino": _dino,
    "dinov2": _dinov2,
    "dinov2_reg": _dinov2_reg,
    "hf_dinov2": _hf_dinov2,
    "timm": _dinov2_reg,
    "mae": _mae,
}


#: modes that resize the checkpoint's tensor itself (in the file's dtype), not the model's
_IN_FILE_DTYPE = {"mae"}


def resample_table(
    table: Tensor, prefix: int, old: Grid, new: Grid, mode: str, dtype: torch.dtype
) -> Tensor:
    """``table`` (1, prefix + rows*cols, D) resized to ``new`` the way ``mode`` does, in
    ``dtype`` (the target parameter's: the official models compute in their own dtype, or in
    float32 where their code casts)."""
    if mode not in RESAMPLERS:
        raise ValueError(
            f"unknown position-table resampling {mode!r}; valid: {', '.join(RESAMPLERS)}"
        )
    table = table if mode in _IN_FILE_DTYPE else table.to(dtype)
    head, grid = table[:, :prefix], table[:, prefix:]
    dim = grid.shape[-1]
    x = grid.reshape(1, old[0], old[1], dim).permute(0, 3, 1, 2)
    x = RESAMPLERS[mode](x, old, new)
    if tuple(x.shape[-2:]) != tuple(new):
        raise ValueError(f"resampling {mode!r} gave a {tuple(x.shape[-2:])} grid, not {new}")
    x = x.permute(0, 2, 3, 1).reshape(1, new[0] * new[1], dim).to(dtype)
    return torch.cat([head.to(dtype), x], dim=1)
