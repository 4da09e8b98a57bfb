"""Reference transformers-layout ViTs (our code, the structure and names of ``modeling_vit.py``
``ViTModel(add_pooling_layer=False)`` and ``modeling_dinov2.py`` ``Dinov2Model`` /
``Dinov2WithRegistersModel``), and :func:`hf_state_from_official`: the conversion scripts'
renaming (``convert_dino_to_pytorch.py``, ``convert_dinov2_to_hf.py``: qkv split into query,
key, value).

Attention follows the SDPA path (transformers' default): softmax in the input dtype.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["HFViT", "hf_state_from_official"]


class _Attn(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (nn.Linear(dim, dim) for _ in range(3))

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        q, k, v = (f(x).view(b, n, self.heads, c // self.heads).transpose(1, 2)
                   for f in (self.query, self.key, self.value))  # fmt: skip
        attn = ((q @ k.transpose(-1, -2)) * (c // self.heads) ** -0.5).softmax(dim=-1)
        return (attn @ v).transpose(1, 2).reshape(b, n, c)


class _Dense(nn.Module):
    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.attention, self.output = _Attn(dim, heads), _Dense(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.output.dense(self.attention(x))


class _Scale(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.lambda1 = nn.Parameter(torch.ones(dim))


class _Mlp(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)


class _Layer(nn.Module):
    """``ViTLayer`` (layernorm_before/after, intermediate, output) or ``Dinov2Layer``."""

    def __init__(self, dim: int, heads: int, eps: float, dinov2: bool) -> None:
        super().__init__()
        self.dinov2 = dinov2
        self.attention = _Attention(dim, heads)
        if dinov2:
            self.norm1, self.norm2 = nn.LayerNorm(dim, eps=eps), nn.LayerNorm(dim, eps=eps)
            self.layer_scale1, self.layer_scale2 = _Scale(dim), _Scale(dim)
            self.mlp = _Mlp(dim)
        else:
            self.layernorm_before = nn.LayerNorm(dim, eps=eps)
            self.layernorm_after = nn.LayerNorm(dim, eps=eps)
            self.intermediate, self.output = _Dense(dim, 4 * dim), _Dense(4 * dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        if self.dinov2:
            x = x + self.attention(self.norm1(x)) * self.layer_scale1.lambda1
            y = self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))
            return x + y * self.layer_scale2.lambda1
        x = x + self.attention(self.layernorm_before(x))
        y = self.intermediate.dense(self.layernorm_after(x))
        return x + self.output.dense(F.gelu(y))


class _Patch(nn.Module):
    def __init__(self, dim: int, patch: int) -> None:
        super().__init__()
        self.projection = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)


class _Embeddings(nn.Module):
    def __init__(self, config: Mapping[str, Any], dinov2: bool) -> None:
        super().__init__()
        dim, patch = config["hidden_size"], config["patch_size"]
        self.dinov2, self.patch_size = dinov2, patch
        self.registers = int(config.get("num_register_tokens", 0))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        if dinov2:
            self.mask_token = nn.Parameter(torch.zeros(1, dim))
        if self.registers:
            self.register_tokens = nn.Parameter(torch.zeros(1, self.registers, dim))
        self.patch_embeddings = _Patch(dim, patch)
        rows = (config["image_size"] // patch) ** 2 + 1
        self.position_embeddings = nn.Parameter(torch.zeros(1, rows, dim))

    def interpolate(self, x: Tensor, height: int, width: int) -> Tensor:
        """Dinov2Embeddings (size, float32) / Dinov2WithRegistersEmbeddings (+ antialias)."""
        n, pos = self.position_embeddings.shape[1] - 1, self.position_embeddings
        if x.shape[1] - 1 == n and height == width:
            return pos
        side, dim = int(math.sqrt(n)), x.shape[-1]
        grid = pos[:, 1:].reshape(1, side, side, dim).permute(0, 3, 1, 2)
        grid = F.interpolate(
            grid.to(torch.float32), size=(height // self.patch_size, width // self.patch_size),
            mode="bicubic", align_corners=False, antialias=bool(self.registers),
        ).to(pos.dtype)  # fmt: skip
        return torch.cat((pos[:, :1], grid.permute(0, 2, 3, 1).view(1, -1, dim)), dim=1)

    def forward(self, pixels: Tensor) -> Tensor:
        b, _, height, width = pixels.shape
        x = self.patch_embeddings.projection(pixels).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(b, -1, -1), x), dim=1)
        x = x + self.interpolate(x, height, width)
        if self.registers:
            x = torch.cat((x[:, :1], self.register_tokens.expand(b, -1, -1), x[:, 1:]), dim=1)
        return x


class _Encoder(nn.Module):
    def __init__(self, config: Mapping[str, Any], dinov2: bool) -> None:
        super().__init__()
        dim, heads, eps = (
            config["hidden_size"],
            config["num_attention_heads"],
            config["layer_norm_eps"],
        )
        self.layer = nn.ModuleList(
            _Layer(dim, heads, eps, dinov2) for _ in range(config["num_hidden_layers"])
        )


class HFViT(nn.Module):
    """``ViTModel`` (``dinov2=False``) or ``Dinov2Model`` from a config dict (the keys of
    ``config.json``); ``forward`` = ``pooler_output``'s source: ``layernorm(...)[:, 0]``."""

    def __init__(self, config: Mapping[str, Any], dinov2: bool) -> None:
        super().__init__()
        self.embeddings, self.encoder = _Embeddings(config, dinov2), _Encoder(config, dinov2)
        self.layernorm = nn.LayerNorm(config["hidden_size"], eps=config["layer_norm_eps"])

    def forward(self, pixels: Tensor) -> Tensor:
        x = self.embeddings(pixels)
        for layer in self.encoder.layer:
            x = layer(x)
        return self.layernorm(x)[:, 0]


