"""Reference ViTs built the way each official repository builds them (our code, their
structure and names), with random weights: the "same function" side of the ViT loader tests.

* :class:`DINOViT` + :class:`DINOHead`: facebookresearch/dino ``vision_transformer.py``
  (``VisionTransformer``: ``prepare_tokens`` with ``interpolate_pos_encoding``, pre-norm
  ``Block``, class token after ``norm``); :class:`IBOTViT`: bytedance/ibot
  ``models/vision_transformer.py`` (DINO's, plus ``gamma_1/_2`` and ``masked_embed``).
* :class:`MoCoViT` + :func:`moco_mlp`: facebookresearch/moco-v3 ``vits.py`` (timm 0.4.9's
  ``VisionTransformer`` with a fixed 2-D sin-cos table; ``head`` = the projector) and
  ``moco/builder.py`` ``_build_mlp``.
* :class:`DINOv2ViT`: facebookresearch/dinov2 ``DinoVisionTransformer`` (``ls1/ls2``
  LayerScale, ``mask_token``, ``register_tokens`` inserted after the table is added,
  ``interpolate_pos_encoding`` with ``interpolate_offset`` / ``interpolate_antialias``, float32).
* :class:`MAEEncoder`: facebookresearch/mae ``models_vit.VisionTransformer(global_pool=False)``
  (the linear probe's model), its table resized by ``util/pos_embed.interpolate_pos_embed``.

Attention is written out (``q @ k^T * scale``, softmax, ``@ v``) as in DINO's code, so the
comparison with timm's fused attention is a real one.
"""

from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = [
    "DINOHead", "DINOViT", "DINOv2ViT", "IBOTViT", "MAEEncoder", "MoCoViT", "moco_mlp",
    "randomise",
]  # fmt: skip


def randomise(module: nn.Module, seed: int) -> nn.Module:
    """Distinct random values in every tensor (LayerScale and norms too), scaled so activations
    stay O(1) through 12 blocks."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if not t.is_floating_point():
                continue
            if t.dim() <= 1 or name.endswith(("gamma", "gamma_1", "gamma_2", "weight_g")):
                t.copy_(0.5 + torch.rand(t.shape, generator=gen))
            else:
                fan_in = t[0].numel() if t.dim() > 1 else 1
                t.copy_(torch.randn(t.shape, generator=gen) / math.sqrt(max(fan_in, 1)))
    return module


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads, self.scale = num_heads, (dim // num_heads) ** -0.5
        self.qkv, self.proj = nn.Linear(dim, dim * 3), nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class LayerScale(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


class Block(nn.Module):
    """Pre-norm block; ``scale``: None (DINO, MoCo v3, MAE), ``"ls"`` (DINOv2 ``ls1/ls2``) or
    ``"gamma"`` (iBOT ``gamma_1/_2``)."""

    def __init__(self, dim: int, num_heads: int, eps: float, scale: Optional[str] = None):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim, eps=eps), Attention(dim, num_heads)
        self.norm2, self.mlp = nn.LayerNorm(dim, eps=eps), Mlp(dim, 4 * dim)
        self.scale = scale
        if scale == "ls":
            self.ls1, self.ls2 = LayerScale(dim), LayerScale(dim)
        elif scale == "gamma":
            self.gamma_1, self.gamma_2 = (
                nn.Parameter(torch.ones(dim)),
                nn.Parameter(torch.ones(dim)),
            )

    def forward(self, x: Tensor) -> Tensor:
        y = self.attn(self.norm1(x))
        if self.scale == "ls":
            x = x + self.ls1(y)
            return x + self.ls2(self.mlp(self.norm2(x)))
        if self.scale == "gamma":
            x = x + self.gamma_1 * y
            return x + self.gamma_2 * self.mlp(self.norm2(x))
        x = x + y
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, img_size: int, patch_size: int, dim: int) -> None:
        super().__init__()
        self.patch_size, self.num_patches = patch_size, (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class _ViT(nn.Module):
    eps, scale = 1e-6, None

    def __init__(self, dim: int, depth: int, heads: int, patch: int, img_size: int = 224):
        super().__init__()
        self.patch_embed = PatchEmbed(img_size, patch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, self.eps, self.scale) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=self.eps)

    def encode(self, x: Tensor) -> Tensor:
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)[:, 0]


class DINOViT(_ViT):
    """DINO's ``VisionTransformer(num_classes=0)``; ``forward`` = the class token after norm."""

    def interpolate_pos_encoding(self, x: Tensor, w: int, h: int) -> Tensor:
        npatch, n = x.shape[1] - 1, self.pos_embed.shape[1] - 1
        if npatch == n and w == h:
            return self.pos_embed
        class_pos, patch_pos = self.pos_embed[:, 0], self.pos_embed[:, 1:]
        dim, p = x.shape[-1], self.patch_embed.patch_size
        w0, h0 = w // p + 0.1, h // p + 0.1
        side = int(math.sqrt(n))
        patch_pos = F.interpolate(
            patch_pos.reshape(1, side, side, dim).permute(0, 3, 1, 2),
            scale_factor=(w0 / math.sqrt(n), h0 / math.sqrt(n)),
            mode="bicubic",
        )
        patch_pos = patch_pos.permute(0, 2, 3, 1).view(1, -1, dim)
        return torch.cat((class_pos.unsqueeze(0), patch_pos), dim=1)

    def forward(self, x: Tensor) -> Tensor:
        b, _, w, h = x.shape
        x = torch.cat((self.cls_token.expand(b, -1, -1), self.patch_embed(x)), dim=1)
        return self.encode(x + self.interpolate_pos_encoding(x, w, h))


