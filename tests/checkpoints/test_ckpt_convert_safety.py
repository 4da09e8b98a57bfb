"""``e2mc-plugin convert`` loses nothing: atomic writes, never over the source, ``--force`` only.

Every test hashes the folders involved before and after: a refused or failed conversion must
leave every byte (and every file name, hidden temporaries included) as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess

import pytest
import torch

from e2mc_plugin.checkpoints import CheckpointMismatchError
from e2mc_plugin.checkpoints.convert import convert, main
from e2mc_plugin.cli import main as cli_main


def tree(root) -> dict:
    """relative path -> sha256 of every file under ``root`` (folders as ``<dir>``)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for d in dirs:
            out[os.path.relpath(os.path.join(folder, d), root)] = "<dir>"
        for f in files:
            path = os.path.join(folder, f)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


@pytest.fixture
def release(tmp_path, layouts):
    """A SwAV release (resnet18, small heads) and a second, different one."""
    first = tmp_path / "src" / "swav_800ep_pretrain.pth.tar"
    first.parent.mkdir()
    torch.save(layouts.swav_official("resnet18", hidden=64, out=32, protos=40), first)
    other = tmp_path / "src" / "other.pth.tar"
    raw = layouts.swav_official("resnet18", hidden=48, out=16, protos=20)
    raw["module.conv1.weight"] = raw["module.conv1.weight"] + 1.0
    torch.save(raw, other)
    return first, other


def _solo_run(tmp_path, layouts):
    """A solo-learn 1.0.6 run folder: ``<name>.ckpt`` (epoch 7, optimizer state) + args.json."""
    run = tmp_path / "run"
    run.mkdir()
    state = layouts.prefixed("backbone.", layouts.backbone_only(layouts.resnet_state("resnet18")))
    ckpt = run / "byol-x-ep=7.ckpt"
    torch.save(
        {
            "state_dict": state,
            "epoch": 7,
            "global_step": 700,
            "optimizer_states": [{"state": {0: {"momentum_buffer": torch.ones(3)}}}],
            "pytorch-lightning_version": "2.1.2",
        },
        ckpt,
    )
    args = {"method": "byol", "backbone": {"name": "resnet18"}, "data": {"dataset": "imagenet"}}
    (run / "args.json").write_text(json.dumps(args))
    return run, ckpt


def test_existing_files_are_kept_unless_force(release, tmp_path):
    first, other = release
    out = tmp_path / "out"
    main([str(first), "--out", str(out), "--name", "model"])
    before = tree(out)
    with pytest.raises(FileExistsError) as err:
        main([str(other), "--out", str(out), "--name", "model"])
    assert str(out / "model.ckpt") in str(err.value) and str(out / "args.json") in str(err.value)
    assert "--force" in str(err.value)
    assert tree(out) == before

    main([str(other), "--out", str(out), "--name", "model", "--force"])
    state = torch.load(out / "model.ckpt", weights_only=True)["state_dict"]
    raw = torch.load(other, weights_only=True)
    assert torch.equal(state["backbone.conv1.weight"], raw["module.conv1.weight"])
    assert json.loads((out / "args.json").read_text())["method_kwargs"]["num_prototypes"] == 20
    assert sorted(os.listdir(out)) == ["args.json", "model.ckpt"]  # no temporaries left


def test_converting_into_the_source_folder_never_touches_the_source(tmp_path, layouts):
    run, ckpt = _solo_run(tmp_path, layouts)
    before = tree(run)
    for extra in ([], ["--force"]):
        with pytest.raises(ValueError, match="is the source"):
            main([str(ckpt), "--out", str(run), *extra])  # same folder, same name
        assert tree(run) == before
    # another name in the same folder: the args.json there is the source's own
    with pytest.raises(ValueError, match="is the source"):
        main([str(ckpt), "--out", str(run), "--name", "converted", "--force"])
    assert tree(run) == before
    # an output path that resolves to the source through a link
    out = tmp_path / "linked"
    out.mkdir()
    (out / "byol-x-ep=7.ckpt").symlink_to(ckpt)
    with pytest.raises(ValueError, match="is the source"):
        main([str(ckpt), "--out", str(out), "--force"])
    assert tree(run) == before
    source = torch.load(ckpt, weights_only=True)
    assert source["epoch"] == 7 and source["optimizer_states"]


