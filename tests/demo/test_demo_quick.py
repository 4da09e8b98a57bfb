"""``e2mc-plugin demo --quick`` end to end: every stage, one seed, 1 epoch of 2 batches each."""

from __future__ import annotations

import csv
import json
import os

import pytest

pytest.importorskip("solo")


# 35-100 s on 2 shared CPU cores (build + fit 3 models, probes, plots, 4 checkpoints of 45 MB):
# over the 60 s budget of the default suite. The stage functions are covered there instead.
@pytest.mark.slow
def test_demo_quick_end_to_end(tmp_path, capsys):
    from e2mc_plugin.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "top-1 accuracy" in printed and "+e2mc vs continued" in printed

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
    for png in summary["diagnostics"]["pngs"]:
        assert os.path.getsize(png) > 0
    for ckpt in summary["checkpoints"].values():
        assert os.path.isfile(ckpt)
