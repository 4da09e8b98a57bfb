"""Property tests of the recipe parser: any value in any plugin block either parses to the typed
value written or raises ConfigError whose message starts with the block's key; a plugin block
nested anywhere under a host block is refused naming its dotted path."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("solo")

from e2mc_plugin.solo.recipe.linear import parse_linear_block  # noqa: E402
from e2mc_plugin.solo.recipe.parse import parse_recipe  # noqa: E402
from e2mc_plugin.solo.recipe.schema import (  # noqa: E402
    LINEAR_BLOCK,
    PLUGIN_TOP_LEVEL_KEYS,
    ConfigError,
)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from(["", "false", "true", "e2mc", "vcreg", "projector", "1e-3", "x.y"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "beta",
                    "gamma",
                    "path",
                    "lr",
                    "backbone_lr",
                    "lr_decay_gamma",
                    "classifier_init",
                    "head",
                    "kernel",
                    "stride",
                    "q",
                ]
            ),  # fmt: skip
            inner,
            max_size=3,
        ),
    ),
    max_leaves=8,
)
# host keys that resemble no plugin key (no close match at the parser's cutoff)
HOST_KEYS = st.text(alphabet="qxz", min_size=1, max_size=5)
BLOCKS = ("aux_losses", "param_group_lr", "resume_aux_override", "batched_crops")


@settings(max_examples=150, deadline=None)
@given(block=st.sampled_from(BLOCKS), value=VALUES)
def test_any_value_in_a_block_parses_or_names_the_block(block, value):
    try:
        recipe = parse_recipe({block: value})
    except ConfigError as err:
        assert str(err).startswith(block), (block, value, str(err))
        return
    if block == "param_group_lr":
        assert dict(recipe.param_group_lr) == ({} if value is None else value)
        assert all(lr > 0 and math.isfinite(lr) for lr in recipe.param_group_lr.values())
    elif block == "resume_aux_override":
        assert recipe.resume_aux_override is bool(value) and value in (None, True, False)
    elif block == "batched_crops":
        assert recipe.batched_crops is bool(value) and value in (None, True, False)
    else:  # aux_losses: every entry built, in order, under the name written
        entries = [] if value is None else value
        assert [a.spec["name"] for a in recipe.aux] == [
            e if isinstance(e, str) else e["name"] for e in entries
        ]


@settings(max_examples=100, deadline=None)
@given(
    path=st.lists(HOST_KEYS, min_size=1, max_size=4, unique=True),
    block=st.sampled_from(PLUGIN_TOP_LEVEL_KEYS),
    siblings=st.dictionaries(HOST_KEYS, SCALARS, max_size=3),
)
def test_a_plugin_block_nested_under_a_host_block_is_refused_naming_its_path(path, block, siblings):
    node = {block: None}
    for key in reversed(path):
        node = {**{k: v for k, v in siblings.items() if k != key}, key: node}
    with pytest.raises(ConfigError) as err:
        parse_recipe(node)
    dotted = ".".join(path + [block])
    assert str(err.value).startswith(f"{dotted}: the plugin block {block!r} belongs at the top")


@settings(max_examples=150, deadline=None)
@given(value=VALUES)
def test_any_e2mc_linear_block_parses_or_names_the_block(value):
    try:
        spec = parse_linear_block(value)
    except ConfigError as err:
        assert str(err).startswith(LINEAR_BLOCK), (value, str(err))
        return
    block = value or {}
    for key in ("backbone_lr", "lr_decay_gamma"):
        if block.get(key) is not None:
            assert 0 < getattr(spec, key) == float(block[key]) < math.inf
    assert spec.classifier_init == block.get("classifier_init")
