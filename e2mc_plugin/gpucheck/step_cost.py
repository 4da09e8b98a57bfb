"""Part (c): ``bench/bench_gpu_step.py`` at the goals' size, its verdicts as the part's rows.

GPU: ResNet-50 (A) and ViT-B/16 (V) raw steps at bf16, 2 x 256 crops, 224 px, and the solo-learn
wrapper (B) at the same batch, so that the wrapper's own share can be separated from the
criterion's (``bench/step_goals.py`` holds the goals and that arithmetic). 2 rounds x 5 timed
steps (+2 warm-up) per variant, interleaved: fewer than ``make bench-gpu``'s 3 x 10, to fit the
check's budget; each row carries the spread (IQR) of its steps, to read a share against it.
Two bench runs, the ViT step (V) first, then the ResNet-50 steps (A, B): a failure of one (out
of memory, the time limit) leaves the other's rows; the bench writes its JSON after each of its
parts, and what is missing is reported as not measured.

Dry run: the bench's ``--toy`` sizes on the CPU, one round: proves that every variant runs
through the same code and that the goal arithmetic is applied; the shares say nothing about a
GPU and are not judged.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

from e2mc_plugin.gpucheck.result import ERROR, FAIL, PASS, Context, PartResult

GPU_ARGS = [
    "--device",
    "cuda",
    "--rounds",
    "2",
    "--steps",
    "5",
    "--warmup",
    "2",
    "--batch-b",
    "256",
]
CPU_ARGS = ["--toy", "--device", "cpu", "--threads", "1", "--rounds", "1", "--steps", "2"]
CPU_ARGS += ["--warmup", "0"]
#: bench part -> (the sizes key naming its backbone, or a fixed name)
PARTS = {"A": "backbone", "B_wrapper": None, "V": "vit"}


def step_name(result: Dict[str, Any], part: str) -> str:
    """``resnet50 raw step``, ``vit_base raw step`` or ``solo-learn wrapper``."""
    key = PARTS[part]
    if key is None:
        return "solo-learn wrapper"
    return f"{result.get('sizes', {}).get(key, part)} raw step"


def rows_of(result: Dict[str, Any], cpu: bool) -> List[Dict[str, Any]]:
    """One row per variant with a goal, in each bench part present."""
    rows = []
    for part in PARTS:
        what = step_name(result, part)
        for r in result.get(part, []):
            if "goal" not in r:
                continue
            added = r.get("wrapper_ms", r.get("added_ms"))
            rows.append(
                {
                    "step": what,
                    "variant": r["variant"],
                    "added ms": added,
                    "IQR ms": r.get("iqr_ms"),
                    "share %": 100 * r["share"],
                    "goal %": 100 * r["goal"],
                    "meets goal": None if cpu else bool(r["meets_goal"]),
                }
            )
    return rows


def _bases(result: Dict[str, Any]) -> List[str]:
    said = []
    for part, label in (("A", "none"), ("B", "plain host class"), ("V", "none")):
        what = "plain solo-learn step" if part == "B" else step_name(result, part)
        base = next((r for r in result.get(part, []) if r["variant"] == label), None)
        if base:
            said.append(f"{what} {base['median_ms']:.1f} ms (IQR {base.get('iqr_ms', 0):.1f})")
    return said


def _bench(ctx: Context, parts: str, out, timeout: float) -> Optional[int]:
    """One bench run over ``parts`` writing ``out``; its exit status, None when stopped."""
    bench = ctx.repo / "bench" / "bench_gpu_step.py"
    cmd = [sys.executable, str(bench), *(CPU_ARGS if ctx.cpu else GPU_ARGS), "--parts", parts]
    cmd += ["--json", str(out)]
    print("$ " + " ".join(cmd), flush=True)
    try:
        return subprocess.run(cmd, cwd=ctx.repo, timeout=max(10.0, timeout)).returncode
    except subprocess.TimeoutExpired:
        return None


def run(ctx: Context) -> PartResult:
    if not (ctx.repo / "bench" / "bench_gpu_step.py").is_file():
        return PartResult(ERROR, f"bench/bench_gpu_step.py is not in {ctx.repo}")
    # two runs: a failure of one (e.g. out of memory) leaves the other's rows
    start = time.monotonic()
    vit, resnet = ctx.work / "bench_v.json", ctx.work / "bench_ab.json"
    codes = {"V": _bench(ctx, "V", vit, min(0.35 * ctx.limit_s, 150))}
    left = ctx.limit_s - (time.monotonic() - start) - 15
    codes["A,B"] = _bench(ctx, "A,B", resnet, left)
    result: Dict[str, Any] = {}
    for path in (vit, resnet):
        if path.is_file():
            loaded = json.loads(path.read_text())
            skipped = {**result.get("skipped", {}), **loaded.pop("skipped", {})}
            result.update(loaded)
            if skipped:
                result["skipped"] = skipped
    rows = rows_of(result, ctx.cpu)
    sizes = result.get("sizes", {})
    notes = [
        f"{result.get('device', '?')}, torch {result.get('torch', '?')}; {sizes.get('size')} px, "
        f"2 x {sizes.get('batch_a')} crops (wrapper: 2 x {sizes.get('batch_b')}), projector "
        f"{sizes.get('proj_dim')}, bf16"
    ] + _bases(result)
    missing = [p for p in ("A", "B", "V") if p not in result and p not in result.get("skipped", {})]
    for part, why in result.get("skipped", {}).items():
        notes.append(f"{part} skipped: {why}")
    if missing:
        said = ", ".join(
            f"{k}: {'stopped at its time limit' if c is None else f'exit status {c}'}"
            for k, c in codes.items()
        )
        notes.append(f"not measured: part(s) {', '.join(missing)} (bench runs: {said})")
    finite = all(math.isfinite(r["ratio"]) for p in ("A", "B", "V") for r in result.get(p, []))
    missed = [r for r in rows if r["meets goal"] is False]
    if ctx.cpu:
        ok = not missing and finite and bool(rows) and "skipped" not in result
        summary = f"{len(rows)} goal rows computed at toy sizes (not judged on a CPU)"
    else:
        ok = not missing and finite and not missed and "skipped" not in result
        summary = f"{len(rows) - len(missed)} of {len(rows)} shares within their goals"
        if missed:
            summary += "; missed: " + ", ".join(f"{r['variant']} ({r['step']})" for r in missed)
        if missing:
            summary += f"; not measured: {', '.join(missing)}"
    return PartResult(
        PASS if ok else FAIL,
        summary,
        ["step", "variant", "added ms", "IQR ms", "share %", "goal %", "meets goal"],
        rows,
        notes,
        {"bench": result},
    )
