"""Official SimSiam releases (facebookresearch/simsiam): ``checkpoint_0099.pth.tar``."""

from __future__ import annotations

from e2mc_plugin.checkpoints.loaders.base import RenameLoader
from e2mc_plugin.checkpoints.registry import register_checkpoint_loader


@register_checkpoint_loader("simsiam_official")
class SimSiamOfficial(RenameLoader):
    """``{"state_dict": {module.encoder.*, module.encoder.fc.*, module.predictor.*}, "arch", ...}``.

    The projector lives inside the encoder as ``encoder.fc``, so ``module.encoder.fc.`` must be
    mapped to ``projector.`` before the general ``module.encoder.`` -> ``backbone.`` rule.
    """

    method = "simsiam"
    layout = (
        "SimSiam (facebookresearch/simsiam): state_dict = module.encoder.* with fc = projector, "
        "module.predictor.*"
    )
    container = "state_dict"
    flat = False
    marker = "module.encoder."
    rules = (
        ("module.encoder.fc.", "projector."),
        ("module.encoder.", "backbone."),
        ("module.predictor.", "predictor."),
    )
