"""Parts for the runner's tests (run in the runner's child processes through PYTHONPATH): one that
passes, one that fails, one that raises, one whose process dies, one that outlives its limit with
a child of its own."""

import os
import subprocess
import sys
import time

from e2mc_plugin.gpucheck.result import FAIL, PASS, PartResult


def env_ok(ctx):
    return PartResult(PASS, "fake node", data={"device": "Fake GPU", "date": "today"})


def env_bad(ctx):
    return PartResult(FAIL, "no CUDA device")


def passing(ctx):
    rows = [{"loss": "e2mc", "error": 1.5e-6, "ok": True}]
    return PartResult(PASS, "1 of 1 within tolerance", ["loss", "error", "ok"], rows, ["a note"])


def failing(ctx):
    return PartResult(FAIL, "1 hidden sync", ["where"], [{"where": "x.py:1 | f"}])


def raising(ctx):
    raise RuntimeError("boom in the part")


def dying(ctx):
    print("about to die", flush=True)
    os._exit(3)


def sleeping(ctx):
    """Starts a grandchild that writes its pid, then outlives the part's limit."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    (ctx.work / "grandchild.pid").write_text(str(child.pid))
    time.sleep(120)
