"""The launcher's command-line conveniences: '=' in override values, solo's lr scaling by the
processes Lightning really starts (checked against solo's own ``parse_cfg``), the end-of-run
summary (a real Lightning fit with solo's Checkpointer, the callback found through the entry point
this tree declares), the kNN results file, the CUDA hint, and the pretrained-skip variable."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from e2mc_plugin import cli as plugin_cli

# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from launcher_env import REPO, declared_entry_points  # noqa: E402
from tiny_lightning import tiny_module_class  # noqa: E402


def _hydra_value(override: str):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides([override])[0].value()


def test_solo_launcher_quotes_a_plain_value_holding_equals():
    pytest.importorskip("hydra")
    from e2mc_plugin.solo.launch.overrides import quote_equals

    path = "/runs/linear/offline-ab12/vicreg-offline-ab12-ep=0.ckpt"
    argv = [
        "-cn",
        "x=y",
        f"pretrained_feature_extractor={path}",
        f"++pretrained.path={path}",
        "a=1",
    ]
    out, notes = quote_equals(argv)
    assert out[:2] == ["-cn", "x=y"] and out[-1] == "a=1"  # flag values and valid overrides kept
    assert [_hydra_value(o) for o in out[2:4]] == [path, path]
    assert len(notes) == 2 and all("quoted" in n for n in notes)


def test_solo_launcher_shows_the_quoted_form_of_a_structured_value():
    pytest.importorskip("hydra")
    import shlex

    from e2mc_plugin.solo.launch.overrides import OverrideError, quote_equals

    bad = "pretrained={path: /ckpt/run-ep=3.ckpt, format: solo}"
    with pytest.raises(OverrideError) as err:
        quote_equals([bad])
    msg = str(err.value)
    assert bad in msg and "write it as" in msg
    (suggested,) = shlex.split(msg.split("write it as ", 1)[1])  # paste-ready for the shell
    assert _hydra_value(suggested) == {"path": "/ckpt/run-ep=3.ckpt", "format": "solo"}


@pytest.mark.parametrize(
    "devices, accelerator, expected",
    [
        (2, "cpu", 2),
        ("2", "cpu", 2),
        (" 3 ", "gpu", 3),
        ([0, 1], "gpu", 2),
        ("0,1", "gpu", 2),
        ("1,", "gpu", 1),
        (-1, "cpu", 1),
        ("auto", "cpu", 1),
        (True, "cpu", None),
        ("cuda", "gpu", None),
        (0, "gpu", None),
    ],
)
def test_solo_launcher_device_count_matches_lightning(devices, accelerator, expected):
    from e2mc_plugin.solo.host.devices import device_count

    assert device_count(devices, accelerator) == expected


def _composed(train: Path, devices: str):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(REPO / "configs" / "cpu"), version_base="1.2"):
        cfg = compose("vicreg_e2mc", overrides=[f"data.train_path={train}", devices])
    OmegaConf.set_struct(cfg, False)
    return cfg


@pytest.mark.host106
@pytest.mark.parametrize("devices", ["devices=2", "devices='2'", "devices='0,1'"])
def test_solo_launcher_scales_the_lr_by_the_processes_started(tmp_path, devices):
    """solo's own ``parse_cfg`` with a 2-element list is the reference; the user's value is what
    Lightning gets back."""
    from e2mc_plugin.solo.host.devices import scaling_by_device_count
    from e2mc_plugin.solo.method.registration import register

    register()
    import solo.args.pretrain as host

    for c in ("class0", "class1"):
        (tmp_path / c).mkdir()
    reference = host.parse_cfg(_composed(tmp_path, "devices=[0,1]"))
    given = _composed(tmp_path, devices).devices
    original = host.parse_cfg
    with scaling_by_device_count():
        cfg = host.parse_cfg(_composed(tmp_path, devices))
    assert host.parse_cfg is original  # restored
    assert cfg.optimizer.lr == reference.optimizer.lr == pytest.approx(0.0015 * 8 * 2 / 256)
    assert cfg.devices == given
    if devices == "devices='2'":  # what solo alone does with it: len('2') = 1
        assert original(_composed(tmp_path, devices)).optimizer.lr == reference.optimizer.lr / 2


def test_solo_launcher_callbacks_factory_adds_the_summary_only_when_launched(monkeypatch):
    """Outside the launcher the factory gives only the recipe guard; launched, also the summary."""
    from e2mc_plugin.solo.launch.callbacks import SUMMARY_ENV, factory
    from e2mc_plugin.solo.method.guard import RecipeGuard

    safety = ["AtomicCheckpoints", "RandomStates", "StopOnSignal"]
    monkeypatch.delenv(SUMMARY_ENV, raising=False)
    assert type(factory()[0]) is RecipeGuard
    assert [type(c).__name__ for c in factory()] == ["RecipeGuard", *safety]
    monkeypatch.setenv(SUMMARY_ENV, "pretrain")
    assert [type(c).__name__ for c in factory()] == ["RecipeGuard", *safety, "RunSummary"]


@pytest.mark.host106
def test_solo_launcher_run_summary_pickles_into_a_fresh_process(tmp_path):
    """``ddp_spawn`` pickles the trainer with its callbacks."""
    import os
    import pickle
    import subprocess

    from e2mc_plugin.solo.launch.callbacks import make_run_summary

    (tmp_path / "cb.pkl").write_bytes(pickle.dumps(make_run_summary("linear")))
    code = "import pickle, sys; c = pickle.load(open(sys.argv[1], 'rb'))"
    code += "; print(type(c).__name__, c.command)"
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "cb.pkl")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.stdout.split() == ["RunSummary", "linear"], proc.stderr[-2000:]


@pytest.mark.host106
def test_solo_launcher_run_summary_after_a_real_fit(tmp_path, monkeypatch, capsys):
    from omegaconf import OmegaConf
    from solo.utils.checkpointer import Checkpointer
    from torch.utils.data import DataLoader, TensorDataset

    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.solo.launch.callbacks import SUMMARY_ENV

    pl = compat.lightning()

    class Tiny(tiny_module_class(pl)):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss

    monkeypatch.syspath_prepend(str(declared_entry_points(tmp_path / "meta")))

    def trainer(with_checkpointer: bool):
        callbacks = []
        if with_checkpointer:
            cfg = OmegaConf.create({"name": "tiny"})
            callbacks.append(Checkpointer(cfg, logdir=tmp_path / "models", frequency=1))
        return pl.Trainer(
            max_epochs=2,
            callbacks=callbacks,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="cpu",
            devices=1,
            default_root_dir=str(tmp_path),
        )

    loader = DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=4)
    monkeypatch.delenv(SUMMARY_ENV, raising=False)
    assert not [c for c in trainer(False).callbacks if type(c).__name__ == "RunSummary"]

    monkeypatch.setenv(SUMMARY_ENV, "pretrain")
    t = trainer(True)
    (summary,) = [c for c in t.callbacks if type(c).__name__ == "RunSummary"]  # entry point
    t.fit(Tiny(), loader)
    (run,) = (tmp_path / "models").iterdir()
    (ckpt,) = run.glob("*.ckpt")
    record = json.loads((run / "metrics.json").read_text())
    assert record["checkpoint"] == str(ckpt.resolve()) and "ep=1" in ckpt.name
    assert record["epoch"] == 2 and record["global_step"] == 4
    assert record["metrics"]["train_loss"] == pytest.approx(float(t.callback_metrics["train_loss"]))
    out = capsys.readouterr().out
    assert f"checkpoint folder: {run.resolve()}" in out and "train_loss" in out
    assert f"metrics file:      {run.resolve() / 'metrics.json'}" in out

    t = trainer(False)  # no solo checkpointer: the metrics go to the root dir
    t.fit(Tiny(), loader)
    record = json.loads((tmp_path / "pretrain-metrics.json").read_text())
    assert record["folder"] is None and "train_loss" in record["metrics"]


@pytest.fixture
def fake_checkout(tmp_path, monkeypatch):
    """``tmp_path`` as the checkout of a host script written by the test; ``solo`` stays the one
    this process already imported (the fake checkout has none)."""
    from e2mc_plugin.solo.launch import relaunch

    monkeypatch.setattr(relaunch, "put_checkout_first", lambda root: None)
    return tmp_path


KNN_SCRIPT = """
import os
print("skip=" + str(os.environ.get("E2MC_PLUGIN_SKIP_PRETRAINED")))
for feat, rows in (("backbone", [("cosine", 3, 0.07, 50.0, 100.0)]),
                   ("projector", [("euclidean", 5, None, 25.5, 75.0)])):
    print(f"\\n### {feat.upper()} ###")
    for fx, k, T, a1, a5 in rows:
        print("---")
        print(f"Running k-NN with params: distance_fx={fx}, k={k}, T={T}...")
        print(f"Result: acc@1={a1}, acc@5={a5}")
