"""Official Barlow Twins ResNet-50 releases (facebookresearch/barlowtwins).

* ``resnet50.pth`` (also what ``torch.hub.load("facebookresearch/barlowtwins:main", "resnet50")``
  caches as ``hub/checkpoints/resnet50.pth``): ``main.py`` saves
  ``model.module.backbone.state_dict()``, a torchvision ResNet-50 whose ``fc`` is ``Identity``:
  bare torchvision names, no ``fc`` (the VICReg backbone file's layout, and its hub file name).
* ``checkpoint.pth``: ``dict(epoch, model=model.state_dict(), optimizer)`` of the DDP model::

      module.backbone.<resnet>
      module.projector.{0,1,3,4,6}.*   Linear(2048, 8192, bias=False), BN, ReLU,
                                       Linear(8192, 8192, bias=False), BN, ReLU,
                                       Linear(8192, 8192, bias=False)
      module.bn.*                      BatchNorm1d(8192, affine=False) on the embeddings

solo-learn's ``barlow_twins`` projector (``solo/methods/barlow_twins.py``) is the same stack with
a bias on each Linear: the biases are created as zeros (the same function) and reported as absent
in the source (the method keeps them zero and frozen), and ``module.bn``'s
running statistics are dropped (solo's ``barlow_loss_func`` normalises with a fresh
``BatchNorm1d(affine=False)`` in training mode, i.e. batch statistics, as the official loss does).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from torch import Tensor

from e2mc_plugin.checkpoints.absent import add_zero_bias
from e2mc_plugin.checkpoints.loaders.base import RenameLoader
from e2mc_plugin.checkpoints.loaders.vicreg import VICRegBackbone
from e2mc_plugin.checkpoints.registry import register_checkpoint_loader
from e2mc_plugin.checkpoints.report import LoadReport

#: solo-learn ``barlow_twins`` kwargs: the official 8192-8192-8192 projector (or the widths in the
#: file), ``lamb`` = ``--lambd`` 0.0051 and ``scale_loss`` 1.0 (the official loss has no scale:
#: on-diagonal + lambd * off-diagonal of the global-batch cross-correlation)
BARLOW_KWARGS: Mapping[str, Any] = {
    "proj_hidden_dim": 8192, "proj_output_dim": 8192, "lamb": 0.0051, "scale_loss": 1.0,
}  # fmt: skip
BARLOW_WIDTHS = {"proj_hidden_dim": "projector.0.weight", "proj_output_dim": "projector.6.weight"}


@register_checkpoint_loader("barlowtwins_backbone")
class BarlowTwinsBackbone(VICRegBackbone):
    """``resnet50.pth``: the trained ResNet-50, torchvision names, no ``fc``."""

    method = "barlow_twins"
    layout = "Barlow Twins ResNet backbone (facebookresearch/barlowtwins): bare ResNet, no fc"
    file_names = ("resnet50.pth",)
    same_layout_as = "vicreg_backbone"
    kwarg_defaults = BARLOW_KWARGS
    widths = BARLOW_WIDTHS


@register_checkpoint_loader("barlowtwins_full")
class BarlowTwinsFull(RenameLoader):
    """``checkpoint.pth``: backbone, bias-free projector and the embedding BatchNorm."""

    method = "barlow_twins"
    layout = (
        "Barlow Twins full checkpoint (facebookresearch/barlowtwins): model = module.backbone.*, "
        "module.projector.* (no biases), module.bn.*"
    )
    file_names = ("checkpoint.pth",)
    # vicreg_full also accepts {"model": {module.backbone.*, ...}}; module.bn and the bias-free
    # projector make this layout the more specific reading.
    refines = ("vicreg_full",)
    container = "model"  # the release nests it; a safetensors copy is flat
    marker = "module.backbone."
    rules = (
        ("module.backbone.", "backbone."),
        ("module.projector.", "projector."),
        ("module.bn.", None),
    )
    kwarg_defaults = BARLOW_KWARGS
    widths = BARLOW_WIDTHS

    def accepts(self, state: Mapping[str, Tensor]) -> bool:
        return (
            super().accepts(state)
            and "module.bn.running_var" in state
            and "module.projector.0.bias" not in state
        )

    def complete(self, state: Dict[str, Tensor], report: LoadReport) -> None:
        for key, weight in list(state.items()):
            if key.startswith("projector.") and key.endswith(".weight") and weight.dim() == 2:
                add_zero_bias(state, key, report)
