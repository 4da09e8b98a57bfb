"""Which module's output is an aux loss's embedding: the default, lookup, and the build-time check.

An embedding module must take the online backbone's features ``(n, features_dim)`` as its input
(the projector, one of its leading layers, DINO's ``head.mlp``) or be the backbone itself: the
capture matches an embedding to its crop by that input. A BatchNorm in the middle of the projector
(``projector.1``) or a layer inside the backbone (``backbone.layer4``) never sees those features,
so it is refused when the method is built, not at the first step.
"""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import nn

from e2mc_plugin.attach import resolve_module
from e2mc_plugin.solo.host import compat
from e2mc_plugin.solo.recipe.schema import ConfigError

__all__ = ["check_embedding", "default_embedding", "valid_embeddings"]


def default_embedding(model: nn.Module) -> str:
    """``projector`` if the method has one, else DINO's ``head.mlp``."""
    if isinstance(getattr(model, "projector", None), nn.Module):
        return "projector"
    head = getattr(model, "head", None)
    if isinstance(getattr(head, "mlp", None), nn.Module):
        return "head.mlp"
    children = ", ".join(name for name, _ in model.named_children())
    raise ConfigError(
        f"aux_losses[*].embedding: {type(model).__name__} has no 'projector' nor 'head.mlp'; "
        "set 'embedding:' to the module whose output is the embedding "
        f"(top-level modules: {children})"
    )


def _dry_forward_error(module: nn.Module, dim: int) -> Optional[str]:
    """Why ``module`` cannot map a ``(2, dim)`` feature batch to a tensor, or None.

    Runs in eval mode under ``no_grad`` on zeros: no BatchNorm statistic, no RNG draw, no
    autograd graph; every submodule's train/eval flag is restored afterwards.
    """
    modes = [(m, m.training) for m in module.modules()]
    param = next(module.parameters(), None)
    x = torch.zeros(
        2,
        dim,
        device=param.device if param is not None else None,
        dtype=param.dtype if param is not None and param.is_floating_point() else None,
    )
    try:
        module.eval()
        with torch.no_grad():
            out = module(x)
    except Exception as err:  # any failure means: not an embedding of the features
        return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    finally:
        for m, mode in modes:
            m.training = mode
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 2:
        return "its output is not an (n, d) tensor"
    return None


def valid_embeddings(model: nn.Module) -> List[str]:
    """The backbone and the modules (depth <= 2, outside the backbone and the momentum copies)
    that map the backbone features to an ``(n, d)`` tensor."""
    backbone = compat.get_backbone(model)
    found = ["backbone"]
    for name, child in model.named_children():
        if child is backbone or name.startswith("momentum_") or name == "aux_losses":
            continue
        candidates = [(name, child)] + [(f"{name}.{n}", c) for n, c in child.named_children()]
        found += [p for p, m in candidates if _dry_forward_error(m, model.features_dim) is None]
    return found


def check_embedding(model: nn.Module, path: str, key: str) -> nn.Module:
    """The module at ``path`` if it can be an embedding; :class:`ConfigError` for ``key`` naming
    the valid modules otherwise."""
    module = resolve_module(model, path, key)
    backbone = compat.get_backbone(model)
    if module is backbone:
        return module
    if path.startswith(f"{compat.profile().backbone_attr}."):
        why = "it is inside the backbone, so it never sees the backbone's output features"
    else:
        err = _dry_forward_error(module, model.features_dim)
        if err is None:
            return module
        why = (
            f"{type(module).__name__} cannot take the backbone features "
            f"(n, {model.features_dim}): {err}"
        )
    raise ConfigError(
        f"{key}: {path!r} is not an embedding module: {why}; valid embedding modules: "
        f"{', '.join(valid_embeddings(model))}"
    )
