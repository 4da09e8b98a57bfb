"""Parameters the source checkpoint does not have: a ``bias=False`` layer whose solo-learn
counterpart has a bias.

The loader creates the bias as zeros (the same function at step 0) and lists it in
``LoadReport.absent_in_source``; the method initialized from the file keeps it zero, frozen and
out of the optimizer (``e2mc_plugin.solo.method.frozen``), so training has no parameter that the
reference lacks. A shift-invariant loss (VICReg's, Barlow Twins') gives such a bias no gradient;
E2MC's sigmoid / normal-CDF mapping does, and a trainable bias would absorb the per-dimension
centring.

The list travels with the weights: ``e2mc-plugin convert`` and the wrapped methods' own checkpoints
store it under :data:`ABSENT_RECORD_KEY`, which the solo-learn loaders read back.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

import torch
from torch import Tensor

from e2mc_plugin.checkpoints.report import LoadReport

__all__ = ["ABSENT_BIAS", "ABSENT_RECORD_KEY", "add_zero_bias", "recorded_absent"]

#: top-level checkpoint entry: the model keys absent in the original source (a list of names)
ABSENT_RECORD_KEY = "e2mc_plugin_absent_in_source"

#: the ``created`` reason of such a bias
ABSENT_BIAS = "zeros: absent in the source (its Linear has bias=False), solo-learn's has one"


def add_zero_bias(state: Dict[str, Tensor], weight_key: str, report: LoadReport) -> None:
    """Create ``<layer>.bias`` = zeros for the Linear weight ``weight_key`` of ``state`` (it has
    no bias in the source) and report it as created and absent in the source."""
    weight = state[weight_key]
    bias = weight_key[: -len("weight")] + "bias"
    state[bias] = torch.zeros(weight.shape[0], dtype=weight.dtype)
    report.created[bias] = ABSENT_BIAS
    if bias not in report.absent_in_source:
        report.absent_in_source.append(bias)


def recorded_absent(raw: Any, report: LoadReport) -> List[str]:
    """The destination names of the keys that ``raw`` (a converted or a wrapped method's
    checkpoint) records as absent in its original source, renamed as ``report.mapped`` did."""
    record = raw.get(ABSENT_RECORD_KEY) if isinstance(raw, Mapping) else None
    if not record:
        return []
    return [report.mapped[k] for k in record if k in report.mapped]
