"""``e2mc-plugin pretrain|linear|knn|umap``: flag handling, the checkout lookup, the CPU shim, the
hydra search-path plugin, and (slow, 1.0.6) one CPU epoch of VICReg + E2MC through the host's own
``main_pretrain.py`` followed by ``main_knn.py`` and ``main_linear.py`` on its checkpoint."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from e2mc_plugin import cli as plugin_cli

# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from launcher_env import (  # noqa: E402
    cli,
    declared_entry_points,
    host_checkout,
    image_folder,
    tiny_pretrain_recipe,
)

_image_folder = image_folder


def test_solo_launcher_without_checkout_says_what_to_do(monkeypatch, capsys):
    from e2mc_plugin.solo.launch import commands as launcher

    monkeypatch.delenv(launcher.SOLO_SRC_ENV, raising=False)
    monkeypatch.setattr(launcher, "_installed_checkout", lambda script: None)
    assert plugin_cli.main(["pretrain", "--config-name", "x"]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and not out
    assert "--solo-src" in err and "SOLO_LEARN_SRC" in err and "main_pretrain.py" in err


def test_solo_launcher_falls_back_to_the_editable_solo_checkout(tmp_path, monkeypatch):
    import importlib.machinery

    from e2mc_plugin.solo.launch import commands as launcher

    (tmp_path / "solo").mkdir()
    (tmp_path / "solo" / "__init__.py").write_text("")
    (tmp_path / "main_pretrain.py").write_text("")
    spec = importlib.machinery.ModuleSpec(
        "solo", None, origin=str(tmp_path / "solo" / "__init__.py")
    )
    monkeypatch.setattr(launcher.importlib.util, "find_spec", lambda name: spec)
    monkeypatch.delenv(launcher.SOLO_SRC_ENV, raising=False)
    assert launcher.find_host_checkout(None, "pretrain") == tmp_path.resolve()
    # A wheel install (no launcher beside the package) is not taken for a checkout.
    (tmp_path / "main_pretrain.py").unlink()
    assert launcher._installed_checkout("main_pretrain.py") is None


def test_solo_launcher_rejects_a_folder_without_the_script(tmp_path, capsys):

    assert plugin_cli.main(["knn", "--solo-src", str(tmp_path)]) == 2
    assert f"{tmp_path / 'main_knn.py'} does not exist" in capsys.readouterr().err


def test_solo_launcher_flags_and_overrides():
    from e2mc_plugin.solo.launch import commands as launcher
    from e2mc_plugin.solo.launch import overrides

    args, src, cpu, verbose = launcher._split_flags(
        ["a=1", "--solo-src", "/s", "--cpu", "--config-name", "n"]
    )
    assert (args, src, cpu, verbose) == (["a=1", "--config-name", "n"], "/s", True, False)
    assert launcher._split_flags(["--solo-src=/t"])[1] == "/t"
    assert launcher._split_flags(["--verbose", "a=1"]) == (["a=1"], None, False, True)
    cwd = Path.cwd()
    assert overrides.absolute_config_path(["--config-path", "rel", "-cp=/abs", "x=1"]) == [
        "--config-path",
        str(cwd / "rel"),
        "-cp=/abs",
        "x=1",
    ]
    extra = overrides.cpu_overrides(["accelerator=gpu", "++precision=16", "devices=[0]"])
    assert extra == ["++strategy=auto", "++sync_batchnorm=False"]  # the user's keys win


def test_solo_cpu_shim_maps_cuda_to_cpu_and_restores():
    from e2mc_plugin.solo.launch.commands import cpu_shim

    before = (torch.Tensor.cuda, torch.nn.Module.cuda, torch.Tensor.to, torch.nn.Module.to)
    lin = torch.nn.Linear(2, 2)
    with cpu_shim():
        x = torch.ones(2).cuda(non_blocking=True)
        assert x.device.type == "cpu" and lin.cuda() is lin
        assert lin.to("cuda:0") is lin and x.to("cuda:0").device.type == "cpu"
        assert x.to(device=torch.device("cuda"), dtype=torch.float64).dtype == torch.float64
    assert before == (torch.Tensor.cuda, torch.nn.Module.cuda, torch.Tensor.to, torch.nn.Module.to)


def test_solo_hydra_searchpath_plugin_finds_repo_configs(monkeypatch, tmp_path):
    pytest.importorskip("hydra")
    from hydra import compose, initialize
    from hydra.core.plugins import Plugins
    from hydra.plugins.search_path_plugin import SearchPathPlugin

    from hydra_plugins.e2mc_plugin_searchpath import CONFIGS_ENV, configs_location

    names = [p.__name__ for p in Plugins.instance().discover(SearchPathPlugin)]
    assert "E2MCPluginSearchPathPlugin" in names
    import e2mc_plugin

    repo_configs = Path(e2mc_plugin.__file__).resolve().parent.parent / "configs"
    if repo_configs.is_dir():  # editable install / checkout
        assert configs_location() == f"file://{repo_configs}"
    # hydra composes a recipe by name from the plugin's folder, no --config-path
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "recipe.yaml").write_text(
        "# @package _global_\nmethod: vicreg_aux\naux_losses: []\n"
    )
    monkeypatch.setenv(CONFIGS_ENV, str(tmp_path))
    assert configs_location() == f"file://{tmp_path.resolve()}"
    with initialize(version_base="1.2", config_path=None):
        cfg = compose(config_name="probe/recipe")
    assert cfg.method == "vicreg_aux"


# ------------------------------------------------------------------------------------------------
# end to end through the host's launchers (1.0.6 source checkout)


LINEAR_YAML = """
defaults:
  - _self_
  - override hydra/hydra_logging: disabled
  - override hydra/job_logging: disabled
