"""bench/bench_gpu_step.py at toy size on the CPU reports every variant (no timing limits)."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AUX = ("e2mc", "vcreg", "auh", "mmcr")


@pytest.mark.timeout(900)
def test_toy_run_reports_every_row_with_finite_ratios(tmp_path):
    out = tmp_path / "rows.json"
    cmd = [sys.executable, "bench/bench_gpu_step.py", "--toy", "--device", "cpu", "--threads", "1"]
    cmd += ["--rounds", "1", "--steps", "1", "--warmup", "0", "--json", str(out)]
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=840,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert {"A", "B"} <= set(rows)  # + "V" (the ViT step) where solo-learn main is present
    for part, base in (("A", "none"), ("B", "wrapped, aux_losses: []")):
        labels = [r["variant"] for r in rows[part]]
        assert base in labels
        for name in AUX:
            assert any(label.startswith(name) or f", {name}" in label for label in labels), name
        for r in rows[part]:
            assert math.isfinite(r["ratio"]) and r["ratio"] > 0 and r["steps"] >= 1, r
            assert r["variant"] in proc.stdout  # the printed table has the row too
        assert next(r for r in rows[part] if r["variant"] == base)["ratio"] == 1.0
    labels_a = [r["variant"] for r in rows["A"]]
    assert "e2mc plain Algorithm 1" in labels_a and "mmcr 8 views (defaults)" in labels_a
    assert "e2mc check_finite=False" in labels_a
    assert "plain host class" in [r["variant"] for r in rows["B"]]
