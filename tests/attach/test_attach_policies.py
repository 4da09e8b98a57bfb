"""One policy per fact, in the host-neutral core, served to both hosts: the ``aux_losses`` schema
(the same spec gives the same error through ``attach_aux_losses`` and solo-learn's recipe
parser), the resume check (one error type, the same message but for how each host's users
override it), the unknown-module error, and when the deferred finiteness check runs."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from e2mc_plugin.attach import (  # noqa: E402
    AUX_RECORD_KEY,
    ConfigError,
    check_after_batch,
    check_resume,
    parse_aux_losses,
    resolve_module,
)

E2MC = {"name": "e2mc", "beta": 2.0, "gamma": 3.0, "mapping": "sigmoid"}
BAD_SPECS = [
    [{"name": "e2mx"}],
    [{"name": "e2mc", "beta": 1.0}],
    [dict(E2MC, mapping="cube")],
    [{"beta": 1.0}],
    {"name": "e2mc"},
    [dict(E2MC, embedding="")],
]
needs_solo = pytest.mark.skipif(
    importlib.util.find_spec("solo") is None, reason="needs a solo-learn host (1.0.2 or 1.0.6)"
)


def _error(call, *args, **kwargs) -> str:
    with pytest.raises(ConfigError) as err:
        call(*args, **kwargs)
    return str(err.value)


@pytest.mark.parametrize("specs", BAD_SPECS)
def test_a_bad_spec_is_the_same_error_on_any_lightning_module(specs):
    lm = pytest.importorskip("lightning_models")
    from e2mc_plugin.lightning import attach_aux_losses

    core = _error(parse_aux_losses, specs)
    assert core.startswith("aux_losses")
    got = _error(attach_aux_losses, lm.TinySSL(), specs, embedding="projection_head")
    assert got == core


@needs_solo
@pytest.mark.parametrize("specs", BAD_SPECS)
def test_a_bad_spec_is_the_same_error_in_a_solo_learn_recipe(specs):
    from e2mc_plugin.solo.recipe.parse import parse_recipe

    assert _error(parse_recipe, {"aux_losses": specs}) == _error(parse_aux_losses, specs)


def test_attach_aux_losses_reads_the_entry_embedding_key_of_the_schema():
    lm = pytest.importorskip("lightning_models")
    from e2mc_plugin.lightning import attach_aux_losses

    spec = dict(E2MC, embedding="projection_head")  # the module it attaches: accepted
    model = attach_aux_losses(lm.TinySSL(), [spec], embedding="projection_head")
    assert model.e2mc_aux_losses.labels == ["e2mc"]
    msg = _error(
        attach_aux_losses,
        lm.TinySSL(),
        [E2MC, dict(E2MC, embedding="backbone")],
        embedding="projection_head",
    )
    assert msg.startswith("aux_losses[1].embedding: 'backbone'") and "projection_head" in msg


def _refusal(checkpoint, current, how) -> str:
    return _error(check_resume, checkpoint, current, override=False, how_to_override=how)


def test_the_resume_policy(caplog):
    saved = {AUX_RECORD_KEY: [E2MC]}
    check_resume(saved, [dict(E2MC)], override=False, how_to_override="x")  # same: silent
    msg = _refusal(saved, [dict(E2MC, beta=10.0)], "set resume_aux_override: true")
    assert msg == (
        "aux_losses: differs from the checkpoint being resumed (aux_losses[0].beta: 2.0 -> 10.0);"
        " restore the checkpoint's aux_losses, or set resume_aux_override: true to resume anyway"
    )
    with caplog.at_level(logging.WARNING):
        check_resume(saved, [], override=True, how_to_override="x")
        check_resume({}, [E2MC], override=False, how_to_override="x")
    warned = [r.getMessage() for r in caplog.records]
    assert "aux_losses[0]: removed" in warned[0] and "records no aux configuration" in warned[1]


def test_both_hosts_refuse_a_resume_with_the_one_policy():
    """The same checkpoint, the same current specs: the same ConfigError from the Lightning
    adapter and from solo-learn's wrapper, each naming its own way to override."""
    lm = pytest.importorskip("lightning_models")
    from e2mc_plugin.lightning import attach_aux_losses

    saved, current = {AUX_RECORD_KEY: [E2MC]}, [dict(E2MC, beta=10.0)]
    model = attach_aux_losses(lm.TinySSL(), current, embedding="projection_head")
    got = _error(model.on_load_checkpoint, dict(saved))
    assert got == _refusal(saved, current, "pass resume_aux_override=True")
    if importlib.util.find_spec("solo") is not None:
        from e2mc_plugin.solo.method.resume import check_resume as solo_check
        from e2mc_plugin.solo.recipe.parse import parse_recipe

        solo = _error(solo_check, dict(saved), parse_recipe({"aux_losses": current}))
        assert solo == _refusal(saved, current, "set resume_aux_override: true")


def test_an_unknown_module_names_the_close_and_the_valid_ones():
    lm = pytest.importorskip("lightning_models")
    model = lm.TinySSL()
    msg = _error(resolve_module, model, "projecton_head", "param_group_lr.projecton_head")
    assert msg.startswith("param_group_lr.projecton_head: TinySSL has no module 'projecton_head'")
    assert "Did you mean 'projection_head'" in msg and "Valid modules: " in msg
    assert resolve_module(model, "projection_head", "x") is model.projection_head


def test_the_finiteness_check_runs_at_log_points_only():
    calls = []
    aux = SimpleNamespace(raise_if_nonfinite=lambda: calls.append(1))
    module = SimpleNamespace(trainer=SimpleNamespace(log_every_n_steps=3))
    for batch_idx in range(7):
        check_after_batch([aux], module, batch_idx)
    assert len(calls) == 2  # after batches 2 and 5 (every third)
