"""Recipe-block validation (errors name the bad key and the valid choices), ``METHODS``
registration (variants, idempotent, never a silent overwrite), the class factory, the config
translation, and ``extract_features``. No training: fast."""

from __future__ import annotations

import importlib.util
import pickle

import pytest
import torch

from e2mc_plugin.testing.data import synthetic_eval_loader, synthetic_pretrain_loader
from e2mc_plugin.testing.presets import tiny_cfg

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("solo") is None, reason="needs a solo-learn host (1.0.2 or 1.0.6)"
)

E2MC = {"name": "e2mc", "beta": 1000, "gamma": 100, "mapping": "sigmoid"}


def _build(**overrides):
    from e2mc_plugin.solo import api

    return api.build_method(tiny_cfg("vicreg", **overrides))


@pytest.mark.parametrize(
    "aux,needles",
    [
        ([{"name": "e2mx"}], ["aux_losses[0].name", "'e2mx'", "e2mc", "mmcr"]),
        (
            [E2MC, {"name": "e2mc", "beta": 1, "gamma": 1, "mapping": "sigmoid", "betta": 3}],
            ["aux_losses[1]", "betta"],
        ),
        (
            [{"name": "e2mc", "beta": 1, "gamma": 1, "mapping": "sigmod"}],
            ["aux_losses[0]", "sigmod", "sigmoid"],
        ),
        ([{"beta": 1}], ["aux_losses[0].name", "missing", "e2mc"]),
        ({"name": "e2mc"}, ["aux_losses", "list"]),
        ([dict(E2MC, embedding="projectr")], ["aux_losses[0].embedding", "projectr", "projector"]),
    ],
    ids=["unknown-name", "unknown-kwarg", "bad-mapping", "no-name", "not-a-list", "bad-embedding"],
)
def test_solo_bad_aux_losses_block_names_key_and_choices(aux, needles):
    from e2mc_plugin.solo.recipe.schema import ConfigError

    with pytest.raises(ConfigError) as info:
        _build(aux_losses=aux)
    msg = str(info.value)
    for needle in needles:
        assert needle in msg, (needle, msg)


@pytest.mark.parametrize(
    "block,needles",
    [
        (
            {"pth": "/x.ckpt"},
            ["pretrained.pth", "'path'", "valid keys: path, format, strict, trusted"],
        ),
        ({"path": "/x.ckpt", "strict": "yes"}, ["pretrained.strict", "true or false"]),
        ({"format": "swav_official"}, ["pretrained.path", "missing"]),
    ],
    ids=["unknown-key", "bad-strict", "no-path"],
)
def test_solo_bad_pretrained_block_names_key(block, needles):
    from e2mc_plugin.solo.recipe.schema import ConfigError

    with pytest.raises(ConfigError) as info:
        _build(pretrained=block)
    for needle in needles:
        assert needle in str(info.value), (needle, str(info.value))


def test_solo_misspelled_or_misplaced_e2mc_linear_block_is_named():
    """``e2mc_linear`` is one of the recipe blocks: its misspellings are caught like the others'."""
    from e2mc_plugin.solo.recipe.placement import misplaced_recipe_key

    assert "did you mean 'e2mc_linear'" in misplaced_recipe_key({"e2mc_liner": {}})
    assert "did you mean 'e2mc_linear'" in misplaced_recipe_key({"E2MC-Linear": {}})
    problem = misplaced_recipe_key({"method_kwargs": {"e2mc_linear": {"backbone_lr": 0.1}}})
    assert "method_kwargs.e2mc_linear" in problem and "move it to 'e2mc_linear:'" in problem
    assert misplaced_recipe_key({"e2mc_linear": {}, "linear": 1}) is None


def test_solo_host_version_comes_from_the_one_detector():
    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.solo.host.detect import identify_host

    info = identify_host(use_env=False)
    assert compat.HOST == info and compat.HOST_VERSION == info.family


def test_solo_unknown_method_lists_valid_methods():
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.recipe.schema import ConfigError

    with pytest.raises(ConfigError, match=r"method: unknown method 'vicregg'.*vicreg"):
        api.build_method(tiny_cfg("vicregg"))


def test_solo_validated_blocks_are_normalized():
    from e2mc_plugin.attach.specs import validate_aux_losses
    from e2mc_plugin.checkpoints.recipe import PretrainedSpec
    from e2mc_plugin.solo.recipe.blocks import parse_pretrained

    assert validate_aux_losses(None) == [] and validate_aux_losses([]) == []
    ((spec, emb),) = validate_aux_losses([dict(E2MC, embedding="backbone")])
    assert emb == "backbone" and "embedding" not in spec and spec["name"] == "e2mc"
    assert parse_pretrained(None) is None and parse_pretrained({}) is None
    assert parse_pretrained("/a.ckpt") == PretrainedSpec(
        path="/a.ckpt", format=None, strict=True, trusted=False, scope="full"
    )
    assert parse_pretrained({"path": "/a.ckpt", "format": "auto"}).format is None


