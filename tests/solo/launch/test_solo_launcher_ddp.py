"""Every process of an ``e2mc-plugin pretrain`` run registers the plugin: the ranks > 0 that
Lightning's ``strategy=ddp`` re-launches from the command line (fast: Lightning's own
``_basic_subprocess_cmd()`` called inside a host script), and (slow) a real 2-process CPU gloo
``strategy=ddp`` run on unpatched solo-learn main whose E2MC statistics are over the global batch,
observed by a third-party aux loss registered through the plugin's entry-point group."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from launcher_env import (  # noqa: E402
    cli,
    declared_entry_points,
    image_folder,
    spy_package,
    tiny_pretrain_recipe,
)

HOST_SCRIPT = """
import json, os, subprocess, sys

from solo.methods import METHODS

view = {
    "argv": sys.argv,
    "aux": "vicreg_aux" in METHODS,
    "skip": os.environ.get("E2MC_PLUGIN_SKIP_PRETRAINED"),
    "sys_path": sys.path,
    "main_spec": getattr(sys.modules["__main__"], "__spec__", None) is not None,
}
if os.environ.get("PROBE_CHILD") is None:
    from lightning.fabric.strategies.launchers.subprocess_script import _basic_subprocess_cmd

    cmd = _basic_subprocess_cmd()  # what Lightning's ddp runs for LOCAL_RANK 1, 2, ...
    child = subprocess.run(
        cmd, env=dict(os.environ, PROBE_CHILD="1"), capture_output=True, text=True
    )
    out = {"parent": view, "cmd": cmd, "rc": child.returncode, "stderr": child.stderr[-3000:]}
    out["child"] = json.loads(child.stdout.strip().splitlines()[-1]) if child.stdout else None
    with open(os.environ["PROBE_OUT"], "w") as f:
        json.dump(out, f)
else:
    print(json.dumps(view))
