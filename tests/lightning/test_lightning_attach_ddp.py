"""attach_aux_losses under Lightning DDP (2 gloo processes on CPU): with ``gather: true`` the aux
loss and the gradients (one SGD step) equal the single-process full batch, sharded or not; with
lightly's VICReg (``gather_distributed=True``) the whole loss does too."""

import importlib.util
import sys
from pathlib import Path

import pytest

# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from gloo_harness import assert_all_ok, run_ranks  # noqa: E402

WORKER = Path(__file__).with_name("ddp_attach_worker.py")


@pytest.mark.ddp
@pytest.mark.timeout(240)
def test_attached_gather_under_ddp_equals_single_process_full_batch():
    assert_all_ok(run_ranks(WORKER, 2, ["plain"], timeout=200))


@pytest.mark.ddp
@pytest.mark.timeout(240)
@pytest.mark.skipif(
    importlib.util.find_spec("lightly") is None,
    reason="needs lightly 1.6 (requirements/host-1.0.6-no-deps.txt; CI's 1.0.6 host)",
)
def test_lightly_vicreg_with_gather_under_ddp_equals_single_process_full_batch():
    assert_all_ok(run_ranks(WORKER, 2, ["lightly"], timeout=200))