hydra:
  output_subdir: null
  run:
    dir: .
name: e2e-linear
pretrained_feature_extractor: null  # given on the command line
pretrain_method: vicreg_aux
backbone: {name: resnet18}
data: {dataset: custom, train_path: TRAIN, val_path: VAL, format: image_folder, num_workers: 0}
optimizer: {name: sgd, batch_size: 8, lr: 0.1, weight_decay: 0}
scheduler: {name: none}
checkpoint: {enabled: True, dir: trained_models, frequency: 1}
auto_resume: {enabled: False}
wandb: {enabled: False}
max_epochs: 1
limit_train_batches: 2
limit_val_batches: 1
num_sanity_val_steps: 0
enable_progress_bar: False
"""


@pytest.mark.slow
@pytest.mark.host106
def test_solo_launcher_pretrain_knn_umap_linear_end_to_end(tmp_path, knn_cli_args):
    """One CPU epoch through the host's launchers; each run ends with where it left its results
    (checkpoint folder, metrics file, final metrics); the linear probe takes solo's checkpoint
    name (``...-ep=0.ckpt``) unquoted on the command line; UMAP plots the checkpoint."""
    pytest.importorskip("umap")
    src = host_checkout()
    meta = declared_entry_points(tmp_path / "meta")
    train = _image_folder(tmp_path / "data" / "train", classes=5, per_class=8, seed=0)
    val = _image_folder(tmp_path / "data" / "val", classes=5, per_class=2, seed=1)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "pretrain.yaml").write_text(
        tiny_pretrain_recipe(
            train, name="e2e-vicreg-e2mc", val=val, limit_train_batches=3, limit_val_batches=1
        )
    )
    pre = cli(
        ["pretrain", "--cpu", "--config-path", "recipes", "--config-name", "pretrain.yaml"],
        tmp_path,
        src,
        pythonpath=[meta],
    )

    runs = list((tmp_path / "trained_models" / "vicreg_aux").iterdir())
    assert len(runs) == 1
    ckpts = list(runs[0].glob("*.ckpt"))
    assert len(ckpts) == 1 and "=" in ckpts[0].name
    args = json.loads((runs[0] / "args.json").read_text())
    assert args["method"] == "vicreg_aux"
    assert args["aux_losses"] == [
        {"name": "e2mc", "beta": 1000, "gamma": 100, "mapping": "sigmoid"}
    ]
    state = torch.load(ckpts[0], map_location="cpu", weights_only=False)["state_dict"]
    assert any(k.startswith("backbone.") for k in state) and any(
        k.startswith("projector.") for k in state
    )
    summary = json.loads((runs[0] / "metrics.json").read_text())
    assert summary["checkpoint"] == str(ckpts[0].resolve())
    assert {"train_aux/loss", "val_acc1"} <= set(summary["metrics"]), summary["metrics"]
    assert f"checkpoint folder: {runs[0].resolve()}" in pre.stdout
    assert "val_acc1" in pre.stdout.split("final metrics:")[-1]

    knn_args = knn_cli_args(
        runs[0],
        train,
        val,
        data_format="image_folder",
        temperature=0.1,
        distance_function="euclidean",
    )
    if not torch.cuda.is_available():  # the host's main_knn.py without --cpu ends with a hint
        bare = cli(["knn", *knn_args], tmp_path, src, pythonpath=[meta], check=False)
        assert bare.returncode == 1 and "add --cpu (e2mc-plugin knn --cpu ...)" in bare.stderr
    knn = cli(["knn", "--cpu", *knn_args], tmp_path, src, pythonpath=[meta])
    assert "Result: acc@1=" in knn.stdout
    knn_file = json.loads((runs[0] / "knn_metrics.json").read_text())
    (row,) = knn_file["results"]
    assert row["feature"] == "backbone" and "k=3" in row["params"]
    printed = knn.stdout.split("Result: acc@1=")[1].split(",")[0]
    assert row["acc1"] == pytest.approx(float(printed))  # the host's own printed number
    assert f"metrics file:      {runs[0].resolve() / 'knn_metrics.json'}" in knn.stdout

    keep = ("pretrained_checkpoint_dir", "dataset", "train_data_path", "val_data_path")
    umap_args = _flags(knn_args, *keep, "data_format", "batch_size", "num_workers")
    um = cli(["umap", "--cpu", *umap_args], tmp_path, src, pythonpath=[meta])
    for split in ("train", "val"):
        assert (tmp_path / f"im100_{split}_umap.pdf").stat().st_size > 0
    assert str(tmp_path / "im100_val_umap.pdf") in um.stdout

    (tmp_path / "recipes" / "linear.yaml").write_text(
        LINEAR_YAML.replace("TRAIN", str(train)).replace("VAL", str(val))
    )
    lin = cli(
        [
            "linear",
            "--cpu",
            "--config-path",
            "recipes",
            "--config-name",
            "linear.yaml",
            f"pretrained_feature_extractor={ckpts[0]}",  # unquoted '=' in solo's file name
        ],
        tmp_path,
        src,
        pythonpath=[meta],
    )
    assert "is quoted" in lin.stderr
    (linear_ckpt,) = (tmp_path / "trained_models" / "linear").rglob("*.ckpt")
    lin_summary = json.loads((linear_ckpt.parent / "metrics.json").read_text())
    assert "val_acc1" in lin_summary["metrics"]
    assert f"checkpoint folder: {linear_ckpt.parent.resolve()}" in lin.stdout


def _flags(args, *names):
    """The ``--name value`` pairs of ``args`` for ``names``."""
    out = []
    for i, arg in enumerate(args):
        if arg.startswith("--") and arg[2:] in names:
            out += [arg, args[i + 1]]
    return out


@pytest.mark.host102
def test_solo_launcher_refuses_the_102_host(tmp_path, monkeypatch, capsys):
    """The launchers are 1.0.6 hydra scripts; on 1.0.2 the launcher points to the Python API."""

    (tmp_path / "main_pretrain.py").write_text("raise SystemExit('must not run')\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "solo", raising=False)  # as in a fresh CLI process
    assert plugin_cli.main(["pretrain", "--solo-src", str(tmp_path)]) == 2
    assert "e2mc_plugin.solo.api" in capsys.readouterr().err