_LAYER = {"norm1.": "layernorm_before.", "norm2.": "layernorm_after.",
          "attn.proj.": "attention.output.dense.", "mlp.fc1.": "intermediate.dense.",
          "mlp.fc2.": "output.dense."}  # fmt: skip
_LAYER_V2 = {"norm1.": "norm1.", "norm2.": "norm2.", "attn.proj.": "attention.output.dense.",
             "mlp.fc1.": "mlp.fc1.", "mlp.fc2.": "mlp.fc2.", "ls1.gamma": "layer_scale1.lambda1",
             "ls2.gamma": "layer_scale2.lambda1"}  # fmt: skip
_TOP = {"cls_token": "embeddings.cls_token", "mask_token": "embeddings.mask_token",
        "register_tokens": "embeddings.register_tokens",
        "pos_embed": "embeddings.position_embeddings",
        "patch_embed.proj.weight": "embeddings.patch_embeddings.projection.weight",
        "patch_embed.proj.bias": "embeddings.patch_embeddings.projection.bias",
        "norm.weight": "layernorm.weight", "norm.bias": "layernorm.bias"}  # fmt: skip


def hf_state_from_official(state: Mapping[str, Tensor], dinov2: bool) -> Dict[str, Tensor]:
    """The conversion scripts' renaming of an official DINO / DINOv2 state dict."""
    out: Dict[str, Tensor] = {}
    table = _LAYER_V2 if dinov2 else _LAYER
    for key, value in state.items():
        if key in _TOP:
            out[_TOP[key]] = value
            continue
        _, index, rest = key.split(".", 2)
        prefix = f"encoder.layer.{index}."
        if rest.startswith("attn.qkv."):
            part, dim = rest.rsplit(".", 1)[-1], value.shape[0] // 3
            for i, name in enumerate(("query", "key", "value")):
                out[f"{prefix}attention.attention.{name}.{part}"] = value[i * dim : (i + 1) * dim]
            continue
        src = next(s for s in table if rest.startswith(s))
        out[prefix + table[src] + rest[len(src) :]] = value
    return {k: v.contiguous() for k, v in out.items()}
