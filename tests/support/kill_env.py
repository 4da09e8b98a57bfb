"""Helpers of the kill-and-resume launcher tests: the ``pace_pkg`` test package (batch markers,
a checkpoint write that stops half way) and ``e2mc-plugin`` started in its own session, so that
the test can signal or kill it like a scheduler would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Sequence

from launcher_env import REPO, _dist_info
from pace_pkg_source import SOURCE


def pace_package(root: Path) -> Path:
    """``root`` holding ``pace_pkg`` and its dist-info (a ``callbacks_factory`` entry point)."""
    (root / "pace_pkg").mkdir(parents=True, exist_ok=True)
    (root / "pace_pkg" / "__init__.py").write_text(SOURCE)
    _dist_info(
        root,
        "pace_pkg",
        "0.0",
        {"lightning.pytorch.callbacks_factory": {"pace": "pace_pkg:factory"}},
    )
    return root


def start(args: Sequence[str], cwd: Path, src: Path, pythonpath: Sequence[Path],
          env: Dict[str, str]) -> subprocess.Popen:  # fmt: skip
    """``python -m e2mc_plugin.cli ARGS`` in a new session (stdout and stderr to files in cwd)."""
    path = [str(p) for p in pythonpath] + [str(REPO), os.environ.get("PYTHONPATH", "")]
    full = dict(os.environ, SOLO_LEARN_SRC=str(src), OMP_NUM_THREADS="1", WANDB_MODE="disabled",
                PYTHONPATH=os.pathsep.join(p for p in path if p), **env)  # fmt: skip
    out = open(cwd / "launcher.out", "w")  # noqa: SIM115 - inherited by the child
    err = open(cwd / "launcher.err", "w")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "e2mc_plugin.cli", *args], cwd=cwd, env=full,
                            stdout=out, stderr=err, start_new_session=True)  # fmt: skip


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 900) -> None:
    """Until ``path`` exists; fails if ``proc`` ends first or the time runs out."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended ({proc.returncode}) before {path.name} appeared")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"{path.name} did not appear in {timeout} s")
        time.sleep(0.1)


def finish(proc: subprocess.Popen, cwd: Path, timeout: float = 900) -> tuple:
    """``(returncode, stdout, stderr)`` of a started run once it ends (killed on a timeout)."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc.returncode, (cwd / "launcher.out").read_text(), (cwd / "launcher.err").read_text()
