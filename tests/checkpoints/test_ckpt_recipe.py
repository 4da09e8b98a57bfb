"""The ``pretrained:`` recipe block."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from e2mc_plugin.checkpoints import UnsafeCheckpointError, pretrained_from_cfg
from e2mc_plugin.checkpoints.recipe import validate_pretrained


def test_defaults_are_auto_strict_and_safe():
    assert validate_pretrained({"path": "x.pth"}) == {
        "path": "x.pth",
        "format": "auto",
        "strict": True,
        "trusted": False,
        "scope": "full",
    }


def test_unknown_key_names_it_and_the_valid_keys():
    with pytest.raises(KeyError) as err:
        validate_pretrained({"path": "x.pth", "strcit": False})
    assert "'strcit'" in str(err.value)
    assert "path, format, strict, trusted, scope" in str(err.value)


def test_path_is_required_and_types_are_checked():
    with pytest.raises(KeyError, match="'path'"):
        validate_pretrained({"format": "solo"})
    with pytest.raises(TypeError, match="pretrained.strict"):
        validate_pretrained({"path": "x.pth", "strict": "yes"})


def test_omegaconf_block_loads_the_checkpoint(tmp_path, layouts):
    path = tmp_path / "resnet18.pth"
    torch.save(layouts.resnet_state("resnet18"), path)
    block = OmegaConf.create({"path": str(path), "format": "torchvision", "strict": False})
    loaded, strict = pretrained_from_cfg(block)
    assert loaded.format == "torchvision" and strict is False
    assert "backbone.layer4.1.bn2.weight" in loaded.state_dict


def test_trusted_defaults_to_false(tmp_path):
    path = tmp_path / "odd.pth"
    torch.save({"fn": print}, path)  # a global outside the allow-list
    with pytest.raises(UnsafeCheckpointError, match="print"):
        pretrained_from_cfg({"path": str(path)})
