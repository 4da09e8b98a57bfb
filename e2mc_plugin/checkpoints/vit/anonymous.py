"""A ViT state dict without a release identity (a bare timm ``state_dict()``)."""

from __future__ import annotations

from typing import Any, Optional

from e2mc_plugin.checkpoints.vit.layout import geometry, is_square, looks_like_vit, square_grid
from e2mc_plugin.checkpoints.vit.release import ViTRelease


def anonymous_vit(raw: Any, what: str) -> Optional[ViTRelease]:
    """The geometry of the ViT in ``raw`` with an unknown head count, or None (not a ViT).

    The table is resized like timm's ``dynamic_img_size`` (``timm`` mode)."""
    if not looks_like_vit(raw):
        return None
    geo = geometry(raw)
    prefix = 1 + geo["registers"] if "reg_token" in raw else 1
    rows = geo["rows"]
    grid_rows = rows - prefix if is_square(rows - prefix) else rows
    return ViTRelease(
        family="timm", embed_dim=geo["embed_dim"], depth=geo["depth"],
        patch_size=geo["patch_size"], num_heads=None,
        heads_from=f"cannot be known: a {what} does not record it (name the release's file or "
        "pass its format)",
        layerscale=geo["layerscale"], registers=geo["registers"],
        pos_prefix=rows - grid_rows, grid=square_grid(grid_rows), resample="timm",
    )  # fmt: skip
