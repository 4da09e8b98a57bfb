"""Maps Psi from the embedding space to the unit hypercube [0, 1]^d, before the entropy estimator.

Source: paper section 3 ("mapping to a compact space"); reference code ``torch.sigmoid`` (VICReg)
and ``0.5 * (1 + erf(z / sqrt 2))`` (SwAV, SimSiam). Apply to the projector output BEFORE any
L2-normalization, prototypes or predictor.
"""

from __future__ import annotations

import math
from typing import Callable, Dict

import torch
from torch import Tensor

from e2mc_plugin.criteria.precision import float32_math

Mapping = Callable[[Tensor], Tensor]


@float32_math
def sigmoid(z: Tensor) -> Tensor:
    """Hypercube map ``1 / (1 + exp(-z))``, unnormalized projectors (VICReg). (n, d) -> (n, d)."""
    return torch.sigmoid(z)


@float32_math
def gaussian_cdf(z: Tensor) -> Tensor:
    """Standard normal CDF ``0.5 * (1 + erf(z / sqrt 2))`` (SwAV, SimSiam). (n, d) -> (n, d).

    Psi(Z_j) is uniform iff Z_j ~ N(0, 1), and normalized iid N(0, 1) vectors are uniform on the
    sphere.
    """
    return 0.5 * (1.0 + torch.erf(z * (1.0 / math.sqrt(2.0))))


@float32_math
def identity(z: Tensor) -> Tensor:
    """No map: the input already lies in [0, 1]. (n, d) -> (n, d)."""
    return z


MAPPINGS: Dict[str, Mapping] = {
    "sigmoid": sigmoid,
    "gaussian_cdf": gaussian_cdf,
    "identity": identity,
}


def get_mapping(name: str) -> Mapping:
    """Return the mapping called ``name``; unknown names raise ValueError listing the valid ones."""
    try:
        return MAPPINGS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown mapping {name!r}; valid mappings: {', '.join(sorted(MAPPINGS))}"
        ) from None
