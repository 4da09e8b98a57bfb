"""The plan's disk estimate counts the heads as solo-learn 1.0.6 builds them and the backbone as
torchvision does: checked against the real modules."""

from __future__ import annotations

import pytest

from e2mc_plugin.reproduce.params import backbone_numel, features_dim, head_numel


def test_backbone_counts_match_torchvision():
    torchvision = pytest.importorskip("torchvision")
    for name, width in (("resnet18", 512), ("resnet50", 2048)):
        model = getattr(torchvision.models, name)()
        expected = sum(v.numel() for k, v in model.state_dict().items() if not k.startswith("fc."))
        assert backbone_numel(name) == expected
        assert features_dim(name) == width == model.fc.in_features


@pytest.mark.host106
@pytest.mark.parametrize("method", ["vicreg", "swav", "simsiam"])
def test_head_counts_match_the_heads_solo_learn_builds(method):
    from e2mc_plugin.solo.api import build_method
    from e2mc_plugin.testing.presets import tiny_cfg

    cfg = tiny_cfg(method)
    model = build_method(cfg)
    heads = ("projector.", "prototypes.", "predictor.")
    expected = sum(v.numel() for k, v in model.state_dict().items() if k.startswith(heads))
    assert head_numel(method, cfg["method_kwargs"], model.features_dim) == expected


def test_an_unknown_method_has_no_head_layout():
    with pytest.raises(ValueError, match="no head layout for method 'byol'"):
        head_numel("byol", {"proj_hidden_dim": 1, "proj_output_dim": 1}, 8)