class IBOTViT(DINOViT):
    """iBOT's ViT: DINO's; ``gamma_1/_2`` with ``init_values > 0``; ``masked_embed`` (student)."""

    def __init__(self, *args, layerscale: bool = False, masked: bool = False, **kwargs):
        self.scale = "gamma" if layerscale else None
        super().__init__(*args, **kwargs)
        if masked:
            self.masked_embed = nn.Parameter(torch.zeros(1, self.cls_token.shape[-1]))


class DINOHead(nn.Module):
    """DINO's ``DINOHead`` (no BN, 3 layers): mlp, L2 normalisation, weight-normed prototypes."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int, bottleneck: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, bottleneck),
        )  # fmt: skip
        self.last_layer = nn.utils.weight_norm(nn.Linear(bottleneck, out_dim, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.last_layer(F.normalize(self.mlp(x), dim=-1, p=2))


def moco_mlp(layers: int, in_dim: int, mlp_dim: int, out_dim: int) -> nn.Sequential:
    """moco/builder.py ``_build_mlp`` (last BN without affine)."""
    mods: List[nn.Module] = []
    for i in range(layers):
        d1, d2 = in_dim if i == 0 else mlp_dim, out_dim if i == layers - 1 else mlp_dim
        mods.append(nn.Linear(d1, d2, bias=False))
        if i < layers - 1:
            mods += [nn.BatchNorm1d(d2), nn.ReLU(inplace=True)]
        else:
            mods.append(nn.BatchNorm1d(d2, affine=False))
    return nn.Sequential(*mods)


def sincos_table(dim: int, side: int, temperature: float = 10000.0) -> Tensor:
    """vits.py ``build_2d_sincos_position_embedding`` (class row zero)."""
    grid_w, grid_h = torch.meshgrid(
        torch.arange(side, dtype=torch.float32), torch.arange(side, dtype=torch.float32),
        indexing="ij",
    )  # fmt: skip
    omega = 1.0 / (temperature ** (torch.arange(dim // 4, dtype=torch.float32) / (dim // 4)))
    out_w, out_h = grid_w.flatten()[:, None] * omega, grid_h.flatten()[:, None] * omega
    table = torch.cat([out_w.sin(), out_w.cos(), out_h.sin(), out_h.cos()], dim=1)[None]
    return torch.cat([torch.zeros(1, 1, dim), table], dim=1)


class MoCoViT(_ViT):
    """MoCo v3's ``VisionTransformerMoCo`` whose ``head`` is the projector: ``forward`` gives the
    class token (``features``) and ``head(features)``."""

    def __init__(self, dim, depth, heads, patch, img_size=224, mlp_dim=64, out_dim=32):
        super().__init__(dim, depth, heads, patch, img_size)
        side = img_size // patch
        self.pos_embed = nn.Parameter(sincos_table(dim, side), requires_grad=False)
        self.head = moco_mlp(3, dim, mlp_dim, out_dim)

    def features(self, x: Tensor) -> Tensor:
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), self.patch_embed(x)), dim=1)
        return self.encode(x + self.pos_embed)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        f = self.features(x)
        return f, self.head(f)


class DINOv2ViT(_ViT):
    """DINOv2's ``DinoVisionTransformer`` (``ffn_layer="mlp"``, ``block_chunks=0``)."""

    scale = "ls"

    def __init__(self, dim, depth, heads, patch=14, img_size=518, registers=0,
                 interpolate_offset=0.1, interpolate_antialias=False):  # fmt: skip
        super().__init__(dim, depth, heads, patch, img_size)
        self.mask_token = nn.Parameter(torch.zeros(1, dim))
        self.register_tokens = nn.Parameter(torch.zeros(1, registers, dim)) if registers else None
        self.offset, self.antialias = interpolate_offset, interpolate_antialias

    def interpolate_pos_encoding(self, x: Tensor, w: int, h: int) -> Tensor:
        previous_dtype, npatch, n = x.dtype, x.shape[1] - 1, self.pos_embed.shape[1] - 1
        if npatch == n and w == h:
            return self.pos_embed
        pos = self.pos_embed.float()
        dim, p, m = x.shape[-1], self.patch_embed.patch_size, int(math.sqrt(n))
        w0, h0 = w // p, h // p
        kwargs = (
            {"scale_factor": (float(w0 + self.offset) / m, float(h0 + self.offset) / m)}
            if self.offset
            else {"size": (w0, h0)}
        )
        patch_pos = F.interpolate(
            pos[:, 1:].reshape(1, m, m, dim).permute(0, 3, 1, 2),
            mode="bicubic", antialias=self.antialias, **kwargs,
        )  # fmt: skip
        patch_pos = patch_pos.permute(0, 2, 3, 1).view(1, -1, dim)
        return torch.cat((pos[:, :1], patch_pos), dim=1).to(previous_dtype)

    def forward(self, x: Tensor) -> Tensor:
        b, _, w, h = x.shape
        x = torch.cat((self.cls_token.expand(b, -1, -1), self.patch_embed(x)), dim=1)
        x = x + self.interpolate_pos_encoding(x, w, h)
        if self.register_tokens is not None:
            x = torch.cat((x[:, :1], self.register_tokens.expand(b, -1, -1), x[:, 1:]), dim=1)
        return self.encode(x)


