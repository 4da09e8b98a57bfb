"""solo-learn's auto-resume under the launcher takes the newest complete checkpoint.

The layout a kill leaves (solo-learn main's ``Checkpointer``: one folder per run, ``args.json``
beside ``<name>-<run>-ep=E.ckpt``): the run folder of a resumed run whose first checkpoint was
cut short by a kill, newer than the intact one of the first run. solo's own ``AutoResumer`` picks
the cut-short file (every later run of the command then failed on it); under
:func:`checked_auto_resume` the pick skips it in one line naming it and takes the intact one.
"""

from __future__ import annotations

import json
import os
import time

import pytest
import torch

pytestmark = pytest.mark.host106

ARGS = {
    "name": "run", "backbone": {"name": "resnet18"}, "method": "vicreg_aux", "seed": 5,
    "aux_losses": [{"name": "e2mc", "beta": 1.0}], "method_kwargs": {"proj_output_dim": 32},
    "data": {"dataset": "custom"}, "max_epochs": 3,
    "optimizer": {"name": "sgd", "batch_size": 8, "lr": 0.01, "weight_decay": 1e-5},
    "wandb": {"project": "p", "entity": None}, "pretrained_feature_extractor": None,
}  # fmt: skip


def _run_folder(root, run, epoch, *, age_s, truncated=False, args=ARGS):
    folder = root / "vicreg_aux" / run
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "args.json").write_text(json.dumps({**args, "wandb_run_id": run}))
    path = folder / f"run-{run}-ep={epoch}.ckpt"
    torch.save({"state_dict": {"w": torch.ones(256, 256)}, "epoch": epoch}, path)
    if truncated:
        path.write_bytes(path.read_bytes()[:5000])
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture
def killed_layout(tmp_path):
    # written in this order: solo dates files by their inode change time (ctime)
    _run_folder(tmp_path, "offline-dddd4444", 7, age_s=40 * 3600)  # older than max_hours
    other = {**ARGS, "max_epochs": 100}  # another recipe: never a candidate
    _run_folder(tmp_path, "offline-cccc3333", 5, age_s=10, args=other)
    # another beta of a sweep, which solo alone takes for the same run: never a candidate here
    other_beta = {**ARGS, "aux_losses": [{"name": "e2mc", "beta": 10.0}]}
    _run_folder(tmp_path, "offline-eeee5555", 4, age_s=20, args=other_beta)
    intact = _run_folder(tmp_path, "offline-aaaa1111", 0, age_s=600)
    cut = _run_folder(tmp_path, "offline-bbbb2222", 1, age_s=60, truncated=True)
    return tmp_path, intact, cut


def test_the_auto_resume_skips_a_cut_short_checkpoint_naming_it(killed_layout, capsys):
    from omegaconf import OmegaConf
    from solo.utils.auto_resumer import AutoResumer

    from e2mc_plugin.solo.launch.auto_resume import checked_auto_resume

    capsys.readouterr()  # the host's own import warnings (the first import in this process)
    root, intact, cut = killed_layout
    cfg = OmegaConf.create(ARGS)
    resumer = AutoResumer(checkpoint_dir=root / "vicreg_aux", max_hours=36)
    assert resumer.find_checkpoint(cfg) == (cut, "offline-bbbb2222")  # solo alone: the cut one
    original = AutoResumer.find_checkpoint
    with checked_auto_resume():
        assert resumer.find_checkpoint(cfg) == (str(intact), "offline-aaaa1111")
    assert AutoResumer.find_checkpoint is original
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"auto_resume: skipping {cut}: truncated or damaged")


def test_the_newest_complete_file_of_a_run_folder_wins(tmp_path):
    """A folder where the kill came before solo removed the previous epoch's file."""
    from omegaconf import OmegaConf
    from solo.utils.auto_resumer import AutoResumer

    from e2mc_plugin.solo.launch.auto_resume import checked_auto_resume

    older = _run_folder(tmp_path, "offline-aaaa1111", 0, age_s=600)
    newer = _run_folder(tmp_path, "offline-aaaa1111", 1, age_s=60)
    cut = _run_folder(tmp_path, "offline-aaaa1111", 2, age_s=5, truncated=True)
    resumer = AutoResumer(checkpoint_dir=tmp_path / "vicreg_aux", max_hours=36)
    with checked_auto_resume():
        assert resumer.find_checkpoint(OmegaConf.create(ARGS))[0] == str(newer)
    assert older.exists() and cut.exists()  # nothing is deleted


FAKE_MAIN = """
import json, sys
from omegaconf import OmegaConf
from solo.utils.auto_resumer import AutoResumer
cfg = OmegaConf.create(json.loads({args!r}))
print("picked", AutoResumer(checkpoint_dir={root!r}, max_hours=36).find_checkpoint(cfg)[0])
"""


def test_the_launcher_runs_the_host_script_with_the_checked_auto_resume(
    killed_layout, monkeypatch, capsys
):
    from e2mc_plugin.solo.launch import commands as launcher
    from e2mc_plugin.solo.launch import relaunch

    root, intact, cut = killed_layout
    monkeypatch.setattr(relaunch, "put_checkout_first", lambda root: None)
    script = FAKE_MAIN.format(args=json.dumps(ARGS), root=str(root / "vicreg_aux"))
    (root / "main_pretrain.py").write_text(script)
    assert launcher.main_pretrain(["--solo-src", str(root)]) == 0
    out, err = capsys.readouterr()
    assert f"picked {intact}" in out and f"skipping {cut}" in err
