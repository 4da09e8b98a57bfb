"""Official SimSiam releases (facebookresearch/simsiam): ``checkpoint_0099.pth.tar``."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Tuple

from torch import Tensor

from e2mc_plugin.checkpoints.registry import (
    CheckpointLoader,
    is_tensor_dict,
    register_checkpoint_loader,
    rename,
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
        state = raw.get("state_dict") if isinstance(raw, Mapping) else None
        return is_tensor_dict(state) and any(k.startswith("module.encoder.") for k in state)

    def convert(self, raw: Any) -> Tuple[Dict[str, Tensor], LoadReport]:
        report = LoadReport(dropped=[k for k in raw if k != "state_dict"])
        rules = [
            ("module.encoder.fc.", "projector."),
            ("module.encoder.", "backbone."),
            ("module.predictor.", "predictor."),
        ]
        return rename(raw["state_dict"], rules, report), report
