"""``e2mc-plugin convert``: any supported checkpoint -> a host checkpoint directory.

``DIR/<name>.ckpt`` holds ``{"state_dict": <solo-learn 1.0.6 names>, "pytorch-lightning_version":
..., "epoch": 0, "global_step": 0, "e2mc_plugin": {...}}`` (tensors, strings and numbers only, so
``torch.load(weights_only=True)`` reads it). ``DIR/args.json`` is a resolved cfg from which the
host's unmodified ``main_knn.py`` rebuilds the model
(``METHODS[args["method"]].load_from_checkpoint(ckpt, strict=False, cfg=args)``) and which
``main_linear.py`` does not need (it keeps the ``backbone.`` keys of
``pretrained_feature_extractor``).

Both launchers load with ``strict=False``, which silently leaves unmatched layers random, so every
conversion ends with :func:`verify_backbone_coverage` against a freshly built backbone.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
from importlib import metadata
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import torch

from e2mc_plugin.checkpoints.initialize import CheckpointMismatchError
from e2mc_plugin.checkpoints.load import load_checkpoint
from e2mc_plugin.checkpoints.registry import (
    describe_layout,
    get_checkpoint_loader,
    list_checkpoint_loaders,
    loader_method_kwargs,
)
from e2mc_plugin.checkpoints.report import LoadedCheckpoint
from e2mc_plugin.checkpoints.safe_load import safe_torch_load
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
MOMENTUM_METHODS = {"byol"}

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
    provided = loader_method_kwargs(format, method, state)  # the format's own method, if any
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
        "backbone": {"name": backbone, "kwargs": {}},
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
    if method in MOMENTUM_METHODS or is_momentum_method(method):
        args["momentum"] = {"base_tau": 0.99, "final_tau": 1.0, "classifier": False}
    return args


def reference_backbone_shapes(backbone: str, dataset: str = "imagenet") -> Dict[str, tuple]:
    """Key -> shape of a freshly built backbone (on the meta device: nothing is allocated)."""
    with torch.device("meta"):
        if backbone.startswith("resnet"):
            import torchvision

            model = getattr(torchvision.models, backbone)()
            model.fc = torch.nn.Identity()
            if dataset in ("cifar10", "cifar100"):
                model.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=2, bias=False)
        elif backbone.startswith("vit_"):
            import timm

            model = timm.create_model(f"{backbone}_patch16_224", num_classes=0)
        else:
            raise ValueError(f"no reference backbone for {backbone!r}")
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def verify_backbone_coverage(
    ckpt_path: Union[str, os.PathLike],
    backbone_keys: Union[Mapping[str, Sequence[int]], Iterable[str]],
) -> int:
    """Check that main_linear's loading of ``ckpt_path`` fills every backbone tensor.

    Replays the host's key handling (keys containing ``backbone`` lose the ``backbone.`` prefix,
    then ``load_state_dict(strict=False)``), which silently skips anything else.

    Args:
        ckpt_path: a converted checkpoint.
        backbone_keys: names (without ``backbone.``) of a freshly built backbone, or a mapping
            of them to shapes (then shapes are compared too).

    Returns:
        the number of backbone tensors covered.

    Raises:
        CheckpointMismatchError: listing missing keys and shape mismatches.
    """
    state = safe_torch_load(ckpt_path)["state_dict"]
    found = {k.replace("backbone.", ""): v for k, v in state.items() if k.startswith("backbone.")}
    expected = dict(backbone_keys) if isinstance(backbone_keys, Mapping) else None
    names = list(expected) if expected is not None else list(backbone_keys)
    missing = [k for k in names if k not in found]
    mismatched = []
    if expected is not None:
        mismatched = [
            f"{k}: checkpoint {tuple(found[k].shape)} vs backbone {tuple(expected[k])}"
            for k in names
            if k in found and tuple(found[k].shape) != tuple(expected[k])
        ]
    if missing or mismatched:
        lines = [f"{os.fspath(ckpt_path)!r} would leave backbone tensors random in main_linear:"]
        lines += [f"  missing {k}" for k in missing] + [f"  shape {m}" for m in mismatched]
        raise CheckpointMismatchError("\n".join(lines))
    return len(names)


def _lightning_version() -> str:
    for dist in ("lightning", "pytorch-lightning"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "2.1.2"


def _default_name(src: str) -> str:
    base = os.path.basename(src)
    return re.sub(r"(\.pth\.tar|\.pth|\.pt|\.ckpt|\.tar)$", "", base) or "converted"


def convert(
    src: Union[str, os.PathLike],
    out_dir: Union[str, os.PathLike],
    *,
    format: Optional[str] = None,
    method: Optional[str] = None,
    backbone: Optional[str] = None,
    name: Optional[str] = None,
    trusted: bool = False,
) -> Dict[str, str]:
    """Write ``out_dir/<name>.ckpt`` and ``out_dir/args.json``; return their paths and the report.

    ``method`` defaults to the method whose heads the format carries (VICReg, SwAV, SimSiam), or
    to the ``method`` of a solo-learn 1.0.6 ``args.json`` next to ``src`` (then reused as is);
    backbone-only formats default to ``vicreg``; other solo-learn checkpoints need ``method``.
    """
    src = os.fspath(src)
    loaded = load_checkpoint(src, format, trusted=trusted)
    sibling = os.path.join(os.path.dirname(os.path.abspath(src)), "args.json")
    host_args = None
    if loaded.format == "solo" and os.path.isfile(sibling):
        with open(sibling) as f:
            host_args = json.load(f)
    method = (
        method or (host_args or {}).get("method") or get_checkpoint_loader(loaded.format).method
    )
    if method is None and loaded.format.startswith("solo"):
        raise ValueError(
            f"convert: {src!r} is a solo-learn checkpoint without a 1.0.6 args.json next to it; "
            f"pass --method (one of {', '.join(METHOD_DEFAULTS)})"
        )
    method = method or "vicreg"
    name = name or _default_name(src)
    if host_args is not None and host_args.get("method") == method:
        args = copy.deepcopy(host_args)
        backbone = args["backbone"]["name"]
    else:
        backbone = backbone or infer_backbone(loaded.state_dict)
        if backbone is None:
            raise ValueError(
                "convert: cannot tell the backbone from the tensor shapes; pass --backbone "
                "(a solo-learn backbone name, e.g. resnet50, vit_small)"
            )
        args = build_args(loaded, method, backbone, name)

    os.makedirs(out_dir, exist_ok=True)
    ckpt_path = os.path.join(os.fspath(out_dir), f"{name}.ckpt")
    torch.save(
        {
            "state_dict": loaded.state_dict,
            "pytorch-lightning_version": _lightning_version(),
            "epoch": 0,
            "global_step": 0,
            "e2mc_plugin": {"source": src, "format": loaded.format, "report": str(loaded.report)},
        },
        ckpt_path,
    )
    args_path = os.path.join(os.fspath(out_dir), "args.json")
    with open(args_path, "w") as f:
        json.dump(args, f, indent=2)
    dataset = args.get("data", {}).get("dataset", "imagenet")
    verify_backbone_coverage(ckpt_path, reference_backbone_shapes(backbone, dataset))
    return {
        "ckpt": ckpt_path, "args": args_path, "report": str(loaded.report),
        "layout": describe_layout(loaded.format, src),
    }  # fmt: skip


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="e2mc-plugin convert",
        description="Convert a checkpoint into a solo-learn checkpoint directory "
        "(<name>.ckpt + args.json) for main_linear.py / main_knn.py.",
    )
    parser.add_argument("src", help="checkpoint file")
    parser.add_argument(
        "--format", default="auto", help=f"auto | {' | '.join(list_checkpoint_loaders())}"
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument(
        "--method", default=None, help=f"solo-learn method ({', '.join(METHOD_DEFAULTS)})"
    )
    parser.add_argument(
        "--backbone", default=None, help="solo-learn backbone name if not inferable"
    )
    parser.add_argument("--name", default=None, help="checkpoint name (default: the source's)")
    parser.add_argument(
        "--trusted", action="store_true", help="full unpickling (trusted files only)"
    )
    ns = parser.parse_args(argv)
    paths = convert(
        ns.src, ns.out, format=ns.format, method=ns.method, backbone=ns.backbone,
        name=ns.name, trusted=ns.trusted,
    )  # fmt: skip
    print(f"layout: {paths['layout']}")
    print(paths["report"])
    print(f"wrote {paths['ckpt']}\nwrote {paths['args']}\nbackbone coverage verified")
    return 0
