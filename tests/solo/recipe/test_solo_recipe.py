"""The recipe is parsed once (each aux loss built once), misspelled / misplaced plugin blocks and
embedding modules that never see the backbone features fail at build time naming the fix."""

from __future__ import annotations

import functools
import importlib.util
import logging

import pytest
import torch

from e2mc_plugin.testing.presets import tiny_cfg

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("solo") is None, reason="needs a solo-learn host (1.0.2 or 1.0.6)"
)

E2MC = {"name": "e2mc", "beta": 1000, "gamma": 100, "mapping": "sigmoid"}


def _build(**overrides):
    from e2mc_plugin.solo import api

    return api.build_method(tiny_cfg("vicreg", **overrides))


def test_solo_one_build_constructs_each_aux_loss_once(monkeypatch):
    from e2mc_plugin.aux_losses.e2mc import E2MCLoss

    calls = []
    original = E2MCLoss.__init__

    @functools.wraps(original)  # keeps the signature the registry checks keywords against
    def counting_init(self, *args, **kwargs):
        calls.append(kwargs.get("beta"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(E2MCLoss, "__init__", counting_init)
    model = _build(aux_losses=[E2MC])
    assert calls == [1000]
    (member,) = model.aux_losses[0].losses.values()
    assert isinstance(member, E2MCLoss)  # the built loss is the one the method trains with


@pytest.mark.parametrize(
    "overrides,needles",
    [
        ({"aux_loss": [E2MC]}, ["aux_loss", "'aux_losses'"]),
        ({"auxlosses": [E2MC]}, ["auxlosses", "'aux_losses'"]),
        ({"pretrain": {"path": "/x.ckpt"}}, ["pretrain", "'pretrained'"]),
        ({"param_group_lrs": {"predictor": 0.1}}, ["param_group_lrs", "'param_group_lr'"]),
        ({"method_kwargs.aux_losses": [E2MC]}, ["method_kwargs.aux_losses", "top level"]),
        ({"method_kwargs.pretrained": "/x.ckpt"}, ["method_kwargs.pretrained", "top level"]),
        ({"method_kwargs.aux_loss": [E2MC]}, ["method_kwargs.aux_loss", "'aux_losses'"]),
    ],
    ids=["aux_loss", "auxlosses", "pretrain", "param_group_lrs", "nested", "nested-pre", "typo"],
)
def test_solo_misspelled_or_misplaced_block_names_the_right_key(overrides, needles):
    from e2mc_plugin.solo.recipe.schema import ConfigError

    with pytest.raises(ConfigError) as info:
        _build(**overrides)
    for needle in needles:
        assert needle in str(info.value), (needle, str(info.value))


def test_solo_host_keys_are_not_mistaken_for_plugin_blocks():
    from e2mc_plugin.solo.recipe.placement import misplaced_recipe_key

    cfg = tiny_cfg("vicreg", aux_losses=[E2MC])
    cfg.update(
        pretrained_feature_extractor="/x.ckpt",
        auto_resume={"enabled": False},
        resume_from_checkpoint=None,
        **{"resume_aux_override": False},
    )
    assert misplaced_recipe_key(cfg) is None


@pytest.mark.host106
def test_solo_106_misspelled_block_fails_before_the_host_builds(monkeypatch):
    """The DictConfig the launcher hands over is refused in the wrapper's ``__init__``, before the
    host's ``__init__`` (and its ``add_and_assert_specific_cfg``) runs."""
    from omegaconf import OmegaConf

    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.solo.method.wrapper import with_aux_losses
    from e2mc_plugin.solo.recipe.schema import ConfigError

    host = compat.host_methods()["vicreg"]
    cls = with_aux_losses(host)
    monkeypatch.setattr(host, "__init__", lambda self, cfg: pytest.fail("the host was built"))
    cfg = OmegaConf.create(tiny_cfg("vicreg_aux", aux_loss=[E2MC]))
    with pytest.raises(ConfigError, match=r"aux_loss: .*'aux_losses'"):
        cls(cfg)


@pytest.mark.parametrize(
    "embedding,needles",
    [
        ("projector.1", ["aux_losses[0].embedding", "'projector.1'", "BatchNorm1d"]),
        ("backbone.layer4", ["aux_losses[0].embedding", "inside the backbone"]),
        ("encoder.layer4", ["aux_losses[0].embedding", "inside the backbone"]),
    ],
)
def test_solo_embedding_that_never_sees_the_features_fails_at_build(embedding, needles):
    from e2mc_plugin.solo.recipe.schema import ConfigError

    with pytest.raises(ConfigError) as info:
        _build(aux_losses=[dict(E2MC, embedding=embedding)])
    msg = str(info.value)
    for needle in needles + ["valid embedding modules: backbone", "projector", "projector.0"]:
        assert needle in msg, (needle, msg)
    assert "projector.1," not in msg  # the BatchNorm is not offered as valid


def test_solo_embedding_check_leaves_rng_and_batchnorm_statistics_alone():
    """The build-time dry forward draws no random number and updates no running statistic:
    a model built with aux losses on projector.0 equals the one built without, tensor for
    tensor, and leaves the global RNG where the plain build leaves it."""
    torch.manual_seed(0)
    plain = _build()
    rng_plain = torch.get_rng_state()
    torch.manual_seed(0)
    wrapped = _build(aux_losses=[dict(E2MC, embedding="projector.0"), {"name": "mmcr"}])
    rng_wrapped = torch.get_rng_state()
    assert torch.equal(rng_plain, rng_wrapped)
    sa, sb = plain.state_dict(), wrapped.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert all(m.training for m in wrapped.modules())  # train/eval flags restored
    assert [p for p, _ in wrapped._aux_groups] == ["projector", "projector.0"]


def test_solo_pretrained_scope_backbone_loads_a_backbone_only_file(tmp_path, caplog):
    """``pretrained.scope: backbone`` loads a backbone-only file strictly (every backbone tensor
    equal to the file's) and warns what stayed random; the default full scope refuses it."""
    from e2mc_plugin.checkpoints import CheckpointMismatchError
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.host import compat

    torch.manual_seed(123)
    source = api.build_method(tiny_cfg("vicreg"), wrap=False)
    prefix = f"{compat.PROFILE.backbone_attr}."
    backbone = {k: v for k, v in source.state_dict().items() if k.startswith(prefix)}
    path = tmp_path / "backbone_only.ckpt"
    torch.save({"state_dict": backbone}, path)
    with caplog.at_level(logging.WARNING):
        model = _build(pretrained={"path": str(path), "scope": "backbone"})
    state = model.state_dict()
    for key, value in backbone.items():
        assert torch.equal(state[key], value), key
    assert "projector" in caplog.text  # named among the layers that stayed random
    with pytest.raises(CheckpointMismatchError, match="scope: backbone"):
        _build(pretrained={"path": str(path)})


def test_solo_bad_pretrained_scope_names_the_choices():
    from e2mc_plugin.solo.recipe.schema import ConfigError

    with pytest.raises(ConfigError, match=r"pretrained\.scope: .*'head'.*full, backbone"):
        _build(pretrained={"path": "/x.ckpt", "scope": "head"})


def _init_file(tmp_path):
    """A solo-format init file of a plain VICReg with recognisable weights, and its state."""
    from e2mc_plugin.solo import api

    torch.manual_seed(321)
    source = api.build_method(tiny_cfg("vicreg"), wrap=False)
    path = tmp_path / "init.ckpt"
    torch.save({"state_dict": source.state_dict()}, path)
    return path, source.state_dict()


def test_solo_pretrained_loads_at_the_start_of_fit_when_built_like_the_host(tmp_path):
    """Built as the host's launcher builds it (the class on its cfg, no API), the method reads
    its ``pretrained:`` file at ``setup("fit")``: training starts from the file's weights."""
    from e2mc_plugin.attach.plain import to_plain
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.solo.method.wrapper import with_aux_losses
    from e2mc_plugin.testing.data import synthetic_pretrain_loader

    path, state = _init_file(tmp_path)
    cfg = tiny_cfg("vicreg", pretrained={"path": str(path)})
    cls = with_aux_losses(compat.host_methods()["vicreg"])
    model = compat.instantiate(cls, dict(to_plain(cfg), method="vicreg_aux"))
    key = f"{compat.PROFILE.backbone_attr}.conv1.weight"
    assert model.pretrained_report is None  # nothing read at construction
    assert not torch.equal(model.state_dict()[key], state[key])
    seen = {}

    class AtStart(compat.lightning().Callback):
        def on_train_start(self, trainer, pl_module):
            seen["equal"] = torch.equal(pl_module.state_dict()[key].cpu(), state[key])

    api.fit(model, synthetic_pretrain_loader(8), max_epochs=1, limit_train_batches=1,
            callbacks=[AtStart()], enable_progress_bar=False)  # fmt: skip
    assert seen == {"equal": True} and model.pretrained_report is not None


@pytest.mark.host106
def test_solo_evaluation_does_not_reread_a_moved_init_file(tmp_path):
    """kNN / UMAP rebuild the method with ``load_from_checkpoint(strict=False, cfg=args)``: the
    init file recorded in ``args.json`` is not read again, so it may have moved."""
    from omegaconf import OmegaConf

    from e2mc_plugin.attach.plain import to_plain
    from e2mc_plugin.checkpoints.writer import write_host_checkpoint
    from e2mc_plugin.solo import api

    path, _ = _init_file(tmp_path)
    model = api.build_method(tiny_cfg("vicreg", pretrained={"path": str(path)}))
    args = to_plain(model.cfg)
    torch.manual_seed(5)
    for p in model.parameters():  # the evaluated run's own weights differ from the init file
        p.data.add_(torch.randn_like(p))
    written = write_host_checkpoint(model.state_dict(), args, tmp_path / "run", "run")
    path.unlink()
    loaded = type(model).load_from_checkpoint(
        str(written.ckpt), strict=False, cfg=OmegaConf.create(args)
    )
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
