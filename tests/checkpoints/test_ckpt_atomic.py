"""``atomic_write``: the final name holds the old file or the complete new one, never a part.

A writer killed by SIGKILL in the middle of its write (a subprocess that writes half its bytes,
signals the test and waits to be killed) leaves the old file byte for byte; a writer that raises
leaves it too, without a temporary file; a finished write has the permissions ``open()`` gives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from e2mc_plugin.checkpoints.atomic import TEMPORARY_SUFFIX, atomic_write

HALF_THEN_WAIT = """
import sys, time
from pathlib import Path
from e2mc_plugin.checkpoints.atomic import atomic_write

def write(f):
    f.write(b"N" * 4096)
    f.flush()
    Path(sys.argv[2]).touch()   # half written: tell the test
    time.sleep(120)
    f.write(b"N" * 4096)

atomic_write(sys.argv[1], write)
"""


def test_a_writer_killed_mid_write_leaves_the_old_file_whole(tmp_path):
    target, marker = tmp_path / "run-ep=1.ckpt", tmp_path / "half"
    target.write_bytes(b"O" * 8192)
    proc = subprocess.Popen(
        [sys.executable, "-c", HALF_THEN_WAIT, str(target), str(marker)],
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the writer never started"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert target.read_bytes() == b"O" * 8192
    (left,) = [p for p in tmp_path.iterdir() if p.name.startswith(".run-ep=1.ckpt.")]
    assert left.name.endswith(TEMPORARY_SUFFIX) and left.stat().st_size == 4096
    assert not left.name.endswith(".ckpt")  # never taken for a checkpoint by a resume


def test_a_writer_that_raises_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "m.ckpt"
    target.write_bytes(b"old")

    def fail(f):
        f.write(b"new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["m.ckpt"]


def test_a_finished_write_replaces_the_file_with_open_permissions(tmp_path):
    target = tmp_path / "m.ckpt"
    target.write_bytes(b"old")
    assert atomic_write(target, lambda f: f.write(b"new")) == target
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == ["m.ckpt"]
    mask = os.umask(0)
    os.umask(mask)
    assert (target.stat().st_mode & 0o777) == (0o666 & ~mask)
