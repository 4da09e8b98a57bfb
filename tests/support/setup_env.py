"""Helpers of the set-up tests: a copy of this checkout the way a user gets it, and the set-up
scripts run in it with a chosen ``E2MC_HOME`` (own process group: a timeout stops pip too)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# what the scripts read from the environment; removed so the user's set-up does not leak in
_SETUP_VARS = ("SOLO_LEARN_SRC", "E2MC_SOLO_SRC_GIVEN", "SOLO_ARCHIVE", "PYTHONPATH", "PYTHON")


def copy_checkout(dest: Path) -> Path:
    """The repository's files (``git ls-files -co --exclude-standard``) copied into ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def run_script(checkout: Path, home: Path, *args: str, timeout: float = 120, **env_overrides: str):
    """``bash scripts/<args>`` in ``checkout`` with ``E2MC_HOME=home`` and no network fetch."""
    env = {k: v for k, v in os.environ.items() if k not in _SETUP_VARS}
    env.update({"E2MC_HOME": str(home), "E2MC_FETCH_SOLO": "0", **env_overrides})
    # own process group: a timeout stops the script's children (pip) too
    proc = subprocess.Popen(
        ["bash", *args], cwd=checkout, env=env, text=True, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{args} did not finish in {timeout} s:\n{err[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def bootstrap_lines(res) -> list[str]:
    return [line for line in res.stderr.splitlines() if line.startswith("[bootstrap]")]
