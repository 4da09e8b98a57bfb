"""Official DINO ViT releases (facebookresearch/dino): ViT-S/16, S/8, B/16, B/8.

* ``dino_deitsmall16_pretrain.pth`` (``dino_deitsmall8``, ``dino_vitbase16``, ``dino_vitbase8``):
  the teacher's ViT, a bare state dict read by ``hubconf.py`` into ``vit_small(patch_size=16,
  num_classes=0)``: ``cls_token``, ``pos_embed`` (1, 197, 384), ``patch_embed.proj.*``,
  ``blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}.*``, ``norm.*``. timm's ViT
  has the same names (its ``timm`` loader reads it too; the file name says DINO).
* ``dino_deitsmall16_pretrain_full_checkpoint.pth`` (and the others, and ``main_dino.py``'s
  ``checkpoint.pth``): ``{student, teacher, optimizer, epoch, args, dino_loss}``. The student is
  DDP-wrapped (``module.backbone.*``, ``module.head.*``); a ViT has no BatchNorm, so the teacher
  is not (``backbone.*``, ``head.*``): ``main_dino.py`` l.206-213. ``args`` (argparse) records
  ``arch`` and ``patch_size``.

Heads (``vision_transformer.py``): ``vit_small`` 6, ``vit_base`` 12, as timm's: solo-learn's
``dino`` (and every method but ``mocov3`` / ``mae``) builds the same function. Patch 8 needs
``backbone.kwargs.patch_size: 8``. The model resizes its table for other input sizes
(``interpolate_pos_encoding``: ``dino`` mode of :mod:`~e2mc_plugin.checkpoints.vit.pos_embed`).
"""

from __future__ import annotations

import re
from typing import Any, Dict, Mapping, Optional, Tuple

from torch import Tensor

from e2mc_plugin.checkpoints.loaders.base import RenameLoader
from e2mc_plugin.checkpoints.loaders.dino import DINOFull, dino_vit_method_kwargs
from e2mc_plugin.checkpoints.registry import register_checkpoint_loader
from e2mc_plugin.checkpoints.vit.layout import file_base, geometry, looks_like_vit, square_grid
from e2mc_plugin.checkpoints.vit.release import ViTRelease, arch_heads

# dino_deitsmall16_pretrain.pth -> ("vit_small", 16); README.md l.76-91 of facebookresearch/dino
_FILE = re.compile(
    r"dino_(deitsmall|vitbase)(8|16)_pretrain(_full_checkpoint)?\.(pth|safetensors)$"
)
_ARCH = {"deitsmall": "vit_small", "vitbase": "vit_base"}


def dino_vit_release(
    state: Mapping[str, Tensor], prefix: str, arch: Optional[str], source: str, family: str = "DINO"
) -> ViTRelease:
    """The :class:`ViTRelease` of a DINO-built ViT (DINO, iBOT) under ``prefix`` of ``state``."""
    geo = geometry(state, prefix)
    heads, heads_from = arch_heads(family, arch, geo["embed_dim"], source)
    return ViTRelease(
        family=family, embed_dim=geo["embed_dim"], depth=geo["depth"],
        patch_size=geo["patch_size"], num_heads=heads, heads_from=heads_from,
        layerscale=geo["layerscale"], grid=square_grid(geo["rows"] - 1), resample="dino",
    )  # fmt: skip


def arch_from_file_name(path: str) -> Tuple[Optional[str], str]:
    """(``vit_small`` / ``vit_base`` or None, ``"the file name '...'"``)."""
    base = file_base(path)
    match = _FILE.search(base)
    return (_ARCH[match.group(1)] if match else None), f"the file name {base!r}"


@register_checkpoint_loader("dino_vit_backbone")
class DINOViTBackbone(RenameLoader):
    """``dino_deitsmall16_pretrain.pth`` & co.: the teacher ViT in DINO's (= timm's) names."""

    method = "dino"
    layout = "DINO ViT backbone (facebookresearch/dino): bare ViT state dict, no head"
    file_names = (
        "dino_deitsmall16_pretrain.pth", "dino_deitsmall8_pretrain.pth",
        "dino_vitbase16_pretrain.pth", "dino_vitbase8_pretrain.pth", "dino_deit*.safetensors",
        "dino_vitbase*.safetensors",
    )  # fmt: skip
    same_layout_as = "timm"
    rules = (("head.", None), ("", "backbone."))

    def accepts(self, state: Mapping[str, Tensor]) -> bool:
        return (
            looks_like_vit(state)
            and "mask_token" not in state
            and "blocks.0.ls1.gamma" not in state
            and not any(k.startswith("head.") for k in state)  # hubconf: num_classes=0
        )

    def architecture(self, raw: Any, path: str) -> ViTRelease:
        arch, source = arch_from_file_name(path)
        return dino_vit_release(raw, "", arch, source)

    def method_kwargs(self, state: Mapping[str, Tensor]) -> Optional[Dict[str, Any]]:
        return dino_vit_method_kwargs(state)


def _args(raw: Any) -> Dict[str, Any]:
    args = raw.get("args") if isinstance(raw, Mapping) else None
    if args is None:
        return {}
    return dict(vars(args)) if hasattr(args, "__dict__") else dict(args)


@register_checkpoint_loader("dino_vit_full")
class DINOViTFull(DINOFull):
    """``main_dino.py`` checkpoint of a ViT: student (``module.``) and teacher (no prefix)."""

    layout = (
        "DINO ViT full checkpoint (facebookresearch/dino): student module.backbone.* / "
        "module.head.*, teacher backbone.* / head.* (not DDP-wrapped), args, dino_loss.center"
    )
    file_names = (
        "dino_deitsmall16_pretrain_full_checkpoint.pth",
        "dino_deitsmall8_pretrain_full_checkpoint.pth",
        "dino_vitbase16_pretrain_full_checkpoint.pth",
        "dino_vitbase8_pretrain_full_checkpoint.pth",
        "checkpoint*.pth",
    )  # fmt: skip
    refines = ("dino_full",)

    def detect(self, raw: Any) -> bool:
        return super().detect(raw) and any(
            looks_like_vit(raw["student"], p) for p in ("module.backbone.", "backbone.")
        )

    def architecture(self, raw: Any, path: str) -> ViTRelease:
        student = raw["student"]
        prefix = "module.backbone." if looks_like_vit(student, "module.backbone.") else "backbone."
        args = _args(raw)
        if args.get("arch"):
            arch, source = args["arch"], f"arch {args['arch']!r} in the file's args"
        else:
            arch, source = arch_from_file_name(path)
        return dino_vit_release(student, prefix, arch, source)

    def method_kwargs(self, state: Mapping[str, Tensor]) -> Optional[Dict[str, Any]]:
        # the README's command, not the file's args (which record the run's own values)
        return dino_vit_method_kwargs(state)
