"""``e2mc-plugin pretrain -m aux_losses.0.beta=10,100,1000``: a hydra multirun through the
plugin's launcher (host 1.0.6, CPU, a tiny recipe), then ``e2mc-plugin report`` on its runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

RECIPE = """
defaults:
  - _self_
  - override hydra/hydra_logging: disabled
  - override hydra/job_logging: disabled
hydra:
  output_subdir: null
  run: {dir: .}
  sweep: {dir: multirun, subdir: "${hydra.job.num}"}
name: sweep-vicreg-e2mc
method: vicreg_aux
aux_losses:
  - {name: e2mc, beta: 1000, gamma: 100, mapping: sigmoid}
backbone: {name: resnet18}
method_kwargs:
  {proj_hidden_dim: 16, proj_output_dim: 16, sim_loss_weight: 25.0, var_loss_weight: 25.0,
   cov_loss_weight: 1.0}
data: {dataset: custom, train_path: TRAIN, val_path: null, format: image_folder, num_workers: 0}
augmentations:
  - rrc: {enabled: True, crop_min_scale: 0.5, crop_max_scale: 1.0}
    color_jitter: {prob: 0.0, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1}
    grayscale: {prob: 0.0}
    gaussian_blur: {prob: 0.0}
    solarization: {prob: 0.0}
    equalization: {prob: 0.0}
    horizontal_flip: {prob: 0.5}
    crop_size: 32
    num_crops: 2
optimizer: {name: sgd, batch_size: 8, lr: 0.01, classifier_lr: 0.1, weight_decay: 1e-5}
scheduler: {name: none}
checkpoint: {enabled: True, dir: trained_models, frequency: 1}
auto_resume: {enabled: False}
wandb: {enabled: False}
max_epochs: 1
limit_train_batches: 1
num_sanity_val_steps: 0
enable_progress_bar: False
"""


def _checkout() -> Path:
    src = os.environ.get("SOLO_LEARN_SRC")
    if src:
        return Path(src)
    import solo

    root = Path(solo.__file__).resolve().parent.parent
    if not (root / "main_pretrain.py").is_file():
        pytest.skip("no solo-learn checkout: set SOLO_LEARN_SRC")
    return root


def _image_folder(root: Path, classes: int, per_class: int) -> Path:
    from PIL import Image

    g = torch.Generator().manual_seed(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            img = (torch.rand(32, 32, 3, generator=g) * 255).to(torch.uint8).numpy()
            Image.fromarray(img).save(root / f"class{c}" / f"{i}.png")
    return root


@pytest.mark.slow
@pytest.mark.host106
def test_report_pretrain_multirun_over_beta_then_report(tmp_path):
    src = _checkout()
    train = _image_folder(tmp_path / "train", classes=2, per_class=8)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "sweep.yaml").write_text(RECIPE.replace("TRAIN", str(train)))
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