def test_a_failed_conversion_changes_no_file(release, tmp_path):
    first, other = release
    out = tmp_path / "out"
    main([str(first), "--out", str(out), "--name", "model"])
    before = tree(out)
    # a resnet18 file declared as resnet50: the verification of the written file fails
    with pytest.raises(CheckpointMismatchError, match="layer1.0.conv3.weight"):
        main(
            [str(other), "--out", str(out), "--name", "model", "--backbone", "resnet50", "--force"]
        )
    assert tree(out) == before
    fresh = tmp_path / "new" / "deeper"
    with pytest.raises(CheckpointMismatchError):
        main([str(other), "--out", str(fresh), "--backbone", "resnet50"])
    assert not (tmp_path / "new").exists()  # folders it created are removed again


@pytest.mark.parametrize("name", ["../escaped", "sub/model", "ABSOLUTE", "..", "."])
def test_names_that_leave_the_output_folder_are_refused(release, tmp_path, name):
    first, _ = release
    if name == "ABSOLUTE":
        name = str(tmp_path / "elsewhere" / "model")
    before = tree(tmp_path)
    with pytest.raises(ValueError, match="not a plain file name"):
        main([str(first), "--out", str(tmp_path / "out"), "--name", name])
    assert tree(tmp_path) == before


@contextlib.contextmanager
def read_only(folder):
    """Make ``folder`` unwritable for this process: chmod, or the immutable flag for root."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    result = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot make a folder read-only as root here: {result.stderr.decode()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_output_folder_is_named(release, tmp_path, capsys):
    first, _ = release
    out = tmp_path / "locked"
    out.mkdir()
    with read_only(out):
        with pytest.raises(PermissionError) as err:
            convert(first, out)
        assert str(out) in str(err.value) and "not writable" in str(err.value)
        with pytest.raises(PermissionError, match="cannot create output folder"):
            convert(first, out / "sub")
        assert cli_main(["convert", str(first), "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith(f"error: output folder '{out}' is not writable")
    assert os.listdir(out) == []


def test_convert_says_format_method_and_what_stays_random(release, tmp_path, layouts, capsys):
    first, _ = release
    main([str(first), "--out", str(tmp_path / "a")])
    text = capsys.readouterr().out
    assert "format:   swav_official (detected" in text
    assert "method:   swav (" in text and "--method changes it" in text
    assert "stay randomly initialized (the source has no weights for them): classifier.*\n" in text

    backbone_file = tmp_path / "resnet18.pth"
    torch.save(layouts.backbone_only(layouts.resnet_state("resnet18")), backbone_file)
    main([str(backbone_file), "--out", str(tmp_path / "b"), "--format", "vicreg_backbone"])
    text = capsys.readouterr().out
    assert "format:   vicreg_backbone (given by --format)" in text
    assert "method:   vicreg (" in text
    assert "stay randomly initialized (the source has no weights for them): classifier.*, " \
        "projector.*" in text  # fmt: skip


def _host_random_prefixes(out):
    """What the host leaves random: build the method from args.json and load like main_knn."""
    from omegaconf import OmegaConf
    from solo.methods import METHODS

    args = OmegaConf.create(json.loads((out / "args.json").read_text()))
    args.data.num_classes = 10
    ckpt = next(p for p in out.iterdir() if p.suffix == ".ckpt")
    model = METHODS[args.method](args)
    state = torch.load(ckpt, weights_only=True)["state_dict"]
    missing = model.load_state_dict(state, strict=False).missing_keys
    return sorted({k.split(".")[0] + ".*" for k in missing})


@pytest.mark.host106
@pytest.mark.parametrize(
    "fmt, method",
    [("vicreg_backbone", None), ("swav_official", None), ("vicreg_backbone", "byol")],
)
def test_the_random_list_is_what_the_host_leaves_random(tmp_path, layouts, fmt, method):
    raw = {
        "vicreg_backbone": lambda: layouts.backbone_only(layouts.resnet_state("resnet18")),
        "swav_official": lambda: layouts.swav_official("resnet18", hidden=64, out=32, protos=40),
    }[fmt]()
    src = tmp_path / "release.pth"
    torch.save(raw, src)
    out = tmp_path / "out"
    result = convert(src, out, method=method)
    assert sorted(result["random"]) == _host_random_prefixes(out)
