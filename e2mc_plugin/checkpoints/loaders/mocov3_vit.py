"""Official MoCo v3 ViT releases (facebookresearch/moco-v3): ``vit-s-300ep.pth.tar``,
``vit-b-300ep.pth.tar``.

``moco/builder.py`` ``MoCo_ViT`` replaces the timm ViT's ``head`` by the projector
(``_build_mlp(3, width, 4096, 256)``: Linear(no bias), BN, ReLU, Linear, BN, ReLU, Linear,
BN(affine=False)) in both encoders, and adds ``predictor`` (``_build_mlp(2, 256, 4096, 256)``,
last BN kept). ``main_moco.py`` saves ``{epoch, arch, state_dict, optimizer, scaler}`` from the
DDP model::

    module.base_encoder.{cls_token, pos_embed, patch_embed.*, blocks.*, norm.*, head.*}
    module.momentum_encoder.{...same...}
    module.predictor.*

``vits.py``: ``vit_small`` / ``vit_base`` have 12 heads and a fixed 2-D sin-cos position table
(``requires_grad=False``, built for the 14x14 grid of 224-px input). solo-learn's ``mocov3``
builds exactly this ViT (``solo/backbones/vit/vit_mocov3.py``) and the same MLPs
(``solo/methods/mocov3.py``, ViT branch): ``base_encoder.head`` -> ``projector``,
``momentum_encoder.head`` -> ``momentum_projector``, ``predictor`` -> ``predictor``. Any other
method builds timm's 6-head ``vit_small``: refused (:mod:`~e2mc_plugin.checkpoints.vit.fit`).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from torch import Tensor

from e2mc_plugin.checkpoints.loaders.mocov3 import MoCoV3Official, moco_rules
from e2mc_plugin.checkpoints.registry import register_checkpoint_loader
from e2mc_plugin.checkpoints.vit.layout import file_base, geometry, looks_like_vit, square_grid
from e2mc_plugin.checkpoints.vit.release import ViTRelease, arch_heads

_FILE = re.compile(r"vit-([sbl])-\d+ep\.pth\.tar$")
_LETTER = {"s": "vit_small", "b": "vit_base", "l": "vit_large"}


@register_checkpoint_loader("mocov3_vit")
class MoCoV3ViT(MoCoV3Official):
    """MoCo v3 ViT: encoders whose ``head`` is the projector, momentum encoder, predictor (the
    ResNet release's container and names, ``head`` for ``fc``)."""

    layout = (
        "MoCo v3 ViT (facebookresearch/moco-v3): module.base_encoder.{blocks,...,head = "
        "projector}.*, module.momentum_encoder.*, module.predictor.*; 12 heads, sin-cos table"
    )
    file_names = ("vit-s-300ep.pth.tar", "vit-b-300ep.pth.tar", "vit-*ep.pth.tar")
    refines = ("mocov3_official",)
    rules = moco_rules("head")
    # temperature 0.2 is CONFIG.md's --moco-t=.2 of both ViT releases
    kwarg_defaults = {**MoCoV3Official.kwarg_defaults, "temperature": 0.2}
    # _build_mlp(3, ...): the projector's last Linear is layer 6
    widths = {**MoCoV3Official.widths, "proj_output_dim": "projector.6.weight"}

    def accepts(self, state: Mapping[str, Tensor]) -> bool:
        return looks_like_vit(state, "module.base_encoder.")

    def architecture(self, raw: Any, path: str) -> ViTRelease:
        state, _ = self.state(raw)
        arch = raw.get("arch") if isinstance(raw, Mapping) else None
        source = f"arch {arch!r} in the file"
        if not isinstance(arch, str):
            match = _FILE.search(file_base(path))
            arch = _LETTER[match.group(1)] if match else None
            source = f"the file name {file_base(path)!r}"
        geo = geometry(state, "module.base_encoder.")
        heads, heads_from = arch_heads("MoCo v3", arch, geo["embed_dim"], source)
        return ViTRelease(
            family="MoCo v3", embed_dim=geo["embed_dim"], depth=geo["depth"],
            patch_size=geo["patch_size"], num_heads=heads, heads_from=heads_from,
            pos_embed="sin-cos", grid=square_grid(geo["rows"] - 1), resample=None,
        )  # fmt: skip
