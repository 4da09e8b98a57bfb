"""A pretraining stage killed, failed or stopped after some epochs goes on, in its next attempt,
from the last complete checkpoint of its earlier attempts that ran the plan's command; SIGTERM
reaches the running launcher, which writes its checkpoint before the runner exits.

The stages are bash commands of kind ``pretrain`` standing in for ``e2mc-plugin pretrain``: they
write real (tiny) PyTorch checkpoints where the launcher does (``<attempt>/ckpt/<run>/``) and
record the arguments they got, so the runner, the markers, the checkpoint checks and the result
reader run exactly as for the launcher.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch

from e2mc_plugin.reproduce import runner
from e2mc_plugin.reproduce.markers import StageFolder
from e2mc_plugin.reproduce.plan import ATTEMPT, Arg, Inputs, Plan, Settings, Stage
from e2mc_plugin.reproduce.rows import get_row
from e2mc_plugin.reproduce.runner import StageFailed, run_plan

# $1 attempt, $2 a complete checkpoint to copy, $3 a flag file; then the seed and what the
# runner appends (runtime arguments, where to go on from), recorded in got.txt.
# Writes epoch 0's checkpoint; without the flag it dies there (a kill after that checkpoint);
# with it, epoch 1's, which replaces epoch 0's as solo's Checkpointer does.
EPOCHS = """a="$1"; src="$2"; flag="$3"; shift 3
printf '%s\\n' "$@" > "$a/got.txt"
run="$a/ckpt/pretrain/0"; mkdir -p "$run"
cp "$src" "$run/x-ep=0.ckpt"
test -e "$flag" || exit 9
cp "$src" "$run/x-ep=1.ckpt" && rm "$run/x-ep=0.ckpt"
"""
# as the launcher resumed from its last epoch's checkpoint: nothing left to train, exit 0
NOTHING_LEFT = """a="$1"; src="$2"; flag="$3"; shift 3
case "$*" in *resume_from_checkpoint*) exit 0 ;; esac
run="$a/ckpt/pretrain/0"; mkdir -p "$run"; cp "$src" "$run/x-ep=1.ckpt"; exit 9
"""
# stops its runner with SIGTERM; on the forwarded signal, writes a checkpoint and exits 143
STOPPED = """a="$1"; src="$2"; flag="$3"; shift 3
printf '%s\\n' "$@" > "$a/got.txt"
trap 'mkdir -p "$a/ckpt/pretrain/0"; cp "$src" "$a/ckpt/pretrain/0/x-ep=0.ckpt"; exit 143' TERM
kill -TERM $PPID
while :; do sleep 0.05; done
"""


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "source.ckpt"
    torch.save({"epoch": 0, "global_step": 2, "state_dict": {"w": torch.ones(2)}}, path)
    return path


def _plan(script: str, source: Path, flag: Path, kind: str = "pretrain", seed: str = "31"):
    args = (Arg.of("-c"), Arg.of(script), Arg.of("_"), Arg.of(ATTEMPT), Arg.of(str(source)),
            Arg.of(str(flag)), Arg.of(f"++seed={seed}"))  # fmt: skip
    stage = Stage(id="pretrain-x", kind=kind, title="x", program="bash", args=args,
                  runtime_args=("devices=1",))  # fmt: skip
    return Plan(
        row=get_row("vicreg"),
        inputs=Inputs(Path("/i"), Path("/c"), Path("/l")),
        settings=Settings(devices=1, seeds=(31,)),
        stages=(stage,),
        measurements=(),
    )


def _run(plan: Plan, out: Path) -> list:
    lines: list = []
    run_plan(plan, out, rerun=["x"], echo=lines.append)
    return lines


def _fails(plan: Plan, out: Path) -> None:
    with pytest.raises(StageFailed, match="exit code 9"):
        _run(plan, out)


def _attempt(out: Path, k: int) -> Path:
    return out / "stages" / "pretrain-x" / f"attempt-{k}"


def _resume_arg(path: Path) -> str:
    return f"++resume_from_checkpoint='{path}'"


def test_the_next_attempt_goes_on_from_the_last_complete_checkpoint(tmp_path, source):
    out, flag = tmp_path / "out", tmp_path / "flag"
    plan = _plan(EPOCHS, source, flag)
    _fails(plan, out)
    saved = _attempt(out, 1) / "ckpt" / "pretrain" / "0" / "x-ep=0.ckpt"
    damaged = saved.with_name("x-ep=5.ckpt")  # newer, cut short (a writer without atomic saves)
    damaged.write_bytes(source.read_bytes()[:100])
    assert json.loads((_attempt(out, 1) / "command.json").read_text())["resumes_from"] is None

    flag.touch()
    lines = _run(plan, out)
    got = (_attempt(out, 2) / "got.txt").read_text().splitlines()
    assert got == ["++seed=31", "devices=1", _resume_arg(saved)]  # same command + where from
    skipped = f"        pretrain-x: skipping {damaged}: truncated or damaged"
    assert any(line.startswith(skipped) for line in lines)
    assert f"        goes on from {saved}" in lines
    assert (_attempt(out, 2) / "log.txt").read_text().startswith(f"# goes on from {saved}\n")
    record = json.loads((_attempt(out, 2) / "command.json").read_text())
    assert record["resumes_from"] == str(saved) and record["argv"][-1] == _resume_arg(saved)
    done = StageFolder(out, "pretrain-x").read_done()
    assert done.identity == plan.stages[0].identity()  # the resume is no part of the identity
    assert done.command[-1] == _resume_arg(saved) and done.attempt == "attempt-2"
    final = _attempt(out, 2) / "ckpt" / "pretrain" / "0" / "x-ep=1.ckpt"
    assert done.result == {"ckpt": str(final), "folder": str(final.parent),
                           "resumed_from": str(saved)}  # fmt: skip


def test_the_newest_attempt_with_a_checkpoint_wins_and_one_without_is_passed_over(tmp_path, source):
    out, flag = tmp_path / "out", tmp_path / "flag"
    plan = _plan(EPOCHS, source, flag)
    _fails(plan, out)
    _fails(plan, out)  # attempt 2 went on from attempt 1 and was killed after a newer checkpoint
    first, second = (_attempt(out, k) / "ckpt" / "pretrain" / "0" / "x-ep=0.ckpt" for k in (1, 2))
    os.utime(first, (1e9, 1e9))
    _attempt(out, 3).mkdir()  # killed before its launcher wrote anything
    flag.touch()
    _run(plan, out)
    assert (_attempt(out, 4) / "got.txt").read_text().splitlines()[-1] == _resume_arg(second)


def test_an_attempt_of_another_command_is_not_gone_on_from(tmp_path, source):
    out, flag = tmp_path / "out", tmp_path / "flag"
    _fails(_plan(EPOCHS, source, flag, seed="7"), out)  # another seed under the same --out
    flag.touch()
    lines = _run(_plan(EPOCHS, source, flag), out)
    assert (_attempt(out, 2) / "got.txt").read_text().splitlines() == ["++seed=31", "devices=1"]
    assert ("        pretrain-x: not going on from attempt-1: it recorded another command than "
            "this plan's (or none)") in lines  # fmt: skip
    assert "resumed_from" not in StageFolder(out, "pretrain-x").read_done().result


def test_other_stage_kinds_run_again_from_their_beginning(tmp_path, source):
    out, flag = tmp_path / "out", tmp_path / "flag"
    plan = _plan(EPOCHS, source, flag, kind="linear")  # a probe: its result needs every epoch
    _fails(plan, out)
    flag.touch()
    with pytest.raises(StageFailed):  # no metrics.json: the probe's result; the command matters
        _run(plan, out)
    assert (_attempt(out, 2) / "got.txt").read_text().splitlines() == ["++seed=31", "devices=1"]


def test_a_resumed_run_with_nothing_left_to_train_keeps_the_checkpoint_it_went_on_from(
    tmp_path, source
):
    out = tmp_path / "out"
    plan = _plan(NOTHING_LEFT, source, tmp_path / "flag")
    _fails(plan, out)
    last = _attempt(out, 1) / "ckpt" / "pretrain" / "0" / "x-ep=1.ckpt"
    _run(plan, out)
    result = StageFolder(out, "pretrain-x").read_done().result
    assert result == {"ckpt": str(last), "folder": str(last.parent), "resumed_from": str(last)}


def test_sigterm_reaches_the_launcher_whose_checkpoint_the_next_call_goes_on_from(tmp_path, source):
    out, flag = tmp_path / "out", tmp_path / "flag"
    plan = _plan(STOPPED, source, flag)
    lines: list = []
    with pytest.raises(SystemExit) as stopped:
        run_plan(plan, out, rerun=["x"], echo=lines.append)
    assert stopped.value.code == 143
    saved = _attempt(out, 1) / "ckpt" / "pretrain" / "0" / "x-ep=0.ckpt"
    assert saved.is_file()  # written by the launcher before the runner left
    assert lines[-1] == (f"SIGTERM: stage pretrain-x has no marker; the next call goes on from "
                         f"its checkpoint {saved} in a new attempt")  # fmt: skip
    assert not StageFolder(out, "pretrain-x").is_done()
    with pytest.raises(SystemExit):  # the same stand-in stops its runner again
        run_plan(plan, out, rerun=["x"], echo=lines.append)
    assert (_attempt(out, 2) / "got.txt").read_text().splitlines()[-1] == _resume_arg(saved)


def test_a_launcher_that_does_not_stop_on_sigterm_is_killed_after_the_wait(
    tmp_path, source, monkeypatch
):
    monkeypatch.setattr(runner, "STOP_WAIT_S", 1.0)
    deaf = STOPPED.replace("trap '", "trap '' TERM; : '")  # ignores SIGTERM
    plan = _plan(deaf, source, tmp_path / "flag")
    lines: list = []
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped:
        run_plan(plan, tmp_path / "out", rerun=["x"], echo=lines.append)
    assert stopped.value.code == 143
    assert lines[-1] == ("SIGTERM: stage pretrain-x has no marker and runs again from its "
                         "beginning on the next call")  # fmt: skip
    assert signal.getsignal(signal.SIGTERM) == before  # the runner's handler is given back
