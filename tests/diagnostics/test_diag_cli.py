"""``e2mc-plugin diagnose`` on checkpoints written like the demo's (and without args.json)."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

pytest.importorskip("solo")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    from e2mc_plugin.demo.preset import DemoConfig, method_cfg
    from e2mc_plugin.demo.train import save_method
    from e2mc_plugin.solo.api import build_method

    root = tmp_path_factory.mktemp("ckpts")
    dc = DemoConfig.quick(proj_hidden_dim=32, proj_output_dim=16)
    cfg = method_cfg(dc, lr=0.1)
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        paths.append(save_method(build_method(cfg), cfg, str(root / f"m{seed}"), "model"))
    return paths


def test_diag_cli_compare_two_checkpoints(checkpoints, tmp_path, capsys):
    from e2mc_plugin.cli import main

    out = tmp_path / "diag"
    args = ["diagnose", checkpoints[0], "--compare", checkpoints[1], "--out", str(out)]
    assert main(args + ["--limit", "300", "--k", "5"]) == 0
    printed = capsys.readouterr().out
    assert "m0/model" in printed and "m1/model" in printed  # same stem: parent folder added
    for name in (
        "marginal_histograms",
        "marginal_scatter",
        "neighbour_distances",
        "entropy_per_dim",
    ):
        assert os.path.getsize(out / f"{name}.png") > 0
    assert os.path.isfile(out / "entropy_summary.json")


def test_diag_cli_infers_architecture_without_args_json(checkpoints, tmp_path, capsys):
    from e2mc_plugin.diagnostics.cli import main

    lone = tmp_path / "lone.ckpt"
    shutil.copy(checkpoints[0], lone)
    assert (
        main([str(lone), "--out", str(tmp_path / "d"), "--limit", "200", "--space", "features"])
        == 0
    )
    assert "resnet18" in capsys.readouterr().out
    assert os.path.getsize(tmp_path / "d" / "marginal_scatter.png") > 0
