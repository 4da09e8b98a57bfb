"""Official DINO ResNet-50 releases (facebookresearch/dino): backbone-only and full checkpoint.

* ``dino_resnet50_pretrain.pth``: a bare torchvision ResNet state dict without ``fc`` (read by
  ``hubconf.py``'s ``dino_resnet50`` into ``resnet50()`` with ``fc = Identity``). Its key layout
  is the VICReg and Barlow Twins backbone files' layout; the file name tells them apart.
* ``dino_resnet50_pretrain_full_checkpoint.pth``: ``main_dino.py``'s ``save_dict``::

      {"student": {module.backbone.<resnet>, module.head.mlp.*, module.head.last_layer.weight_g/_v},
       "teacher": {same keys: a ResNet has BatchNorm, so the teacher is DDP-wrapped as well},
       "dino_loss": {"center": (1, out_dim)}, "optimizer", "epoch", "args", ["fp16_scaler"]}

  ``DINOHead`` (``vision_transformer.py``): ``mlp`` = Linear(2048, 2048), [BN], GELU,
  Linear(2048, 2048), [BN], GELU, Linear(2048, 256) (BN only with ``use_bn_in_head``), then
  ``last_layer`` = ``weight_norm(Linear(256, out_dim, bias=False))``. solo-learn's ``DINOHead``
  (``solo/methods/dino.py``) is the same module with the same names.

Student -> ``backbone`` / ``head``, teacher -> ``momentum_backbone`` / ``momentum_head`` (solo's
DINO keeps the teacher as its momentum network); the loss centre -> ``dino_loss_func.center``.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

from torch import Tensor

from e2mc_plugin.checkpoints.loaders.base import is_tensor_dict, rename
from e2mc_plugin.checkpoints.loaders.vicreg import VICRegBackbone
from e2mc_plugin.checkpoints.registry import CheckpointLoader, register_checkpoint_loader
from e2mc_plugin.checkpoints.report import LoadReport


@register_checkpoint_loader("dino_backbone")
class DINOBackbone(VICRegBackbone):
    """``dino_resnet50_pretrain.pth``: the teacher's ResNet, torchvision names, no ``fc``."""

    method = "dino"
    layout = "DINO ResNet backbone (facebookresearch/dino): bare torchvision ResNet, no fc"
    file_names = ("dino_resnet50_pretrain.pth", "dino_resnet50*.safetensors")
    same_layout_as = "vicreg_backbone"

    def method_kwargs(self, state: Mapping[str, Tensor]) -> Optional[Dict[str, Any]]:
        return dino_method_kwargs(state)


# ``module.`` is there when the network was DDP-wrapped (always for a ResNet: it has BatchNorm).
_RULES = [
    ("module.backbone.", "backbone."),
    ("module.head.", "head."),
    ("backbone.", "backbone."),
    ("head.", "head."),
]


@register_checkpoint_loader("dino_full")
class DINOFull(CheckpointLoader):
    """``main_dino.py`` checkpoint: student, teacher (with their heads) and the loss centre."""

    method = "dino"
    layout = (
        "DINO full checkpoint (facebookresearch/dino): student / teacher with module.backbone.* "
        "and module.head.{mlp,last_layer}.*, dino_loss.center"
    )
    file_names = ("dino_resnet50_pretrain_full_checkpoint.pth", "checkpoint*.pth")

    def detect(self, raw: Any) -> bool:
        if not isinstance(raw, Mapping):
            return False
        student, teacher = raw.get("student"), raw.get("teacher")
        return (
            is_tensor_dict(student)
            and is_tensor_dict(teacher)
            and any(".head.last_layer." in "." + k for k in student)
        )

    def convert(self, raw: Any) -> Tuple[Dict[str, Tensor], LoadReport]:
        report = LoadReport()
        out: Dict[str, Tensor] = {}
        for part, prefix in (("student", ""), ("teacher", "momentum_")):
            part_report = LoadReport()
            out.update(rename(raw[part], [(s, prefix + d) for s, d in _RULES], part_report))
            report.mapped.update({f"{part}.{s}": d for s, d in part_report.mapped.items()})
            report.dropped += [f"{part}.{s}" for s in part_report.dropped]
        center = (raw.get("dino_loss") or {}).get("center")
        if center is not None:
            out["dino_loss_func.center"] = center
            report.mapped["dino_loss.center"] = "dino_loss_func.center"
        report.dropped += [k for k in raw if k not in ("student", "teacher", "dino_loss")]
        return out, report

    def method_kwargs(self, state: Mapping[str, Tensor]) -> Optional[Dict[str, Any]]:
        return dino_method_kwargs(state)


def dino_method_kwargs(state: Mapping[str, Tensor]) -> Dict[str, Any]:
    """solo-learn ``dino`` kwargs with ``main_dino.py``'s defaults (out_dim 65536, head
    2048-2048-256 without BN, teacher temperature 0.04, clip_grad 3.0, freeze_last_layer 1) and
    the widths and ``use_bn_in_head`` read from the head's tensors when the file has them."""
    kwargs: Dict[str, Any] = {
        "proj_hidden_dim": 2048, "proj_output_dim": 256, "num_prototypes": 65536,
        "use_bn_in_head": False, "norm_last_layer": True, "clip_grad": 3.0,
        "freeze_last_layer": 1, "student_temperature": 0.1, "teacher_temperature": 0.04,
        "warmup_teacher_temperature": 0.04, "warmup_teacher_temperature_epochs": 0,
    }  # fmt: skip
    linears = sorted(
        int(k.split(".")[2])
        for k, v in state.items()
        if k.startswith("head.mlp.") and k.endswith(".weight") and v.dim() == 2
    )
    if linears:
        kwargs["proj_hidden_dim"] = int(state[f"head.mlp.{linears[0]}.weight"].shape[0])
        kwargs["proj_output_dim"] = int(state[f"head.mlp.{linears[-1]}.weight"].shape[0])
        kwargs["use_bn_in_head"] = "head.mlp.1.running_mean" in state
    if "head.last_layer.weight_v" in state:
        kwargs["num_prototypes"] = int(state["head.last_layer.weight_v"].shape[0])
    return kwargs


def dino_vit_method_kwargs(state: Mapping[str, Tensor]) -> Dict[str, Any]:
    """:func:`dino_method_kwargs` of the DINO-family ViT releases (DINO, iBOT, DINOv2): the DINO
    README's ViT-S/16 command ("Boosting DINO performance") sets ``--norm_last_layer false`` and
    ``--teacher_temp 0.07``."""
    return {**dino_method_kwargs(state), "norm_last_layer": False, "teacher_temperature": 0.07}