class MAEEncoder(_ViT):
    """MAE's encoder as ``models_vit.VisionTransformer(global_pool=False)`` runs it."""

    def resized(self, img_size: int) -> "MAEEncoder":
        """``interpolate_pos_embed`` of ``util/pos_embed.py`` onto a model for ``img_size``: the
        table is resized in this model's dtype (call it on the release's float32 weights)."""
        dim, p = self.cls_token.shape[-1], self.patch_embed.patch_size
        new = MAEEncoder(dim, len(self.blocks), self.blocks[0].attn.num_heads, p, img_size)
        state = self.state_dict()
        old, side = int(math.sqrt(state["pos_embed"].shape[1] - 1)), img_size // p
        if old != side:
            grid = state["pos_embed"][:, 1:].reshape(-1, old, old, dim).permute(0, 3, 1, 2)
            grid = F.interpolate(grid, size=(side, side), mode="bicubic", align_corners=False)
            grid = grid.permute(0, 2, 3, 1).flatten(1, 2)
            state["pos_embed"] = torch.cat((state["pos_embed"][:, :1], grid), dim=1)
        new.load_state_dict(state)
        return new.to(self.cls_token.dtype).train(self.training)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), self.patch_embed(x)), dim=1)
        return self.encode(x + self.pos_embed)
