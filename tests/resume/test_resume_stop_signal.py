"""StopSignals: SIGTERM and SIGUSR1 are noted, not fatal, while installed; an existing SIGUSR1
handler (a scheduler's) keeps the signal; loader workers forked meanwhile ignore them; a handler
left behind acts like the one found at install. Each case runs in a fresh interpreter, so a
signal that is not handled ends that process, never the test run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from e2mc_plugin.resume.stop_signal import exit_status, signal_name, stopped_line

PRELUDE = """
import os, signal, sys, time
from e2mc_plugin.resume.stop_signal import StopSignals
stops = StopSignals()
"""

CASES = {
    "noted": """
stops.install()
os.kill(os.getpid(), signal.SIGTERM); os.kill(os.getpid(), signal.SIGUSR1)
print("received", stops.received)
""",
    "usr1-owned": """
signal.signal(signal.SIGUSR1, lambda s, f: print("scheduler handler"))
stops.install()
os.kill(os.getpid(), signal.SIGUSR1)
print("received", stops.received)
""",
    "worker": """
stops.install()
pid = os.fork()
if pid == 0:
    os.kill(os.getpid(), signal.SIGTERM)
    os._exit(7)
_, status = os.waitpid(pid, 0)
print("worker exit", os.waitstatus_to_exitcode(status), "received", stops.received)
""",
    "uninstalled": """
stops.install(); stops.uninstall()
print("restored", signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, flush=True)
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(5)
print("still alive")
""",
    "left-behind": """
stops.install()
handler = signal.getsignal(signal.SIGTERM)
stops.uninstall()
signal.signal(signal.SIGTERM, handler)   # someone restored a snapshot taken meanwhile
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(5)
print("still alive")
""",
}


def _run(case: str):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run(
        [sys.executable, "-c", PRELUDE + CASES[case]],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    "case, code, out",
    [
        ("noted", 0, "received 15"),
        ("usr1-owned", 0, "scheduler handler\nreceived None"),
        ("worker", 0, "worker exit 7 received None"),
        ("uninstalled", -signal.SIGTERM, "restored True"),
        ("left-behind", -signal.SIGTERM, ""),
    ],
)
def test_stop_signals(case, code, out):
    res = _run(case)
    assert (res.returncode, res.stdout.strip()) == (code, out), res.stderr[-2000:]


def test_exit_status_and_the_stopped_line():
    assert (exit_status(signal.SIGTERM), exit_status(signal.SIGUSR1)) == (143, 138)
    assert signal_name(15) == "SIGTERM"
    line = stopped_line(15, "during epoch 1 (after global step 7)", "/r/a-ep=1.ckpt", "go on")
    assert line == (
        "e2mc-plugin: stopped by SIGTERM during epoch 1 (after global step 7); "
        "checkpoint /r/a-ep=1.ckpt; resume: go on"
    )
    assert "\n" not in stopped_line(10, "at the end of epoch 0", None, "checkpointing is off")