def test_solo_empty_aux_losses_adds_no_module_and_no_hook():
    from e2mc_plugin.solo.host import compat

    model = _build()
    assert not model._aux_groups and not hasattr(model, "aux_losses")
    assert (
        len(compat.get_backbone(model)._forward_hooks) == 0
        and len(model.projector._forward_hooks) == 0
    )
    assert not any(n.startswith("aux_losses") for n in model.state_dict())


def test_solo_embedding_key_groups_losses_by_module():
    model = _build(aux_losses=[E2MC, dict(E2MC, embedding="backbone"), {"name": "mmcr"}])
    from e2mc_plugin.solo.host import compat

    # "backbone" names the host's backbone attribute on both hosts (1.0.2: encoder)
    assert [p for p, _ in model._aux_groups] == ["projector", compat.PROFILE.backbone_attr]
    assert model._aux_groups[0][1].wants_all_views and not model._aux_groups[1][1].wants_all_views


def test_solo_learnable_params_unchanged_without_aux_parameters():
    from e2mc_plugin.solo import api

    cfg = tiny_cfg("vicreg", aux_losses=[E2MC])
    plain = api.build_method(tiny_cfg("vicreg"), wrap=False)
    wrapped = api.build_method(cfg)
    names = lambda m: [g.get("name") for g in m.learnable_params]  # noqa: E731
    assert names(plain) == names(wrapped)


def test_solo_learnable_params_include_aux_parameters():
    model = _build(aux_losses=[E2MC])
    extra = torch.nn.Parameter(torch.ones(3))
    model.aux_losses[0].register_parameter("scale", extra)
    groups = {g.get("name"): list(g["params"]) for g in model.learnable_params}
    assert groups["aux_losses"] == [extra]


def test_solo_with_aux_losses_is_cached_named_and_picklable():
    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.solo.method.wrapper import base_method_of, is_wrapped, with_aux_losses

    methods = compat.host_methods()
    cls = with_aux_losses(methods["vicreg"])
    assert cls is with_aux_losses(methods["vicreg"]) and with_aux_losses(cls) is cls
    assert (
        cls.__name__ == "VICRegWithAux"
        and is_wrapped(cls)
        and base_method_of(cls) is methods["vicreg"]
    )
    assert issubclass(cls, methods["vicreg"])
    assert pickle.loads(pickle.dumps(cls)) is cls


def test_solo_register_adds_variants_idempotently_and_never_overwrites():
    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.solo.method.registration import RegistrationError, register
    from e2mc_plugin.solo.method.wrapper import base_method_of

    host = compat.host_methods()
    table = dict(host)
    first = register(table)
    assert set(first) == {
        f"{n}_aux" for n in host if n not in ("base", "linear") and not n.endswith("_aux")
    }
    assert "base_aux" not in table and "linear_aux" not in table
    for name, cls in first.items():
        assert table[name] is cls and base_method_of(cls) is host[name[: -len("_aux")]]
    snapshot = dict(table)
    assert register(table) == first and table == snapshot  # idempotent
    table["vicreg_aux"] = host["vicreg"]  # someone else's object under our name
    with pytest.raises(RegistrationError, match="vicreg_aux"):
        register(table)
    assert table["vicreg_aux"] is host["vicreg"]
    with pytest.raises(KeyError, match="vicregg"):
        register(dict(host), only=["vicregg"])


def test_solo_register_into_host_methods_is_what_launchers_read():
    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.solo.method.registration import register

    register()
    import solo.methods

    assert solo.methods.METHODS is compat.host_methods()
    assert solo.methods.METHODS["swav_aux"].__name__ == "SwAVWithAux"


@pytest.mark.host102
def test_solo_cfg_to_kwargs_matches_102_argparse_names():
    from e2mc_plugin.solo.host.args_layout import cfg_to_kwargs

    cfg = tiny_cfg(
        "byol",
        optimizer={
            "name": "lars",
            "kwargs": {"momentum": 0.9, "eta": 0.02, "exclude_bias_n_norm": True},
        },
        **{"data.dataset": "cifar10"},
    )
    kw = cfg_to_kwargs(cfg, passthrough=("aux_losses",))
    assert kw["encoder"] == "resnet18" and kw["backbone_args"] == {
        "cifar": True,
        "zero_init_residual": False,
    }
    assert kw["optimizer"] == "sgd" and kw["lars"] is True and kw["eta_lars"] == 0.02
    assert kw["exclude_bias_n_norm"] is True and kw["extra_optimizer_args"] == {"momentum": 0.9}
    assert kw["base_tau_momentum"] == 0.99 and kw["momentum_classifier"] is False
    assert kw["proj_hidden_dim"] == 64 and kw["aux_losses"] == []


