"""A layer that has no bias in the pretrained source stays bias-free in effect when training
continues: zero, ``requires_grad=False`` and in no optimizer param group, through the Python API
and after a resume, on both hosts.

Files are written in the authors' layouts (``e2mc_plugin.testing.official``: VICReg's last
projector Linear, every Barlow Twins projector Linear without bias). The control is the same
weights saved as a solo-learn checkpoint without the absent-in-source record, i.e. what loading
did before: the zero bias is then an ordinary trainable parameter.
"""

from __future__ import annotations

import logging

import pytest
import torch
import torchvision

from e2mc_plugin.checkpoints import load_checkpoint
from e2mc_plugin.checkpoints.absent import ABSENT_RECORD_KEY
from e2mc_plugin.testing.data import synthetic_pretrain_loader
from e2mc_plugin.testing.official import barlowtwins_full_release, vicreg_full_release
from e2mc_plugin.testing.presets import tiny_cfg

E2MC = {"name": "e2mc", "beta": 1000, "gamma": 100, "mapping": "sigmoid"}
LR = 0.01  # the tiny preset's SGD lr: enough to move a trainable bias under E2MC (see control)

# method -> (official file writer, projector sizes [features, *mlp], extra cfg)
RELEASES = {
    "vicreg": (vicreg_full_release, [512, 64, 64, 64], {}),
    "barlow_twins": (
        barlowtwins_full_release,
        [512, 64, 64, 32],
        {"method_kwargs": {"proj_hidden_dim": 64, "proj_output_dim": 32, "lamb": 0.0051,
                           "scale_loss": 1.0}},
    ),
}  # fmt: skip


def _files(tmp_path, method):
    """(official-layout file, solo-learn copy of the same weights without the record, the
    absent names the loader reports)."""
    write, sizes, _ = RELEASES[method]
    torch.manual_seed(0)
    backbone = {
        k: v for k, v in torchvision.models.resnet18().state_dict().items() if "fc." not in k
    }
    official = tmp_path / f"{method}_official.pth"
    torch.save(write(backbone, sizes), official)
    loaded = load_checkpoint(official)
    control = tmp_path / f"{method}_solo.ckpt"
    torch.save({"state_dict": loaded.state_dict}, control)
    return official, control, loaded.report.absent_in_source


def _cfg(method, path, aux, **overrides):
    return tiny_cfg(
        method, aux_losses=aux, pretrained={"path": str(path)}, **RELEASES[method][2], **overrides
    )


def _train(cfg, epochs=2, **fit_kwargs):
    from e2mc_plugin.solo import api

    torch.manual_seed(1)
    model = api.build_method(cfg)
    trainer = api.fit(
        model,
        synthetic_pretrain_loader(16, batch_size=8),
        max_epochs=epochs,
        enable_progress_bar=False,
        seed=0,
        **fit_kwargs,
    )
    return model, trainer


def _optimized(trainer) -> set:
    return {id(p) for group in trainer.optimizers[0].param_groups for p in group["params"]}


@pytest.mark.parametrize("method", ["vicreg", "barlow_twins"])
def test_e2mc_from_an_official_file_leaves_the_absent_bias_exactly_zero(tmp_path, method, caplog):
    official, control, absent = _files(tmp_path, method)
    assert absent and all(k.startswith("projector.") for k in absent)

    with caplog.at_level(logging.WARNING, logger="e2mc_plugin"):
        model, trainer = _train(_cfg(method, official, [E2MC]))
    assert trainer.global_step == 4
    params = dict(model.named_parameters())
    for name in absent:
        assert torch.count_nonzero(params[name]) == 0, name
        assert not params[name].requires_grad, name
        assert id(params[name]) not in _optimized(trainer), name
    # every other parameter of the model is optimized
    others = {id(p) for n, p in params.items() if n not in absent and p.requires_grad}
    assert others <= _optimized(trainer)
    lines = [r.getMessage() for r in caplog.records if "kept zero, frozen" in r.getMessage()]
    assert len(lines) == 1 and all(name in lines[0] for name in absent)

    # control: the same weights without the record; E2MC moves the (trainable) last bias
    before, trainer = _train(_cfg(method, control, [E2MC]))
    last = absent[-1]
    moved = dict(before.named_parameters())[last]
    assert id(moved) in _optimized(trainer)
    assert moved.abs().max() > 1e-3, float(moved.abs().max())


