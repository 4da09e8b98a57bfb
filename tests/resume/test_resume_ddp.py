"""Under DDP (2 gloo processes): every rank stops after the same batch when only one of them got
the signal, and every rank gets its own random states back from the checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from gloo_harness import assert_all_ok, run_ranks  # noqa: E402

pytestmark = pytest.mark.ddp
WORKER = Path(__file__).with_name("ddp_resume_worker.py")


def test_ranks_agree_on_a_signal_and_keep_their_own_random_states():
    results = run_ranks(WORKER, 2, timeout=120)
    assert_all_ok(results)
    for result in results:
        lines = result.output.splitlines()
        assert "AGREE None 15" in lines, result.output
        assert "AGREE_GROUP None 10" in lines, result.output
        assert "AGREE_NCCL None 10 1" in lines, result.output  # one gloo group, made once
        assert "STATES 2 True" in lines, result.output
