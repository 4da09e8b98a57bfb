"""solo-learn's own checkpoints (both namings), momentum networks, timm backbones."""

from __future__ import annotations

import pytest
import timm
import torch

from e2mc_plugin.checkpoints import initialize_from_checkpoint, load_checkpoint


def _lightning_container(state, version):
    return {
        "epoch": 3, "global_step": 30, "pytorch-lightning_version": version,
        "state_dict": state, "loops": {}, "callbacks": {},
        "optimizer_states": [{"state": {}, "param_groups": []}], "lr_schedulers": [],
    }  # fmt: skip


def _as_host_names(state, legacy_file, host):
    """Write ``state`` (names of the installed host) with 1.0.2 or 1.0.6 names."""
    old, new = ("encoder", "backbone") if host == "1.0.2" else ("backbone", "encoder")
    if legacy_file == (host == "1.0.2"):
        return dict(state)
    out = {}
    for key, value in state.items():
        for head in ("", "momentum_"):
            if key.startswith(head + old + "."):
                key = head + new + key[len(head + old) :]
                break
        out[key] = value
    return out


@pytest.mark.parametrize("legacy_file", [False, True], ids=["solo_1.0.6", "solo_legacy"])
def test_solo_checkpoint_round_trip_drops_classifier_and_queues(
    tmp_path, layouts, needs_host, legacy_file
):
    source_model = layouts.build_method("vicreg", backbone="resnet18")
    state = _as_host_names(source_model.state_dict(), legacy_file, layouts.host)
    state["queue"] = torch.randn(2, 8, 16)
    state["queue_ptr"] = torch.zeros(1, dtype=torch.long)
    path = tmp_path / "vicreg-abc-ep=3.ckpt"
    torch.save(_lightning_container(state, "1.4.7" if legacy_file else "2.1.2"), path)

    loaded = load_checkpoint(path)
    assert loaded.format == ("solo_legacy" if legacy_file else "solo")
    assert {"queue", "queue_ptr", "classifier.weight", "classifier.bias"} <= set(
        loaded.report.dropped
    )
    assert "optimizer_states" in loaded.report.dropped
    assert all(k.startswith(("backbone.", "projector.")) for k in loaded.state_dict)

    model = layouts.build_method("vicreg", backbone="resnet18")
    report = initialize_from_checkpoint(model, loaded, strict=True)
    reference = source_model.state_dict()
    for dst in report.mapped.values():
        assert torch.equal(model.state_dict()[dst], reference[dst])
    assert len(report.mapped) == len(reference) - 2  # all but the classifier
    assert report.untouched == ["classifier.weight", "classifier.bias"]


def test_momentum_networks_start_from_the_loaded_online_weights(tmp_path, layouts, needs_host):
    source = layouts.resnet_state("resnet18")
    path = tmp_path / "resnet18.pth"
    torch.save(source, path)
    model = layouts.build_method("byol", backbone="resnet18")
    prefix = layouts.backbone_prefix()
    # only the backbone comes from the file: the projector/predictor stay as built
    report = initialize_from_checkpoint(model, load_checkpoint(path), strict=False)
    state = model.state_dict()
    for key, value in source.items():
        if not key.startswith("fc."):
            assert torch.equal(state["momentum_" + prefix + key], value), key
    for key in model.projector.state_dict():
        assert torch.equal(state["momentum_projector." + key], state["projector." + key])
    assert report.created["momentum_" + prefix + "conv1.weight"].startswith("copy of")
    assert not any(k.startswith("momentum_" + prefix) for k in report.untouched)
    # the projector got nothing from the file: it and its momentum copy stay as built
    assert all(k.startswith("momentum_projector.") for k in report.untouched if "momentum" in k)


def test_momentum_weights_carried_by_a_solo_checkpoint_are_kept(tmp_path, layouts, needs_host):
    source_model = layouts.build_method("byol", backbone="resnet18")
    with torch.no_grad():  # make momentum differ from online, as after training
        for p in source_model.momentum_projector.parameters():
            p.add_(1.0)
    state = _as_host_names(source_model.state_dict(), False, layouts.host)
    path = tmp_path / "byol.ckpt"
    torch.save(_lightning_container(state, "2.1.2"), path)
    model = layouts.build_method("byol", backbone="resnet18")
    report = initialize_from_checkpoint(model, load_checkpoint(path), strict=True)
    assert torch.equal(
        model.momentum_projector[0].weight, source_model.momentum_projector[0].weight
    )
    assert not report.created


def test_timm_vit_backbone_drops_the_head(tmp_path, layouts, needs_host):
    source = timm.create_model("vit_tiny_patch16_224", pretrained=False).state_dict()
    path = tmp_path / "vit_tiny.pth"
    torch.save(source, path)
    loaded = load_checkpoint(path)
    assert loaded.format == "timm"
    assert set(loaded.report.dropped) == {"head.weight", "head.bias"}
    model = layouts.build_method("vicreg", backbone="vit_tiny")
    report = initialize_from_checkpoint(model, loaded, strict=False)
    prefix = layouts.backbone_prefix()
    backbone_keys = {k for k in model.state_dict() if k.startswith(prefix)}
    assert set(report.mapped.values()) == backbone_keys
    for src, dst in report.mapped.items():
        assert torch.equal(model.state_dict()[dst], source[src])
