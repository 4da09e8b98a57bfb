"""Safe loading: allow-listed objects load, anything else is refused with the opt-out named."""

from __future__ import annotations

import argparse
import functools
import os
import pathlib
import pickle
from collections import defaultdict

import pytest
import torch

from e2mc_plugin.checkpoints import (
    UnsafeCheckpointError,
    initialize_from_checkpoint,
    load_checkpoint,
    safe_torch_load,
)


class _WritesMarker:
    """Unpickling this runs ``os.system`` (a stand-in for any code a malicious file carries)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_executing_pickle_is_refused_and_never_runs(tmp_path, layouts):
    marker = tmp_path / "pwned"
    state = layouts.backbone_only(layouts.resnet_state("resnet18"))
    path = tmp_path / "resnet18.pth"
    torch.save({**state, "payload": _WritesMarker(str(marker))}, path)
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint(path)
    assert not marker.exists()
    message = str(err.value)
    assert "system" in message and "trusted=True" in message
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(path, format="vicreg_backbone")  # explicit format: same refusal
    assert not marker.exists()


def test_trusted_opt_out_unpickles_fully(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "payload.pth"
    torch.save({"x": torch.zeros(1), "payload": _WritesMarker(str(marker))}, path)
    safe_torch_load(path, trusted=True)
    assert marker.exists()  # the opt-out does what it says


def test_namespace_paths_and_partial_are_allow_listed(tmp_path):
    args = argparse.Namespace(data_dir=pathlib.Path("/data"), lr=0.1)
    obj = {
        "state_dict": {"w": torch.ones(2)},
        "args": args,
        "fn": functools.partial(dict, a=1),
        "buffers": defaultdict(dict, {"k": {"v": torch.zeros(1)}}),
    }
    path = tmp_path / "with_objects.pth"
    torch.save(obj, path)
    raw = safe_torch_load(path)
    assert raw["args"].lr == 0.1 and raw["args"].data_dir == pathlib.Path("/data")
    assert isinstance(raw["fn"], functools.partial)
    assert torch.equal(raw["buffers"]["k"]["v"], torch.zeros(1))


@pytest.mark.host106
def test_real_solo_simsiam_lightning_checkpoint_loads_safely(tmp_path, layouts):
    """SimSiam's static_lr scheduler pickles partial(static_lr, get_lr=<bound method>)."""
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, Dataset

    class Views(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return i, [torch.randn(3, 32, 32), torch.randn(3, 32, 32)], i % 10

    model = layouts.build_method("simsiam", backbone="resnet18", proj_output_dim=32)
    trainer = pl.Trainer(
        max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(model, DataLoader(Views(), batch_size=4))
    path = tmp_path / "simsiam-ep=0.ckpt"
    trainer.save_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)  # plain safe loading fails on this file
    loaded = load_checkpoint(path)
    assert loaded.format == "solo"
    assert "lr_schedulers" in loaded.report.dropped
    fresh = layouts.build_method("simsiam", backbone="resnet18", proj_output_dim=32)
    report = initialize_from_checkpoint(fresh, loaded, strict=True)
    state = model.state_dict()
    for src, dst in report.mapped.items():
        assert torch.equal(fresh.state_dict()[dst], state[src])


class _BoundMethod:
    """Pickles like a bound method: ``getattr(obj, name)``."""

    def __reduce__(self):
        return (getattr, ("text", "upper"))


def test_allow_listed_getattr_is_a_placeholder_that_looks_nothing_up(tmp_path):
    path = tmp_path / "bound.pth"
    torch.save({"get_lr": _BoundMethod(), "w": torch.ones(1)}, path)
    loaded = safe_torch_load(path)["get_lr"]
    assert not callable(loaded)
    assert "placeholder for builtins.getattr" in repr(loaded)
