"""``e2mc-plugin reproduce`` refuses bad command lines before any work; probes are seeded; the
smoke run's generated inputs have the real layouts and its base release the official keys."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

pytest.importorskip("hydra", reason="hydra-core is not installed")

from e2mc_plugin.cli import main  # noqa: E402
from e2mc_plugin.reproduce.seeding import SeedEverything  # noqa: E402


def _error(capsys, argv) -> str:
    assert main(["reproduce", *argv]) == 2
    return capsys.readouterr().err


def test_command_line_errors_name_the_option(capsys, tmp_path):
    assert "give --row" in _error(capsys, ["--out", str(tmp_path / "o")])
    assert "give --imagenet and --checkpoint" in _error(capsys, ["--row", "vicreg", "--out",
                                                                 str(tmp_path / "o")])  # fmt: skip
    assert "give --out DIR" in _error(capsys, ["--row", "vicreg", "--imagenet", "/x"])
    err = _error(capsys, ["--smoke", "--imagenet", str(tmp_path), "--out", str(tmp_path / "o")])
    assert "--smoke generates its own data: drop --imagenet" in err
    assert "--seeds 'a,b'" in _error(capsys, ["--row", "vicreg", "--plan", "--seeds", "a,b"])
    assert "each seed once" in _error(capsys, ["--row", "vicreg", "--plan", "--seeds", "1,1"])
    assert "--devices 0" in _error(capsys, ["--row", "vicreg", "--plan", "--devices", "0"])


def test_an_existing_folder_that_is_not_a_reproduction_is_never_written_into(capsys, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    err = _error(capsys, ["--row", "vicreg", "--imagenet", str(tmp_path), "--checkpoint",
                          str(tmp_path / "c.pth"), "--out", str(out)])  # fmt: skip
    assert "exists and is not a reproduction folder" in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_missing_inputs_are_named_before_any_stage_runs(capsys, tmp_path):
    imagenet = tmp_path / "imagenet"
    (imagenet / "train").mkdir(parents=True)
    (imagenet / "val").mkdir()
    ckpt = tmp_path / "resnet50_fullckpt.pth"
    ckpt.write_bytes(b"")
    argv = ["--row", "vicreg", "--imagenet", str(imagenet), "--checkpoint", str(ckpt)]
    err = _error(capsys, [*argv, "--out", str(tmp_path / "o")])
    assert f"{imagenet / '1percent.txt'}: no such file" in err
    assert "google-research/simclr/master/imagenet_subsets/1percent.txt" in err
    assert not (tmp_path / "o").exists()
    for n in (1, 10):
        (imagenet / f"{n}percent.txt").write_text("n0_1.JPEG\n")
    err = _error(capsys, [*argv, "--voc07", str(tmp_path / "voc"), "--out", str(tmp_path / "o")])
    assert f"{tmp_path / 'voc' / 'ImageSets' / 'Main'}: no such folder" in err
    assert not (tmp_path / "o").exists()


def test_seed_callback_seeds_python_numpy_and_torch(monkeypatch):
    from omegaconf import OmegaConf

    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    SeedEverything().on_job_start(config=OmegaConf.create({"seed": 31}))
    drawn = (random.random(), np.random.rand(), torch.rand(3))
    random.seed(31), np.random.seed(31), torch.manual_seed(31)
    assert drawn[:2] == (random.random(), np.random.rand())
    assert torch.equal(drawn[2], torch.rand(3))
    assert os.environ["PL_GLOBAL_SEED"] == "31"
    with pytest.raises(ValueError, match=r"no `seed` key; add \+\+seed=N"):
        SeedEverything().on_job_start(config=OmegaConf.create({}))


@pytest.mark.parametrize(
    "row, keys",
    [
        ("vicreg", {"projector.6.weight": (32, 32), "projector.6.bias": (32,)}),
        ("swav800", {"projector.3.weight": (16, 32), "prototypes.weight_v": (10, 16)}),
        ("simsiam", {"projector.7.running_mean": (32,), "predictor.0.weight": (8, 32)}),
    ],
)
def test_smoke_inputs_have_the_real_layouts_and_an_official_release(tmp_path, row, keys):
    from e2mc_plugin._resources import resource_dir
    from e2mc_plugin.checkpoints import load_checkpoint
    from e2mc_plugin.reproduce.rows import get_row
    from e2mc_plugin.reproduce.smoke_data import make_smoke_inputs

    r = get_row(row)
    inputs = make_smoke_inputs(tmp_path, r, resource_dir("configs"))
    train = sorted(p.name for p in (inputs.imagenet / "train").iterdir())
    assert train == [f"n{c:08d}" for c in range(5)]
    listed = (inputs.label_lists / "1percent.txt").read_text().split()
    train_dir = inputs.imagenet / "train"
    assert listed and all((train_dir / f.split("_")[0] / f).is_file() for f in listed)
    assert len((inputs.label_lists / "10percent.txt").read_text().split()) > len(listed)
    assert sorted(p.name for p in (inputs.inat18 / "val").iterdir()) == ["0", "1", "2", "3", "4"]
    main_dir = inputs.voc07 / "ImageSets" / "Main"
    assert len(list(main_dir.glob("*_trainval.txt"))) == 20
    assert len(list(main_dir.glob("*_test.txt"))) == 20
    for split in ("trainval", "test"):  # every class has positives in both splits
        for f in main_dir.glob(f"*_{split}.txt"):
            assert " 1" in f.read_text(), f
    loaded = load_checkpoint(str(inputs.checkpoint), r.checkpoint_format)
    shapes = {k: tuple(v.shape) for k, v in loaded.state_dict.items()}
    assert shapes["backbone.conv1.weight"] == (64, 3, 7, 7)  # resnet18 of the CPU recipe
    for key, shape in keys.items():
        assert shapes[key] == shape
    again = make_smoke_inputs(tmp_path, r, resource_dir("configs"))  # made once
    assert again == inputs and (tmp_path / "smoke-data" / "READY").is_file()
