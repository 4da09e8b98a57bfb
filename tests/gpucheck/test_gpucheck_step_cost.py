"""Part (c) turns the bench's JSON into rows: one per criterion with a goal, named by the step it
was measured in; verdicts only on a GPU."""

from e2mc_plugin.gpucheck.step_cost import rows_of

BENCH = {
    "sizes": {"backbone": "resnet50", "vit": "vit_base", "batch_a": 256, "batch_b": 256},
    "A": [
        {"variant": "none", "median_ms": 200.0, "added_ms": 0.0, "ratio": 1.0, "share": 0.0},
        {"variant": "e2mc (defaults)", "median_ms": 203.0, "added_ms": 3.0, "iqr_ms": 0.5,
         "ratio": 1.015, "share": 0.015, "goal": 0.01, "meets_goal": False},
    ],
    "B_wrapper": [
        {"variant": "wrapped, e2mc", "wrapper_ms": 1.0, "criterion_ms": 3.0, "share": 0.004,
         "goal": 0.015, "meets_goal": True},
    ],
}  # fmt: skip


def test_rows_name_their_step_and_carry_the_goal_verdict_on_a_gpu():
    rows = rows_of(BENCH, cpu=False)
    assert [(r["step"], r["variant"], r["meets goal"]) for r in rows] == [
        ("resnet50 raw step", "e2mc (defaults)", False),
        ("solo-learn wrapper", "wrapped, e2mc", True),
    ]
    assert rows[0]["share %"] == 1.5 and rows[0]["goal %"] == 1.0 and rows[0]["added ms"] == 3.0
    assert rows[1]["added ms"] == 1.0  # the wrapper's own time, the criterion's taken out


def test_the_dry_run_shows_the_shares_without_verdicts():
    assert [r["meets goal"] for r in rows_of(BENCH, cpu=True)] == [None, None]
