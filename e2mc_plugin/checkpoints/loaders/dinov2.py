"""Official DINOv2 backbones (facebookresearch/dinov2, torch.hub): ``dinov2_vits14_pretrain.pth``,
``dinov2_vitb14_pretrain.pth``, ``dinov2_vits14_reg4_pretrain.pth``,
``dinov2_vitb14_reg4_pretrain.pth``.

``dinov2/hub/backbones.py`` builds ``DinoVisionTransformer(img_size=518, patch_size=14,
init_values=1.0, block_chunks=0, num_register_tokens=0|4)`` and loads the bare state dict
strictly: ``cls_token``, ``pos_embed`` (1, 1 + 37*37, D: 518-px grid), ``mask_token`` (1, D),
[``register_tokens`` (1, 4, D)], ``patch_embed.proj.*``, ``blocks.N.{norm1, attn.qkv,
attn.proj, ls1.gamma, norm2, mlp.fc1, mlp.fc2, ls2.gamma}.*``, ``norm.*``. LayerNorm eps 1e-6.

solo-learn's ViTs are timm's, which builds this architecture from ``backbone.kwargs``
(:meth:`ViTRelease.backbone_kwargs`): ``patch_size: 14``, ``init_values: 1.0`` (LayerScale
``ls1/ls2.gamma``, the same names), and for registers ``reg_tokens: 4`` with
``no_embed_class: true``. Conversion:

* ``mask_token`` (masked-image modelling) is dropped and reported;
* registers: the model adds ``pos_embed[:, 0]`` to the class token and inserts the registers
  after the table is added; timm's ``no_embed_class`` form is ``cls_token + pos_embed[:, :1]``,
  ``pos_embed[:, 1:]``, ``register_tokens`` -> ``reg_token`` (timm's own DINOv2 conversion);
* the 37x37 table is resized to the training grid at load, as ``interpolate_pos_encoding`` does
  at every forward (offset 0.1 without antialias; registers: ``size``, antialias).
"""

from __future__ import annotations

import re
from typing import Any, Dict, Mapping, Optional

from torch import Tensor

from e2mc_plugin.checkpoints.loaders.base import RenameLoader
from e2mc_plugin.checkpoints.loaders.dino import dino_vit_method_kwargs
from e2mc_plugin.checkpoints.registry import register_checkpoint_loader
from e2mc_plugin.checkpoints.report import LoadReport
from e2mc_plugin.checkpoints.vit.layout import file_base, geometry, looks_like_vit, square_grid
from e2mc_plugin.checkpoints.vit.release import ViTRelease, arch_heads

# hub/utils.py _make_dinov2_model_name: dinov2_{vits,vitb,vitl,vitg}14[_reg4]
_FILE = re.compile(r"dinov2_vit([sblg])(\d+)(_reg\d+)?_pretrain\.(pth|safetensors)$")
_LETTER = {"s": "vit_small", "b": "vit_base", "l": "vit_large", "g": "vit_giant2"}


def fold_registers(
    state: Dict[str, Tensor], report: LoadReport, src: Mapping[str, str], prefix: str = "backbone."
) -> None:
    """DINOv2 with registers -> timm's ``no_embed_class`` form, in place (see module doc).
    ``src`` names the source keys of ``cls_token`` / ``pos_embed`` / the registers."""
    cls, pos = state[prefix + "cls_token"], state[prefix + "pos_embed"]
    # in float64: rounded to a float32 parameter it is float32's own sum, and exact in float64
    state[prefix + "cls_token"] = cls.double() + pos[:, :1].double()
    state[prefix + "pos_embed"] = pos[:, 1:]
    report.notes.append(
        f"{src['cls_token']} + {src['pos_embed']}[:, 0] -> {prefix}cls_token and "
        f"{src['pos_embed']}[:, 1:] -> {prefix}pos_embed (timm's no_embed_class form of a ViT "
        "with registers: the same sums)"
    )


@register_checkpoint_loader("dinov2_backbone")
class DINOv2Backbone(RenameLoader):
    """A DINOv2 torch.hub backbone file (with or without registers)."""

    method = "dino"
    layout = (
        "DINOv2 backbone (facebookresearch/dinov2 torch.hub): bare ViT with LayerScale "
        "(ls1/ls2.gamma), mask_token, [register_tokens], patch 14, 518-px position table"
    )
    file_names = ("dinov2_vit*14_pretrain.pth", "dinov2_vit*14_reg*_pretrain.pth")
    refines = ("timm",)
    rules = (
        ("mask_token", None),
        ("register_tokens", "backbone.reg_token"),
        ("", "backbone."),
    )

    def accepts(self, state: Mapping[str, Tensor]) -> bool:
        return looks_like_vit(state) and "mask_token" in state and "blocks.0.ls1.gamma" in state

    def complete(self, state: Dict[str, Tensor], report: LoadReport) -> None:
        report.notes.append("mask_token (masked-image modelling) dropped: no solo ViT uses it")
        if "backbone.reg_token" in state:
            fold_registers(state, report, {"cls_token": "cls_token", "pos_embed": "pos_embed"})

    def architecture(self, raw: Any, path: str) -> ViTRelease:
        match = _FILE.search(file_base(path))
        arch = _LETTER[match.group(1)] if match else None
        geo = geometry(raw)
        heads, heads_from = arch_heads(
            "DINOv2", arch, geo["embed_dim"], f"the file name {file_base(path)!r}"
        )
        registers = geo["registers"]
        return ViTRelease(
            family="DINOv2", embed_dim=geo["embed_dim"], depth=geo["depth"],
            patch_size=geo["patch_size"], num_heads=heads, heads_from=heads_from,
            layerscale=True, pos_prefix=0 if registers else 1, registers=registers,
            grid=square_grid(geo["rows"] - 1), resample="dinov2_reg" if registers else "dinov2",
        )  # fmt: skip

    def method_kwargs(self, state: Mapping[str, Tensor]) -> Optional[Dict[str, Any]]:
        return dino_vit_method_kwargs(state)
