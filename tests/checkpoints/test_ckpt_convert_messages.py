"""``e2mc-plugin convert``: each refused option is named in the one-line error, with the valid
choices, before anything is written."""

from __future__ import annotations

import pytest
import torch
import torchvision


@pytest.fixture()
def r18(tmp_path):
    state = torchvision.models.resnet18().state_dict()
    path = tmp_path / "r18.pth"
    torch.save({k: v for k, v in state.items() if not k.startswith("fc.")}, path)
    return path


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--format", "nosuch"], "convert: --format 'nosuch': valid: auto, "),
        (["--backbone", "vgg16"], "convert: --backbone: backbone 'vgg16' has no reference"),
        (["--method", "nosuch"], "convert: --method: no default method_kwargs for method"),
        (["--name", "a/b"], "convert: --name 'a/b' is not a plain file name"),
    ],
)
def test_convert_errors_name_the_option(r18, tmp_path, capsys, extra, expected):
    from e2mc_plugin.cli import main

    assert main(["convert", str(r18), "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {expected}"), err
    assert not (tmp_path / "o").exists()


def test_convert_names_an_out_that_is_a_file(r18, capsys):
    from e2mc_plugin.cli import main

    assert main(["convert", str(r18), "--out", str(r18)]) == 2
    assert (
        f"error: convert: --out {str(r18)!r} exists and is not a folder" in capsys.readouterr().err
    )
    assert torch.load(r18, weights_only=True)  # the source is untouched
