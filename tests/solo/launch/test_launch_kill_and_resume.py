"""``e2mc-plugin pretrain`` killed the ways clusters kill jobs, then run again (1.0.6, CPU).

* SIGKILL in the middle of epoch 1's checkpoint write (``pace_pkg`` makes that write stop half
  way): epoch 0's checkpoint is intact, no ``...ep=1.ckpt`` exists (only a ``.tmp`` part), and
  the same command with ``auto_resume`` goes on from epoch 0's checkpoint and ends with the very
  weights of a run that was never killed.
* SIGKILL after epoch 1's checkpoint (during epoch 2), with and without loader workers: the same
  command resumes from it and ends with the weights of the uninterrupted run.
* SIGTERM in the middle of epoch 1: exit status 143, one line naming the signal and the
  checkpoint written at that moment, and the same command resumes from that checkpoint.

Every run: 3 epochs of 2 batches (4 for the SIGTERM case) of tiny VICReg + E2MC on 32 px image
folders.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from kill_env import finish, pace_package, start, wait_for  # noqa: E402
from launcher_env import (  # noqa: E402
    cli,
    declared_entry_points,
    host_checkout,
    image_folder,
    tiny_pretrain_recipe,
)

pytestmark = [pytest.mark.slow, pytest.mark.host106]

ARGS = ["pretrain", "--cpu", "--config-path", "recipes", "--config-name", "pretrain.yaml"]
RESUME = ["auto_resume.enabled=True"]
E2MC = [{"name": "e2mc", "beta": 1.0, "gamma": 1.0, "mapping": "sigmoid"}]


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    train = image_folder(root / "data" / "train", classes=5, per_class=8, seed=0)
    paths = [declared_entry_points(root / "meta"), pace_package(root / "pace")]
    return host_checkout(), train, paths


def _cwd(tmp_path: Path, name: str, train: Path, workers: int = 0, batches: int = 2) -> Path:
    cwd = tmp_path / name
    (cwd / "recipes").mkdir(parents=True)
    recipe = tiny_pretrain_recipe(train, name="kill", max_epochs=3, limit_train_batches=batches,
                                  aux_losses=E2MC, data={"num_workers": workers})  # fmt: skip
    (cwd / "recipes" / "pretrain.yaml").write_text(recipe)
    return cwd


def _checkpoints(cwd: Path, pattern: str = "*.ckpt"):
    return sorted((cwd / "trained_models" / "vicreg_aux").glob(f"*/{pattern}"))


def _rel(path: Path, cwd: Path) -> str:
    return str(path.relative_to(cwd))  # solo names the checkpoint it resumes from as found


def _final_state(cwd: Path):
    (last,) = [p for p in _checkpoints(cwd, "*-ep=2.ckpt")]
    return torch.load(last, map_location="cpu", weights_only=True)["state_dict"]


def _uninterrupted(tmp_path, setting, workers=0):
    src, train, paths = setting
    cwd = _cwd(tmp_path, f"whole-{workers}", train, workers)
    cli(ARGS, cwd, src, pythonpath=paths)
    return _final_state(cwd)


def _same(a, b) -> list:
    assert list(a) == list(b)
    return [k for k in a if not torch.equal(a[k], b[k])]


def test_a_kill_during_a_checkpoint_write_resumes_from_the_last_complete_one(tmp_path, setting):
    src, train, paths = setting
    whole = _uninterrupted(tmp_path, setting)
    cwd = _cwd(tmp_path, "killed", train)
    half = tmp_path / "half-written"
    env = {"PACE_SLOW_SAVE": "ep=1.ckpt", "PACE_SLOW_SAVE_MARK": str(half)}
    proc = start(ARGS + RESUME, cwd, src, paths, env)
    wait_for(half, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    finish(proc, cwd)

    (intact,) = _checkpoints(cwd)
    assert intact.name.endswith("-ep=0.ckpt")
    assert torch.load(intact, map_location="cpu", weights_only=True)["epoch"] == 0
    assert not _checkpoints(cwd, "*ep=1.ckpt*[!p]")  # no cut-short file under a final name
    assert _checkpoints(cwd, ".*ep=1.ckpt.*.tmp")  # the part, which no resume takes

    res = cli(ARGS + RESUME, cwd, src, pythonpath=paths)
    said = f"Resuming from previous checkpoint that matches specifications: '{_rel(intact, cwd)}'"
    assert said in res.stdout
    assert not _same(whole, _final_state(cwd))


@pytest.mark.parametrize("workers", [0, 2])
def test_a_kill_after_epoch_1s_checkpoint_resumes_to_the_uninterrupted_weights(
    tmp_path, setting, workers
):
    src, train, paths = setting
    whole = _uninterrupted(tmp_path, setting, workers)
    cwd = _cwd(tmp_path, "killed", train, workers)
    marks = tmp_path / "marks"
    marks.mkdir()
    proc = start(ARGS + RESUME, cwd, src, paths, {"PACE_DIR": str(marks), "PACE_SLEEP": "2"})
    wait_for(marks / "epoch2-batch0", proc)
    os.killpg(proc.pid, signal.SIGKILL)
    finish(proc, cwd)
    (saved,) = _checkpoints(cwd)
    assert saved.name.endswith("-ep=1.ckpt")

    res = cli(ARGS + RESUME, cwd, src, pythonpath=paths)
    assert f"'{_rel(saved, cwd)}'" in res.stdout
    differ = _same(whole, _final_state(cwd))
    assert not differ, f"{len(differ)} tensors differ, e.g. {differ[:3]}"


def test_sigterm_mid_epoch_checkpoints_exits_143_and_the_same_command_resumes(tmp_path, setting):
    src, train, paths = setting
    cwd = _cwd(tmp_path, "stopped", train, batches=4)
    marks = tmp_path / "marks"
    marks.mkdir()
    proc = start(ARGS + RESUME, cwd, src, paths, {"PACE_DIR": str(marks), "PACE_SLEEP": "2"})
    wait_for(marks / "epoch1-batch0", proc)
    os.kill(proc.pid, signal.SIGTERM)
    code, out, err = finish(proc, cwd)
    assert code == 143, err[-3000:]
    lines = [x for x in err.splitlines() if x.startswith("e2mc-plugin: stopped by SIGTERM")]
    assert len(lines) == 1, err[-3000:]
    (saved,) = _checkpoints(cwd)  # epoch 0's file replaced by the one of the moment
    ckpt = torch.load(saved, map_location="cpu", weights_only=True)
    # the signal came after epoch 1's first batch (step 5); the stop is at that batch's end or
    # the next one's, before the epoch's last batch (step 8)
    assert ckpt["epoch"] == 1 and ckpt["global_step"] in (5, 6)
    where = f"during epoch 1 (after global step {ckpt['global_step']})"
    assert lines[0].startswith(f"e2mc-plugin: stopped by SIGTERM {where}; checkpoint {saved}; ")
    assert "resume: auto_resume.enabled=True picks it up" in lines[0]

    res = cli(ARGS + RESUME, cwd, src, pythonpath=paths)
    assert f"'{_rel(saved, cwd)}'" in res.stdout and "e2mc-plugin pretrain: done" in res.stdout
    assert _final_state(cwd)  # the run went on to its last epoch
