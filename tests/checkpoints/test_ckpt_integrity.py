"""Damaged and non-checkpoint files are errors that name the file (and the tensor), never NaNs.

The damage is made the way it happens: bytes overwritten inside one tensor's data (found by
searching the file for that tensor's own bytes), a file cut short, an empty or text file.
"""

from __future__ import annotations

import zipfile

import pytest
import torch

from e2mc_plugin.checkpoints import (
    CorruptCheckpointError,
    NotACheckpointError,
    UnsafeCheckpointError,
    load_checkpoint,
    pretrained_from_cfg,
    safe_torch_load,
)
from e2mc_plugin.checkpoints.convert import main as convert_main

TARGET = "layer3.1.conv2.weight"  # the tensor whose bytes get overwritten


def _save(tmp_path, layouts, name, legacy=False):
    state = layouts.backbone_only(layouts.resnet_state("resnet18"))
    path = tmp_path / name
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    return path, state


def _overwrite_tensor_bytes(path, tensor, fill=b"\xff"):
    """Overwrite 4 KiB in the middle of ``tensor``'s data in the file (0xff..: float32 NaN)."""
    data = bytearray(path.read_bytes())
    raw = tensor.contiguous().numpy().tobytes()
    start = data.find(raw[:256])
    assert start > 0 and data.count(raw[:256]) == 1, "tensor bytes not found once in the file"
    middle = start + len(raw) // 2
    data[middle : middle + 4096] = fill * 4096
    path.write_bytes(bytes(data))


def test_overwritten_bytes_in_a_zip_checkpoint_fail_the_crc_check(tmp_path, layouts):
    path, state = _save(tmp_path, layouts, "resnet18.pth")
    _overwrite_tensor_bytes(path, state[TARGET])
    assert torch.isnan(torch.load(path, weights_only=True)[TARGET]).any()  # what torch gives
    with pytest.raises(CorruptCheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert str(path) in message and "CRC-32" in message
    bad = zipfile.ZipFile(path).testzip()
    assert bad is not None and bad in message  # the damaged archive entry, named


def test_nan_weights_name_the_tensor_and_the_file(tmp_path, layouts):
    """A legacy (non-zip) file has no checksum: the damaged tensor is found by its NaNs."""
    path, state = _save(tmp_path, layouts, "legacy.pth", legacy=True)
    _overwrite_tensor_bytes(path, state[TARGET])
    with pytest.raises(CorruptCheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert str(path) in message
    assert f"tensor {TARGET} (as backbone.{TARGET}) has 1024 NaN/Inf values" in message
    assert message.count("NaN/Inf values") == 1  # only the damaged tensor


def test_a_diverged_run_with_infinite_weights_is_refused(tmp_path, layouts):
    raw = layouts.vicreg_full("resnet18", hidden=32)
    model = raw["model"]
    for key, index, value in [
        ("module.projector.0.weight", (0, 0), float("inf")),
        ("module.backbone.bn1.running_var", 3, float("nan")),
    ]:
        model[key] = model[key].clone()  # the layouts' tensors are shared: never edit in place
        model[key][index] = value
    path = tmp_path / "diverged.pth"
    torch.save(raw, path)
    with pytest.raises(CorruptCheckpointError) as err:
        pretrained_from_cfg({"path": str(path)})
    message = str(err.value)
    assert "tensor module.backbone.bn1.running_var (as backbone.bn1.running_var) has 1" in message
    assert "module.projector.0.weight (as projector.0.weight) has 1 NaN/Inf" in message


@pytest.mark.parametrize("legacy", [False, True])
def test_a_truncated_file_is_corrupt_not_unsafe(tmp_path, layouts, legacy):
    path, _ = _save(tmp_path, layouts, "cut.pth", legacy=legacy)
    data = path.read_bytes()
    for size in (len(data) // 2, 300):
        path.write_bytes(data[:size])
        with pytest.raises(CorruptCheckpointError, match=f"corrupted checkpoint {path}"):
            load_checkpoint(path)


def test_a_garbled_pickle_is_corrupt_not_unsafe(tmp_path, layouts):
    path, _ = _save(tmp_path, layouts, "garbled.pth", legacy=True)
    data = bytearray(path.read_bytes())
    data[200:260] = b"\x07" * 60  # inside the pickled structure, before the tensor data
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptCheckpointError) as err:
        safe_torch_load(path)
    assert not isinstance(err.value, UnsafeCheckpointError)


def _not_checkpoints(tmp_path):
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    text = tmp_path / "notes.pth"
    text.write_text("hello, this is a text file\n")
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.txt", "not tensors")
    return [empty, text, archive]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["empty", "text", "zip"])
def test_not_a_checkpoint_from_every_entry_point(tmp_path, index):
    path = _not_checkpoints(tmp_path)[index]
    expected = f"not a PyTorch checkpoint: {path}"
    with pytest.raises(NotACheckpointError, match=expected):
        load_checkpoint(path)
    with pytest.raises(NotACheckpointError, match=expected):
        load_checkpoint(path, format="vicreg_backbone")
    with pytest.raises(NotACheckpointError, match=expected):
        pretrained_from_cfg({"path": str(path)})
    with pytest.raises(NotACheckpointError, match=expected):
        convert_main([str(path), "--out", str(tmp_path / "out")])
    with pytest.raises(NotACheckpointError, match=expected):
        safe_torch_load(path, trusted=True)  # the opt-out does not skip the file check
    assert not (tmp_path / "out").exists()


def test_a_folder_is_not_a_checkpoint_file(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load_checkpoint(tmp_path)


def test_intact_files_of_both_formats_still_load(tmp_path, layouts):
    for legacy in (False, True):
        path, state = _save(tmp_path, layouts, f"ok{legacy}.pth", legacy=legacy)
        loaded = load_checkpoint(path)
        assert torch.equal(loaded.state_dict[f"backbone.{TARGET}"], state[TARGET])
