"""The launcher's recipe errors: one line naming the recipe file (``recipe_errors``), and the
``e2mc_linear`` block checked on the composed job before hydra starts it (``linear_check``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("hydra")

from e2mc_plugin.solo.launch.linear_check import check_linear_recipe, compose_job  # noqa: E402
from e2mc_plugin.solo.launch.recipe_errors import (  # noqa: E402
    RecipeError,
    recipe_error,
    recipe_file,
)
from e2mc_plugin.solo.recipe.schema import ConfigError  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from launcher_env import REPO  # noqa: E402

CPU = REPO / "configs" / "cpu"
FINETUNE = ["--config-path", str(CPU), "--config-name", "finetune_cpu", "pretrain_method=swav"]


@pytest.mark.parametrize(
    "args",
    [
        ["--config-path", str(CPU), "--config-name", "finetune_cpu", "a=1"],
        [f"--config-path={CPU}", "--config-name=finetune_cpu.yaml"],
        ["-cp", str(CPU), "-cn", "finetune_cpu"],
        ["-cn", "cpu/finetune_cpu"],  # the plugin's configs/ (search-path plugin)
    ],
)
def test_recipe_file_is_the_composed_yaml(args):
    assert Path(recipe_file(args)).resolve() == (CPU / "finetune_cpu.yaml").resolve()


def test_recipe_errors_become_one_line_naming_the_file_others_pass_through():
    args = ["-cp", str(CPU), "-cn", "finetune_cpu"]
    err = recipe_error(ConfigError("e2mc_linear.backbone_lr: expected a positive number"), args)
    assert isinstance(err, RecipeError)
    assert str(err) == (
        f"recipe {CPU / 'finetune_cpu.yaml'}: e2mc_linear.backbone_lr: expected a positive number"
    )
    assert recipe_error(RuntimeError("CUDA out of memory"), args) is None
    assert recipe_file(["a=1"]) is None


@pytest.mark.parametrize(
    "override,match",
    [
        ("e2mc_linear.backbone_lr=-0.02", r"e2mc_linear\.backbone_lr: .*-0\.02"),
        ("e2mc_linear.backbone_lr=fast", r"e2mc_linear\.backbone_lr: .*'fast'"),
        ("+e2mc_linear.bakbone_lr=1", r"unknown key.*bakbone_lr"),
        ("e2mc_linear.head={name:res5_pool_bn,batchnorm:'false'}", r"head\.batchnorm"),
        ("+optimizer.e2mc_linear={backbone_lr:0.1}", r"optimizer\.e2mc_linear.*top level"),
        ("+auxiliary_losses=[]", r"auxiliary_losses.*'aux_losses'"),
    ],
)
def test_linear_check_refuses_the_composed_job(override, match):
    with pytest.raises(ConfigError, match=match):
        check_linear_recipe([*FINETUNE, override])


def test_linear_check_passes_a_good_recipe_and_leaves_other_command_lines_to_hydra():
    good = [*FINETUNE, "e2mc_linear.backbone_lr=0.05"]
    job = compose_job(good)  # composed as hydra will: the check reads this job's block
    assert job is not None and job.e2mc_linear.backbone_lr == 0.05
    assert check_linear_recipe(good) is None
    others = [
        [*FINETUNE, "e2mc_linear.backbone_lr=-1", "--cfg", "job"],  # a flag compose cannot take
        ["--config-path", str(CPU), "--config-name", "no_such_recipe"],  # hydra's error to give
    ]
    for args in others:
        assert compose_job(args) is None, args
        assert check_linear_recipe(args) is None, args  # the bad value is not judged here


@pytest.mark.slow
@pytest.mark.host106
def test_pretrain_recipe_error_is_one_line_naming_file_key_and_choices(tmp_path):
    """A real ``e2mc-plugin pretrain``: a misspelled block fails in the host's ``parse_cfg``;
    hydra used to print a 40-line traceback, exit 1."""
    from launcher_env import cli, host_checkout, image_folder, tiny_pretrain_recipe

    train = image_folder(tmp_path / "train", classes=2, per_class=4, seed=0)
    (tmp_path / "recipes").mkdir()
    recipe = tmp_path / "recipes" / "pretrain.yaml"
    recipe.write_text(tiny_pretrain_recipe(train, name="typo"))
    args = ["pretrain", "--cpu", "--config-path", "recipes", "--config-name", "pretrain.yaml",
            "+aux_loss=[{name:e2mc}]"]  # fmt: skip
    proc = cli(args, tmp_path, host_checkout(), check=False)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: recipe {recipe}: aux_loss:"), last
    assert "'aux_losses'" in last