@pytest.mark.host102
def test_solo_102_swav_small_crops_crash_the_host_but_not_the_wrapper():
    """solo-learn 1.0.2 SwAV unpacks exactly two features: the host fails with small crops; the
    wrapper feeds it the large crops and handles the small ones for all-view losses."""
    from e2mc_plugin.solo import api

    cfg = tiny_cfg("swav", **{"data.num_small_crops": 2})
    plain = api.build_method(cfg, wrap=False)
    loader = synthetic_pretrain_loader(8, num_small_crops=2)
    with pytest.raises(ValueError, match="too many values to unpack"):
        api.fit(plain, loader, max_epochs=1, enable_progress_bar=False)


@pytest.mark.host106
def test_solo_106_add_and_assert_specific_cfg_records_the_block_defaults():
    from omegaconf import OmegaConf

    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.solo.method.wrapper import with_aux_losses

    cls = with_aux_losses(compat.host_methods()["vicreg"])
    cfg = OmegaConf.create(tiny_cfg("vicreg_aux"))
    del cfg["aux_losses"], cfg["pretrained"]
    out = cls.add_and_assert_specific_cfg(cfg)
    assert list(out.aux_losses) == [] and out.pretrained is None
    assert out.method_kwargs.sim_loss_weight == 25.0  # the host's own defaults/checks still ran


def test_solo_recipe_is_parsed_once_before_the_host_builds(monkeypatch):
    """Both hosts: one parse per construction, in the wrapper's ``__init__``; a bad block fails
    before the host's ``__init__`` runs (no slow model build)."""
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.solo.method import mixin
    from e2mc_plugin.solo.method.wrapper import with_aux_losses
    from e2mc_plugin.solo.recipe.schema import ConfigError

    calls = []
    real = mixin.parse_recipe
    monkeypatch.setattr(mixin, "parse_recipe", lambda cfg: calls.append(1) or real(cfg))
    aux = [{"name": "e2mc", "beta": 1.0, "gamma": 1.0, "mapping": "sigmoid"}]
    model = api.build_method(tiny_cfg("vicreg_aux", aux_losses=aux))
    assert len(calls) == 1 and len(model.aux_losses) == 1

    host = compat.host_methods()["vicreg"]
    built = []
    monkeypatch.setattr(host, "__init__", lambda self, *a, **k: built.append(1))
    with pytest.raises(ConfigError, match=r"aux_losses\[0\]\.name"):
        compat.instantiate(with_aux_losses(host), tiny_cfg("vicreg_aux", aux_losses=["nope"]))
    assert built == []


@pytest.mark.host106
def test_solo_106_variant_name_does_not_reach_the_backbone_factory(monkeypatch):
    """1.0.6 passes cfg.method to the backbone factory (ViT picks MoCo v3 / MAE variants by it)."""
    import solo.methods.base as base

    from e2mc_plugin.solo import api

    seen = []
    original = base.BaseMethod._BACKBONES["resnet18"]

    def spy(method, *args, **kwargs):
        seen.append(method)
        return original(method, *args, **kwargs)

    monkeypatch.setitem(base.BaseMethod._BACKBONES, "resnet18", spy)
    model = api.build_method(tiny_cfg("mocov3_aux"))
    assert seen == ["mocov3", "mocov3"]  # online + momentum backbone
    assert model.cfg.method == "mocov3_aux"  # what args.json / main_knn.py see


def test_solo_extract_features_frozen_eval_no_grad():
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.host import compat

    model = _build(aux_losses=[E2MC])
    model.train()
    loader = synthetic_eval_loader(12, batch_size=5)
    feats, labels = api.extract_features(model, loader)
    assert feats.shape == (12, model.features_dim) and labels.shape == (12,)
    assert not feats.requires_grad and feats.dtype == torch.float32
    assert model.training and compat.get_backbone(model).training  # mode restored
    again, _ = api.extract_features(model, synthetic_pretrain_loader(8, batch_size=4))
    assert again.shape == (8, model.features_dim)


def test_solo_pretrained_block_initializes_weights(tmp_path, monkeypatch):
    """``pretrained: {path}`` loads a host checkpoint into the built model (fresh optimizer);
    the kNN/UMAP launchers' skip switch leaves the weights alone."""
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.solo.method.wrapper import SKIP_PRETRAINED_ENV

    torch.manual_seed(1)
    source = api.build_method(tiny_cfg("vicreg"), wrap=False)
    path = tmp_path / "source.ckpt"
    torch.save({"state_dict": source.state_dict()}, path)
    torch.manual_seed(2)
    model = _build(aux_losses=[E2MC], pretrained={"path": str(path)})
    assert model.pretrained_report is not None
    src, dst = source.state_dict(), model.state_dict()
    for k in src:
        if k.startswith((compat.PROFILE.backbone_attr + ".", "projector.")):
            assert torch.equal(src[k], dst[k]), k
    monkeypatch.setenv(SKIP_PRETRAINED_ENV, "1")
    torch.manual_seed(2)
    skipped = _build(aux_losses=[E2MC], pretrained={"path": str(path)})
    assert skipped.pretrained_report is None
    w = f"{compat.PROFILE.backbone_attr}.conv1.weight"
    assert not torch.equal(skipped.state_dict()[w], src[w])