"""


@pytest.mark.host106
def test_solo_launcher_ranks_relaunched_by_lightning_register_the_plugin(tmp_path):
    from e2mc_plugin.solo.launch import commands as launcher
    from e2mc_plugin.solo.launch import relaunch

    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "main_pretrain.py").write_text(HOST_SCRIPT)
    out = tmp_path / "probe.json"
    src = launcher._installed_checkout("main_pretrain.py") or pytest.skip("no solo checkout")
    # the fake checkout has no solo/: solo comes from the installed checkout
    cli(
        ["pretrain", "--solo-src", str(checkout), "--cpu", "seed=3"],
        tmp_path,
        Path(src),
        env={"PROBE_OUT": str(out), "E2MC_PLUGIN_SKIP_PRETRAINED": "1"},
        timeout=300,
    )
    probe = json.loads(out.read_text())
    assert probe["rc"] == 0, probe["stderr"]
    # Lightning re-executes the plugin's entry script with the parent's arguments
    assert (
        probe["cmd"][1] == str(relaunch.ENTRY_SCRIPT)
        and probe["cmd"][2:] == probe["parent"]["argv"][1:]
    )
    parent, child = probe["parent"], probe["child"]
    assert parent["aux"] and child["aux"]  # both see METHODS["vicreg_aux"]
    assert child["argv"][1:] == parent["argv"][1:]
    assert "seed=3" in child["argv"] and "++accelerator=cpu" in child["argv"]  # --cpu holds
    assert child["skip"] == "1"  # the environment is inherited
    # the entry script's folder is not on the child's sys.path (nothing shadows config / solo)
    assert str(relaunch.ENTRY_SCRIPT.parent) not in child["sys_path"]
    assert str(relaunch.ENTRY_SCRIPT.parent.parent) not in child["sys_path"]


def test_solo_launcher_rank_entry_without_launcher_says_what_to_do(tmp_path):
    import os
    import subprocess

    from e2mc_plugin.solo.launch.relaunch import ENTRY_SCRIPT, HOST_SCRIPT_ENV

    env = {k: v for k, v in os.environ.items() if k != HOST_SCRIPT_ENV}
    proc = subprocess.run(
        [sys.executable, str(ENTRY_SCRIPT), "a=1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and HOST_SCRIPT_ENV in proc.stderr
    assert "e2mc-plugin pretrain" in proc.stderr


TORCHRUN = ("-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2")


def _ddp_recipe(train: Path, local: int, **overrides) -> str:
    """Two steps per rank of VICReg + the spy E2MC (gather) at ``local`` rows per rank."""
    aux = [{"name": "spy_e2mc", "beta": 1000, "gamma": 100, "mapping": "sigmoid", "gather": True}]
    options = dict(aux_losses=aux, limit_train_batches=2, log_every_n_steps=1, accelerator="cpu",
                   devices=1, strategy="auto")  # fmt: skip
    options.update(overrides)
    return tiny_pretrain_recipe(train, name="ddp-vicreg-spy", batch=local, **options)


@pytest.mark.slow
@pytest.mark.host106
@pytest.mark.ddp
@pytest.mark.parametrize("starter", ["lightning", "torchrun"])
def test_solo_launcher_ddp_two_cpu_processes_gather_the_global_batch(tmp_path, starter):
    """``e2mc-plugin pretrain --cpu strategy=ddp devices=2`` on unpatched solo-learn main: rank 1
    is re-launched by Lightning (or both ranks are started by torchrun), registers the plugin,
    and E2MC (``gather: true``) computes its statistics over 2 x the local batch on both ranks;
    the lr is scaled for 2 processes. (``ddp_spawn`` cannot run solo's ``main_pretrain.py``: its
    ``dataset_with_index`` class is local and does not pickle; the wrapped model under
    ``ddp_spawn`` is tested in ``test_solo_ddp.py``.)"""
    from e2mc_plugin.solo.launch import commands as launcher

    src = Path(launcher._installed_checkout("main_pretrain.py") or pytest.skip("no checkout"))
    local = 4
    train = image_folder(tmp_path / "data" / "train", classes=2, per_class=2 * 2 * local, seed=0)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "ddp.yaml").write_text(_ddp_recipe(train, local))
    rows = tmp_path / "rows"
    proc = cli(
        [
            "pretrain",
            "--cpu",
            "-cp",
            "recipes",
            "-cn",
            "ddp.yaml",
            "strategy=ddp",
            "devices=2",
        ],
        tmp_path,
        src,
        pythonpath=[declared_entry_points(tmp_path / "meta"), spy_package(tmp_path / "spy")],
        env={"SPY_ROWS": str(rows)},
        python_args=TORCHRUN if starter == "torchrun" else (),
    )
    seen = {r: (tmp_path / f"rows.{r}").read_text().split("\n")[:-1] for r in (0, 1)}
    assert seen[0] == seen[1] == [f"{local} {2 * local}"] * 2, seen  # 2 steps per rank

    (run,) = (tmp_path / "trained_models" / "vicreg_aux").iterdir()
    args = json.loads((run / "args.json").read_text())
    assert args["devices"] == 2 and args["strategy"] == "ddp"
    assert args["optimizer"]["lr"] == pytest.approx(0.01 * local * 2 / 256)  # 2 processes
    metrics = json.loads((run / "metrics.json").read_text())
    (ckpt,) = run.glob("*.ckpt")
    assert metrics["checkpoint"] == str(ckpt.resolve()) and metrics["global_step"] == 2
    assert "train_aux/spy_e2mc/entropy" in metrics["metrics"], sorted(metrics["metrics"])
    out = proc.stdout
    assert f"checkpoint folder: {run.resolve()}" in out
    assert f"metrics file:      {run.resolve() / 'metrics.json'}" in out
    assert out.count("e2mc-plugin pretrain: done") == 1  # rank 0 only


@pytest.mark.slow
@pytest.mark.host106
def test_solo_launcher_refuses_a_plain_method_carrying_aux_losses(tmp_path):
    """The host's own ``method: vicreg`` with an ``aux_losses:`` block would train plain VICReg
    and record the unused block in ``args.json``: through the launcher (the plugin's
    ``callbacks_factory`` entry point adds the recipe guard to the host's Trainer) it stops before
    the first step with an error naming ``vicreg_aux``, and no checkpoint is written."""
    from e2mc_plugin.solo.launch import commands as launcher

    src = Path(launcher._installed_checkout("main_pretrain.py") or pytest.skip("no checkout"))
    train = image_folder(tmp_path / "data" / "train", classes=2, per_class=4, seed=0)
    (tmp_path / "recipes").mkdir()
    aux = [{"name": "e2mc", "beta": 1000, "gamma": 100, "mapping": "sigmoid"}]
    (tmp_path / "recipes" / "plain.yaml").write_text(
        _ddp_recipe(train, 4, method="vicreg", aux_losses=aux)
    )
    proc = cli(
        ["pretrain", "--cpu", "-cp", "recipes", "-cn", "plain.yaml"],
        tmp_path,
        src,
        pythonpath=[declared_entry_points(tmp_path / "meta")],
        check=False,
    )
    assert proc.returncode != 0
    assert "use method: vicreg_aux" in proc.stdout + proc.stderr
    assert not list((tmp_path / "trained_models").rglob("*.ckpt"))
