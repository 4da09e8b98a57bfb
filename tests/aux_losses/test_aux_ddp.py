"""2-process gloo run: gather=True on 2 ranks equals the single-process full-batch computation."""

import sys
from pathlib import Path

import pytest

# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from gloo_harness import assert_all_ok, run_ranks  # noqa: E402

WORKER = Path(__file__).with_name("ddp_aux_worker.py")


@pytest.mark.ddp
@pytest.mark.timeout(150)
def test_gather_on_two_ranks_equals_single_process_full_batch():
    assert_all_ok(run_ranks(WORKER, 2, timeout=120))


@pytest.mark.ddp
@pytest.mark.timeout(150)
def test_gather_with_different_batch_sizes_per_rank_is_exact():
    worker = Path(__file__).with_name("ddp_unequal_worker.py")
    assert_all_ok(run_ranks(worker, 2, timeout=120))
