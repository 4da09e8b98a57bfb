"""Named auxiliary losses (E2MC, VCReg, AUH, MMCR) and their registry.

    build_aux_loss("e2mc", beta=1000, gamma=100, mapping="sigmoid")
    build_aux_losses([{"name": "e2mc", ...}, {"name": "mmcr"}])  -> AuxLossSet
    list_aux_losses("*")

Third-party packages register losses with ``@register_aux_loss("name")`` or through the
``e2mc_plugin.aux_losses`` entry-point group (the entry point loads an AuxLoss subclass).
"""

from e2mc_plugin.aux_losses import auh, e2mc, mmcr, vcreg  # noqa: F401  (registers the built-ins)
from e2mc_plugin.aux_losses.base import AuxLoss
from e2mc_plugin.aux_losses.combined import AuxLossSet
from e2mc_plugin.aux_losses.params import InvalidParameterError
from e2mc_plugin.aux_losses.registry import (
    AUX_LOSSES,
    build_aux_loss,
    build_aux_losses,
    list_aux_losses,
    register_aux_loss,
)
from e2mc_plugin.criteria.checks import NonFiniteError
from e2mc_plugin.criteria.gather import RankViewsError
from e2mc_plugin.registry import DuplicateNameError, UnknownNameError

__all__ = [
    "AUX_LOSSES",
    "AuxLoss",
    "AuxLossSet",
    "DuplicateNameError",
    "InvalidParameterError",
    "NonFiniteError",
    "RankViewsError",
    "UnknownNameError",
    "build_aux_loss",
    "build_aux_losses",
    "list_aux_losses",
    "register_aux_loss",
]
