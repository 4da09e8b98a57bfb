"""Parameters the source layer does not have (``bias=False``) are reported as data, by name.

The expected names come from the authors' module definitions (``e2mc_plugin.testing.official``):
every ``nn.Linear`` whose ``bias`` is None, renamed by the loader's documented map. The report
says it in one line; ``e2mc-plugin convert`` records it in the converted file, and the solo-learn
loader reads it back, so a later ``pretrained:`` load of the converted file keeps it.
"""

from __future__ import annotations

import torch
from torch import nn

from e2mc_plugin.checkpoints import initialize_from_checkpoint, load_checkpoint, safe_torch_load
from e2mc_plugin.checkpoints.absent import ABSENT_RECORD_KEY
from e2mc_plugin.checkpoints.convert import convert, summary
from e2mc_plugin.testing.official import (
    barlowtwins_full_release,
    barlowtwins_projector,
    vicreg_full_release,
    vicreg_projector,
)

VICREG_SIZES = [2048, 64, 64, 64]
BARLOW_SIZES = [2048, 64, 64, 32]


def _bias_free(projector: nn.Module) -> list:
    """``projector.<i>.bias`` for every Linear of the official projector built without a bias."""
    return [
        f"projector.{name}.bias"
        for name, module in projector.named_modules()
        if isinstance(module, nn.Linear) and module.bias is None
    ]


def _backbone(layouts):
    return layouts.backbone_only(layouts.resnet_state("resnet50"))


def _frozen_lines(text: str) -> list:
    return [line for line in text.splitlines() if "frozen" in line]


def test_vicreg_full_reports_the_official_bias_free_last_linear(tmp_path, layouts):
    path = tmp_path / "resnet50_fullckpt.pth"
    torch.save(vicreg_full_release(_backbone(layouts), VICREG_SIZES), path)
    loaded = load_checkpoint(path)
    expected = _bias_free(vicreg_projector(VICREG_SIZES))
    assert expected == ["projector.6.bias"]  # the reference's layout, from its own definition
    assert loaded.format == "vicreg_full"
    assert loaded.report.absent_in_source == expected
    assert all(torch.count_nonzero(loaded.state_dict[k]) == 0 for k in expected)
    (line,) = _frozen_lines(str(loaded.report))
    assert "projector.6.bias" in line and "bias=False" in line
    # the hidden Linears have biases in the source: mapped, not created
    assert "projector.0.bias" in loaded.report.mapped.values()


def test_barlowtwins_full_reports_every_bias_free_projector_linear(tmp_path, layouts):
    path = tmp_path / "checkpoint.pth"
    torch.save(barlowtwins_full_release(_backbone(layouts), BARLOW_SIZES), path)
    loaded = load_checkpoint(path)
    expected = _bias_free(barlowtwins_projector(BARLOW_SIZES))
    assert expected == ["projector.0.bias", "projector.3.bias", "projector.6.bias"]
    assert loaded.format == "barlowtwins_full"
    assert sorted(loaded.report.absent_in_source) == expected
    assert all(torch.count_nonzero(loaded.state_dict[k]) == 0 for k in expected)
    (line,) = _frozen_lines(str(loaded.report))
    assert all(k in line for k in expected)


def test_sources_with_their_biases_report_nothing_absent(tmp_path, layouts):
    for name, raw in (
        ("swav_800ep_pretrain.pth.tar", layouts.swav_official("resnet18")),
        ("checkpoint_0099.pth.tar", layouts.simsiam_official("resnet18")),
        ("resnet50.pth", layouts.backbone_only(layouts.resnet_state("resnet18"))),
    ):
        torch.save(raw, tmp_path / name)
        loaded = load_checkpoint(tmp_path / name)
        assert loaded.report.absent_in_source == [], loaded.format
        assert not _frozen_lines(str(loaded.report)), loaded.format


def test_initialize_names_the_absent_bias_in_model_names_and_leaves_freezing_to_the_host(
    tmp_path, layouts, needs_host
):
    path = tmp_path / "resnet50_fullckpt.pth"
    torch.save(layouts.vicreg_full("resnet18"), path)
    loaded = load_checkpoint(path)
    model = layouts.build_method("vicreg", backbone="resnet18")
    report = initialize_from_checkpoint(model, loaded, strict=True)
    assert report.absent_in_source == ["projector.6.bias"]
    assert torch.count_nonzero(model.projector[6].bias) == 0
    assert model.projector[6].bias.requires_grad  # the host adapter freezes, not this function
    # backbone scope: the projector is not taken from the file, so nothing of it is absent
    backbone_only = initialize_from_checkpoint(
        layouts.build_method("vicreg", backbone="resnet18"), loaded, scope="backbone"
    )
    assert backbone_only.absent_in_source == []


def test_convert_says_it_in_one_line_and_the_converted_file_keeps_it(tmp_path, layouts):
    src = tmp_path / "resnet50_fullckpt.pth"
    torch.save(vicreg_full_release(_backbone(layouts), VICREG_SIZES), src)
    result = convert(src, tmp_path / "out")
    (line,) = _frozen_lines(summary(result))
    assert "projector.6.bias" in line and "absent in the source" in line
    ckpt = safe_torch_load(result["ckpt"])
    assert ckpt[ABSENT_RECORD_KEY] == ["projector.6.bias"]
    again = load_checkpoint(result["ckpt"])  # solo-learn layout now: the record is read back
    assert again.format == "solo"
    assert again.report.absent_in_source == ["projector.6.bias"]
    assert ABSENT_RECORD_KEY not in again.report.dropped
    (line,) = _frozen_lines(str(again.report))


def test_a_solo_checkpoint_without_the_record_has_nothing_absent(tmp_path, layouts):
    path = tmp_path / "run.ckpt"
    state = {"backbone." + k: v for k, v in _backbone(layouts).items()}
    state["projector.6.bias"] = torch.zeros(8)
    torch.save({"state_dict": state, "epoch": 3}, path)
    assert load_checkpoint(path).report.absent_in_source == []
