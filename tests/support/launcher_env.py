"""Helpers of the launcher tests: what an install of this source tree declares, a third-party
aux-loss package, tiny image folders, and ``python -m e2mc_plugin.cli`` in a subprocess.

The host environments install the plugin in editable mode: its entry points are those of the
source tree *at install time*. :func:`declared_entry_points` writes the entry points that
``setup.cfg`` declares now into a ``e2mc_plugin-<version>.dist-info`` folder; put first on
``PYTHONPATH``, it is the metadata ``importlib.metadata`` reads (distributions are de-duplicated
by name, the first on ``sys.path`` wins), exactly as after a fresh ``pip install -e .``.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

REPO = Path(__file__).resolve().parents[2]


def _dist_info(root: Path, name: str, version: str, entry_points: Dict[str, Dict[str, str]]):
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = []
    for group, entries in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{k} = {v}" for k, v in entries.items()]
        lines.append("")
    (info / "entry_points.txt").write_text("\n".join(lines))
    return info


def declared_entry_points(root: Path) -> Path:
    """``root`` holding a dist-info of this tree with the entry points of ``setup.cfg``."""
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    groups: Dict[str, Dict[str, str]] = {}
    for group, value in cfg["options.entry_points"].items():
        entries = {}
        for line in value.strip().splitlines():
            if line.strip() and not line.strip().startswith("#"):
                key, target = (part.strip() for part in line.split("=", 1))
                entries[key] = target
        groups[group] = entries
    _dist_info(root, cfg["metadata"]["name"], cfg["metadata"]["version"], groups)
    return root


SPY_SOURCE = '''
"""A third-party aux loss: E2MC that records the rows it sees, per rank, before and after the
global-batch gather (one line per forward: LOCAL GATHERED, in $SPY_ROWS.<rank>)."""
import os

import torch.distributed as dist

from e2mc_plugin.aux_losses.e2mc import E2MCLoss


class SpyE2MC(E2MCLoss):
    name = "spy_e2mc"

    def prepare(self, views):
        out = super().prepare(views)
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        with open(f"{os.environ['SPY_ROWS']}.{rank}", "a") as f:
            f.write(f"{views[0].shape[0]} {out[0].shape[0]}\\n")
        return out
'''


def spy_package(root: Path) -> Path:
    """``root`` holding ``spy_pkg`` (a :data:`SPY_SOURCE` aux loss ``spy_e2mc``) and its
    dist-info registering it in the plugin's ``e2mc_plugin.aux_losses`` entry-point group."""
    (root / "spy_pkg").mkdir(parents=True, exist_ok=True)
    (root / "spy_pkg" / "__init__.py").write_text(SPY_SOURCE)
    _dist_info(root, "spy_pkg", "0.0", {"e2mc_plugin.aux_losses": {"spy_e2mc": "spy_pkg:SpyE2MC"}})
    return root


STATE_SPY_SOURCE = """
import os


def factory():
    import lightning.pytorch as pl
    import torch

    class StateAtTrainStart(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            state = {k: v.detach().cpu().clone() for k, v in pl_module.state_dict().items()}
            torch.save(state, os.environ["SPY_STATE"])

    return [StateAtTrainStart()] if os.environ.get("SPY_STATE") else []
"""


def state_spy(root: Path) -> Path:
    """``root`` holding ``state_spy``, a third-party Lightning callback registered like any
    (the ``lightning.pytorch.callbacks_factory`` entry point): with ``$SPY_STATE`` set, every
    Trainer of the run saves its module's state dict there at ``on_train_start`` (after the
    plugin initialized a pretraining run, after ``main_linear.py`` loaded the backbone)."""
    (root / "state_spy").mkdir(parents=True, exist_ok=True)
    (root / "state_spy" / "__init__.py").write_text(STATE_SPY_SOURCE)
    factory = {"state_spy": "state_spy:factory"}
    _dist_info(root, "state-spy", "0.0", {"lightning.pytorch.callbacks_factory": factory})
    return root


def image_folder(root: Path, classes: int, per_class: int, seed: int) -> Path:
    """``root/class<c>/<i>.png``: 32 x 32 RGB images, one base colour per class plus noise."""
    import torch
    from PIL import Image

    g = torch.Generator().manual_seed(seed)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        base = torch.rand(3, generator=g) * 255
        for i in range(per_class):
            noise = torch.rand(32, 32, 3, generator=g) * 80
            img = (base + noise).clamp(0, 255).to(torch.uint8).numpy()
            Image.fromarray(img).save(root / f"class{c}" / f"{i}.png")
    return root


