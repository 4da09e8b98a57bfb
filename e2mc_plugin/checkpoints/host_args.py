"""The ``args.json`` of a converted checkpoint: what the host needs to rebuild the method.

From the tensors alone: the backbone (ResNet-18/50, ViT widths), the dataset stem (CIFAR 3x3 or
ImageNet 7x7), the method's widths (``proj_hidden_dim``... from the head shapes), and which heads
of the method the file has no weights for. Defaults are solo-learn's imagenet-100 recipes.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import torch

from e2mc_plugin.checkpoints.registry import loader_method_kwargs
from e2mc_plugin.checkpoints.report import LoadedCheckpoint
from e2mc_plugin.method_families import is_momentum_method

# method_kwargs that main_knn needs to rebuild each method; the widths are replaced by the
# checkpoint's own shapes when it carries the heads (defaults: solo-learn's imagenet-100 recipes).
METHOD_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "vicreg": {
        "proj_hidden_dim": 2048, "proj_output_dim": 2048,
        "sim_loss_weight": 25.0, "var_loss_weight": 25.0, "cov_loss_weight": 1.0,
    },
    "swav": {
        "proj_hidden_dim": 2048, "proj_output_dim": 128, "num_prototypes": 3000,
        "queue_size": 3840, "epoch_queue_starts": 50, "freeze_prototypes_epochs": 2,
        "temperature": 0.1, "sk_iters": 3, "sk_epsilon": 0.05,
    },
    "simsiam": {"proj_hidden_dim": 2048, "proj_output_dim": 2048, "pred_hidden_dim": 512},
    "byol": {"proj_hidden_dim": 4096, "proj_output_dim": 256, "pred_hidden_dim": 8192},
}  # fmt: skip
# The heads each method builds besides its backbone and online classifier (solo-learn 1.0.6).
METHOD_HEADS: Dict[str, tuple] = {
    "vicreg": ("projector",),
    "swav": ("projector", "prototypes"),
    "simsiam": ("projector", "predictor"),
    "byol": ("projector", "predictor", "momentum_backbone", "momentum_projector"),
    "mocov3": ("projector", "predictor", "momentum_backbone", "momentum_projector"),
    "dino": ("head", "momentum_backbone", "momentum_head"),
    "barlow_twins": ("projector",),
}

# method_kwargs key -> (state key, shape index) it can be read from.
_WIDTHS: Dict[str, Dict[str, tuple]] = {
    "vicreg": {
        "proj_hidden_dim": ("projector.0.weight", 0), "proj_output_dim": ("projector.6.weight", 0),
    },
    "swav": {
        "proj_hidden_dim": ("projector.0.weight", 0), "proj_output_dim": ("projector.3.weight", 0),
        "num_prototypes": ("prototypes.weight_v", 0),
    },
    "simsiam": {
        "proj_hidden_dim": ("projector.0.weight", 0), "proj_output_dim": ("projector.6.weight", 0),
        "pred_hidden_dim": ("predictor.0.weight", 0),
    },
    "byol": {
        "proj_hidden_dim": ("projector.0.weight", 0), "proj_output_dim": ("projector.3.weight", 0),
        "pred_hidden_dim": ("predictor.0.weight", 0),
    },
}  # fmt: skip

_TIMM_VITS = {192: "vit_tiny", 384: "vit_small", 768: "vit_base", 1024: "vit_large"}


def infer_backbone(state: Mapping[str, torch.Tensor]) -> Optional[str]:
    """solo-learn backbone name from ``backbone.*`` shapes (ResNet-18/50, ViT), else None."""
    if "backbone.layer4.0.conv3.weight" in state and "backbone.layer3.5.conv1.weight" in state:
        return "resnet50" if "backbone.layer3.6.conv1.weight" not in state else None
    if "backbone.layer4.1.conv2.weight" in state and "backbone.layer1.2.conv1.weight" not in state:
        return "resnet18"
    embed = state.get("backbone.patch_embed.proj.weight")
    if embed is not None:
        return _TIMM_VITS.get(embed.shape[0])
    return None


def infer_dataset(state: Mapping[str, torch.Tensor]) -> str:
    """``cifar10`` for solo-learn's CIFAR ResNet stem (3x3 conv1), else ``imagenet``."""
    conv1 = state.get("backbone.conv1.weight")
    return "cifar10" if conv1 is not None and conv1.shape[-1] == 3 else "imagenet"


def method_kwargs(
    method: str, state: Mapping[str, torch.Tensor], format: str = ""
) -> Dict[str, Any]:
    """The ``method_kwargs`` of ``args.json``: the loader's own (for its method), else the
    defaults with the checkpoint's widths."""
    provided = loader_method_kwargs(format, method, state)
    if provided is not None:
        return provided
    if method not in METHOD_DEFAULTS:
        raise ValueError(
            f"convert: no default method_kwargs for method {method!r}; supported: "
            f"{', '.join(METHOD_DEFAULTS)}. For a solo-learn checkpoint, put its args.json "
            "next to it."
        )
    kwargs = dict(METHOD_DEFAULTS[method])
    for name, (key, dim) in _WIDTHS.get(method, {}).items():
        if key in state:
            kwargs[name] = int(state[key].shape[dim])
    return kwargs


def build_args(loaded: LoadedCheckpoint, method: str, backbone: str, name: str) -> Dict[str, Any]:
    """A resolved 1.0.6 cfg (``args.json``) for ``method`` with the checkpoint's widths."""
    args: Dict[str, Any] = {
        "name": name,
        "method": method,
        "backbone": {"name": backbone, "kwargs": backbone_kwargs(loaded)},
        "method_kwargs": method_kwargs(method, loaded.state_dict, loaded.format),
        "data": {
            "dataset": infer_dataset(loaded.state_dict), "train_path": None, "val_path": None,
            "format": "image_folder", "num_workers": 4, "num_classes": 1000,
            "num_large_crops": 2, "num_small_crops": 0,
        },
        "optimizer": {
            "name": "lars", "batch_size": 256, "lr": 0.3, "classifier_lr": 0.1,
            "weight_decay": 1e-4, "kwargs": {"clip_lr": True, "eta": 0.02,
                                             "exclude_bias_n_norm": True},
        },
        "scheduler": {"name": "warmup_cosine"},
        "max_epochs": 100,
        "e2mc_plugin": {"source": loaded.path, "format": loaded.format},
    }  # fmt: skip
    if is_momentum_method(method):
        args["momentum"] = {"base_tau": 0.99, "final_tau": 1.0, "classifier": False}
    return args


def backbone_kwargs(loaded: LoadedCheckpoint) -> Dict[str, Any]:
    """``backbone.kwargs`` that build the release's architecture (a ViT's patch, LayerScale,
    registers: :meth:`~e2mc_plugin.checkpoints.vit.ViTRelease.backbone_kwargs`), else ``{}``."""
    arch = loaded.architecture
    return dict(arch.backbone_kwargs()) if hasattr(arch, "backbone_kwargs") else {}


def random_layers(method: str, state: Mapping[str, torch.Tensor]) -> List[str]:
    """Module prefixes of ``method`` that ``state`` has no tensors for: they stay as built
    (random) when the host loads the converted checkpoint with ``strict=False``."""
    heads = METHOD_HEADS.get(method)
    if heads is None:
        heads = ("momentum_backbone",) if is_momentum_method(method) else ()
    present = {k.split(".", 1)[0] for k in state}
    missing = [f"{h}.*" for h in ("classifier",) + heads if h not in present]
    if method not in METHOD_HEADS:
        missing.append(f"any other head of {method} that the source lacks")
    return missing
