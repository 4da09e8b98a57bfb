"""Run a plan's stages in order, each as a subprocess, resuming at the first stage not done.

Per stage: skip it when its done-marker exists (after checking the marker records the same
identity), else fill its command's holes from the results of the stages it needs, run it in a
fresh attempt folder with its output in ``log.txt``, read its result and commit the marker
(:mod:`e2mc_plugin.reproduce.markers`). A stage that fails stops the run with
:class:`StageFailed`: the stage, its log, its last lines, and the two ways to rerun it alone.

The launcher runs as ``<this python> -m e2mc_plugin.cli`` (the environment of this call) in the
same process group. A stage without a marker (killed, failed, stopped) runs again in a new
attempt: a pretraining stage goes on from the last complete checkpoint of its earlier attempts
(:mod:`e2mc_plugin.reproduce.continuation`), the others from their beginning.

Stopping: on SIGTERM (a scheduler's preemption) the runner forwards the signal to the running
launcher, which stops after its current batch with a checkpoint and exits 143, waits for it (at
most :data:`STOP_WAIT_S`; a second SIGTERM kills it at once), says in one line where
the stage will go on from, and exits 143. Ctrl-C stops the launcher and exits 130.
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

from e2mc_plugin.reproduce.commands import resume_override
from e2mc_plugin.reproduce.continuation import resume_checkpoint
from e2mc_plugin.reproduce.markers import Done, StageFolder, record_attempt
from e2mc_plugin.reproduce.plan import Plan, Ref, Stage
from e2mc_plugin.reproduce.results import ResultError, read_result

__all__ = ["STOP_WAIT_S", "StageFailed", "display_command", "run_plan"]

LOG_FILE = "log.txt"
_TAIL_LINES = 15
#: how long a launcher sent SIGTERM may take to write its checkpoint and exit
STOP_WAIT_S = 300


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


class _Stop:
    """SIGTERM noted and forwarded to the running launcher; a second one kills it."""

    def __init__(self) -> None:
        self.since: Optional[float] = None
        self.child: Optional[subprocess.Popen] = None

    def __call__(self, signum, frame) -> None:  # noqa: ARG002 - signal handler signature
        first = self.since is None
        if first:
            self.since = time.monotonic()
        self._send(signal.SIGTERM if first else signal.SIGKILL)

    def _send(self, signum: int) -> None:
        child = self.child
        if child is not None and child.returncode is None:
            try:
                os.kill(child.pid, signum)
            except ProcessLookupError:  # it has just ended
                pass

    def wait(self, child: subprocess.Popen) -> int:
        """``child``'s exit status; forwarded a SIGTERM that came before it was watched, killed
        :data:`STOP_WAIT_S` after the SIGTERM."""
        self.child = child
        try:
            if self.since is not None:
                self._send(signal.SIGTERM)
            while True:
                try:
                    return child.wait(timeout=1.0)
                except subprocess.TimeoutExpired:
                    if self.since is not None and time.monotonic() - self.since > STOP_WAIT_S:
                        child.kill()
        finally:
            self.child = None


class _Stopped(Exception):
    """The run stops: a SIGTERM came."""


class _Run:
    def __init__(self, plan: Plan, out: Path, rerun: Sequence[str], echo: Callable) -> None:
        self.plan, self.out, self.rerun, self.echo = plan, out, list(rerun), echo
        self.stop = _Stop()

    def folder(self, stage: Stage) -> StageFolder:
        return StageFolder(self.out, stage.id)

    def resume_point(self, stage: Stage) -> Optional[Path]:
        """The checkpoint the stage's next attempt goes on from (pretraining), or None."""
        return resume_checkpoint(
            self.folder(stage), stage, report=lambda line: self.echo(f"        {line}")
        )

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

    def argv(self, stage: Stage, attempt: Path, resume: Optional[Path] = None) -> List[str]:
        args = [a.render(self._ref, str(attempt)) for a in stage.args]
        program = _launcher() if stage.program == "e2mc-plugin" else [stage.program]
        extra = [resume_override(resume)] if resume is not None else []
        return [*program, *args, *stage.runtime_args, *extra]

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

    def _launch(self, attempt: Path, argv: List[str], resume: Optional[Path]) -> int:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(attempt / LOG_FILE, "w") as log:
            if resume is not None:
                log.write(f"# goes on from {resume}\n")
            log.write(f"$ cd {attempt} && {display_command(argv)}\n\n")
            log.flush()
            child = subprocess.Popen(
                argv, cwd=attempt, stdout=log, stderr=subprocess.STDOUT, env=env
            )
            try:
                return self.stop.wait(child)
            finally:
                if child.poll() is None:  # interrupted (Ctrl-C): stop the launcher first
                    child.terminate()
                    try:
                        child.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        child.kill()

    def run_stage(self, stage: Stage, index: int) -> None:
        folder = self.folder(stage)
        started = time.monotonic()
        for ref in (r for a in stage.args for r in a.refs()):
            self._ref(ref)  # every stage it reads is done, before an attempt folder is made
        self.echo(f"[{index + 1:>2}/{len(self.plan.stages)}] {stage.id}: {stage.title}")
        resume = self.resume_point(stage)
        attempt = folder.new_attempt()
        argv = self.argv(stage, attempt, resume)
        record_attempt(attempt, argv, stage.identity(), resume)
        if resume is not None:
            self.echo(f"        goes on from {resume}")
        self.echo(f"        log: {attempt / LOG_FILE}")
        code = self._launch(attempt, argv, resume)
        if code != 0 and self.stop.since is not None:
            raise _Stopped()
        if code != 0:
            raise self._failed(stage, attempt, argv, f"exit code {code}")
        try:
            result = read_result(stage, attempt, resume)
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

    def stopped_line(self, how: str, stage: Stage) -> str:
        """What the next call does with ``stage``, the one running (or next) at the signal."""
        if self.folder(stage).is_done():
            return f"{how}: stopped after stage {stage.id}; the next call goes on after it"
        resume = self.resume_point(stage)
        if resume is not None:
            return (
                f"{how}: stage {stage.id} has no marker; the next call goes on from its "
                f"checkpoint {resume} in a new attempt"
            )
        return (
            f"{how}: stage {stage.id} has no marker and runs again from its beginning on the "
            "next call"
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
    previous = signal.signal(signal.SIGTERM, run.stop)
    current: Optional[Stage] = None
    try:
        for current in todo:
            if run.stop.since is not None:
                raise _Stopped()
            run.run_stage(current, plan.stages.index(current))
            if run.stop.since is not None:  # it finished as the signal came
                raise _Stopped()
    except (_Stopped, KeyboardInterrupt) as err:
        how, code = ("SIGTERM", 143) if isinstance(err, _Stopped) else ("interrupted", 130)
        if current is not None:
            echo(run.stopped_line(how, current))
        raise SystemExit(code) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    return {"ran": len(todo), "kept": len(kept)}
