"""The host seam is data: every difference between solo-learn layouts is a field of a
``HostProfile`` chosen by the detector, and no module outside ``e2mc_plugin/solo/host/`` branches
on a host version.

The made-up third layout ``trunk`` (its own marker files, ``cls(**kwargs)`` taking the nested
config, the backbone called ``trunk``) is added by changing objects of ``solo/host/`` only (the
profile table, and the profile the adapter was given at import); the unchanged adapter then
detects it, builds a wrapped method of that layout from a recipe, loads a solo-learn checkpoint
into its ``trunk`` (``backbone.*`` keys renamed by the checkpoint layer on the profile's word),
resolves ``backbone`` / ``encoder`` recipe paths to it, and trains one real Lightning step with
aux losses on the projector and on the trunk.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from e2mc_plugin.solo.host import compat, detect, profile
from e2mc_plugin.solo.host.profile import HostProfile

PACKAGE = Path(__file__).resolve().parents[3] / "e2mc_plugin"
HOST_DIR = PACKAGE / "solo" / "host"
VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")
#: names that carry a host version (or the old yes/no switch): never in a branch outside host/
VERSION_NAMES = {"HOST_VERSION", "HOST_DIST_VERSION", "CFG_API", "family"}


def _names(node: ast.AST):
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            yield sub.id
        elif isinstance(sub, ast.Attribute):
            yield sub.attr


def _version_branches(path: Path, root: Path = PACKAGE):
    where = path.relative_to(root)
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            consts = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant)]
            if any(isinstance(v, str) and VERSION.match(v) for v in consts):
                yield f"{where}:{node.lineno} compares a version string"
        tests = [node.test] if isinstance(node, (ast.If, ast.IfExp, ast.While)) else []
        for test in tests:
            bad = sorted(VERSION_NAMES.intersection(_names(test)))
            if bad:
                yield f"{where}:{node.lineno} branches on {', '.join(bad)}"


def test_no_module_outside_host_branches_on_a_host_version():
    found = [
        problem
        for path in sorted(PACKAGE.rglob("*.py"))
        if HOST_DIR not in path.parents
        for problem in _version_branches(path)
    ]
    assert not found, found


def test_the_checker_sees_a_version_branch(tmp_path):
    """The scan above can fail: the branch shapes it exists to catch are reported."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from e2mc_plugin.solo.host import compat\n"
        "if compat.CFG_API:\n    pass\n"
        "x = 1 if compat.HOST_VERSION == '1.0.6' else 2\n"
    )
    found = list(_version_branches(sample, tmp_path))
    assert len(found) == 3, found  # the if, the conditional expression, the comparison


def test_each_supported_layout_is_one_profile_chosen_by_the_detector(tmp_path):
    for name, files in {
        "cfg": ["backbones/__init__.py", "args/pretrain.py"],
        "argparse": ["utils/backbones.py", "args/setup.py"],
    }.items():
        pkg = tmp_path / name / "solo"
        for f in files:
            (pkg / f).parent.mkdir(parents=True, exist_ok=True)
            (pkg / f).write_text("")
        info = detect.identify_host(tmp_path / name)
        assert info.profile is profile.PROFILES[name] and info.family == info.profile.family
    assert profile.CFG.backbone_attr == "backbone" and profile.ARGPARSE.backbone_attr == "encoder"
    assert compat.PROFILE is compat.HOST.profile


def _lightning_package() -> str:
    for name in ("lightning.pytorch", "pytorch_lightning"):
        try:
            __import__(name)
            return name
        except ImportError:
            continue
    pytest.skip("needs Lightning (lightning.pytorch or pytorch_lightning)")


def _third_profile() -> HostProfile:
    return HostProfile(
        layout="trunk",
        family="9.9",
        markers=("models/", "recipe.py"),
        lightning=_lightning_package(),
        constructor="kwargs",
        args_layout="nested",
        backbone_attr="trunk",
        small_crop_methods=None,
        routes_method_name=False,
        per_crop_forward=False,
        hydra_launchers=False,
    )


