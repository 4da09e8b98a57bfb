"""Error paths: detection, explicit formats, registry names, strict initialization."""

from __future__ import annotations

import pytest
import torch

from e2mc_plugin.checkpoints import (
    CheckpointFormatError,
    CheckpointLoader,
    CheckpointMismatchError,
    detect_format,
    initialize_from_checkpoint,
    list_checkpoint_loaders,
    load_checkpoint,
    register_checkpoint_loader,
)
from e2mc_plugin.registry import DuplicateNameError, Registry, UnknownNameError

BUILTIN = {
    "vicreg_backbone", "vicreg_full", "swav_official", "simsiam_official",
    "solo", "solo_legacy", "torchvision", "timm",
}  # fmt: skip


def test_builtin_loaders_are_listed():
    assert BUILTIN <= set(list_checkpoint_loaders())


def test_unknown_loader_name_lists_valid_names(tmp_path):
    path = tmp_path / "x.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(UnknownNameError) as err:
        load_checkpoint(path, format="swav_oficial")
    message = str(err.value)
    assert "swav_official" in message and "Did you mean" in message
    assert all(name in message for name in BUILTIN)


def test_duplicate_registration_is_an_error():
    with pytest.raises(DuplicateNameError, match="swav_official"):

        @register_checkpoint_loader("swav_official")
        class Another(CheckpointLoader):  # noqa: F841
            pass


def test_wrong_explicit_format_says_what_the_file_is(tmp_path, layouts):
    path = tmp_path / "swav.pth.tar"
    torch.save(layouts.swav_official("resnet18", hidden=32, out=16, protos=8), path)
    with pytest.raises(CheckpointFormatError) as err:
        load_checkpoint(path, format="simsiam_official")
    assert "'simsiam_official' layout" in str(err.value)
    assert "format='swav_official'" in str(err.value)


def test_unrecognised_layout_names_candidates(tmp_path):
    path = tmp_path / "odd.pth"
    torch.save({"weights": {"a.b": torch.zeros(1)}}, path)
    with pytest.raises(CheckpointFormatError) as err:
        load_checkpoint(path)
    assert "'weights'" in str(err.value)
    assert all(name in str(err.value) for name in BUILTIN)


def test_ambiguous_layout_names_the_matching_loaders(layouts):
    vicreg = layouts.vicreg_full("resnet18", hidden=32)
    simsiam = layouts.simsiam_official("resnet18", dim=32, pred=8)
    both = {"model": vicreg["model"], "state_dict": simsiam["state_dict"]}
    with pytest.raises(CheckpointFormatError) as err:
        detect_format(both)
    assert "simsiam_official, vicreg_full" in str(err.value) and "format=" in str(err.value)


def test_detection_uses_every_registered_loader():
    registry = Registry("checkpoint loader")

    class Always(CheckpointLoader):
        def detect(self, raw):
            return True

    class Never(CheckpointLoader):
        def detect(self, raw):
            return False

    registry.register("never", Never)
    registry.register("always", Always)
    assert detect_format({}, registry) == "always"
    registry.register("also", Always)
    with pytest.raises(CheckpointFormatError, match="also, always"):
        detect_format({}, registry)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pth"):
        load_checkpoint(tmp_path / "nothere.pth")


def _broken_vicreg_checkpoint(layouts, tmp_path):
    raw = layouts.vicreg_full("resnet18", hidden=128)  # model projector: PROJ (256) wide
    del raw["model"]["module.backbone.layer1.0.conv1.weight"]  # missing
    raw["model"]["module.projector.9.weight"] = torch.zeros(3)  # unexpected
    path = tmp_path / "broken.pth"
    torch.save(raw, path)
    return load_checkpoint(path)


def test_strict_lists_missing_unexpected_and_mismatched_at_once(tmp_path, layouts, needs_host):
    loaded = _broken_vicreg_checkpoint(layouts, tmp_path)
    model = layouts.build_method("vicreg", backbone="resnet18")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as err:
        initialize_from_checkpoint(model, loaded, strict=True)
    message = str(err.value)
    prefix = layouts.backbone_prefix()
    assert f"{prefix}layer1.0.conv1.weight" in message  # missing
    assert "projector.9.weight" in message  # unexpected
    assert "projector.0.weight: checkpoint (128, 512) vs model (256, 512)" in message
    assert "strict=False" in message
    assert "classifier" not in message  # exempt
    # nothing was copied before the error
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_non_strict_loads_what_matches_and_reports_the_rest(tmp_path, layouts, needs_host):
    loaded = _broken_vicreg_checkpoint(layouts, tmp_path)
    model = layouts.build_method("vicreg", backbone="resnet18")
    report = initialize_from_checkpoint(model, loaded, strict=False)
    prefix = layouts.backbone_prefix()
    assert f"{prefix}layer1.0.conv1.weight" in report.untouched
    assert report.skipped["projector.9.weight"] == "not in the model"
    assert report.skipped["projector.0.weight"].startswith("checkpoint (128, 512)")
    state = model.state_dict()
    assert torch.equal(
        state[f"{prefix}layer4.1.bn2.running_var"],
        loaded.state_dict["backbone.layer4.1.bn2.running_var"],
    )
    text = str(report)
    assert "not applied projector.9.weight" in text and "left as initialised" in text
