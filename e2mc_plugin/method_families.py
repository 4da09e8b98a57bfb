"""Which solo-learn methods belong to which family, and how the plugin names its variants: the
one place these facts live.

Pure data (no host import), so that both the checkpoint tools and the host adapter can read it.
Source: solo-learn main (9187ea3) ``solo/methods/*.py``: the classes deriving from
``BaseMomentumMethod`` (they own ``momentum_backbone`` and read the ``momentum`` config block).
"""

from __future__ import annotations

__all__ = ["MOMENTUM_METHODS", "SUFFIX", "host_method", "is_momentum_method"]

#: ``<host method><SUFFIX>`` names the plugin's wrapped variant of a host method (``vicreg_aux``)
SUFFIX = "_aux"

#: methods with momentum (EMA) networks and a ``momentum: {base_tau, final_tau, classifier}`` block
MOMENTUM_METHODS = frozenset({"all4one", "byol", "dino", "mocov2plus", "mocov3", "nnbyol", "ressl"})


def host_method(method: str) -> str:
    """The host's name of ``method``: ``"vicreg_aux"`` -> ``"vicreg"``; a host name unchanged."""
    return method[: -len(SUFFIX)] if method.endswith(SUFFIX) else method


def is_momentum_method(method: str) -> bool:
    """True for a momentum method, given its host name or its ``<name>_aux`` variant."""
    return host_method(method) in MOMENTUM_METHODS
