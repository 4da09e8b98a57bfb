"""Official MAE encoders (facebookresearch/mae): ``mae_pretrain_vit_base.pth`` (large, huge).

``{"model": {cls_token, pos_embed, patch_embed.proj.*, blocks.N.*, norm.*}}``: the encoder of
``MaskedAutoencoderViT`` (``models_mae.py``), which ``main_finetune.py`` / ``main_linprobe.py``
load into ``models_vit.VisionTransformer`` (timm's names; ``vit_base_patch16``: 12 heads,
LayerNorm eps 1e-6). The position table is the fixed 2-D sin-cos table of pretraining; the
fine-tuning model learns it from there (``interpolate_pos_embed`` resizes it: ``mae`` mode).
The features are the class token after ``norm`` (``global_pool=False``, the linear probe's).

Encoder only: the release has no projector or other head, so a method initialised from it keeps
its heads as built (``scope: backbone``; the report says so). A decoder or ``mask_token``, if
present, is dropped and reported.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Mapping

from torch import Tensor

from e2mc_plugin.checkpoints.loaders.base import RenameLoader
from e2mc_plugin.checkpoints.registry import register_checkpoint_loader
from e2mc_plugin.checkpoints.report import LoadReport
from e2mc_plugin.checkpoints.vit.layout import file_base, geometry, looks_like_vit, square_grid
from e2mc_plugin.checkpoints.vit.release import ViTRelease, arch_heads

_FILE = re.compile(r"mae_pretrain_vit_(base|large|huge)\.pth$")


@register_checkpoint_loader("mae_encoder")
class MAEEncoder(RenameLoader):
    """``{"model": <encoder>}`` of the MAE releases: backbone only."""

    layout = "MAE ViT encoder (facebookresearch/mae): {'model': bare ViT encoder}, no heads"
    file_names = ("mae_pretrain_vit_*.pth",)
    container = "model"
    flat = False
    rules = (("decoder", None), ("mask_token", None), ("head.", None), ("", "backbone."))

    def accepts(self, state: Mapping[str, Tensor]) -> bool:
        return looks_like_vit(state)

    def complete(self, state: Dict[str, Tensor], report: LoadReport) -> None:
        report.notes.append(
            "MAE releases hold the encoder only: the method's projector and other heads are "
            "absent in the file (they stay as built; load with scope: backbone)"
        )

    def architecture(self, raw: Any, path: str) -> ViTRelease:
        state: Mapping[str, Tensor] = raw["model"]
        match = _FILE.search(file_base(path))
        arch = f"vit_{match.group(1)}" if match else None
        geo = geometry(state)
        heads, heads_from = arch_heads(
            "MAE", arch, geo["embed_dim"], f"the file name {file_base(path)!r}"
        )
        return ViTRelease(
            family="MAE", embed_dim=geo["embed_dim"], depth=geo["depth"],
            patch_size=geo["patch_size"], num_heads=heads, heads_from=heads_from,
            pos_embed="sin-cos", grid=square_grid(geo["rows"] - 1), resample="mae",
        )  # fmt: skip
