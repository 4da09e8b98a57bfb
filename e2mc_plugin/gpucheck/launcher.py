"""Part (d): the launcher as a user runs it, on the device.

``e2mc-plugin pretrain`` runs solo-learn main's own ``main_pretrain.py`` with the recipe
``cpu/vicreg_e2mc`` (VICReg + E2MC at the paper's coefficients, resnet18, 32-px crops, batch 8)
on a small image folder at ``precision=bf16-mixed`` for 3 steps; then ``e2mc-plugin knn``
evaluates its checkpoint with the host's ``main_knn.py`` (which moves every batch to CUDA itself;
the dry run adds ``--cpu``). Both are checked by what they leave: the checkpoint at step 3,
``args.json`` saying bf16-mixed on the device, a finite ``train_aux/loss`` in ``metrics.json``,
the kNN result line and ``knn_metrics.json``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from e2mc_plugin.gpucheck.result import ERROR, Context, PartResult, verdict

STEPS = 3
RECIPE = "cpu/vicreg_e2mc"


def image_folder(root: Path, classes: int, per_class: int, seed: int) -> Path:
    """``root/c<k>/<i>.png``: random 40 x 40 RGB images (solo's ``image_folder`` format)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for c in range(classes):
        folder = root / f"c{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def _cli(args: List[str], work: Path, name: str, timeout: float) -> Tuple[int, str, float]:
    """Run ``e2mc-plugin ARGS`` (this interpreter) in ``work``; its output goes to
    ``work/<name>.log`` and its tail to this part's log."""
    t0 = time.monotonic()
    cmd = [sys.executable, "-m", "e2mc_plugin.cli", *args]
    print("$ e2mc-plugin " + " ".join(args), flush=True)
    try:
        proc = subprocess.run(
            cmd, cwd=work, capture_output=True, text=True, timeout=timeout, env=os.environ.copy()
        )
        code, text = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as err:
        code, text = -9, f"{err.stdout or ''}{err.stderr or ''}\n(stopped after {timeout:.0f} s)"
    (work / f"{name}.log").write_text(text)
    print("\n".join(text.splitlines()[-25:]), flush=True)
    return code, text, time.monotonic() - t0


def _pretrain_result(ckpt_dir: Path, cpu: bool) -> Tuple[bool, str, Optional[Path]]:
    import torch

    ckpts = sorted(ckpt_dir.rglob("*.ckpt"))
    if not ckpts:
        return False, f"no checkpoint under {ckpt_dir}", None
    run_dir = ckpts[0].parent
    args = json.loads((run_dir / "args.json").read_text())
    summary = json.loads((run_dir / "metrics.json").read_text())
    step = torch.load(ckpts[0], map_location="cpu", weights_only=False)["global_step"]
    aux = (summary.get("metrics") or {}).get("train_aux/loss")
    device = "cpu" if cpu else "gpu"
    problems = []
    if step != STEPS:
        problems.append(f"global step {step}, not {STEPS}")
    if str(args.get("precision")) != "bf16-mixed" or str(args.get("accelerator")) != device:
        problems.append(f"args.json: {args.get('accelerator')} at {args.get('precision')}")
    if not isinstance(aux, (int, float)) or not math.isfinite(aux):
        problems.append(f"train_aux/loss {aux!r} in metrics.json")
    shown = f"{aux:.4g}" if isinstance(aux, float) else aux
    said = f"step {step} on {args.get('accelerator')} at {args.get('precision')}, "
    said += f"train_aux/loss {shown}"
    return not problems, "; ".join(problems) or said, run_dir


def run(ctx: Context) -> PartResult:
    src = os.environ.get("SOLO_LEARN_SRC")
    if not src or not (Path(src) / "main_pretrain.py").is_file():
        return PartResult(ERROR, "SOLO_LEARN_SRC does not name solo-learn main's source")
    train = image_folder(ctx.work / "data" / "train", classes=4, per_class=8, seed=0)
    val = image_folder(ctx.work / "data" / "val", classes=4, per_class=2, seed=1)
    cpu_flag = ["--cpu"] if ctx.cpu else []
    device = [] if ctx.cpu else ["accelerator=gpu"]
    rows: List[Dict[str, Any]] = []
    pretrain = ["pretrain", *cpu_flag, "--solo-src", src, "--config-name", RECIPE]
    pretrain += [f"data.train_path={train}", f"checkpoint.dir={ctx.work / 'ckpt'}"]
    pretrain += [f"limit_train_batches={STEPS}", "precision=bf16-mixed", *device]
    code, text, secs = _cli(pretrain, ctx.work, "pretrain", ctx.limit_s * 0.55)
    ok, said, run_dir = (False, f"exit status {code}", None)
    if code == 0:
        ok, said, run_dir = _pretrain_result(ctx.work / "ckpt", ctx.cpu)
    rows.append(
        {"command": "e2mc-plugin pretrain", "seconds": round(secs), "ok": ok, "result": said}
    )
    if run_dir is not None:
        knn = ["knn", *cpu_flag, "--solo-src", src, "--pretrained_checkpoint_dir", str(run_dir)]
        knn += ["--dataset", "custom", "--train_data_path", str(train), "--val_data_path", str(val)]
        knn += ["--batch_size", "8", "--num_workers", "0", "--k", "3", "--temperature", "0.07"]
        knn += ["--distance_function", "cosine", "--feature_type", "backbone"]
        code, text, secs = _cli(knn, ctx.work, "knn", ctx.limit_s * 0.35)
        line = next((x for x in text.splitlines() if "Result: acc@1=" in x), None)
        written = (run_dir / "knn_metrics.json").is_file()
        ok_knn = code == 0 and line is not None and written
        said = line.strip() if line else f"exit status {code}, no result line"
        rows.append(
            {"command": "e2mc-plugin knn", "seconds": round(secs), "ok": ok_knn, "result": said}
        )
    passed = len(rows) == 2 and all(r["ok"] for r in rows)
    where = "CPU (--cpu)" if ctx.cpu else "the GPU"
    return PartResult(
        verdict(passed),
        f"pretrain ({RECIPE}, bf16-mixed, {STEPS} steps) then kNN on {where}: "
        + ("both ran and left their results" if passed else "see the rows"),
        ["command", "seconds", "ok", "result"],
        rows,
        ["images: 4 classes x 8 (train), x 2 (val), 40 x 40 px; outputs in the part's work folder"],
    )