def cli(
    args: Sequence[str],
    cwd: Path,
    src: Path,
    pythonpath: Sequence[Path] = (),
    env: Optional[Dict[str, str]] = None,
    check: bool = True,
    timeout: int = 600,
    python_args: Sequence[str] = (),
) -> subprocess.CompletedProcess:
    """``python [PYTHON_ARGS] -m e2mc_plugin.cli ARGS`` in ``cwd`` with the host checkout
    ``src``, this tree and ``pythonpath`` first on ``PYTHONPATH``; asserts exit code 0 when
    ``check``. ``python_args``, e.g. ``-m torch.distributed.run --nproc_per_node=2``."""
    path = [str(p) for p in pythonpath] + [str(REPO)]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    full_env = dict(
        os.environ,
        SOLO_LEARN_SRC=str(src),
        OMP_NUM_THREADS="1",
        WANDB_MODE="disabled",
        PYTHONPATH=os.pathsep.join(path),
    )
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, *python_args, "-m", "e2mc_plugin.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check:
        assert proc.returncode == 0, (
            f"{args[0]} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


def host_checkout() -> Path:
    """The solo-learn source checkout the launcher runs (``$SOLO_LEARN_SRC``, else the editable
    install's); skips the test when there is none."""
    import pytest

    src = os.environ.get("SOLO_LEARN_SRC")
    if src and (Path(src) / "main_pretrain.py").is_file():
        return Path(src)
    import solo

    root = Path(solo.__file__).resolve().parent.parent
    if not (root / "main_pretrain.py").is_file():
        pytest.skip("no solo-learn checkout: set SOLO_LEARN_SRC")
    return root


def _merge(base: Dict, update: Dict) -> Dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def tiny_pretrain_recipe(
    train: Path, *, name: str, val: Optional[Path] = None, batch: int = 8, proj: int = 32,
    **overrides,
) -> str:  # fmt: skip
    """A tiny CPU recipe for the host's ``main_pretrain.py``: VICReg + E2MC (paper coefficients),
    resnet18 on 32 px image folders, one epoch of one step, checkpoints under ``trained_models``;
    keyword overrides replace top-level keys (dicts are merged)."""
    import yaml

    recipe = {
        "defaults": [
            "_self_",
            {"override hydra/hydra_logging": "disabled"},
            {"override hydra/job_logging": "disabled"},
        ],
        "hydra": {"output_subdir": None, "run": {"dir": "."}},
        "name": name,
        "method": "vicreg_aux",
        "aux_losses": [{"name": "e2mc", "beta": 1000, "gamma": 100, "mapping": "sigmoid"}],
        "backbone": {"name": "resnet18"},
        "method_kwargs": {
            "proj_hidden_dim": proj, "proj_output_dim": proj, "sim_loss_weight": 25.0,
            "var_loss_weight": 25.0, "cov_loss_weight": 1.0,
        },
        "data": {
            "dataset": "custom", "train_path": str(train), "val_path": str(val) if val else None,
            "format": "image_folder", "num_workers": 0,
        },
        "augmentations": [{
            "rrc": {"enabled": True, "crop_min_scale": 0.5, "crop_max_scale": 1.0},
            "color_jitter": {"prob": 0.0, "brightness": 0.4, "contrast": 0.4, "saturation": 0.2,
                             "hue": 0.1},
            "grayscale": {"prob": 0.0}, "gaussian_blur": {"prob": 0.0},
            "solarization": {"prob": 0.0}, "equalization": {"prob": 0.0},
            "horizontal_flip": {"prob": 0.5}, "crop_size": 32, "num_crops": 2,
        }],
        "optimizer": {"name": "sgd", "batch_size": batch, "lr": 0.01, "classifier_lr": 0.1,
                      "weight_decay": 1e-5},
        "scheduler": {"name": "none"},
        "checkpoint": {"enabled": True, "dir": "trained_models", "frequency": 1},
        "auto_resume": {"enabled": False},
        "wandb": {"enabled": False},
        "max_epochs": 1,
        "limit_train_batches": 1,
        "num_sanity_val_steps": 0,
        "enable_progress_bar": False,
    }  # fmt: skip
    return yaml.safe_dump(_merge(recipe, overrides), sort_keys=False)
