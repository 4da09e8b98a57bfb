"""bench/step_goals.py: each criterion's share against its goal, and the wrapper's own share with
the criterion's time (from the raw step) taken out."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from step_goals import (  # noqa: E402
    CRITERION_GOAL,
    MMCR_GOAL,
    WRAPPER_GOAL,
    annotate_raw,
    wrapper_rows,
)


def _row(variant, ms, base_ms):
    return {"variant": variant, "median_ms": ms, "ratio": ms / base_ms}


def test_raw_rows_get_share_and_goal_verdicts():
    base = 200.0
    rows = annotate_raw(
        [
            _row("none", base, base),
            _row("e2mc (defaults)", 201.0, base),  # +0.5 %: meets 1 %
            _row("vcreg (defaults)", 203.0, base),  # +1.5 %: misses 1 %
            _row("mmcr 8 views (defaults)", 205.0, base),  # +2.5 %: meets 3 %
            _row("e2mc plain Algorithm 1", 260.0, base),  # no goal: a comparison row
        ]
    )
    by = {r["variant"]: r for r in rows}
    assert by["e2mc (defaults)"]["share"] == pytest.approx(0.005)
    assert by["e2mc (defaults)"]["goal"] == CRITERION_GOAL and by["e2mc (defaults)"]["meets_goal"]
    assert not by["vcreg (defaults)"]["meets_goal"]
    assert by["mmcr 8 views (defaults)"]["goal"] == MMCR_GOAL
    assert by["mmcr 8 views (defaults)"]["meets_goal"]
    assert "goal" not in by["none"] and "goal" not in by["e2mc plain Algorithm 1"]


def test_wrapper_share_removes_the_criterion_time_measured_in_the_raw_step():
    raw = [_row("none", 100.0, 100.0), _row("e2mc (defaults)", 104.0, 100.0)]
    wrapped = [
        _row("plain host class", 200.0, 200.0),
        _row("wrapped, aux_losses: []", 201.0, 200.0),
        _row("wrapped, e2mc", 208.0, 200.0),  # 8 ms added = 4 ms criterion + 4 ms machinery
        _row("wrapped, vcreg", 203.0, 200.0),  # no raw vcreg row: left out
    ]
    rows = {r["variant"]: r for r in wrapper_rows(raw, wrapped)}
    assert set(rows) == {"wrapped, aux_losses: []", "wrapped, e2mc"}
    assert rows["wrapped, e2mc"]["criterion_ms"] == pytest.approx(4.0)
    assert rows["wrapped, e2mc"]["wrapper_ms"] == pytest.approx(4.0)
    assert rows["wrapped, e2mc"]["share"] == pytest.approx(0.02)
    assert not rows["wrapped, e2mc"]["meets_goal"]  # 2 % > 1.5 %
    assert rows["wrapped, aux_losses: []"]["share"] == pytest.approx(0.005)
    assert rows["wrapped, aux_losses: []"]["meets_goal"] and WRAPPER_GOAL == 0.015
    assert wrapper_rows(raw, wrapped[1:]) == []  # no plain host row: nothing to compare with
