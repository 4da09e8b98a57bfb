"""``scope="backbone"``: strict about the backbone, loud (WARNING) about the heads left as built.

Real solo-learn methods of the installed host (1.0.6 ``backbone.*`` or 1.0.2 ``encoder.*``).
"""

from __future__ import annotations

import logging

import pytest
import torch

from e2mc_plugin.checkpoints import (
    CheckpointMismatchError,
    initialize_from_checkpoint,
    load_checkpoint,
)

LOGGER = "e2mc_plugin.checkpoints.initialize"


def _backbone_file(tmp_path, layouts, arch):
    path = tmp_path / f"{arch}.pth"
    torch.save(layouts.backbone_only(layouts.resnet_state(arch)), path)
    return load_checkpoint(path)


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_a_resnet18_file_into_a_resnet50_lists_every_backbone_mismatch(
    tmp_path, layouts, needs_host
):
    loaded = _backbone_file(tmp_path, layouts, "resnet18")
    model = layouts.build_method("vicreg", backbone="resnet50")
    before = _snapshot(model)
    with pytest.raises(CheckpointMismatchError) as err:
        initialize_from_checkpoint(model, loaded, scope="backbone")
    message = str(err.value)
    prefix = layouts.backbone_prefix()
    # reference: the two torchvision architectures' own keys and shapes
    r18, r50 = layouts.resnet_state("resnet18"), layouts.resnet_state("resnet50")
    # BatchNorm counters are the host's own buffers, never required
    missing = [
        k
        for k in r50
        if k not in r18 and not k.startswith("fc.") and not k.endswith("num_batches_tracked")
    ]
    mismatched = [
        k for k in r18 if k in r50 and r18[k].shape != r50[k].shape and not k.startswith("fc.")
    ]
    assert f"missing in the checkpoint ({len(missing)})" in message
    assert all(f"{prefix}{k}\n" in message + "\n" for k in missing)
    assert f"shape mismatch ({len(mismatched)})" in message
    k = mismatched[0]
    assert (
        f"backbone.{k}: checkpoint {tuple(r18[k].shape)} vs model {tuple(r50[k].shape)}" in message
    )
    assert "projector" not in message  # heads are out of scope
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # nothing copied


def test_a_backbone_file_loads_strictly_and_warns_about_the_heads(
    tmp_path, layouts, needs_host, caplog
):
    loaded = _backbone_file(tmp_path, layouts, "resnet50")
    model = layouts.build_method("byol", backbone="resnet50")
    before = _snapshot(model)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        report = initialize_from_checkpoint(model, loaded, scope="backbone")
    prefix = layouts.backbone_prefix()
    state = model.state_dict()
    source = layouts.backbone_only(layouts.resnet_state("resnet50"))
    for key, value in source.items():
        assert torch.equal(state[prefix + key], value), key
        assert torch.equal(state["momentum_" + prefix + key], value), key  # copied from online
    own = ("backbone", "encoder", "momentum_backbone", "momentum_encoder")
    heads = sorted({k.split(".")[0] for k in state if not k.startswith(own)})
    for head in heads:  # projector, predictor, classifier, momentum_projector: as built
        keys = [k for k in state if k.startswith(head + ".")]
        assert all(torch.equal(state[k], before[k]) for k in keys), head
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert "scope: backbone" in text and "stayed randomly initialized" in text
    assert all(f"{head}.*" in text for head in heads)
    assert len(report.mapped) == len(source)


def test_a_full_checkpoint_in_backbone_scope_skips_its_heads(tmp_path, layouts, needs_host):
    path = tmp_path / "vicreg_full.pth"
    raw = layouts.vicreg_full("resnet18", hidden=layouts.PROJ)
    torch.save(raw, path)
    loaded = load_checkpoint(path)
    model = layouts.build_method("vicreg", backbone="resnet18")
    before = _snapshot(model)
    report = initialize_from_checkpoint(model, loaded, scope="backbone")
    projector = [k for k in loaded.state_dict if k.startswith("projector.")]
    assert projector and all(report.skipped[k].startswith("scope: backbone") for k in projector)
    state = model.state_dict()
    assert all(torch.equal(state[k], before[k]) for k in state if k.startswith("projector."))
    assert torch.equal(
        state[layouts.backbone_prefix() + "layer4.1.bn2.weight"],
        raw["model"]["module.backbone.layer4.1.bn2.weight"],
    )


def test_full_scope_suggests_backbone_scope_for_a_backbone_file(tmp_path, layouts, needs_host):
    loaded = _backbone_file(tmp_path, layouts, "resnet18")
    model = layouts.build_method("vicreg", backbone="resnet18")
    with pytest.raises(CheckpointMismatchError, match="scope='backbone'"):
        initialize_from_checkpoint(model, loaded)


def test_a_partial_non_strict_load_is_a_warning(tmp_path, layouts, needs_host, caplog):
    loaded = _backbone_file(tmp_path, layouts, "resnet18")
    model = layouts.build_method("vicreg", backbone="resnet50")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        report = initialize_from_checkpoint(model, loaded, strict=False)
    r18, r50 = layouts.resnet_state("resnet18"), layouts.resnet_state("resnet50")
    fits = [k for k in r18 if k in r50 and r18[k].shape == r50[k].shape and "fc." not in k]
    assert len(report.mapped) == len(fits)  # the 97 tensors of the report this replaces
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.WARNING
    assert f"loaded {len(fits)} tensors" in record.getMessage()
    assert "stayed randomly initialized" in record.getMessage()


def test_an_unknown_scope_names_the_choices(tmp_path, layouts, needs_host):
    loaded = _backbone_file(tmp_path, layouts, "resnet18")
    model = layouts.build_method("vicreg", backbone="resnet18")
    with pytest.raises(ValueError, match="'backbones' is not one of full, backbone"):
        initialize_from_checkpoint(model, loaded, scope="backbones")
