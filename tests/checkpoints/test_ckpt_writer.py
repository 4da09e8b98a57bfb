"""``write_host_checkpoint``: the one writer of ``<name>.ckpt`` + ``args.json``, all or nothing."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
import torch

from e2mc_plugin.checkpoints import write_host_checkpoint
from e2mc_plugin.checkpoints import writer as writer_module


def _hashes(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _state(seed=0):
    torch.manual_seed(seed)
    big = torch.randn(64, 32)
    return {"backbone.w": big[:4], "backbone.b": torch.randn(3), "backbone.n": torch.tensor(5)}


def test_round_trip_layout_and_permissions(tmp_path):
    state = _state()
    written = write_host_checkpoint(state, {"method": "vicreg"}, tmp_path / "o", "m")
    assert (
        written.ckpt == tmp_path / "o" / "m.ckpt" and written.args == tmp_path / "o" / "args.json"
    )
    ckpt = torch.load(written.ckpt, weights_only=True)
    assert {"state_dict", "pytorch-lightning_version", "epoch", "global_step"} <= set(ckpt)
    assert all(torch.equal(ckpt["state_dict"][k], v) for k, v in state.items())
    # a 4-row view of a 64-row tensor is stored alone, not with its whole storage
    assert ckpt["state_dict"]["backbone.w"].untyped_storage().nbytes() == 4 * 32 * 4
    assert json.loads(written.args.read_text()) == {"method": "vicreg"}
    mask = os.umask(0)
    os.umask(mask)
    for path in written:
        assert (path.stat().st_mode & 0o777) == (0o666 & ~mask)  # as open() would create it
    assert sorted(os.listdir(tmp_path / "o")) == ["args.json", "m.ckpt"]


def test_args_that_are_not_json_fail_before_any_write(tmp_path):
    with pytest.raises(ValueError, match="args: not JSON-serialisable"):
        write_host_checkpoint(_state(), {"bad": object()}, tmp_path / "o", "m")
    assert not (tmp_path / "o").exists()


def test_a_failing_verification_leaves_the_folder_as_it_was(tmp_path):
    out = tmp_path / "o"
    write_host_checkpoint(_state(0), {"v": 0}, out, "m")
    before = _hashes(out)

    def reject(path):
        assert path.parent == out and path.name.startswith(".m.")  # the temporary file
        raise RuntimeError("verification failed")

    with pytest.raises(RuntimeError, match="verification failed"):
        write_host_checkpoint(_state(1), {"v": 1}, out, "m", force=True, verify=reject)
    assert _hashes(out) == before


def test_a_failed_rename_restores_both_old_files(tmp_path, monkeypatch):
    """The second rename fails after the first succeeded: the first is rolled back."""
    out = tmp_path / "o"
    write_host_checkpoint(_state(0), {"v": 0}, out, "m")
    before = _hashes(out)
    real_replace = os.replace

    def flaky(src, dst):
        if str(dst).endswith("args.json") and ".tmp" in str(src):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(writer_module.os, "replace", flaky)
    with pytest.raises(OSError, match="No space left"):
        write_host_checkpoint(_state(1), {"v": 1}, out, "m", force=True)
    monkeypatch.undo()
    assert _hashes(out) == before


def test_protected_files_are_never_written_even_with_force(tmp_path):
    out = tmp_path / "o"
    written = write_host_checkpoint(_state(0), {"v": 0}, out, "m")
    before = _hashes(out)
    for protected in (written.ckpt, written.args):
        with pytest.raises(ValueError, match="is the source"):
            write_host_checkpoint(_state(1), {}, out, "m", force=True, protected=[protected])
    assert _hashes(out) == before


@pytest.mark.parametrize("name", ["", ".", "..", "../m", "a/b", "/abs"])
def test_names_must_be_plain(tmp_path, name):
    with pytest.raises(ValueError, match="not a plain file name"):
        write_host_checkpoint(_state(), {}, tmp_path / "o", name)
    assert not (tmp_path / "o").exists()
