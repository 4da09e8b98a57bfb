"""The checkpoint-loader registry and the interface every loader implements.

A loader turns the raw object read from a file into a state dict with solo-learn 1.0.6 names
(``backbone.*``, ``projector.*``, ``predictor.*``, ``prototypes.weight_g/_v``, ``head.*``) and a
:class:`LoadReport`. Third parties register through :func:`register_checkpoint_loader` or the
``e2mc_plugin.checkpoint_loaders`` entry-point group (the entry point loads the loader class).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Type

import torch
from torch import Tensor

from e2mc_plugin.checkpoints.report import LoadReport
from e2mc_plugin.registry import Registry


class CheckpointLoader:
    """Base class: ``detect`` recognises a layout, ``convert`` renames it.

    Attributes:
        name: registry name (set by :func:`register_checkpoint_loader`).
        method: the solo-learn method whose heads the layout carries (``None``: backbone only);
            ``e2mc-plugin convert`` uses it as the default ``--method``.
    """

    name: str = ""
    method: Optional[str] = None

    def detect(self, raw: Any) -> bool:
        """True if ``raw`` (what ``torch.load`` returned) has this loader's layout."""
        raise NotImplementedError

    def convert(self, raw: Any) -> Tuple[Dict[str, Tensor], LoadReport]:
        """Rename the tensors of ``raw``; report every mapped, created and dropped key."""
        raise NotImplementedError


CHECKPOINT_LOADERS: Registry[Type[CheckpointLoader]] = Registry(
    "checkpoint loader", entry_point_group="e2mc_plugin.checkpoint_loaders"
)


def register_checkpoint_loader(name: str) -> Callable[[Type[CheckpointLoader]], Type]:
    """Class decorator: register a :class:`CheckpointLoader` subclass under ``name``.

    A duplicate name raises :class:`e2mc_plugin.registry.DuplicateNameError`.
    """

    def _register(cls: Type[CheckpointLoader]) -> Type[CheckpointLoader]:
        cls.name = name
        return CHECKPOINT_LOADERS.register(name)(cls)

    return _register


def list_checkpoint_loaders(pattern: str = "*") -> List[str]:
    """Sorted names of the registered checkpoint loaders matching a shell-style pattern."""
    return CHECKPOINT_LOADERS.names(pattern)


def get_checkpoint_loader(name: str) -> CheckpointLoader:
    """An instance of the loader registered as ``name`` (unknown -> error listing valid names)."""
    return CHECKPOINT_LOADERS.get(name)()


# ---- helpers shared by the loaders ------------------------------------------------------------


def is_tensor_dict(obj: Any) -> bool:
    """A non-empty mapping of str -> Tensor (a bare state dict)."""
    return (
        isinstance(obj, Mapping)
        and len(obj) > 0
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def rename(
    state: Mapping[str, Tensor],
    rules: List[Tuple[str, Optional[str]]],
    report: LoadReport,
) -> Dict[str, Tensor]:
    """Apply the first matching ``(src_prefix, dst_prefix)`` rule to every key.

    ``dst_prefix=None`` drops the key. Keys matching no rule are dropped too (and reported), so a
    loader never passes on a tensor it does not understand.
    """
    out: Dict[str, Tensor] = {}
    for key, value in state.items():
        for src, dst in rules:
            if key.startswith(src):
                if dst is None:
                    report.dropped.append(key)
                else:
                    new = dst + key[len(src) :]
                    out[new] = value
                    report.mapped[key] = new
                break
        else:
            report.dropped.append(key)
    return out


# First-level module names of torchvision ResNets (and of timm's, which use the same names).
RESNET_MODULES = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")


def looks_like_resnet(keys: List[str]) -> bool:
    """Keys of a torchvision-named ResNet (optionally with ``fc.*``), nothing else."""
    if not keys or not any(k.startswith("layer4.") for k in keys):
        return False
    return all(k.startswith(RESNET_MODULES + ("fc.",)) for k in keys)