"""


@pytest.mark.host106
def test_solo_launcher_knn_writes_its_results_beside_the_checkpoint(
    fake_checkout, tmp_path, capsys, monkeypatch
):
    from e2mc_plugin.solo.launch import commands as launcher
    from e2mc_plugin.solo.method.wrapper import SKIP_PRETRAINED_ENV

    monkeypatch.delenv(SKIP_PRETRAINED_ENV, raising=False)
    (tmp_path / "main_knn.py").write_text(KNN_SCRIPT)
    run = tmp_path / "run"
    run.mkdir()
    argv = ["--solo-src", str(tmp_path), "--pretrained_checkpoint_dir", str(run)]
    assert launcher.main_knn(argv) == 0
    out = capsys.readouterr().out
    assert "skip=1" in out  # evaluation never re-reads a recorded pretrained: init file
    assert SKIP_PRETRAINED_ENV not in __import__("os").environ  # restored
    record = json.loads((run / "knn_metrics.json").read_text())
    assert record["results"] == [
        {
            "feature": "backbone",
            "params": "distance_fx=cosine, k=3, T=0.07",
            "acc1": 50.0,
            "acc5": 100.0,
        },
        {
            "feature": "projector",
            "params": "distance_fx=euclidean, k=5, T=None",
            "acc1": 25.5,
            "acc5": 75.0,
        },
    ]
    assert f"metrics file:      {run.resolve() / 'knn_metrics.json'}" in out
    assert "backbone  distance_fx=cosine, k=3, T=0.07: acc@1=50 acc@5=100" in out


@pytest.mark.host106
def test_solo_launcher_knn_without_cuda_hints_at_cpu(fake_checkout, tmp_path, capsys, monkeypatch):
    from e2mc_plugin.solo.launch import commands as launcher

    (tmp_path / "main_umap.py").write_text(
        "raise RuntimeError('Found no NVIDIA driver on your system. Please check ...')\n"
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert launcher.main_umap(["--solo-src", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Found no NVIDIA driver" in err  # the host's own traceback stays visible
    assert "add --cpu (e2mc-plugin umap --cpu ...)" in err
    # an unrelated failure is not dressed up as a CUDA problem
    (tmp_path / "main_umap.py").write_text("raise ValueError('bad data')\n")
    with pytest.raises(ValueError, match="bad data"):
        launcher.main_umap(["--solo-src", str(tmp_path)])


@pytest.mark.host106
def test_solo_launcher_refuses_an_unparseable_override_before_running(
    fake_checkout, tmp_path, capsys
):

    (tmp_path / "main_pretrain.py").write_text("raise SystemExit('must not run')\n")
    bad = "pretrained={path: /ckpt/run-ep=3.ckpt, format: solo}"
    assert plugin_cli.main(["pretrain", "--solo-src", str(tmp_path), bad]) == 2
    err = capsys.readouterr().err
    assert "write it as 'pretrained={path: \"/ckpt/run-ep=3.ckpt\", format: solo}'" in err


def test_solo_launcher_summary_prints_each_logged_metric_once():
    from e2mc_plugin.solo.launch.run_summary import format_record

    metrics = {"loss": 1.5, "loss_step": 2.0, "loss_epoch": 1.5, "lr_step": 0.1, "acc": None}
    record = {"command": "linear", "folder": "/r", "checkpoint": "/r/a.ckpt", "metrics": metrics}
    lines = format_record(record, "/r/metrics.json").splitlines()
    assert lines[-3:] == ["    loss     1.5", "    lr_step  0.1", "    acc      None"]
