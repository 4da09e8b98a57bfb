"""Official release layouts load through the real loaders into real solo-learn models."""

from __future__ import annotations

import torch

from e2mc_plugin.checkpoints import initialize_from_checkpoint, load_checkpoint


def _save(obj, path, legacy=False):
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


def _assert_every_mapped_tensor_equal(model, report, source):
    state = model.state_dict()
    assert report.mapped, "nothing was mapped"
    for src, dst in report.mapped.items():
        assert torch.equal(state[dst], source[src]), f"{src} -> {dst} differs"


def _assert_classifier_untouched(report):
    assert {k for k in report.untouched if k.startswith("classifier.")} == {
        "classifier.weight",
        "classifier.bias",
    }


def test_vicreg_backbone_resnet50_fills_every_backbone_tensor(tmp_path, layouts, needs_host):
    source = layouts.backbone_only(layouts.resnet_state("resnet50"))
    path = _save(source, tmp_path / "resnet50.pth")
    loaded = load_checkpoint(path)  # detected
    assert loaded.format == "vicreg_backbone"
    assert len(loaded.state_dict) == 318
    model = layouts.build_method("vicreg")
    # only the backbone comes from this file: strict would (rightly) flag the projector
    report = initialize_from_checkpoint(model, loaded, strict=False)
    _assert_every_mapped_tensor_equal(model, report, source)
    prefix = layouts.backbone_prefix()
    assert set(report.mapped.values()) == {k for k in model.state_dict() if k.startswith(prefix)}
    assert all(k.startswith(("projector.", "classifier.")) for k in report.untouched)


def test_vicreg_full_resnet50_strict_with_zero_last_bias(tmp_path, layouts, needs_host):
    raw = layouts.vicreg_full("resnet50")
    path = _save(raw, tmp_path / "resnet50_fullckpt.pth")
    loaded = load_checkpoint(path)
    assert loaded.format == "vicreg_full"
    assert "projector.6.bias" in loaded.report.created
    assert set(loaded.report.dropped) == {"epoch", "optimizer"}
    model = layouts.build_method("vicreg").to(memory_format=torch.channels_last)
    report = initialize_from_checkpoint(model, loaded, strict=True)
    _assert_every_mapped_tensor_equal(model, report, raw["model"])
    assert torch.count_nonzero(model.projector[6].bias) == 0
    assert report.created == {"projector.6.bias": loaded.report.created["projector.6.bias"]}
    _assert_classifier_untouched(report)
    assert model.state_dict()[layouts.backbone_prefix() + "conv1.weight"].is_contiguous(
        memory_format=torch.channels_last
    )
    assert "projector.6.bias" in str(report)


def test_swav_official_resnet50_legacy_serialization(tmp_path, layouts, needs_host):
    raw = layouts.swav_official("resnet50")
    path = _save(raw, tmp_path / "swav_800ep_pretrain.pth.tar", legacy=True)
    loaded = load_checkpoint(path)
    assert loaded.format == "swav_official"
    model = layouts.build_method("swav")
    report = initialize_from_checkpoint(model, loaded, strict=True)
    _assert_every_mapped_tensor_equal(model, report, raw)
    assert report.mapped["module.prototypes.weight"] == "prototypes.weight_v"
    assert report.mapped["module.projection_head.3.weight"] == "projector.3.weight"
    assert torch.equal(model.prototypes.weight_g, torch.ones(300, 1))
    # weight norm with g = 1 gives the row-normalised official prototypes
    expected = torch.nn.functional.normalize(raw["module.prototypes.weight"], dim=1)
    with torch.no_grad():
        model.prototypes(torch.zeros(1, 128))  # the hook recomputes .weight
    torch.testing.assert_close(model.prototypes.weight, expected)
    _assert_classifier_untouched(report)


def test_simsiam_official_resnet50_projector_mapped_before_encoder(tmp_path, layouts, needs_host):
    raw = layouts.simsiam_official("resnet50")
    path = _save(raw, tmp_path / "checkpoint_0099.pth.tar")
    loaded = load_checkpoint(path)
    assert loaded.format == "simsiam_official"
    assert set(loaded.report.dropped) == {"epoch", "arch", "optimizer"}
    assert loaded.report.mapped["module.encoder.fc.0.weight"] == "projector.0.weight"
    assert not any(".fc." in k for k in loaded.state_dict)
    model = layouts.build_method("simsiam")
    report = initialize_from_checkpoint(model, loaded, strict=True)
    _assert_every_mapped_tensor_equal(model, report, raw["state_dict"])
    assert report.mapped["module.predictor.3.bias"] == "predictor.3.bias"
    _assert_classifier_untouched(report)


def test_torchvision_resnet18_drops_fc(tmp_path, layouts, needs_host):
    source = layouts.resnet_state("resnet18")
    path = _save(source, tmp_path / "resnet18.pth")
    loaded = load_checkpoint(path)
    assert loaded.format == "torchvision"
    assert set(loaded.report.dropped) == {"fc.weight", "fc.bias"}
    model = layouts.build_method("vicreg", backbone="resnet18")
    report = initialize_from_checkpoint(model, loaded, strict=False)
    _assert_every_mapped_tensor_equal(model, report, source)
    assert len(report.mapped) == len(source) - 2


def test_full_size_vicreg_layout_matches_solo_on_meta_device(layouts, needs_host):
    """The real 2048-8192-8192-8192 projector, without allocating it (meta tensors)."""
    from e2mc_plugin.checkpoints import get_checkpoint_loader

    with torch.device("meta"):
        projector = layouts.vicreg_projector(2048, 8192)
        model = layouts.build_method("vicreg", proj_hidden_dim=8192, proj_output_dim=8192)
    raw = {"model": layouts.prefixed("module.projector.", projector.state_dict())}
    raw["model"].update(
        layouts.prefixed("module.backbone.", layouts.backbone_only(layouts.resnet_state()))
    )
    state, report = get_checkpoint_loader("vicreg_full").convert(raw)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    prefix = layouts.backbone_prefix()
    converted = {k.replace("backbone.", prefix, 1): tuple(v.shape) for k, v in state.items()}
    expected = {k: s for k, s in shapes.items() if not k.startswith("classifier.")}
    assert converted == expected
    assert converted["projector.6.bias"] == (8192,)
