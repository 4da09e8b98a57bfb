"""``e2mc-plugin pretrain -m aux_losses.0.beta=10,100,1000``: a hydra multirun through the
plugin's launcher (host 1.0.6, CPU, a tiny recipe), then ``e2mc-plugin report`` on its runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from launcher_env import host_checkout, image_folder, tiny_pretrain_recipe  # noqa: E402


@pytest.mark.slow
@pytest.mark.host106
def test_report_pretrain_multirun_over_beta_then_report(tmp_path):
    src = host_checkout()
    train = image_folder(tmp_path / "train", classes=2, per_class=8, seed=0)
    (tmp_path / "recipes").mkdir()
    sweep = {"dir": "multirun", "subdir": "${hydra.job.num}"}
    (tmp_path / "recipes" / "sweep.yaml").write_text(
        tiny_pretrain_recipe(train, name="sweep-vicreg-e2mc", proj=16, hydra={"sweep": sweep})
    )
    env = dict(os.environ, SOLO_LEARN_SRC=str(src), OMP_NUM_THREADS="1", WANDB_MODE="disabled")
    cmd = [sys.executable, "-m", "e2mc_plugin.cli", "pretrain", "--cpu", "--config-path",
           "recipes", "--config-name", "sweep.yaml",
           "-m", "aux_losses.0.beta=10,100,1000"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"

    runs = sorted((tmp_path / "trained_models" / "vicreg_aux").iterdir())
    args = [json.loads((r / "args.json").read_text()) for r in runs]
    assert sorted(a["aux_losses"][0]["beta"] for a in args) == [10, 100, 1000]
    assert all(a["aux_losses"][0]["gamma"] == 100 for a in args)
    assert all(len(list(r.glob("*.ckpt"))) == 1 for r in runs)

    # the probe results a launcher writes beside each run (here: made up, known values)
    for r, a in zip(runs, args, strict=True):
        acc = 0.5 + a["aux_losses"][0]["beta"] / 10_000
        results = {"results": [{"probe": "knn", "labels": 1.0, "accuracy": acc}]}
        (r / "e2mc_results.json").write_text(json.dumps(results))
    out = tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "e2mc_plugin.cli", "report", "trained_models", "--out", str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "coefficients: beta" in proc.stdout
    lines = (out / "sweep.csv").read_text().splitlines()
    assert [line.split(",")[:2] for line in lines[1:]] == [
        ["beta=10", "10"], ["beta=100", "100"], ["beta=1000", "1000"]
    ]  # fmt: skip
    assert (out / "sweep.png").stat().st_size > 0
