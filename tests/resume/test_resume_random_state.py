"""The random states a checkpoint keeps: every generator, in a form ``weights_only`` loading
reads, each rank's own, and restored only at the first epoch start after a load."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
import torch

from e2mc_plugin.resume import random_state
from e2mc_plugin.resume.random_state import RANDOM_STATE_KEY, ResumeRandomState, capture, restore


def _draws():
    return (random.random(), float(np.random.rand()), np.random.randn(), torch.rand(3).tolist())


def test_capture_then_restore_repeats_python_numpy_and_torch_draws_through_weights_only():
    np.random.randn()  # a cached Gaussian in numpy's state too
    saved = capture()
    first = _draws()
    buffer = io.BytesIO()
    torch.save({RANDOM_STATE_KEY: saved}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)[RANDOM_STATE_KEY]
    _draws(), torch.manual_seed(1), random.seed(1), np.random.seed(1)
    restore(loaded)
    assert _draws() == first
    assert loaded["world_size"] == 1 and len(loaded["ranks"]) == 1


def test_the_hooks_restore_at_the_first_epoch_start_after_a_load_and_only_then():
    hooks = ResumeRandomState()
    checkpoint = {}
    hooks.save(checkpoint)
    expected = _draws()
    hooks.load(checkpoint)
    moved = _draws()  # between the load and the epoch start: sanity check, optimizers...
    assert moved != expected
    hooks.epoch_start()
    assert _draws() == expected
    hooks.epoch_start()  # later epochs: nothing restored again
    assert _draws() != expected


def test_a_checkpoint_without_states_resumes_with_a_warning(caplog):
    hooks = ResumeRandomState()
    hooks.load({})
    before = torch.get_rng_state()
    hooks.epoch_start()
    assert torch.equal(torch.get_rng_state(), before)
    assert "holds none" in caplog.text


def test_cuda_states_are_kept_once_cuda_is_initialized(monkeypatch):
    devices = [torch.full((16,), 7, dtype=torch.uint8), torch.full((16,), 9, dtype=torch.uint8)]
    set_calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: devices)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, d: set_calls.append((d, s)))
    saved = capture()
    assert [s.tolist() for s in saved["ranks"][0]["cuda"]] == [d.tolist() for d in devices]
    restore(saved)
    assert [(d, s.tolist()) for d, s in set_calls] == [
        (0, devices[0].tolist()),
        (1, devices[1].tolist()),
    ]


@pytest.mark.parametrize("rank, world, picks", [(1, 2, 1), (0, 2, 0), (2, 3, 0)])
def test_each_rank_gets_its_own_state_back(monkeypatch, rank, world, picks):
    states = []
    for seed in range(2):
        torch.manual_seed(seed)
        states.append(capture()["ranks"][0])
    monkeypatch.setattr(random_state, "_world", lambda: (rank, world))
    restore({"format": 1, "world_size": 2, "ranks": states})
    assert torch.equal(torch.get_rng_state(), states[picks]["torch"])
