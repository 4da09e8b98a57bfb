"""Recipe keys are never ignored silently: a plugin block misspelled at the top level or nested
under a host block is refused naming the key and where it belongs; a boolean field holding a
string (``'false'``, which ``bool()`` reads as True) is refused naming the field."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import yaml

from e2mc_plugin.solo.recipe.linear import parse_linear_block
from e2mc_plugin.solo.recipe.placement import misplaced_recipe_key
from e2mc_plugin.solo.recipe.schema import ConfigError
from e2mc_plugin.solo.recipe.values import flag
from e2mc_plugin.testing.presets import tiny_cfg

E2MC = {"name": "e2mc", "beta": 1000, "gamma": 100, "mapping": "sigmoid"}
HEAD = {"name": "res5_pool_bn", "kernel": 6, "stride": 1}
CONFIGS = Path(__file__).resolve().parents[3] / "configs"
needs_host = pytest.mark.skipif(
    importlib.util.find_spec("solo") is None, reason="needs a solo-learn host (1.0.2 or 1.0.6)"
)


def _with(cfg, dotted, value):
    """``cfg`` with ``value`` at the dotted path (parents created)."""
    node = cfg
    *parents, last = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return cfg


MISPLACED = [
    ("auxiliary_losses", [E2MC], ["auxiliary_losses", "did you mean 'aux_losses'"]),
    ("auxiliary_loss", [E2MC], ["auxiliary_loss", "did you mean 'aux_losses'"]),
    ("optimizer.aux_losses", [E2MC], ["optimizer.aux_losses", "top level", "'aux_losses:'"]),
    ("data.pretrained", "/x.ckpt", ["data.pretrained", "top level", "'pretrained:'"]),
    ("optimizer.e2mc_linear", {"backbone_lr": 0.1}, ["optimizer.e2mc_linear", "top level"]),
    ("optimizer.e2mc_linaer", {"backbone_lr": 0.1}, ["optimizer.e2mc_linaer", "'e2mc_linear"]),
    ("scheduler.param_group_lr", {"predictor": 0.1}, ["scheduler.param_group_lr", "top level"]),
    ("backbone.kwargs.aux_losses", [E2MC], ["backbone.kwargs.aux_losses", "top level"]),
    ("resume_aux_overide", True, ["resume_aux_overide", "'resume_aux_override'"]),
]


@pytest.mark.parametrize("dotted,value,needles", MISPLACED, ids=[m[0] for m in MISPLACED])
def test_solo_misplaced_plugin_key_is_named_with_where_it_belongs(dotted, value, needles):
    problem = misplaced_recipe_key(_with(tiny_cfg("vicreg"), dotted, value))
    assert problem is not None
    for needle in needles:
        assert needle in problem, (needle, problem)


@needs_host
@pytest.mark.parametrize("dotted", ["auxiliary_losses", "optimizer.aux_losses", "data.pretrained"])
def test_solo_wrapped_method_refuses_a_misplaced_block(dotted):
    from e2mc_plugin.solo import api

    value = "/x.ckpt" if dotted.endswith("pretrained") else [E2MC]
    with pytest.raises(ConfigError, match=dotted.replace(".", r"\.")):
        api.build_method(_with(tiny_cfg("vicreg_aux"), dotted, value))


def test_solo_a_dictconfig_with_unresolved_values_is_walked_without_resolving():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(_with(tiny_cfg("vicreg"), "optimizer.aux_losses", [E2MC]))
    cfg.data.train_path = "???"
    cfg.name = "${oc.env:E2MC_NO_SUCH_VARIABLE}"
    assert "optimizer.aux_losses" in misplaced_recipe_key(cfg)


def _recipes():
    """The plugin's recipes and, when a host checkout is at hand, the host's own (mapping files
    only: augmentation files are lists)."""
    roots = [CONFIGS]
    host = os.environ.get("SOLO_LEARN_SRC")
    if host and (Path(host) / "scripts").is_dir():
        roots.append(Path(host) / "scripts")
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.yaml")):
            cfg = yaml.safe_load(path.read_text())
            if isinstance(cfg, dict):
                found.append(pytest.param(cfg, id=f"{root.parent.name}/{path.relative_to(root)}"))
    return found


@pytest.mark.parametrize("cfg", _recipes())
def test_solo_shipped_recipes_carry_no_misplaced_key(cfg):
    """No false alarm on the plugin's recipes (hydra.callbacks.e2mc_linear, pretrain_method,
    pretrained_feature_extractor) nor on the host's."""
    assert misplaced_recipe_key(cfg) is None


@pytest.mark.parametrize("text", ["'false'", "'true'", "'no'", "0", "1", "null", "[]"])
def test_solo_head_batchnorm_refuses_anything_but_a_bool(text):
    value = yaml.safe_load(f"v: {text}")["v"]
    with pytest.raises(ConfigError, match=r"e2mc_linear\.head\.batchnorm: expected true or false"):
        parse_linear_block({"head": dict(HEAD, batchnorm=value)})


@pytest.mark.parametrize("text,expected", [("false", False), ("true", True), ("no", False)])
def test_solo_head_batchnorm_reads_yaml_bools(text, expected):
    value = yaml.safe_load(f"v: {text}")["v"]  # YAML 1.1: no -> False
    assert parse_linear_block({"head": dict(HEAD, batchnorm=value)}).head.batchnorm is expected


def test_solo_flag_takes_numpy_bools_and_refuses_strings_naming_the_key():
    np = pytest.importorskip("numpy")
    assert flag("k", np.bool_(False)) is False
    with pytest.raises(ConfigError, match="some.key: .*'false'.*without quotes"):
        flag("some.key", "false")


@needs_host
def test_solo_resume_aux_override_string_is_refused():
    from e2mc_plugin.solo import api

    with pytest.raises(ConfigError, match="resume_aux_override: expected true or false"):
        api.build_method(tiny_cfg("vicreg_aux", aux_losses=[E2MC], resume_aux_override="false"))
