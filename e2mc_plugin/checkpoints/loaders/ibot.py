"""Official iBOT ViT backbones (bytedance/ibot): ``vits_16/checkpoint_teacher.pth``,
``vitb_16/checkpoint_teacher.pth`` (and ``checkpoint_student.pth``).

``extract_backbone_weights.py`` writes ``{"state_dict": {<ViT keys without prefix>}}``: the
``backbone.`` / ``module.backbone.`` part of the full checkpoint's teacher (or student). The ViT
is DINO's (``models/vision_transformer.py``: same names, ``vit_small`` 6 heads, ``vit_base``
12, ``interpolate_pos_encoding`` as DINO's); blocks built with ``init_values > 0`` scale their
branches by ``gamma_1`` / ``gamma_2`` (-> timm's ``ls1.gamma`` / ``ls2.gamma``); a student has
``masked_embed`` (masked image modelling), which no solo backbone uses: dropped and reported.
Backbone only: iBOT's heads (``iBOTHead``, patch prototypes) have no solo-learn method; its
image-level objective is DINO's, so ``dino`` is the default method.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

from torch import Tensor

from e2mc_plugin.checkpoints.loaders.base import RenameLoader
from e2mc_plugin.checkpoints.loaders.dino import dino_vit_method_kwargs
from e2mc_plugin.checkpoints.loaders.dino_vit import dino_vit_release
from e2mc_plugin.checkpoints.registry import register_checkpoint_loader
from e2mc_plugin.checkpoints.report import LoadReport
from e2mc_plugin.checkpoints.vit.layout import file_base, looks_like_vit
from e2mc_plugin.checkpoints.vit.release import ViTRelease


@register_checkpoint_loader("ibot_backbone")
class IBOTBackbone(RenameLoader):
    """``{"state_dict": <ViT>}`` of ``extract_backbone_weights.py`` (teacher or student)."""

    method = "dino"
    layout = (
        "iBOT ViT backbone (bytedance/ibot extract_backbone_weights.py): {'state_dict': bare ViT "
        "state dict}"
    )
    file_names = ("checkpoint_teacher.pth", "checkpoint_student.pth")
    container = "state_dict"
    flat = False

    def accepts(self, state: Mapping[str, Tensor]) -> bool:
        return looks_like_vit(state)

    def convert(self, raw: Any) -> Tuple[Dict[str, Tensor], LoadReport]:
        state, report = self.state(raw)
        out: Dict[str, Tensor] = {}
        for key, value in state.items():
            if key == "masked_embed" or key.startswith("head."):
                report.dropped.append(key)
                continue
            # LayerScale: iBOT's gamma_1 / gamma_2 are timm's ls1.gamma / ls2.gamma
            new = "backbone." + key.replace(".gamma_1", ".ls1.gamma").replace(
                ".gamma_2", ".ls2.gamma"
            )
            out[new] = value
            report.mapped[key] = new
        if "masked_embed" in state:
            report.notes.append("masked_embed (iBOT's masked-image-modelling token) dropped")
        return out, report

    def architecture(self, raw: Any, path: str) -> ViTRelease:
        source = f"the file name {file_base(path)!r}"
        return dino_vit_release(raw["state_dict"], "", None, source, family="iBOT")

    def method_kwargs(self, state: Mapping[str, Tensor]) -> Optional[Dict[str, Any]]:
        return dino_vit_method_kwargs(state)
