"""Refuse a ViT release whose function the target backbone cannot be; fit its position table.

Same shapes do not mean the same function: the head count is invisible in the tensors, and a
patch size, LayerScale, registers or a kind of position table that differs changes what the
blocks compute. :func:`check_fits` compares a :class:`ViTRelease` with a :class:`ViTTarget` and
raises :class:`ViTArchitectureError` with one line naming both sides and what fits;
:func:`fit_release` applies it to a built model and resizes the release's position tables to the
model's patch grid the way the release's own model would (:mod:`.pos_embed`).

Position tables: a learned table into a backbone that freezes it (solo's ``mocov3`` / ``mae``
ViTs) is refused: continued pretraining would not train what the release trained. A fixed
sin-cos table (MoCo v3, MAE) into a learned one is the same function and is how both
repositories fine-tune their encoders (a timm ViT initialised from the file): allowed, noted.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Dict, List, Optional

import torch
from torch import Tensor, nn

from e2mc_plugin.checkpoints.report import LoadedCheckpoint
from e2mc_plugin.checkpoints.vit.pos_embed import resample_table
from e2mc_plugin.checkpoints.vit.release import ViTRelease
from e2mc_plugin.checkpoints.vit.target import (
    FIXED_TABLE_METHODS,
    ViTTarget,
    backbone_module,
    describe_target,
)

log = logging.getLogger(__name__)


class ViTArchitectureError(ValueError):
    """A ViT release and the target backbone compute different functions (one line)."""


def _kwargs_text(release: ViTRelease, target: ViTTarget) -> str:
    side = target.grid[0] * target.patch_size
    kwargs = release.backbone_kwargs(img_size=side)
    return ", ".join(f"backbone.kwargs.{k}={str(v).lower() if isinstance(v, bool) else v}"
                     for k, v in kwargs.items())  # fmt: skip


def _heads_fix(release: ViTRelease, target: ViTTarget) -> str:
    if target.method in FIXED_TABLE_METHODS:
        return (
            f"use a method other than {', '.join(FIXED_TABLE_METHODS)} (solo builds timm's "
            f"{target.backbone} with {release.num_heads} heads for them)"
            if release.num_heads in (3, 6)
            else f"no solo-learn {target.backbone} has {release.num_heads} heads"
        )
    if release.num_heads == 12 and target.embed_dim in (192, 384):
        return f"use method mocov3 (its {target.backbone} is the MoCo v3 ViT with 12 heads)"
    return (
        f"no solo-learn {target.backbone} of method {target.method} has {release.num_heads} heads"
    )


def check_fits(release: ViTRelease, target: ViTTarget) -> None:
    """Raise :class:`ViTArchitectureError` (one line) if ``target`` cannot compute ``release``'s
    function; return silently otherwise (an unknown head count is not checked here: see
    :func:`fit_release`)."""
    who, what = target.who, release.name
    if release.embed_dim != target.embed_dim:
        raise ViTArchitectureError(
            f"{what} is {release.embed_dim} wide; {who} is {target.embed_dim} wide: use the "
            f"solo-learn ViT of that width (vit_small 384, vit_base 768)"
        )
    if release.num_heads is not None and release.num_heads != target.num_heads:
        raise ViTArchitectureError(
            f"{what} has {release.num_heads} heads; {who} has {target.num_heads}: "
            f"{_heads_fix(release, target)}"
        )
    if release.patch_size != target.patch_size:
        raise ViTArchitectureError(
            f"{what} has patch {release.patch_size}; {who} has patch {target.patch_size}: "
            f"set {_kwargs_text(release, target)}"
        )
    if release.layerscale != target.layerscale:
        has = lambda b: "LayerScale (ls1/ls2.gamma)" if b else "no LayerScale"  # noqa: E731
        fix = _kwargs_text(release, target) if release.layerscale else "leave out init_values"
        raise ViTArchitectureError(
            f"{what} has {has(release.layerscale)}; {who} has {has(target.layerscale)}: set {fix}"
        )
    if release.registers != target.registers or release.pos_prefix != target.pos_prefix:
        raise ViTArchitectureError(
            f"{what} has {release.registers} register tokens and a position table with "
            f"{release.pos_prefix} prefix row(s); {who} has {target.registers} and "
            f"{target.pos_prefix}: set {_kwargs_text(release, target)}"
        )
    if release.pos_embed == "learned" and target.pos_embed != "learned":
        raise ViTArchitectureError(
            f"{what} learns its position embedding; {who} keeps a fixed sin-cos table (solo's "
            f"{target.method} ViT): use a method other than {', '.join(FIXED_TABLE_METHODS)}"
        )
    if release.grid != target.grid and release.resample is None:
        raise ViTArchitectureError(
            f"{what}'s position table is for a {release.grid[0]}x{release.grid[1]} patch grid and "
            f"its model does not resize it; {who} has {target.grid[0]}x{target.grid[1]}: set "
            f"backbone.kwargs.img_size={release.grid[0] * release.patch_size}"
        )


def _resize_tables(
    state: Dict[str, Tensor],
    release: ViTRelease,
    target: ViTTarget,
    dtype: Optional[torch.dtype] = None,
) -> None:
    """Resize every ``*pos_embed`` of ``state``, in place, from the release's patch grid to the
    target's, as the release's model does, in ``dtype`` (None: each table's own)."""
    for key in [k for k in state if k.endswith("pos_embed")]:
        state[key] = resample_table(
            state[key], release.pos_prefix, release.grid, target.grid, release.resample,
            dtype or state[key].dtype,
        )  # fmt: skip


def fit_release(model: nn.Module, loaded: LoadedCheckpoint) -> LoadedCheckpoint:
    """``loaded`` checked against ``model``'s ViT and with its position tables on the model's
    grid (a new :class:`LoadedCheckpoint`; the input is not modified). Non-ViT models and
    checkpoints without a ViT release pass through unchanged.

    Raises:
        ViTArchitectureError: the release's function differs from the model's (one line).
    """
    release = loaded.architecture
    target = describe_target(model)
    if not isinstance(release, ViTRelease) or target is None:
        return loaded
    check_fits(release, target)
    notes: List[str] = []
    if release.num_heads is None:
        notes.append(
            f"the head count of {release.name} {release.heads_from}; {target.who} has "
            f"{target.num_heads} heads and the file is assumed to match (name the release with "
            "format=<loader> if it is an official one)"
        )
        log.warning("%s: %s", loaded.path or loaded.format, notes[-1])
    if release.pos_embed != "learned" and target.pos_embed == "learned":
        notes.append(
            f"{release.name}'s fixed sin-cos position table initialises {target.who}'s learned one "
            "(as the release's own fine-tuning does)"
        )
    if abs(release.layer_norm_eps - target.layer_norm_eps) > 1e-15:
        notes.append(
            f"{release.name} computes its LayerNorms with eps {release.layer_norm_eps:g}; "
            f"{target.who} uses {target.layer_norm_eps:g} (the original DINO / DINOv2 value): "
            "features differ slightly from the release library's model"
        )
    state = dict(loaded.state_dict)
    if release.grid != target.grid:
        table = getattr(backbone_module(model), "pos_embed", None)
        _resize_tables(state, release, target, table.dtype if table is not None else None)
        notes.append(
            f"position table resized {release.grid[0]}x{release.grid[1]} -> "
            f"{target.grid[0]}x{target.grid[1]} as {release.family}'s model does at that input "
            f"size ({release.resample})"
        )
    report = dataclasses.replace(loaded.report, notes=list(loaded.report.notes) + notes)
    return dataclasses.replace(loaded, state_dict=state, report=report)


def fit_release_to_args(loaded: LoadedCheckpoint, args: Dict) -> LoadedCheckpoint:
    """:func:`fit_release` for ``e2mc-plugin convert``: the target is the backbone that
    ``args.json`` makes the host build (solo-learn 1.0.6's constructor table)."""
    from e2mc_plugin.checkpoints.vit.target import solo_target

    release = loaded.architecture
    backbone = args.get("backbone", {})
    target = solo_target(args["method"], backbone.get("name", ""), backbone.get("kwargs") or {})
    if not isinstance(release, ViTRelease) or target is None:
        return loaded
    check_fits(release, target)
    if release.grid == target.grid:
        return loaded
    state: Dict = dict(loaded.state_dict)
    _resize_tables(state, release, target)
    note = (
        f"position table resized {release.grid[0]}x{release.grid[1]} -> {target.grid[0]}x"
        f"{target.grid[1]} ({release.resample})"
    )
    report = dataclasses.replace(loaded.report, notes=list(loaded.report.notes) + [note])
    return dataclasses.replace(loaded, state_dict=state, report=report)


def release_of(loaded: LoadedCheckpoint) -> Optional[ViTRelease]:
    """The :class:`ViTRelease` of a loaded checkpoint, or None."""
    return loaded.architecture if isinstance(loaded.architecture, ViTRelease) else None
