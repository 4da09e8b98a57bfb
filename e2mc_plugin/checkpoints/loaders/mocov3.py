"""Official MoCo v3 ResNet releases (facebookresearch/moco-v3): ``r-50-{100,300,1000}ep.pth.tar``.

Layout (``moco/builder.py`` ``MoCo_ResNet``, saved by ``main_moco.py`` from the DDP model)::

    {"epoch", "arch", "optimizer", "scaler",
     "state_dict": {module.base_encoder.<torchvision resnet>,
                    module.base_encoder.fc.{0,1,3,4}.*      projector: Linear(2048, 4096, no bias),
                                                            BN, ReLU, Linear(4096, 256, no bias),
                                                            BN(256, affine=False)
                    module.momentum_encoder.<same as base_encoder>,
                    module.predictor.{0,1,3}.*}}            Linear(256, 4096, no bias), BN, ReLU,
                                                            Linear(4096, 256, no bias)

solo-learn's ``mocov3`` builds its ResNet projector and predictor with the same ``_build_mlp``
(``solo/methods/mocov3.py``), so every tensor has a place: the encoder's ``fc`` is the
projector, the momentum encoder gives ``momentum_backbone`` / ``momentum_projector``.
"""

from __future__ import annotations

from e2mc_plugin.checkpoints.loaders.base import RenameLoader, Rules
from e2mc_plugin.checkpoints.registry import register_checkpoint_loader


def moco_rules(projector: str) -> Rules:
    """``MoCo``'s names -> solo-learn's: the encoders' ``projector`` module (the ResNet's ``fc``,
    the ViT's ``head``) is the projector, the momentum encoder the momentum networks."""
    return (
        (f"module.base_encoder.{projector}.", "projector."),  # before the general encoder rule
        ("module.base_encoder.", "backbone."),
        (f"module.momentum_encoder.{projector}.", "momentum_projector."),
        ("module.momentum_encoder.", "momentum_backbone."),
        ("module.predictor.", "predictor."),
    )


@register_checkpoint_loader("mocov3_official")
class MoCoV3Official(RenameLoader):
    """MoCo v3 ResNet: base encoder + projector, momentum encoder + projector, predictor."""

    method = "mocov3"
    layout = (
        "MoCo v3 ResNet (facebookresearch/moco-v3): module.base_encoder.* with fc = projector, "
        "module.momentum_encoder.*, module.predictor.*"
    )
    file_names = ("r-50-*ep.pth.tar", "checkpoint_*.pth.tar")
    container = "state_dict"  # the release nests it; a safetensors copy is flat
    marker = "module.base_encoder."
    rules = moco_rules("fc")
    # widths from the tensors; temperature 1.0 is main_moco.py's --moco-t default, which the
    # ResNet-50 recipes of CONFIG.md keep
    kwarg_defaults = {
        "proj_hidden_dim": 4096, "proj_output_dim": 256, "pred_hidden_dim": 4096,
        "temperature": 1.0,
    }  # fmt: skip
    widths = {
        "proj_hidden_dim": "projector.0.weight",
        "proj_output_dim": "projector.3.weight",  # _build_mlp(2, ...): Linear, BN, ReLU, Linear
        "pred_hidden_dim": "predictor.0.weight",
    }
