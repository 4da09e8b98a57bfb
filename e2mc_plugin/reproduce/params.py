"""Parameter counts of the checkpoints a plan writes, for its disk estimate (no model is built).

Heads as solo-learn 1.0.6 builds them (``solo/methods/vicreg.py``, ``swav.py``, ``simsiam.py``;
checked against the built modules by ``tests/reproduce/test_reproduce_params.py``), counted as
state-dict entries: weights, biases and BatchNorm buffers (running mean, variance, step count).
The backbone is counted from a meta-device build
(:func:`e2mc_plugin.checkpoints.convert.reference_backbone_shapes`).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Mapping

__all__ = ["backbone_numel", "features_dim", "head_numel", "linear_numel", "bn_numel"]


def linear_numel(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def bn_numel(channels: int, affine: bool = True) -> int:
    """Weight and bias (if affine), running mean and variance, ``num_batches_tracked``."""
    return (2 * channels if affine else 0) + 2 * channels + 1


@lru_cache(maxsize=None)
def _shapes(backbone: str) -> tuple:
    from e2mc_plugin.checkpoints.convert import reference_backbone_shapes

    return tuple(reference_backbone_shapes(backbone).items())


def backbone_numel(backbone: str) -> int:
    """State-dict entries of the backbone without ``fc`` (ResNet-50: 23.5 M weights + buffers)."""
    return sum(math.prod(shape) for _, shape in _shapes(backbone))


def features_dim(backbone: str) -> int:
    """The pooled feature size: the channels of the last BatchNorm (2048 for ResNet-50)."""
    norms = [shape[0] for key, shape in _shapes(backbone) if key.endswith(".running_mean")]
    return int(norms[-1])


def head_numel(method: str, kwargs: Mapping[str, Any], features: int) -> int:
    """Projector (+ SwAV prototypes, SimSiam predictor) of ``method`` with ``method_kwargs``."""
    hidden, out = int(kwargs["proj_hidden_dim"]), int(kwargs["proj_output_dim"])
    if method == "vicreg":
        return (
            linear_numel(features, hidden) + bn_numel(hidden)
            + linear_numel(hidden, hidden) + bn_numel(hidden) + linear_numel(hidden, out)
        )  # fmt: skip
    if method == "swav":
        prototypes = int(kwargs["num_prototypes"])
        projector = linear_numel(features, hidden) + bn_numel(hidden) + linear_numel(hidden, out)
        return projector + prototypes * out + prototypes  # weight_v and weight_g
    if method == "simsiam":
        pred = int(kwargs["pred_hidden_dim"])
        projector = (
            linear_numel(features, hidden, bias=False) + bn_numel(hidden)
            + linear_numel(hidden, hidden, bias=False) + bn_numel(hidden)
            + linear_numel(hidden, out) + bn_numel(out, affine=False)
        )  # fmt: skip
        predictor = linear_numel(out, pred, bias=False) + bn_numel(pred) + linear_numel(pred, out)
        return projector + predictor
    raise ValueError(f"head_numel: no head layout for method {method!r} (vicreg, swav, simsiam)")
