"""Run a plan's stages in order, each as a subprocess, resuming at the first stage not done.

Per stage: skip it when its done-marker exists (after checking the marker records the same
identity), else fill its command's holes from the results of the stages it needs, run it in a
fresh attempt folder with its output in ``log.txt``, read its result and commit the marker
(:mod:`e2mc_plugin.reproduce.markers`). A stage that fails stops the run with
:class:`StageFailed`: the stage, its log, its last lines, and the two ways to rerun it alone.

The launcher runs as ``<this python> -m e2mc_plugin.cli`` (the environment of this call) in the
same process group, so stopping the group stops both; on SIGTERM the runner stops its child
first. Interrupted or killed stages have no marker and run again (from their beginning) on the
next call.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from e2mc_plugin.reproduce.markers import Done, StageFolder, write_json_atomic
from e2mc_plugin.reproduce.plan import Plan, Ref, Stage
from e2mc_plugin.reproduce.results import ResultError, read_result

__all__ = ["StageFailed", "display_command", "run_plan"]

LOG_FILE = "log.txt"
_TAIL_LINES = 15


class StageFailed(RuntimeError):
    """A stage's command failed or left no result; the message says how to rerun it alone."""

    def __init__(self, stage: Stage, message: str) -> None:
        super().__init__(message)
        self.stage = stage


def _quote(arg: str) -> str:
    """Shell quoting that keeps hydra's ``key='value'`` readable: ``"key='value'"``."""
    if "'" in arg and not any(c in arg for c in '"$`\\!'):
        return f'"{arg}"'
    return shlex.quote(arg)


def display_command(argv: Sequence[str]) -> str:
    return " ".join(_quote(a) for a in argv)


def _launcher() -> List[str]:
    """``e2mc-plugin`` when it is this Python's, else ``<python> -m e2mc_plugin.cli``."""
    found = shutil.which("e2mc-plugin")
    if found and Path(found).resolve().parent == Path(sys.executable).resolve().parent:
        return ["e2mc-plugin"]
    return [sys.executable, "-m", "e2mc_plugin.cli"]


def _tail(path: Path, n: int = _TAIL_LINES) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return "    (no log)"
    return "\n".join(f"    {line}" for line in lines) or "    (empty)"


class _Terminated(Exception):
    pass


def _on_sigterm(signum, frame):  # noqa: ARG001 - signal handler signature
    raise _Terminated()


class _Run:
    def __init__(self, plan: Plan, out: Path, rerun: Sequence[str], echo: Callable) -> None:
        self.plan, self.out, self.rerun, self.echo = plan, out, list(rerun), echo

    def folder(self, stage: Stage) -> StageFolder:
        return StageFolder(self.out, stage.id)

    def _ref(self, ref: Ref) -> str:
        folder = StageFolder(self.out, ref.stage)
        if not folder.is_done():
            raise StageFailed(
                self.plan.stage(ref.stage),
                f"stage {ref.stage} is not done yet; run it first (e2mc-plugin reproduce ... "
                f"--stage {ref.stage}, or without --stage to run every stage in order)",
            )
        result = folder.read_done().result
        if ref.key not in result:
            raise StageFailed(
                self.plan.stage(ref.stage),
                f"stage {ref.stage}'s recorded result {sorted(result)} has no {ref.key!r}, which "
                f"this plan reads; it was finished by another version of e2mc-plugin: use a new "
                "--out",
            )
        return str(result[ref.key])

    def argv(self, stage: Stage, attempt: Path) -> List[str]:
        args = [a.render(self._ref, str(attempt)) for a in stage.args]
        program = _launcher() if stage.program == "e2mc-plugin" else [stage.program]
        return [*program, *args, *stage.runtime_args]

    def _failed(self, stage: Stage, attempt: Path, argv: List[str], why: str) -> StageFailed:
        log = attempt / LOG_FILE
        alone = display_command([*self.rerun, "--stage", stage.id])
        return StageFailed(
            stage,
            f"stage {stage.id} ({stage.title}) failed: {why}\n"
            f"  log: {log}\n  its last lines:\n{_tail(log)}\n"
            f"  rerun this stage alone (its marker and result are recorded):\n    {alone}\n"
            f"  or its command, in its folder:\n"
            f"    cd {shlex.quote(str(attempt))} && {display_command(argv)}\n"
            "  then the same reproduce command without --stage continues with the next stages",
        )

    def run_stage(self, stage: Stage, index: int) -> None:
        folder = self.folder(stage)
        started = time.monotonic()
        for ref in (r for a in stage.args for r in a.refs()):
            self._ref(ref)  # every stage it reads is done, before an attempt folder is made
        attempt = folder.new_attempt()
        argv = self.argv(stage, attempt)
        write_json_atomic(attempt / "command.json", {"argv": argv, "cwd": str(attempt)})
        self.echo(f"[{index + 1:>2}/{len(self.plan.stages)}] {stage.id}: {stage.title}")
        self.echo(f"        log: {attempt / LOG_FILE}")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(attempt / LOG_FILE, "w") as log:
            log.write(f"$ cd {attempt} && {display_command(argv)}\n\n")
            log.flush()
            child = subprocess.Popen(
                argv, cwd=attempt, stdout=log, stderr=subprocess.STDOUT, env=env
            )
            try:
                code = child.wait()
            finally:
                if child.poll() is None:  # interrupted: stop the launcher before leaving
                    child.terminate()
                    try:
                        child.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        child.kill()
        if code != 0:
            raise self._failed(stage, attempt, argv, f"exit code {code}")
        try:
            result = read_result(stage, attempt)
        except (ResultError, OSError, ValueError) as err:
            raise self._failed(stage, attempt, argv, str(err)) from None
        seconds = time.monotonic() - started
        folder.commit(
            Done(
                stage=stage.id,
                identity=stage.identity(),
                command=tuple(argv),
                attempt=attempt.name,
                seconds=round(seconds, 3),
                finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                result=result,
            )  # fmt: skip
        )
        shown = {k: v for k, v in result.items() if k in ("top1", "map", "images", "ckpt")}
        self.echo(
            f"        done in {seconds:.1f} s: " + ", ".join(f"{k} {v}" for k, v in shown.items())
        )


def run_plan(
    plan: Plan,
    out: Path,
    *,
    rerun: Sequence[str],
    only: Optional[str] = None,
    echo: Callable[[str], None] = print,
) -> Dict[str, int]:
    """Run every stage not done (or only ``only``); returns ``{"ran": n, "kept": m}``.

    ``rerun`` is this call's command line without ``--stage`` (for the failure message).
    Raises :class:`StageFailed` and :class:`~e2mc_plugin.reproduce.markers.StageMismatchError`.
    """
    run = _Run(plan, out, rerun, echo)
    wanted = [plan.stage(only)] if only else list(plan.stages)
    kept = [s for s in wanted if run.folder(s).is_done()]
    for stage in kept:  # every finished stage checked before anything runs
        run.folder(stage).check(stage.identity())
    todo = [s for s in wanted if s not in kept]
    if kept:
        nxt = f"next: {todo[0].id}" if todo else "nothing left to run"
        echo(f"resuming: {len(kept)} of {len(wanted)} stages are done and kept as they are; {nxt}")
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        for stage in todo:
            run.run_stage(stage, plan.stages.index(stage))
    except (_Terminated, KeyboardInterrupt) as err:
        how, code = ("SIGTERM", 143) if isinstance(err, _Terminated) else ("interrupted", 130)
        echo(f"{how}: the running stage has no marker and runs again on the next call")
        raise SystemExit(code) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    return {"ran": len(todo), "kept": len(kept)}
