"""``e2mc-plugin reproduce --smoke``: every stage of the VICReg row end to end through the real
launchers on CPU, killed (SIGKILL of its process group) in the E2MC pretraining stage after its
first epoch's checkpoint, then resumed to the finished comparison with every column filled: the
killed stage goes on from that checkpoint (epoch 1, global step 2), not from scratch, and the
probes read the checkpoint it ends with.

``pace_pkg`` (tests/support) holds that one launcher run after epoch 1's first batch, so the kill
lands there on any machine."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from kill_env import pace_package  # noqa: E402
from launcher_env import REPO, host_checkout  # noqa: E402

KILLED = "pretrain-e2mc"
STAGES = 37  # the VICReg row with seeds 31, 32: 5 + 18 linear + 8 semi-sup + 4 iNat18 + 2 VOC07
STEPS = 2  # per smoke pretraining epoch (configs/cpu: limit_train_batches)


def _command(out: Path, pace: Path, marks: Path):
    path = [str(pace), str(REPO), os.environ.get("PYTHONPATH")]
    env = dict(
        os.environ,
        SOLO_LEARN_SRC=str(host_checkout()),
        OMP_NUM_THREADS="1",
        WANDB_MODE="disabled",
        PYTHONPATH=os.pathsep.join(filter(None, path)),
        PACE_DIR=str(marks),
        PACE_HOLD="epoch1-batch0",  # the first batch after epoch 0's checkpoint...
        PACE_HOLD_IN=f"stages/{KILLED}/attempt-1",  # ...of the first attempt of this stage
    )
    return [sys.executable, "-m", "e2mc_plugin.cli", "reproduce", "--smoke", "--out", str(out)], env


def _kill_when_held(held: Path, proc: subprocess.Popen, deadline: float) -> None:
    """SIGKILL the run's process group once the held launcher run says so."""
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the smoke run ended before the stage to kill was held"
        if held.exists():
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            return
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail(f"{held} did not appear within the deadline")


def _checkpoints(attempt: Path):
    return sorted((attempt / "ckpt").rglob("*.ckpt"))


def _markers(out: Path) -> dict:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "stages").rglob("DONE")}


@pytest.mark.slow
@pytest.mark.host106
@pytest.mark.timeout(5400)
def test_smoke_run_killed_mid_stage_resumes_to_the_full_table(tmp_path):
    out, marks = tmp_path / "smoke", tmp_path / "marks"
    marks.mkdir()
    cmd, env = _command(out, pace_package(tmp_path / "pace"), marks)
    started = time.monotonic()
    with open(tmp_path / "first.log", "w") as first:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=first,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        _kill_when_held(marks / "held", proc, started + 1800)
    assert proc.returncode == -signal.SIGKILL
    stages = out / "stages"
    interrupted = [p.name for p in stages.iterdir() if not (p / "DONE").exists()]
    assert interrupted == [KILLED], (tmp_path / "first.log").read_text()[-3000:]
    finished = _markers(out)
    assert len(finished) == 4  # convert, both subsets, the continued run
    (saved,) = _checkpoints(stages / KILLED / "attempt-1")  # epoch 0's, written at its end
    record = torch.load(saved, map_location="cpu", weights_only=True)
    assert saved.name.endswith("-ep=0.ckpt") and record["global_step"] == STEPS

    del env["PACE_HOLD"]
    res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=5000)
    seconds = time.monotonic() - started
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    assert (
        f"resuming: 4 of {STAGES} stages are done and kept as they are; next: {KILLED}"
        in res.stdout
    )
    assert f"        goes on from {saved}" in res.stdout.splitlines()
    assert all(_markers(out)[p] == v for p, v in finished.items())  # never redone or rewritten
    assert len(_markers(out)) == STAGES
    attempts = sorted(p.name for p in (stages / KILLED).glob("attempt-*"))
    assert attempts == ["attempt-1", "attempt-2"]

    # the launcher went on from epoch 0's checkpoint: it trained epoch 1 only
    resumed = stages / KILLED / "attempt-2"
    log = (resumed / "log.txt").read_text()
    said = f"e2mc-plugin pretrain: resumed from {saved} at epoch 1, global step {STEPS}"
    assert said in log.splitlines(), log[-3000:]
    (last,) = _checkpoints(resumed)
    assert last.name.endswith("-ep=1.ckpt")
    metrics = json.loads((last.parent / "metrics.json").read_text())
    assert metrics["epoch"] == 2 and metrics["global_step"] == 2 * STEPS  # as a run never killed
    assert metrics["resumed_from"] == {"checkpoint": str(saved), "epoch": 1, "global_step": STEPS}
    done = json.loads((stages / KILLED / "DONE").read_text())
    assert done["attempt"] == "attempt-2" and done["result"]["ckpt"] == str(last)
    assert done["result"]["resumed_from"] == str(saved)
    assert done["command"][-1] == f"++resume_from_checkpoint='{saved}'"
    probe = json.loads((stages / "linear-1pct-e2mc-s31" / "DONE").read_text())
    assert f"pretrained_feature_extractor='{last}'" in probe["command"]  # what the probes read

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
    head = [line for line in log.splitlines() if line.startswith(("# ", "e2mc-plugin", "  "))]
    print(f"\nsmoke run with one kill and a resume: {seconds:.0f} s; the resumed stage's log:\n"
          + "\n".join(head) + "\nlast stage lines:\n"
          + "\n".join(res.stdout.splitlines()[-40:]))  # fmt: skip
