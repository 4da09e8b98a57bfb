"""bench/rounds.py: every variant once per round in a rotating order, warm-up steps dropped,
and the ratio table against the named base."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from rounds import print_ratios, rotations, timed_rounds  # noqa: E402


def test_rotations_start_each_round_at_the_next_variant():
    order = list(rotations(["a", "b", "c"], 4))
    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b", "c"]


def test_timed_rounds_drop_warmup_and_keep_round_medians():
    steps = {"a": iter([[9.0, 1.0, 3.0], [9.0, 5.0, 7.0]]), "b": iter([[9.0, 2.0], [9.0, 4.0]])}
    times, medians = timed_rounds(["a", "b"], 2, 1, lambda name: next(steps[name]))
    assert times == {"a": [1.0, 3.0, 5.0, 7.0], "b": [2.0, 4.0]}
    assert medians == {"a": [2.0, 6.0], "b": [2.0, 4.0]}


def test_print_ratios_against_the_base(capsys):
    print_ratios({"a": [0.002], "b": [0.003]}, {"a": [0.002], "b": [0.0025]}, "a")
    out = capsys.readouterr().out.splitlines()
    assert "median     2.0 ms/step (x1.000)" in out[0]
    assert "median     3.0 ms/step (x1.500)" in out[1]
    assert "best round     2.5 ms/step (x1.250)" in out[1]
