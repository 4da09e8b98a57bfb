"""``e2mc-plugin demo --quick`` end to end: every stage, one seed, 1 epoch of 2 batches each."""

from __future__ import annotations

import collections
import csv
import json
import math
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("solo")

_BAR = re.compile(r"\d+%\|")  # a tqdm progress-bar frame: "desc:  50%|#####     | 1/2 [...]"


def _log_lines(text: str):
    """(progress-bar frames, other non-blank lines) of a console log (bars redraw with \\r)."""
    frames = [f.strip() for f in re.split(r"[\r\n]", text) if f.strip()]
    return [f for f in frames if _BAR.search(f)], [f for f in frames if not _BAR.search(f)]


# Measured: 5 s (this test) and 7 s (the sweep below) on 2 idle cores; 4-10 min when 8 jobs share
# them. Both fit the default suite's budget on the machines it is meant for.
def test_demo_quick_end_to_end(tmp_path):
    """The CLI as a user runs it (a fresh process, progress bars on): every stage, and a log where
    each line says something once: no host warning, seed or callback line per run."""
    out = tmp_path / "demo"
    env = dict(os.environ, E2MC_HOME=str(tmp_path / "home"))
    cmd = [sys.executable, "-m", "e2mc_plugin.cli", "demo", "--quick", "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    printed = proc.stdout
    assert "top-1 accuracy" in printed and "+e2mc vs continued" in printed
    assert "[base] cache miss" in printed and "cache miss);" in printed

    bars, lines = _log_lines(proc.stdout + proc.stderr)
    assert any(b.startswith("seed 0 +e2mc (1 ep)") for b in bars)  # the progress bars stay
    repeated = {line: n for line, n in collections.Counter(lines).items() if n > 1}
    assert not repeated, f"lines printed more than once: {repeated}"
    noise = ("Seed set to", "callbacks from entry point", "WARNING:", "Warning:", "replacing")
    assert not [line for line in lines if any(n in line for n in noise)], lines

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
