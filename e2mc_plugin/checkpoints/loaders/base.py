"""What the loaders share: the state-dict helpers and :class:`RenameLoader`, a loader as data.

Most releases are one state dict, bare or nested under a container key (``state_dict``,
``model``), recognised by a key prefix and renamed by prefix rules; such a loader is a
description, plus what is truly its own (a finer detection, tensors the source lacks)::

    @register_checkpoint_loader("simsiam_official")
    class SimSiamOfficial(RenameLoader):
        method = "simsiam"
        container = "state_dict"    # {"state_dict": {...}, "arch", ...}: the others dropped
        flat = False                # a flat state dict is not this layout
        marker = "module.encoder."  # detect: some key starts with it
        rules = (("module.encoder.fc.", "projector."), ("module.encoder.", "backbone."), ...)
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor

from e2mc_plugin.checkpoints.registry import CheckpointLoader
from e2mc_plugin.checkpoints.report import LoadReport

__all__ = ["RenameLoader", "Rules", "is_tensor_dict", "rename", "unwrap"]

#: ``(src_prefix, dst_prefix)`` pairs, the first match wins; ``dst_prefix=None`` drops the key
Rules = Sequence[Tuple[str, Optional[str]]]


def is_tensor_dict(obj: Any) -> bool:
    """A non-empty mapping of str -> Tensor (a bare state dict)."""
    return (
        isinstance(obj, Mapping)
        and len(obj) > 0
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def unwrap(raw: Any, key: str, *, flat: bool = True) -> Tuple[Any, LoadReport]:
    """``(state, report)``: the state dict a release nests under ``key`` (``state_dict``,
    ``model``) and a report whose ``dropped`` lists the other top-level keys (epoch,
    optimizer...), which a conversion drops.

    Without a mapping under ``key``: ``raw`` itself when ``flat`` (a flat copy of the same
    layout, e.g. safetensors), else None; nothing dropped.
    """
    if isinstance(raw, Mapping) and isinstance(raw.get(key), Mapping):
        return raw[key], LoadReport(dropped=[k for k in raw if k != key])
    return (raw if flat else None), LoadReport()


def rename(state: Mapping[str, Tensor], rules: Rules, report: LoadReport) -> Dict[str, Tensor]:
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


class RenameLoader(CheckpointLoader):
    """A loader whose conversion is :func:`rename` of one state dict by :attr:`rules`.

    Attributes:
        container: the top-level key the release nests its state dict under (the other
            top-level keys are reported as dropped), or None: ``raw`` is the state dict.
        flat: with a container, a flat copy of the nested state dict (a safetensors file) is
            read too.
        marker: :meth:`accepts` a state dict with a key starting with it (None: the subclass
            defines :meth:`accepts`).
        rules: the renaming (:func:`rename`).
        kwarg_defaults: the ``method_kwargs`` of :attr:`method` that the release's recipe
            states; empty: the loader provides none (``e2mc-plugin convert`` uses its table).
        widths: ``method_kwargs`` name -> converted key whose ``shape[0]`` replaces the default
            when the file has it.
    """

    container: ClassVar[Optional[str]] = None
    flat: ClassVar[bool] = True
    marker: ClassVar[Optional[str]] = None
    rules: ClassVar[Rules] = ()
    kwarg_defaults: ClassVar[Mapping[str, Any]] = {}
    widths: ClassVar[Mapping[str, str]] = {}

    def state(self, raw: Any) -> Tuple[Any, LoadReport]:
        """``(state dict or None, report listing the dropped top-level keys)`` of ``raw``."""
        if self.container is None:
            return raw, LoadReport()
        return unwrap(raw, self.container, flat=self.flat)

    def detect(self, raw: Any) -> bool:
        state, _ = self.state(raw)
        return is_tensor_dict(state) and self.accepts(state)

    def accepts(self, state: Mapping[str, Tensor]) -> bool:
        """True if the tensor dict ``state`` has this layout's keys."""
        if self.marker is None:
            raise NotImplementedError(f"{type(self).__name__}: set marker or define accepts")
        return any(k.startswith(self.marker) for k in state)

    def convert(self, raw: Any) -> Tuple[Dict[str, Tensor], LoadReport]:
        state, report = self.state(raw)
        out = rename(state, self.rules, report)
        self.complete(out, report)
        return out, report

    def complete(self, state: Dict[str, Tensor], report: LoadReport) -> None:
        """Add to the renamed ``state``, in place, what the source lacks (a zero bias, a fixed
        magnitude), and report it; nothing by default."""

    def method_kwargs(self, state: Mapping[str, Tensor]) -> Optional[Dict[str, Any]]:
        if not self.kwarg_defaults:
            return None
        kwargs = dict(self.kwarg_defaults)
        for name, key in self.widths.items():
            if key in state:
                kwargs[name] = int(state[key].shape[0])
        return kwargs
