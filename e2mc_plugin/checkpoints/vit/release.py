"""What a ViT release is, beyond its tensors: family, size, patch, heads, LayerScale, position
embedding.

The head count is not in the tensors (a 6-head and a 12-head ViT-S have the same ``qkv``
shapes), so it comes from the release's identity: the ``arch`` recorded in the file, the release
or torch.hub file name, a ``config.json`` beside a transformers file, or the family's own model
code at the width the layout shows (e.g. DINO's ``vit_small`` has 6 heads, MoCo v3's 12).
:attr:`ViTRelease.heads_from` says which, and says so when it cannot be known.

Sources of the tables (model code of each repository): facebookresearch/dino
``vision_transformer.py`` (``vit_tiny/small/base``: 3 / 6 / 12 heads), facebookresearch/moco-v3
``vits.py`` (``vit_small/base``: 12, ``vit_large/huge``: 16), facebookresearch/dinov2
``dinov2/models/vision_transformer.py`` (``vit_small/base/large/giant2``: 6 / 12 / 16 / 24),
bytedance/ibot ``models/vision_transformer.py`` (as DINO; ``vit_large``: 16),
facebookresearch/mae ``models_vit.py`` (``vit_base/large/huge``: 12 / 16 / 16).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

#: family -> official architecture name -> (width, heads)
FAMILY_ARCHS: Mapping[str, Mapping[str, Tuple[int, int]]] = {
    "DINO": {"vit_tiny": (192, 3), "vit_small": (384, 6), "vit_base": (768, 12)},
    "iBOT": {
        "vit_tiny": (192, 3), "vit_small": (384, 6), "vit_base": (768, 12),
        "vit_large": (1024, 16),
    },
    "MoCo v3": {
        "vit_small": (384, 12), "vit_base": (768, 12), "vit_large": (1024, 16),
        "vit_huge": (1280, 16), "vit_conv_small": (384, 12), "vit_conv_base": (768, 12),
    },
    "DINOv2": {
        "vit_small": (384, 6), "vit_base": (768, 12), "vit_large": (1024, 16),
        "vit_giant2": (1536, 24),
    },
    "MAE": {"vit_base": (768, 12), "vit_large": (1024, 16), "vit_huge": (1280, 16)},
}  # fmt: skip

_SIZE_LETTER = {192: "Ti", 384: "S", 768: "B", 1024: "L", 1280: "H", 1536: "g"}
_WIDTH_ARCH_SOURCE = {
    "DINO": "DINO's vision_transformer.py",
    "iBOT": "iBOT's models/vision_transformer.py",
    "MoCo v3": "MoCo v3's vits.py",
    "DINOv2": "DINOv2's vision_transformer.py",
    "MAE": "MAE's models_vit.py",
}


@dataclass(frozen=True)
class ViTRelease:
    """The architecture of a released ViT, as its own repository builds it.

    Attributes:
        family: ``"DINO"``, ``"MoCo v3"``, ``"iBOT"``, ``"DINOv2"``, ``"MAE"`` or a layout name
            (``"timm"``, ``"transformers ViT"``) when the family is not known.
        embed_dim / depth / patch_size: from the tensors.
        num_heads: None when it cannot be known; ``heads_from`` says why.
        heads_from: where ``num_heads`` comes from (file name, ``arch`` in the file, config.json,
            the family's model code at this width) or why it is unknown.
        layerscale: the blocks scale their residual branches (``ls1/ls2.gamma``).
        pos_embed: ``"learned"`` or ``"sin-cos"`` (a fixed table: MoCo v3, MAE pretraining).
        pos_prefix: rows of the position table before the patch grid, in the converted state
            (1: the class token's; 0: timm's ``no_embed_class`` form, DINOv2 with registers).
        registers: register tokens (DINOv2 ``_reg``).
        grid: the patch grid of the position table (rows, columns).
        resample: how the release's own model resizes the table for another input size
            (:mod:`~e2mc_plugin.checkpoints.vit.pos_embed`), None when it cannot.
        layer_norm_eps: the epsilon of the release's LayerNorms.
        file_name_hint: the release's file names, for messages.
    """

    family: str
    embed_dim: int
    depth: int
    patch_size: int
    num_heads: Optional[int]
    heads_from: str
    layerscale: bool = False
    pos_embed: str = "learned"
    pos_prefix: int = 1
    registers: int = 0
    grid: Tuple[int, int] = (14, 14)
    resample: Optional[str] = None
    layer_norm_eps: float = 1e-6
    extra: Dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def name(self) -> str:
        """``DINOv2 ViT-S/14 with registers``."""
        size = _SIZE_LETTER.get(self.embed_dim, f"{self.embed_dim}-wide")
        regs = f" with {self.registers} registers" if self.registers else ""
        return f"{self.family} ViT-{size}/{self.patch_size}{regs}"

    def backbone_kwargs(self, img_size: int = 224) -> Dict[str, Any]:
        """solo-learn ``backbone.kwargs`` that make its timm ViT this architecture (heads and
        width come from the backbone name; ``img_size`` sets the patch grid)."""
        kwargs: Dict[str, Any] = {}
        if self.patch_size != 16:
            kwargs["patch_size"] = self.patch_size
        if self.layerscale:
            kwargs["init_values"] = 1.0  # LayerScale present; the file's gammas replace 1.0
        if self.registers:
            kwargs["reg_tokens"] = self.registers
        if self.pos_prefix == 0:
            kwargs["no_embed_class"] = True
        if kwargs or img_size != 224:
            kwargs["img_size"] = img_size
        return kwargs


def arch_heads(
    family: str, arch: Optional[str], width: int, source: str
) -> Tuple[Optional[int], str]:
    """``(num_heads, heads_from)`` for a release of ``family``: from ``arch`` (named by
    ``source``: a file name, the file's ``arch``/``args``) when given and consistent with the
    tensors' ``width``, else from the family's model code at that width, else unknown."""
    archs = FAMILY_ARCHS.get(family, {})
    code = _WIDTH_ARCH_SOURCE.get(family, f"{family}'s model code")
    if arch is not None and arch in archs and archs[arch][0] == width:
        return archs[arch][1], f"{source} ({code}: {arch} has {archs[arch][1]} heads)"
    by_width = [(name, heads) for name, (w, heads) in archs.items() if w == width]
    if by_width and len({h for _, h in by_width}) == 1:
        name, heads = by_width[0]
        return heads, f"the {family} layout at width {width} ({code}: {name} has {heads} heads)"
    return None, (
        f"cannot be known: no {family} architecture of {code} is {width} wide"
        + (f" and {source} names {arch!r}" if arch else "")
    )
