"""``shard``: the per-rank split of the global-batch losses (exactness on gloo ranks; settings)."""

import sys
from pathlib import Path

import pytest

from e2mc_plugin.aux_losses import InvalidParameterError, build_aux_loss

# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from gloo_harness import assert_all_ok, run_ranks  # noqa: E402

WORKER = Path(__file__).with_name("ddp_shard_worker.py")
E2MC = {"beta": 1.0, "gamma": 1.0, "mapping": "sigmoid"}


@pytest.mark.ddp
@pytest.mark.timeout(300)
@pytest.mark.parametrize("world", [2, 3])
def test_sharded_losses_equal_unsharded_on_gloo_ranks(world):
    assert_all_ok(run_ranks(WORKER, world, timeout=240))


def test_one_process_computes_the_whole_criterion():
    loss = build_aux_loss("e2mc", gather=True, shard=True, **E2MC)
    assert loss.shard == "on" and loss.active_shard() is None


def test_auto_shards_only_losses_that_split_exactly():
    assert build_aux_loss("e2mc", gather=True, **E2MC).shard == "auto"
    mmcr = build_aux_loss("mmcr", gather=True)
    assert mmcr.shard == "auto" and not mmcr.splits_exactly and mmcr.active_shard() is None


@pytest.mark.parametrize(
    "name,kwargs,match",
    [
        (
            "mmcr",
            {"gather": True, "shard": True},
            "mmcr: shard=True, but this loss cannot be split",
        ),
        ("e2mc", {**E2MC, "shard": True}, "e2mc: shard=True needs gather=True"),
        ("e2mc", {**E2MC, "gather": True, "shard": "false"}, "e2mc: shard must be"),
        ("vcreg", {"gather": True, "shard": 1}, "vcreg: shard must be"),
    ],
)
def test_bad_shard_settings_name_the_loss_and_the_parameter(name, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        build_aux_loss(name, **kwargs)


@pytest.mark.ddp
@pytest.mark.timeout(300)
@pytest.mark.parametrize("world", [2, 3])
def test_each_sharded_term_carries_the_full_batch_value_and_gradient(world):
    """A user who weights the returned terms himself gets the full-batch gradient of each."""
    worker = Path(__file__).with_name("ddp_term_worker.py")
    assert_all_ok(run_ranks(worker, world, timeout=240))
