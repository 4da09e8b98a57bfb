"""Hugging Face ``transformers`` layouts of DINO and DINOv2 (``model.safetensors`` +
``config.json``, e.g. ``facebook/dino-vits16``, ``facebook/dinov2-small``,
``facebook/dinov2-with-registers-small``).

Names (``modeling_vit.py``, ``modeling_dinov2.py``; the conversion scripts
``convert_dino_to_pytorch.py`` and ``convert_dinov2_to_hf.py`` map them from the originals)::

    embeddings.{cls_token, position_embeddings, patch_embeddings.projection.*}
        [mask_token, register_tokens]                       (DINOv2)
    encoder.layer.N.attention.attention.{query,key,value}.*  -> blocks.N.attn.qkv.* (stacked)
    encoder.layer.N.attention.output.dense.*                 -> blocks.N.attn.proj.*
    ViT:    layernorm_before / layernorm_after / intermediate.dense / output.dense
            -> norm1 / norm2 / mlp.fc1 / mlp.fc2
    DINOv2: norm1 / norm2 / mlp.fc1 / mlp.fc2 / layer_scale{1,2}.lambda1 -> ls{1,2}.gamma
    layernorm.*                                              -> norm.*

A ``vit.`` / ``dinov2.`` prefix (a ``*ForImageClassification`` file) is accepted; ``pooler`` and
``classifier`` are dropped. The head count, patch size, image size and LayerNorm epsilon come
from ``config.json`` beside the file (``num_attention_heads``...); without it, a DINOv2 layout
falls back to DINOv2's architectures by width and a ViT layout's head count cannot be known.
transformers' DINO conversions keep ``ViTConfig``'s ``layer_norm_eps`` 1e-12 where the original
model used 1e-6: the weights are DINO's, and solo's timm ViT (1e-6) computes the original's
function; the report says so.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
from torch import Tensor

from e2mc_plugin.checkpoints.loaders.base import is_tensor_dict
from e2mc_plugin.checkpoints.loaders.dino import dino_vit_method_kwargs
from e2mc_plugin.checkpoints.loaders.dinov2 import fold_registers
from e2mc_plugin.checkpoints.registry import CheckpointLoader, register_checkpoint_loader
from e2mc_plugin.checkpoints.report import LoadReport
from e2mc_plugin.checkpoints.vit.layout import square_grid
from e2mc_plugin.checkpoints.vit.release import ViTRelease, arch_heads

_PREFIXES = ("dinov2_with_registers.", "dinov2.", "vit.", "")
_PATCH = "embeddings.patch_embeddings.projection.weight"
_QUERY = "encoder.layer.0.attention.attention.query.weight"
_LAYER = {
    "attention.output.dense.": "attn.proj.",
    "layernorm_before.": "norm1.", "layernorm_after.": "norm2.",
    "intermediate.dense.": "mlp.fc1.", "output.dense.": "mlp.fc2.",
    "norm1.": "norm1.", "norm2.": "norm2.", "mlp.fc1.": "mlp.fc1.", "mlp.fc2.": "mlp.fc2.",
    "layer_scale1.lambda1": "ls1.gamma", "layer_scale2.lambda1": "ls2.gamma",
}  # fmt: skip
_EMBED = {
    "embeddings.cls_token": "cls_token", "embeddings.position_embeddings": "pos_embed",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "embeddings.register_tokens": "reg_token",
    "layernorm.weight": "norm.weight", "layernorm.bias": "norm.bias",
}  # fmt: skip


def _prefix(raw: Any) -> Optional[str]:
    if not is_tensor_dict(raw):
        return None
    return next((p for p in _PREFIXES if p + _PATCH in raw and p + _QUERY in raw), None)


def _config(path: str) -> Dict[str, Any]:
    beside = os.path.join(os.path.dirname(os.path.abspath(path)), "config.json") if path else ""
    if beside and os.path.isfile(beside):
        with open(beside) as f:
            return dict(json.load(f))
    return {}


def hf_to_timm(raw: Mapping[str, Tensor], prefix: str) -> Tuple[Dict[str, Tensor], LoadReport]:
    """transformers ViT / DINOv2 names -> timm names under ``backbone.`` (q, k, v stacked)."""
    report, out = LoadReport(), {}
    for key, value in raw.items():
        name = key[len(prefix) :] if key.startswith(prefix) else key
        new = _EMBED.get(name)
        if new is None and name.startswith("encoder.layer."):
            index, rest = name[len("encoder.layer.") :].split(".", 1)
            if rest.startswith("attention.attention."):
                continue  # stacked below
            new = next((f"blocks.{index}.{dst}{rest[len(src):]}" for src, dst in _LAYER.items()
                        if rest.startswith(src)), None)  # fmt: skip
        if new is None:
            report.dropped.append(key)  # mask_token, pooler, classifier
            continue
        out["backbone." + new] = value
        report.mapped[key] = "backbone." + new
    layers = {k.split(".")[2] for k in raw if k.startswith(prefix + "encoder.layer.")}
    for index in sorted(layers, key=int):
        for part in ("weight", "bias"):
            keys = [f"{prefix}encoder.layer.{index}.attention.attention.{n}.{part}"
                    for n in ("query", "key", "value")]  # fmt: skip
            if all(k in raw for k in keys):
                dst = f"backbone.blocks.{index}.attn.qkv.{part}"
                out[dst] = torch.cat([raw[k] for k in keys], dim=0)
                report.mapped.update({k: dst for k in keys})
    return out, report


class _HFLoader(CheckpointLoader):
    method = "dino"
    file_names = ("model.safetensors", "pytorch_model.bin")
    dinov2 = False

    def detect(self, raw: Any) -> bool:
        prefix = _prefix(raw)
        if prefix is None:
            return False
        return (prefix + "encoder.layer.0.layer_scale1.lambda1" in raw) == self.dinov2

    def convert(self, raw: Any) -> Tuple[Dict[str, Tensor], LoadReport]:
        prefix = _prefix(raw)
        out, report = hf_to_timm(raw, prefix)
        if prefix + "embeddings.register_tokens" in raw:
            names = {"cls_token": prefix + "embeddings.cls_token",
                     "pos_embed": prefix + "embeddings.position_embeddings"}  # fmt: skip
            fold_registers(out, report, names)
        return out, report

    def method_kwargs(self, state: Mapping[str, Tensor]) -> Optional[Dict[str, Any]]:
        return dino_vit_method_kwargs(state)

    def architecture(self, raw: Any, path: str) -> ViTRelease:
        prefix = _prefix(raw)
        config = _config(path)
        proj = raw[prefix + _PATCH]
        width, patch = int(proj.shape[0]), int(proj.shape[-1])
        regs = raw.get(prefix + "embeddings.register_tokens")
        registers = int(regs.shape[1]) if regs is not None else 0
        layers = {k.split(".")[2] for k in raw if k.startswith(prefix + "encoder.layer.")}
        if "num_attention_heads" in config:
            heads = int(config["num_attention_heads"])
            heads_from = f"config.json beside the file (num_attention_heads {heads})"
        elif self.dinov2:
            heads, heads_from = arch_heads("DINOv2", None, width, "the layout")
        else:
            heads, heads_from = (
                None,
                (
                    "cannot be known: a transformers ViTModel file records it only in the "
                    "config.json beside it, which is missing"
                ),
            )
        rows = int(raw[prefix + "embeddings.position_embeddings"].shape[1])
        eps = float(config.get("layer_norm_eps", 1e-6 if self.dinov2 else 1e-12))
        mode = ("dinov2_reg" if registers else "hf_dinov2") if self.dinov2 else "dino"
        return ViTRelease(
            family=self.family, embed_dim=width, depth=len(layers), patch_size=patch,
            num_heads=heads, heads_from=heads_from, layerscale=self.dinov2,
            pos_prefix=0 if registers else 1, registers=registers,
            grid=square_grid(rows - 1), resample=mode, layer_norm_eps=eps,
        )  # fmt: skip


@register_checkpoint_loader("dino_vit_hf")
class DINOViTHF(_HFLoader):
    """transformers ``ViTModel`` layout (``facebook/dino-vit{s,b}{8,16}``)."""

    family = "DINO (transformers)"
    layout = (
        "transformers ViTModel (facebook/dino-vit*): embeddings.*, encoder.layer.N.attention."
        "attention.{query,key,value}.*, layernorm_before/after, config.json beside it"
    )


@register_checkpoint_loader("dinov2_hf")
class DINOv2HF(_HFLoader):
    """transformers ``Dinov2Model`` / ``Dinov2WithRegistersModel`` layout."""

    family = "DINOv2 (transformers)"
    dinov2 = True
    layout = (
        "transformers Dinov2Model (facebook/dinov2-*, -with-registers-*): embeddings.*, "
        "encoder.layer.N.{attention.attention.{query,key,value}, layer_scale1/2.lambda1}.*"
    )
