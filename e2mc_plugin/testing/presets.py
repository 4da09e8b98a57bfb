"""Small CPU configurations for tests, examples and benchmarks (not production recipes).

:func:`tiny_cfg` returns the 1.0.6-style nested dict that
:func:`e2mc_plugin.solo.api.build_method` accepts on both hosts.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Mapping

from e2mc_plugin.method_families import host_method
from e2mc_plugin.solo.api import HOST_METHOD_KWARGS, small_cfg

__all__ = ["TINY_METHOD_KWARGS", "tiny_cfg"]

# Small heads for CPU runs; every key a host needs is explicit (1.0.2 has no defaults).
TINY_METHOD_KWARGS: Dict[str, Dict[str, Any]] = {
    "vicreg": {"proj_hidden_dim": 64, "proj_output_dim": 64, **HOST_METHOD_KWARGS["vicreg"]},
    "swav": {
        "proj_hidden_dim": 64,
        "proj_output_dim": 32,
        **HOST_METHOD_KWARGS["swav"],
        "num_prototypes": 30,
    },
    "simsiam": {"proj_hidden_dim": 64, "proj_output_dim": 64, "pred_hidden_dim": 32},
    "byol": {"proj_hidden_dim": 64, "proj_output_dim": 32, "pred_hidden_dim": 64},
    "mocov3": {
        "proj_hidden_dim": 64,
        "proj_output_dim": 32,
        "pred_hidden_dim": 64,
        "temperature": 0.2,
    },
    "dino": {
        "proj_hidden_dim": 64,
        "proj_output_dim": 32,
        "num_prototypes": 50,
        "use_bn_in_head": False,
        "norm_last_layer": True,
        "clip_grad": 0.0,
        "freeze_last_layer": 0,
        "student_temperature": 0.1,
        "teacher_temperature": 0.07,
        "warmup_teacher_temperature": 0.04,
        "warmup_teacher_temperature_epochs": 0,
    },
}


def _deep_merge(base: Dict[str, Any], update: Mapping[str, Any]) -> Dict[str, Any]:
    for key, value in update.items():
        if "." in key:  # dotted key: "data.num_small_crops"
            head, rest = key.split(".", 1)
            base[head] = _deep_merge(dict(base.get(head) or {}), {rest: value})
        elif isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            base[key] = _deep_merge(dict(base[key]), value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def tiny_cfg(method: str, **overrides: Any) -> Dict[str, Any]:
    """A small CPU configuration for ``method`` (1.0.6-style nested dict, both hosts).

    resnet18 on 32x32 images with the ImageNet stem (``data.dataset="custom"``: the 7x7/2 conv and
    max-pool shrink 32x32 to 8x8 at once, ~16x cheaper than the CIFAR stem that
    ``data.dataset="cifar10"`` selects), 64-unit heads, 10 classes, SGD with a small constant
    learning rate (``scheduler.name="none"``, as in the continued-pretraining protocol), batch 8,
    2 large crops, no small crops, ``aux_losses: []``.

    Args:
        method: host method name, with or without the ``_aux`` suffix (``"vicreg"``,
            ``"swav_aux"``...). Methods outside :data:`TINY_METHOD_KWARGS` get 64/32-unit
            projector keys only; pass the rest through ``method_kwargs=``.
        **overrides: deep-merged into the result; nested dicts merge key by key and dotted keys
            address nested entries, e.g. ``tiny_cfg("swav", aux_losses=[...],
            **{"data.num_small_crops": 2, "optimizer.batch_size": 16})``.

    Returns:
        A fresh dict (safe to mutate) accepted by :func:`build_method`.
    """
    base = host_method(method)
    cfg = small_cfg(
        method,
        name=f"tiny-{base}",
        method_kwargs=TINY_METHOD_KWARGS.get(base, {"proj_hidden_dim": 64, "proj_output_dim": 32}),
        optimizer={
            "name": "sgd",
            "batch_size": 8,
            "lr": 0.01,
            "weight_decay": 1e-5,
            "classifier_lr": 0.1,
            "kwargs": {"momentum": 0.9},
        },
    )
    return _deep_merge(cfg, overrides)
