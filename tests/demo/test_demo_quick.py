"""``e2mc-plugin demo --quick`` end to end: every stage, one seed, 1 epoch of 2 batches each."""

from __future__ import annotations

import csv
import json
import math
import os

import pytest

pytest.importorskip("solo")


# Measured: 5 s (this test) and 7 s (the sweep below) on 2 idle cores; 4-10 min when 8 jobs share
# them. Both fit the default suite's budget on the machines it is meant for.
def test_demo_quick_end_to_end(tmp_path, capsys, monkeypatch):
    from e2mc_plugin.cli import main

    monkeypatch.setenv("E2MC_HOME", str(tmp_path / "home"))
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "top-1 accuracy" in printed and "+e2mc vs continued" in printed
    assert "[base] cache miss" in printed and "cache miss);" in printed

    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    # 3 models (base, continued, +e2mc) x 2 probes x 2 label fractions, one seed
    assert len(rows) == 12
    assert {r["model"] for r in rows} == {"base", "continued", "+e2mc"}
    assert all(0.0 <= float(r["accuracy"]) <= 1.0 for r in rows)

    with open(out / "summary.json") as f:
        summary = json.load(f)
    assert len(summary["significance"]) == 4
    for t in summary["significance"]:
        assert 0.0 < t["mcnemar"]["pvalue"] <= 1.0 and 0.0 < t["permutation"]["pvalue"] <= 1.0
    assert summary["timings"]["total_s"] > 0
    # quick: 1 epoch at the base lr, 1 at the continued lr (the cool-down)
    assert [e for e, _ in summary["base"]["curve"]] == [0, 1, 2]
    assert os.path.getsize(out / "base_curve.png") > 0
    for png in summary["diagnostics"]["pngs"]:
        assert os.path.getsize(png) > 0
    for ckpt in summary["checkpoints"].values():
        assert os.path.isfile(ckpt)


def test_demo_quick_sweep_writes_table_and_plot(tmp_path, capsys, monkeypatch):
    from e2mc_plugin.cli import main

    monkeypatch.setenv("E2MC_HOME", str(tmp_path / "home"))
    out = tmp_path / "sweep"
    argv = ["demo", "--quick", "--no-progress", "--no-diagnostics", "--sweep", "beta=1,1000"]
    assert main(argv + ["--out", str(out)]) == 0
    assert "E2MC sweep (beta" in capsys.readouterr().out
    with open(out / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    # continued, beta=1, beta=1000 x (knn, linear) x (10 %, 100 %)
    assert [r["model"] for r in rows[::4]] == ["continued", "e2mc beta=1", "e2mc beta=1000"]
    assert [r["beta"] for r in rows[::4]] == ["", "1", "1000"]
    with open(out / "results.csv") as f:
        acc = {
            (r["model"], r["probe"], r["labels"]): float(r["accuracy"]) for r in csv.DictReader(f)
        }
    for r in rows[4:]:
        key = (r["model"], r["probe"], str(float(r["labels"])))
        delta = 100 * (acc[key] - acc[("continued",) + key[1:]])
        assert math.isclose(float(r["delta_vs_continued_pts"]), delta, abs_tol=1e-3)
        assert len(r["mcnemar_p"].split(";")) == 1 and float(r["entropy_mean"]) <= 0.05
    assert os.path.getsize(out / "sweep.png") > 0
    # a second run finds the base in the cache
    assert main(argv + ["--out", str(tmp_path / "again")]) == 0
    assert "[base] cache hit" in capsys.readouterr().out
