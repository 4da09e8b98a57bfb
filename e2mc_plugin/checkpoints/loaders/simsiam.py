"""Official SimSiam releases (facebookresearch/simsiam): ``checkpoint_0099.pth.tar``."""

from __future__ import annotations

from typing import Any, Dict, Tuple

from torch import Tensor

from e2mc_plugin.checkpoints.registry import (
    CheckpointLoader,
    is_tensor_dict,
    register_checkpoint_loader,
    rename,
    unwrap,
)
from e2mc_plugin.checkpoints.report import LoadReport


@register_checkpoint_loader("simsiam_official")
class SimSiamOfficial(CheckpointLoader):
    """``{"state_dict": {module.encoder.*, module.encoder.fc.*, module.predictor.*}, "arch", ...}``.

    The projector lives inside the encoder as ``encoder.fc``, so ``module.encoder.fc.`` must be
    mapped to ``projector.`` before the general ``module.encoder.`` -> ``backbone.`` rule.
    """

    method = "simsiam"
    layout = (
        "SimSiam (facebookresearch/simsiam): state_dict = module.encoder.* with fc = projector, "
        "module.predictor.*"
    )

    def detect(self, raw: Any) -> bool:
        state, _ = unwrap(raw, "state_dict", flat=False)
        return is_tensor_dict(state) and any(k.startswith("module.encoder.") for k in state)

    def convert(self, raw: Any) -> Tuple[Dict[str, Tensor], LoadReport]:
        state, report = unwrap(raw, "state_dict", flat=False)
        rules = [
            ("module.encoder.fc.", "projector."),
            ("module.encoder.", "backbone."),
            ("module.predictor.", "predictor."),
        ]
        return rename(state, rules, report), report
