"""Run the environment and the parts, each in its own process with its own time limit, and
rewrite the report after each one: a part that fails, crashes or runs out of time becomes its
row, and the next part runs.

    python -m e2mc_plugin.gpucheck [--cpu] --out OUT_DIR [--parts a,b,d,c] [--budget S]
        [--repo ROOT] [--work DIR]

Exit status: 0 when every part passed, 1 otherwise (the report says which and why).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from e2mc_plugin.gpucheck.parts import BUDGET_CPU_S, BUDGET_GPU_S, ENVIRONMENT, PARTS, PartSpec
from e2mc_plugin.gpucheck.report import write_report
from e2mc_plugin.gpucheck.result import ERROR, PASS, SKIPPED, TIMEOUT, PartResult

#: a part is not started with less time than this left in the budget
MIN_PART_S = 20.0
LOG_TAIL_LINES = 12


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> List[str]:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line[:300] for line in text[-lines:]]


def run_one(
    spec: PartSpec, *, cpu: bool, repo: Path, work: Path, log: Path, limit: float, python: str
) -> PartResult:
    """Run one part in a child process (a new session: on timeout the whole process group,
    with any process the part started, is killed)."""
    part_work = work / spec.name
    part_work.mkdir(parents=True, exist_ok=True)
    result_file = part_work / "result.json"
    cmd = [python, "-m", "e2mc_plugin.gpucheck.child", spec.target, "--result", str(result_file)]
    cmd += ["--work", str(part_work), "--repo", str(repo), "--limit", f"{limit:.0f}"]
    cmd += ["--cpu"] if cpu else []
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, cwd=part_work, start_new_session=True
        )
        try:
            code = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return PartResult(
                TIMEOUT,
                f"stopped after its limit of {limit:.0f} s",
                notes=["last lines of its log:", *_tail(log)],
            )
    if result_file.is_file():
        return PartResult.from_dict(json.loads(result_file.read_text()))
    return PartResult(
        ERROR,
        f"its process ended with exit status {code} without a result",
        notes=["last lines of its log:", *_tail(log)],
    )


def entry(spec: PartSpec, result: PartResult, seconds: float, cpu: bool, log: Path) -> Dict:
    """A part's record in the report: its spec's texts, the time it took, its result."""
    return {
        "name": spec.name,
        "title": spec.title,
        "seconds": round(seconds, 1),
        "proves": spec.proves,
        "dry_run_cannot": spec.dry_run_cannot if cpu else None,
        "log": str(log),
        **result.to_dict(),
    }


def run_check(
    out: Path,
    *,
    cpu: bool,
    repo: Path,
    work: Path,
    parts: Sequence[PartSpec] = PARTS,
    environment: PartSpec = ENVIRONMENT,
    budget_s: Optional[float] = None,
    python: str = sys.executable,
) -> List[Dict]:
    """``environment``, then ``parts`` in order, within ``budget_s`` seconds in all; the report
    is rewritten after each. When the environment does not pass, the parts are SKIPPED with its
    reason. Returns the entries (environment first)."""
    budget = budget_s if budget_s is not None else (BUDGET_CPU_S if cpu else BUDGET_GPU_S)
    start = time.monotonic()
    entries: List[Dict] = []
    stop: Optional[str] = None
    for spec in (environment, *parts):
        log = out / "logs" / f"{spec.name}.log"
        left = budget - (time.monotonic() - start)
        t0 = time.monotonic()
        if stop:
            result = PartResult(SKIPPED, stop)
        elif left < MIN_PART_S:
            result = PartResult(SKIPPED, f"the check's time budget ({budget:.0f} s) is spent")
        else:
            limit = min(spec.limit(cpu), left)
            result = run_one(
                spec, cpu=cpu, repo=repo, work=work, log=log, limit=limit, python=python
            )
        entries.append(entry(spec, result, time.monotonic() - t0, cpu, log))
        if spec is environment and result.status != PASS:
            stop = f"the environment is not ready: {result.summary}"
        write_report(out, entries, cpu=cpu)
    return entries


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for gpu_check.json / .md and logs")
    parser.add_argument("--cpu", action="store_true", help="the dry run: tiny sizes, no CUDA")
    parser.add_argument("--parts", default=None, help="e.g. a,c (default: all, in order)")
    parser.add_argument("--budget", type=float, default=None, help="seconds for all parts")
    parser.add_argument("--repo", default=None, help="repository root (default: cwd)")
    parser.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    chosen = PARTS
    if args.parts:
        names = [n.strip() for n in args.parts.split(",") if n.strip()]
        valid = [p.name for p in PARTS]
        unknown = [n for n in names if n not in valid]
        if unknown:
            parser.error(
                f"--parts: unknown part(s) {', '.join(unknown)}; valid: {', '.join(valid)}"
            )
        chosen = tuple(p for p in PARTS if p.name in names)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    repo = Path(args.repo or os.getcwd()).resolve()
    work = Path(args.work).resolve() if args.work else Path(tempfile.mkdtemp(prefix="e2mc-gpu-"))
    try:
        entries = run_check(
            out, cpu=args.cpu, repo=repo, work=work, parts=chosen, budget_s=args.budget
        )
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(f"gpu check: {out / 'gpu_check.md'} and {out / 'gpu_check.json'}")
    for e in entries:
        print(f"  {e['title']}: {e['status']} ({e['seconds']:.0f} s) {e['summary']}")
    return 0 if all(e["status"] == PASS for e in entries) else 1
