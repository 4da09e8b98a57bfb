"""``e2mc-plugin reproduce --smoke``: every stage of the VICReg row end to end through the real
launchers on CPU, killed (SIGKILL of its process group) in the middle of a pretraining stage,
then resumed to the finished comparison with every column filled."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from launcher_env import REPO, host_checkout  # noqa: E402

KILLED = "pretrain-e2mc"
STAGES = 37  # the VICReg row with seeds 31, 32: 5 + 18 linear + 8 semi-sup + 4 iNat18 + 2 VOC07


def _command(out: Path):
    env = dict(
        os.environ,
        SOLO_LEARN_SRC=str(host_checkout()),
        OMP_NUM_THREADS="1",
        WANDB_MODE="disabled",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    return [sys.executable, "-m", "e2mc_plugin.cli", "reproduce", "--smoke", "--out", str(out)], env


def _kill_during(stage: Path, proc: subprocess.Popen, deadline: float) -> None:
    """SIGKILL the run's process group once ``stage``'s launcher has started writing its log."""
    log = stage / "attempt-1" / "log.txt"
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the smoke run ended before the stage to kill started"
        if log.is_file() and len(log.read_text(errors="replace").splitlines()) > 2:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            return
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail(f"{log} did not start within the deadline")


def _markers(out: Path) -> dict:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "stages").rglob("DONE")}


@pytest.mark.slow
@pytest.mark.host106
@pytest.mark.timeout(5400)
def test_smoke_run_killed_mid_stage_resumes_to_the_full_table(tmp_path):
    out = tmp_path / "smoke"
    cmd, env = _command(out)
    started = time.monotonic()
    with open(tmp_path / "first.log", "w") as first:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=first,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        _kill_during(out / "stages" / KILLED, proc, started + 1800)
    assert proc.returncode == -signal.SIGKILL
    stages = out / "stages"
    interrupted = [p.name for p in stages.iterdir() if not (p / "DONE").exists()]
    assert interrupted == [KILLED], (tmp_path / "first.log").read_text()[-3000:]
    finished = _markers(out)
    assert len(finished) == 4  # convert, both subsets, the continued run

    res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=5000)
    seconds = time.monotonic() - started
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    assert (
        f"resuming: 4 of {STAGES} stages are done and kept as they are; next: {KILLED}"
        in res.stdout
    )
    assert all(_markers(out)[p] == v for p, v in finished.items())  # never redone or rewritten
    assert len(_markers(out)) == STAGES
    attempts = sorted(p.name for p in (stages / KILLED).glob("attempt-*"))
    assert attempts == ["attempt-1", "attempt-2"]
    assert '"attempt": "attempt-2"' in (stages / KILLED / "DONE").read_text()

    with open(out / "comparison.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 17  # Table 1's 13 printed cells of the row, Table 2's 4
    for r in rows:
        assert r["ours_mean"] and r["paper_mean"] and r["difference"], r
        assert r["stages_done"] == r["stages_planned"], r
        if r["column"] == "voc07":  # one deterministic run, no printed error: no test possible
            assert r["within_2se"] == "n/a" and r["ours_n"] == "1"
        else:
            assert r["within_2se"] in ("yes", "no") and r["ours_se"] and r["ours_n"] == "2"
    text = (out / "comparison.md").read_text()
    assert "…" not in text and "### Criterion - continued" in text
    assert (out / "deltas.png").read_bytes()[:4] == b"\x89PNG"
    print(f"\nsmoke run with one kill and a resume: {seconds:.0f} s; last stage lines:\n"
          + "\n".join(res.stdout.splitlines()[-40:]))  # fmt: skip
