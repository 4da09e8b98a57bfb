"""Continued pretraining from an official-layout SwAV file: the run starts with exactly the file's
weights (checked inside the fit, before the first optimizer step) and then trains, on both hosts.

The file is written in the official release's container and key layout (a flat dict,
``module.<resnet keys>``, ``module.projection_head.{0,1,3}.*``, ``module.prototypes.weight``), with
random weights at the tiny config's widths; loading goes through the real loader and the wrapper's
``pretrained:`` block.
"""

from __future__ import annotations

from typing import Dict

import torch

from e2mc_plugin.testing.data import synthetic_pretrain_loader
from e2mc_plugin.testing.presets import tiny_cfg

E2MC_SWAV = {"name": "e2mc", "beta": 1.0, "gamma": 25.0, "mapping": "gaussian_cdf"}


def _official_swav_file(path, cfg) -> Dict[str, torch.Tensor]:
    """Write a SwAV-release-style ``.pth.tar`` from a freshly built (other-seed) model."""
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.host import compat

    torch.manual_seed(123)
    donor = api.build_method(cfg, wrap=False).state_dict()
    prefix = compat.PROFILE.backbone_attr + "."
    official: Dict[str, torch.Tensor] = {}
    for key, value in donor.items():
        if key.startswith(prefix) and not key.startswith(prefix + "fc."):
            official["module." + key[len(prefix) :]] = value.clone()
        elif key.startswith("projector."):
            official["module.projection_head." + key[len("projector.") :]] = value.clone()
    official["module.prototypes.weight"] = torch.randn_like(donor["prototypes.weight_v"])
    torch.save(official, path)
    return official


def _solo_name(official_key: str) -> str:
    """The loader's documented map: projection_head -> projector, prototypes.weight ->
    prototypes.weight_v, the rest of ``module.`` -> the host's backbone attribute."""
    from e2mc_plugin.solo.host import compat

    key = official_key[len("module.") :]
    if key.startswith("projection_head."):
        return "projector." + key[len("projection_head.") :]
    if key == "prototypes.weight":
        return "prototypes.weight_v"
    return f"{compat.PROFILE.backbone_attr}.{key}"


def test_solo_continued_swav_starts_from_the_official_file_and_trains(tmp_path):
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.host import compat

    pl = compat.lightning()
    cfg = tiny_cfg("swav", aux_losses=[E2MC_SWAV])
    path = tmp_path / "swav_800ep_pretrain.pth.tar"
    official = _official_swav_file(path, tiny_cfg("swav"))
    expected = {_solo_name(k): v for k, v in official.items()}

    torch.manual_seed(7)  # a different seed than the file: random layers would differ
    model = api.build_method(dict(cfg, pretrained={"path": str(path), "format": "swav_official"}))

    class AtStepZero(pl.Callback):
        def __init__(self) -> None:
            self.mismatched = None

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx, *args):
            if trainer.global_step == 0 and self.mismatched is None:
                state = pl_module.state_dict()
                self.mismatched = [k for k, v in expected.items() if not torch.equal(state[k], v)]
                self.g_is_one = bool((state["prototypes.weight_g"] == 1).all())

    probe = AtStepZero()
    trainer = api.fit(
        model,
        synthetic_pretrain_loader(16, batch_size=8),
        max_epochs=1,
        callbacks=[probe],
        enable_progress_bar=False,
        seed=0,
    )
    assert probe.mismatched == [], probe.mismatched  # every mapped tensor, at step 0
    assert probe.g_is_one  # weight-norm g created as 1 (the release has a plain Linear)
    assert trainer.global_step == 2
    trained = model.state_dict()
    conv = compat.PROFILE.backbone_attr + ".conv1.weight"
    assert not torch.equal(trained[conv], expected[conv])  # and it trained from there
    metrics = trainer.callback_metrics
    assert torch.isfinite(metrics["train_aux/loss"]) and "train_aux/e2mc/entropy" in metrics
    assert any(k.startswith("classifier.") for k in model.pretrained_report.untouched)
