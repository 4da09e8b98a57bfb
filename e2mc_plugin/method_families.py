"""Which solo-learn methods belong to which family: the one place these facts live.

Pure data (no host import), so that both the checkpoint tools and the host adapter can read it.
Source: solo-learn main (9187ea3) ``solo/methods/*.py``: the classes deriving from
``BaseMomentumMethod`` (they own ``momentum_backbone`` and read the ``momentum`` config block).
"""

from __future__ import annotations

__all__ = ["MOMENTUM_METHODS", "is_momentum_method"]

#: methods with momentum (EMA) networks and a ``momentum: {base_tau, final_tau, classifier}`` block
MOMENTUM_METHODS = frozenset({"all4one", "byol", "dino", "mocov2plus", "mocov3", "nnbyol", "ressl"})


def is_momentum_method(method: str) -> bool:
    """True for a momentum method, given its host name or its ``<name>_aux`` variant."""
    base = method[: -len("_aux")] if method.endswith("_aux") else method
    return base in MOMENTUM_METHODS
