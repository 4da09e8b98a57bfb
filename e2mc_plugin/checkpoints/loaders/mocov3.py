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

from typing import Any, Dict, Mapping, Optional, Tuple

from torch import Tensor

from e2mc_plugin.checkpoints.registry import (
    CheckpointLoader,
    is_tensor_dict,
    register_checkpoint_loader,
    rename,
    unwrap,
)
from e2mc_plugin.checkpoints.report import LoadReport

_RULES = [
    ("module.base_encoder.fc.", "projector."),  # before the general encoder rule
    ("module.base_encoder.", "backbone."),
    ("module.momentum_encoder.fc.", "momentum_projector."),
    ("module.momentum_encoder.", "momentum_backbone."),
    ("module.predictor.", "predictor."),
]


@register_checkpoint_loader("mocov3_official")
class MoCoV3Official(CheckpointLoader):
    """MoCo v3 ResNet: base encoder + projector, momentum encoder + projector, predictor."""

    method = "mocov3"
    layout = (
        "MoCo v3 ResNet (facebookresearch/moco-v3): module.base_encoder.* with fc = projector, "
        "module.momentum_encoder.*, module.predictor.*"
    )
    file_names = ("r-50-*ep.pth.tar", "checkpoint_*.pth.tar")

    def detect(self, raw: Any) -> bool:
        state, _ = unwrap(raw, "state_dict")  # the release nests it; a safetensors copy is flat
        return is_tensor_dict(state) and any(k.startswith("module.base_encoder.") for k in state)

    def convert(self, raw: Any) -> Tuple[Dict[str, Tensor], LoadReport]:
        state, report = unwrap(raw, "state_dict")
        return rename(state, _RULES, report), report

    def method_kwargs(self, state: Mapping[str, Tensor]) -> Optional[Dict[str, Any]]:
        """Widths from the tensors; temperature 1.0 is ``main_moco.py``'s ``--moco-t`` default,
        which the ResNet-50 recipes of ``CONFIG.md`` keep."""
        kwargs: Dict[str, Any] = {
            "proj_hidden_dim": 4096, "proj_output_dim": 256, "pred_hidden_dim": 4096,
            "temperature": 1.0,
        }  # fmt: skip
        widths = {
            "proj_hidden_dim": "projector.0.weight",
            "proj_output_dim": "projector.3.weight",
            "pred_hidden_dim": "predictor.0.weight",
        }
        for name, key in widths.items():
            if key in state:
                kwargs[name] = int(state[key].shape[0])
        return kwargs