def test_continued_vicreg_without_aux_is_unchanged_by_the_freeze(tmp_path):
    """VICReg's loss is shift-invariant in the embedding: its gradient for the last bias is
    zero up to rounding, so freezing it changes nothing else.

    Both runs train in float64 (``precision=64``): two float32 trainings that differ by a
    rounding-sized bias drift round differently afterwards, and how far those differences grow
    over the steps depends on the CPU's vector kernels (measured 1.6e-5 relative on AVX2/AVX-512,
    below 1e-6 with ``ATEN_CPU_CAPABILITY=default``). In float64 the same growth ends near
    1e2 * eps64 of each tensor's scale (measured 5e-14 relative over the 4 steps, on every
    kernel set), so a bound of 1e4 * eps64 * scale separates rounding from any real effect: a
    bias that moved by E2MC's 1e-3 (the control above) changes the other tensors by far more.
    The frozen bias itself is compared exactly: it stays 0.0.
    """
    official, control, absent = _files(tmp_path, "vicreg")
    frozen, _ = _train(_cfg("vicreg", official, []), precision=64)
    free, _ = _train(_cfg("vicreg", control, []), precision=64)
    a, b = frozen.state_dict(), free.state_dict()
    assert a.keys() == b.keys()
    (name,) = absent
    assert a[name].dtype == torch.float64
    assert torch.count_nonzero(a[name]) == 0
    assert b[name].abs().max() < 1e-12  # the trainable one moves by rounding only
    bound = 1e4 * torch.finfo(torch.float64).eps
    for key in a:
        if key != name and a[key].is_floating_point():
            scale = float(b[key].abs().max())
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=bound * scale, msg=key)
    trained = "projector.0.weight"
    before = load_checkpoint(official).state_dict[trained].double()
    assert (a[trained] - before).abs().max() > 1e6 * bound * float(before.abs().max())


@pytest.mark.parametrize("with_block", [True, False], ids=["recipe-unchanged", "block-removed"])
def test_a_resumed_run_keeps_the_absent_bias_frozen_and_zero(tmp_path, with_block):
    """Resumed like the launcher does (the class built from the recipe, no load at build time):
    with the recipe unchanged, or with its ``pretrained:`` block removed (the file moved), where
    only the checkpoint's record can freeze the bias. The record is applied before the optimizer
    is built, so the saved optimizer state fits and the bias stays zero."""
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.solo.method.wrapper import with_aux_losses

    official, _, absent = _files(tmp_path, "vicreg")
    cfg = _cfg("vicreg", official, [E2MC])
    model, trainer = _train(cfg, epochs=1)
    ckpt = tmp_path / "last.ckpt"
    trainer.save_checkpoint(ckpt)
    assert torch.load(ckpt, weights_only=False)[ABSENT_RECORD_KEY] == absent

    if not with_block:
        cfg = dict(cfg, pretrained=None)
        official.unlink()
    resumed = compat.instantiate(with_aux_losses(compat.host_methods()["vicreg"]), cfg)
    assert all(p.requires_grad for p in resumed.parameters())  # nothing loaded yet
    trainer = api.fit(
        resumed,
        synthetic_pretrain_loader(16, batch_size=8),
        max_epochs=3,
        enable_progress_bar=False,
        ckpt_path=str(ckpt),
    )
    assert trainer.global_step == 6  # 2 steps restored + 4 trained
    params = dict(resumed.named_parameters())
    (name,) = absent
    assert torch.count_nonzero(params[name]) == 0
    assert not params[name].requires_grad
    assert id(params[name]) not in _optimized(trainer)
    assert not torch.equal(params["projector.0.weight"], model.projector[0].weight)  # trained
