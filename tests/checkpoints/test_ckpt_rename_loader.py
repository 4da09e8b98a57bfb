"""RenameLoader (checkpoints/loaders/base.py): a release described as data detects, renames,
reports and reads its method_kwargs; what a family adds (accepts, complete) is all it writes."""

from __future__ import annotations

from typing import Dict

import pytest
import torch
from torch import Tensor

from e2mc_plugin.checkpoints.loaders.base import RenameLoader
from e2mc_plugin.checkpoints.registry import detect_layout
from e2mc_plugin.checkpoints.report import LoadReport
from e2mc_plugin.registry import Registry


class _Release(RenameLoader):
    """A made-up release: {"weights": {net.trunk.*, net.head.*, net.aux.*}, "step"}."""

    method = "byol"
    container = "weights"
    marker = "net.trunk."
    rules = (("net.aux.", None), ("net.trunk.", "backbone."), ("net.head.", "projector."))
    kwarg_defaults = {"proj_hidden_dim": 4096, "proj_output_dim": 256, "tau": 0.99}
    widths = {"proj_hidden_dim": "projector.0.weight", "proj_output_dim": "projector.2.weight"}


def _state() -> Dict[str, Tensor]:
    return {
        "net.trunk.conv.weight": torch.ones(4, 3),
        "net.head.0.weight": torch.ones(8, 4),
        "net.head.2.weight": torch.ones(5, 8),
        "net.aux.bias": torch.ones(2),
        "stray.weight": torch.ones(1),
    }


def test_a_release_described_as_data_detects_renames_and_reports():
    loader = _Release()
    raw = {"weights": _state(), "step": 7, "optimizer": {}}
    assert loader.detect(raw)
    state, report = loader.convert(raw)
    assert sorted(state) == ["backbone.conv.weight", "projector.0.weight", "projector.2.weight"]
    assert report.mapped["net.head.2.weight"] == "projector.2.weight"
    # the other top-level keys first, then the keys a rule drops or no rule matches
    assert report.dropped == ["step", "optimizer", "net.aux.bias", "stray.weight"]
    kwargs = loader.method_kwargs(state)
    assert kwargs == {"proj_hidden_dim": 8, "proj_output_dim": 5, "tau": 0.99}


def test_flat_copies_are_read_only_when_the_layout_allows_them():
    assert _Release().detect(_state())  # a safetensors copy of the nested dict
    strict = type("Strict", (_Release,), {"flat": False})()
    assert not strict.detect(_state())
    assert strict.detect({"weights": _state()})
    assert not _Release().detect({"weights": {"other.weight": torch.ones(1)}})
    assert not _Release().detect({"weights": {}})


def test_without_width_table_entries_the_defaults_stand_and_no_defaults_means_none():
    assert _Release().method_kwargs({})["proj_hidden_dim"] == 4096
    assert type("Bare", (_Release,), {"kwarg_defaults": {}})().method_kwargs({}) is None


def test_complete_adds_what_the_source_lacks_and_reports_it():
    class WithScale(_Release):
        def complete(self, state: Dict[str, Tensor], report: LoadReport) -> None:
            state["projector.scale"] = torch.ones(1)
            report.created["projector.scale"] = "ones: the release has no scale"

    state, report = WithScale().convert({"weights": _state()})
    assert torch.equal(state["projector.scale"], torch.ones(1))
    assert "created projector.scale: ones: the release has no scale" in str(report)


def test_a_loader_with_neither_marker_nor_accepts_says_so():
    loader = type("Unfinished", (RenameLoader,), {})()
    with pytest.raises(NotImplementedError, match="Unfinished: set marker or define accepts"):
        loader.detect({"a": torch.ones(1)})


def test_a_data_loader_takes_part_in_detection():
    registry = Registry("checkpoint loader")
    registry.register("made_up", _Release)
    found = detect_layout({"weights": _state()}, registry=registry)
    assert found.name == "made_up" and found.reason == "key layout"
    assert detect_layout({"weights": {"x": torch.ones(1)}}, registry=registry).name is None