@pytest.fixture
def third_layout(tmp_path, monkeypatch):
    """A checkout of the made-up layout, detected through ``solo/host/`` changes only."""
    third = _third_profile()
    checkout = tmp_path / "third-host"
    (checkout / "solo" / "models").mkdir(parents=True)
    (checkout / "solo" / "recipe.py").write_text("")
    monkeypatch.setitem(profile.PROFILES, third.layout, third)  # a new layout: one entry
    info = detect.identify_host(checkout)
    monkeypatch.setattr(compat, "HOST", info)  # what compat computes when the host imports
    monkeypatch.setattr(compat, "PROFILE", info.profile)
    monkeypatch.setattr(compat, "HOST_VERSION", info.family)
    return info


def _trunk_method_class():
    pl = compat.lightning()

    class TrunkMethod(pl.LightningModule):
        """A host method of the third layout: keyword constructor, backbone named ``trunk``."""

        def __init__(self, *, features_dim: int = 8, lr: float = 0.01, **_):
            super().__init__()
            self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, features_dim))
            self.projector = nn.Linear(features_dim, 6)
            self.features_dim, self.lr = features_dim, lr
            self.num_large_crops, self.num_small_crops = 2, 0

        @property
        def learnable_params(self):
            return [
                {"name": "trunk", "params": list(self.trunk.parameters())},
                {"name": "projector", "params": list(self.projector.parameters())},
            ]

        def configure_optimizers(self):
            return torch.optim.SGD(self.learnable_params, lr=self.lr)

        def training_step(self, batch, batch_idx):
            _, crops, _ = batch
            z = [self.projector(self.trunk(x)) for x in crops]
            return (z[0] - z[1]).pow(2).mean()

    return TrunkMethod


def test_a_third_layout_needs_changes_in_host_only(third_layout, tmp_path):
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.method.wrapper import with_aux_losses
    from e2mc_plugin.testing.data import synthetic_pretrain_loader

    assert third_layout.layout == "trunk" and third_layout.family == "9.9"
    assert detect.describe_host(third_layout).startswith("trunk layout (9.9 family)")
    assert (
        compat.module_path("backbone.1") == "trunk.1" and compat.module_path("encoder") == "trunk"
    )

    torch.manual_seed(0)
    source = _trunk_method_class()()
    state = {"backbone." + k: v for k, v in source.trunk.state_dict().items()}
    state.update({"projector." + k: v for k, v in source.projector.state_dict().items()})
    ckpt = tmp_path / "run.ckpt"
    torch.save({"state_dict": state}, ckpt)

    e2mc = {"name": "e2mc", "beta": 1.0, "gamma": 1.0, "mapping": "sigmoid"}
    cfg = {
        "method": "trunk_aux",
        "features_dim": 8,
        "aux_losses": [e2mc, {"name": "vcreg", "embedding": "backbone"}],
        "pretrained": {"path": str(ckpt), "format": "solo"},
        "param_group_lr": {"encoder": 0.5},
    }
    torch.manual_seed(1)
    model = compat.instantiate(with_aux_losses(_trunk_method_class()), cfg)
    assert compat.get_backbone(model) is model.trunk
    assert [path for path, _ in model._aux_groups] == ["projector", "trunk"]
    report = model.load_pretrained()
    assert sorted(report.mapped.values()) == sorted(model.state_dict())  # every tensor, renamed
    for key, value in model.trunk.state_dict().items():
        assert torch.equal(value, state["backbone." + key]), key

    loader = synthetic_pretrain_loader(16, batch_size=8, size=4)
    trainer = api.fit(model, loader, max_epochs=1, limit_train_batches=1, enable_progress_bar=False)
    metrics = trainer.callback_metrics
    for name in ("train_aux/e2mc/entropy", "train_aux/trunk/vcreg/variance", "train_aux/loss"):
        assert torch.isfinite(metrics[name]), name
    (opt,) = trainer.optimizers
    lrs = {group["name"]: group["lr"] for group in opt.param_groups}
    assert lrs == {"trunk": 0.5, "projector": 0.01}  # param_group_lr found the trunk by its name
