"""The demo's base model: trained to a plateau once, cached under ``$E2MC_HOME``.

The cache folder ``$E2MC_HOME/demo-bases/<method>-<hash>/`` (``E2MC_HOME`` defaults to
``~/.cache/e2mc-plugin``) holds ``base/base.ckpt`` + ``base/args.json`` (via
:func:`e2mc_plugin.demo.train.save_method`), ``curve.csv`` and ``meta.json``; ``<hash>`` is the
SHA-256 of every setting that determines the base (:func:`base_settings`), so changing any of
them trains a new base. Training: :mod:`e2mc_plugin.demo.plateau` (two phases, each to a
plateau). ``meta.json`` is written last: a folder without it is not a cache entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from torch import nn

from e2mc_plugin.datasets.digits import DigitsSplit
from e2mc_plugin.demo.plateau import (
    PlateauCriterion,
    PlateauTracker,
    knn_monitor,
    plateau_callback,
    read_curve,
    write_curve,
)
from e2mc_plugin.demo.preset import DemoConfig, method_cfg
from e2mc_plugin.demo.train import load_method, pretrain, save_method

__all__ = ["BaseModel", "base_settings", "cache_dir", "criterion_of", "obtain_base", "HOME_ENV"]

HOME_ENV = "E2MC_HOME"
_PROTOCOL = 5  # bump when the training code changes what a given set of settings produces


@dataclass
class BaseModel:
    model: nn.Module
    path: str  # the .ckpt the continued runs start from
    cfg: Dict[str, Any]
    curve: List[Tuple[int, float]]
    info: Dict[str, Any]  # epochs, reason, best, wall time, cache hit, cache folder


def criterion_of(dc: DemoConfig) -> PlateauCriterion:
    return PlateauCriterion(
        eval_every=dc.base_eval_every,
        patience=dc.base_patience,
        min_delta=dc.base_min_delta,
        max_epochs=dc.base_max_epochs,
    )


def base_settings(dc: DemoConfig) -> Dict[str, Any]:
    """Every setting that determines the base checkpoint (the cache key)."""
    import torch

    from e2mc_plugin.solo.host import compat

    keys = (
        "method size batch_size optimizer base_lr base_max_epochs base_eval_every base_patience "
        "base_min_delta proj_hidden_dim proj_output_dim knn_k test_fraction split_seed base_seed "
        "limit limit_train_batches base_cooldown continued_lr_scale"
    ).split()
    out = {k: getattr(dc, k) for k in keys}
    # the thread count changes floating-point sums, hence the 75-epoch result
    out.update(
        protocol=_PROTOCOL,
        host=compat.HOST_VERSION,
        torch=torch.__version__,
        threads=torch.get_num_threads(),
    )
    return out


def cache_dir(dc: DemoConfig) -> str:
    home = os.environ.get(HOME_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "e2mc-plugin"
    )
    digest = hashlib.sha256(json.dumps(base_settings(dc), sort_keys=True).encode()).hexdigest()
    return os.path.join(home, "demo-bases", f"{dc.method}-{digest[:16]}")


def _phase(
    dc: DemoConfig,
    split: DigitsSplit,
    tracker: PlateauTracker,
    *,
    lr: float,
    pretrained: Optional[str],
    log: Callable[[str], None],
    root_dir: str,
) -> Tuple[nn.Module, Dict[str, Any]]:
    """Train at ``lr`` until ``tracker`` stops; returns the model and its stage config."""
    crit = tracker.criterion
    cfg = method_cfg(dc, lr=lr, pretrained=pretrained, epochs=crit.max_epochs)
    score = knn_monitor(split, k=dc.knn_k, seed=dc.split_seed)
    model = pretrain(
        cfg,
        split,
        epochs=crit.max_epochs,
        seed=dc.base_seed + tracker.offset,
        batch_size=dc.batch_size,
        desc=f"base {dc.method} at lr {lr:g} (<= {crit.max_epochs} ep)",
        progress=dc.progress,
        limit_train_batches=dc.limit_train_batches,
        root_dir=root_dir,
        callbacks=[plateau_callback(tracker, score, log, score_start=pretrained is None)],
    )
    return model, cfg


def _train(
    dc: DemoConfig, split: DigitsSplit, folder: str, log: Callable[[str], None], root_dir: str
) -> Tuple[nn.Module, Dict[str, Any], List[Tuple[int, float]], Dict[str, Any]]:
    """Phase 1 at the base lr, then (``dc.base_cooldown``) phase 2 at the continued lr."""
    crit = criterion_of(dc)
    t0 = time.perf_counter()
    lrs = [dc.base_lr] + ([dc.continued_lr] if dc.base_cooldown else [])
    history: List[Tuple[int, float]] = []
    phases: List[Dict[str, Any]] = []
    path: Optional[str] = None
    for i, lr in enumerate(lrs):
        tracker = PlateauTracker(crit, offset=history[-1][0] if history else 0)
        log(f"[base] phase {i + 1}/{len(lrs)}: lr {lr:g}")
        model, cfg = _phase(dc, split, tracker, lr=lr, pretrained=path, log=log, root_dir=root_dir)
        history += tracker.history
        phases.append(
            {"lr": lr, "end_epoch": history[-1][0], "reason": tracker.reason or "cap"}
            | {"best": tracker.best, "best_epoch": tracker.best_epoch}
        )
        # an earlier phase's weights only start the next one: kept apart from the base
        last = i == len(lrs) - 1
        where = os.path.join(folder, "base") if last else os.path.join(folder, f"phase{i + 1}")
        path = save_method(model, cfg, where, "base" if last else f"phase{i + 1}")
    for i in range(len(lrs) - 1):
        shutil.rmtree(os.path.join(folder, f"phase{i + 1}"), ignore_errors=True)
    info = {
        "epochs": history[-1][0],
        "reason": phases[-1]["reason"],
        "phases": phases,
        "min_delta": crit.min_delta,
        "train_s": time.perf_counter() - t0,
        "criterion": crit.describe() + (", then again at the continued lr" if len(lrs) > 1 else ""),
    }
    write_curve(history, os.path.join(folder, "curve.csv"))
    return model, {**cfg, "pretrained": None}, history, info


def obtain_base(
    dc: DemoConfig,
    split: DigitsSplit,
    *,
    log: Callable[[str], None] = print,
    use_cache: bool = True,
    work_dir: str = ".",
) -> BaseModel:
    """The cached base for ``dc`` if there is one, else train it to a plateau and cache it
    (``use_cache=False``: always train, into ``work_dir/base``, and cache nothing)."""
    folder = cache_dir(dc)
    meta_path = os.path.join(folder, "meta.json")
    if use_cache and os.path.isfile(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        path = os.path.join(folder, "base", "base.ckpt")
        log(
            f"[base] cache hit: {folder} ({meta['info']['epochs']} epochs, stopped by "
            f"{meta['info']['reason']})"
        )
        info = {**meta["info"], "cache_hit": True, "cache_dir": folder}
        return BaseModel(
            load_method(meta["cfg"], path),
            path,
            meta["cfg"],
            read_curve(os.path.join(folder, "curve.csv")),
            info,
        )
    log(f"[base] cache miss: training to a plateau ({criterion_of(dc).describe()})")
    tmp = f"{folder}.tmp-{os.getpid()}" if use_cache else os.path.join(work_dir, "base")
    shutil.rmtree(tmp, ignore_errors=True)
    model, cfg, curve, info = _train(dc, split, tmp, log, tmp)
    with open(os.path.join(tmp, "meta.json"), "w") as f:
        json.dump({"settings": base_settings(dc), "cfg": cfg, "info": info}, f, indent=2)
    if use_cache:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(os.path.dirname(folder), exist_ok=True)
        os.replace(tmp, folder)
        log(f"[base] cached in {folder}")
    else:
        folder = tmp
    info = {**info, "cache_hit": False, "cache_dir": folder}
    return BaseModel(model, os.path.join(folder, "base", "base.ckpt"), cfg, curve, info)
