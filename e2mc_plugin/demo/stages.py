"""The paper's protocol in miniature, as separate stage functions (each usable and testable alone).

1. :func:`pretrain` a base model through solo-learn (``build_method`` / ``fit``), from scratch.
2. :func:`pretrain` again from the base weights (``pretrained:`` block, fresh optimizer, constant
   lr = ``continued_lr_scale`` x base lr, same epochs for every variant): ``aux_losses: []``
   ("continued") vs ``+ e2mc`` (and optionally the ablations).
3. :func:`evaluate`: kNN and linear probes on frozen backbone features, trained with a fraction of
   the labels of the pretraining split, tested on the held-out split.
:func:`run_demo` chains them over seeds and adds the paired tests and the diagnostics.
"""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from e2mc_plugin.aux_losses.paper import PAPER_COEFFICIENTS
from e2mc_plugin.demo.data import DigitsSplit, eval_loader, load_digits_split, train_loader
from e2mc_plugin.evaluation.probes import (
    accuracy,
    knn_predict,
    label_subset,
    linear_probe_predict,
)

__all__ = [
    "AUX_PRESETS",
    "DemoConfig",
    "EvalResult",
    "aux_spec",
    "method_cfg",
    "pretrain",
    "save_method",
    "evaluate",
    "run_demo",
]

# The paper's coefficients per host method (one place: aux_losses/paper.py).
AUX_PRESETS = PAPER_COEFFICIENTS

_OPTIMIZER_KWARGS: Dict[str, Dict[str, Any]] = {
    "lars": {"momentum": 0.9, "eta": 0.02, "clip_lr": True, "exclude_bias_n_norm": True},
    "sgd": {"momentum": 0.9},
    "adamw": {},
}


@dataclass(frozen=True)
class DemoConfig:
    """Every knob of the demo; the defaults are the full run (~10 min on 2 CPU cores)."""

    method: str = "vicreg"
    aux: Tuple[str, ...] = ("e2mc",)  # variants compared with "continued" (aux_losses: [])
    seeds: Tuple[int, ...] = (0, 1, 2)
    size: int = 16  # image side; 16x16 with the ImageNet stem keeps resnet18 fast on CPU
    batch_size: int = 128
    optimizer: str = "adamw"  # constant-lr LARS and SGD diverged here (see README)
    base_epochs: int = 10
    base_lr: float = 1e-3
    continued_epochs: int = 3
    continued_lr_scale: float = 0.1  # paper: 0.01 x base lr over 10 ImageNet epochs (see README)
    proj_hidden_dim: int = 256
    proj_output_dim: int = 64
    label_fractions: Tuple[float, ...] = (0.1, 1.0)
    knn_k: int = 20
    test_fraction: float = 0.3
    split_seed: int = 0
    base_seed: int = 0
    limit: Optional[int] = None  # use only the first `limit` digits (tests)
    limit_train_batches: Optional[int] = None  # shorten epochs (tests)
    n_permutations: int = 10_000
    diagnostics: bool = True
    save_checkpoints: bool = True  # base + seed-0 variants (the base is always written)
    progress: bool = True

    @classmethod
    def quick(cls, **overrides: Any) -> "DemoConfig":
        """One seed, 1 epoch per stage, 2 batches of 64: a smoke test of every stage."""
        base = dict(
            seeds=(0,),
            batch_size=64,
            base_epochs=1,
            continued_epochs=1,
            proj_hidden_dim=64,
            proj_output_dim=32,
            limit=600,
            limit_train_batches=2,
            n_permutations=2000,
        )
        base.update(overrides)
        return cls(**base)


def aux_spec(name: str, method: str) -> Dict[str, Any]:
    """``{"name": name, **paper coefficients for method}`` (E2MC mapping chosen by method)."""
    presets = AUX_PRESETS.get(method)
    if presets is None:
        raise ValueError(
            f"no auxiliary-loss presets for method {method!r}; valid: {sorted(AUX_PRESETS)}"
        )
    if name not in presets:
        raise ValueError(f"unknown auxiliary loss {name!r}; valid: {sorted(presets)}")
    return {"name": name, **presets[name]}


def method_cfg(
    dc: DemoConfig,
    *,
    lr: float,
    aux_losses: Sequence[Mapping[str, Any]] = (),
    pretrained: Optional[str] = None,
    epochs: int = 1,
) -> Dict[str, Any]:
    """The 1.0.6-style solo-learn config of one stage (resnet18, ImageNet stem, constant lr)."""
    from e2mc_plugin.solo.api import tiny_cfg

    overrides: Dict[str, Any] = {
        "name": f"demo-{dc.method}",
        "backbone": {"name": "resnet18", "kwargs": {}},
        # "custom" (not cifar*) keeps the ImageNet stem: stride-2 conv + max-pool, 16x cheaper
        "data": {"dataset": "custom", "num_classes": 10},
        "optimizer": {
            "name": dc.optimizer,
            "batch_size": dc.batch_size,
            "lr": lr,
            "weight_decay": 1e-4,
            # the online classifier (detached features) gets the same optimizer at the SSL lr
            "classifier_lr": lr if dc.optimizer == "adamw" else 0.1,
            "kwargs": _OPTIMIZER_KWARGS[dc.optimizer],
        },
        "max_epochs": epochs,
        "aux_losses": [dict(a) for a in aux_losses],
        "pretrained": None
        if pretrained is None
        else {"path": pretrained, "format": None, "strict": True, "trusted": False},
    }
    cfg = tiny_cfg(dc.method, **overrides)
    cfg["optimizer"]["kwargs"] = dict(_OPTIMIZER_KWARGS[dc.optimizer])  # replace, not merge
    cfg["method_kwargs"].update(
        {"proj_hidden_dim": dc.proj_hidden_dim, "proj_output_dim": dc.proj_output_dim}
    )
    return cfg


def _progress_callback(total: int, desc: str, enabled: bool):
    """A Lightning callback showing one tqdm bar over all steps of a fit, with the loss."""
    from tqdm.auto import tqdm

    from e2mc_plugin.solo import compat

    pl = compat.lightning()

    class _Bar(pl.Callback):
        def __init__(self) -> None:
            self.bar = None

        def on_train_start(self, trainer, pl_module) -> None:
            self.bar = tqdm(total=total, desc=desc, unit="step", disable=not enabled, leave=True)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
            if self.bar is not None:
                self.bar.update(1)
                if torch.is_tensor(loss):
                    self.bar.set_postfix(epoch=trainer.current_epoch, loss=f"{float(loss):.3f}")

        def on_train_end(self, trainer, pl_module) -> None:
            if self.bar is not None:
                self.bar.close()

    return _Bar()


def pretrain(
    cfg: Mapping[str, Any],
    split: DigitsSplit,
    *,
    epochs: int,
    seed: int,
    batch_size: int,
    desc: str = "pretrain",
    progress: bool = True,
    limit_train_batches: Optional[int] = None,
    root_dir: Optional[str] = None,
) -> nn.Module:
    """Build the method of ``cfg`` (loading its ``pretrained`` weights, if any) and fit it.

    Model initialization, data order and augmentations are all seeded by ``seed``.
    """
    from e2mc_plugin.solo.api import build_method, fit

    torch.manual_seed(seed)
    model = build_method(cfg)
    loader = train_loader(split, batch_size=batch_size, seed=seed)
    steps = len(loader) if limit_train_batches is None else min(len(loader), limit_train_batches)
    kwargs: Dict[str, Any] = {}
    if limit_train_batches is not None:
        kwargs["limit_train_batches"] = limit_train_batches
    fit(
        model,
        loader,
        max_epochs=epochs,
        seed=seed,
        enable_progress_bar=False,
        callbacks=[_progress_callback(steps * epochs, desc, progress)],
        default_root_dir=root_dir,
        **kwargs,
    )
    bad = [n for n, p in model.named_parameters() if not torch.isfinite(p).all()]
    if bad:
        raise FloatingPointError(
            f"{desc}: training diverged, {len(bad)} parameter tensors are not finite "
            f"(first: {bad[0]}); lower the learning rate"
        )
    return model


def save_method(model: nn.Module, cfg: Mapping[str, Any], directory: str, name: str) -> str:
    """``{directory}/{name}.ckpt`` (``{"state_dict": ...}``, solo-learn key names) + ``args.json``.

    The layout of solo-learn's checkpointer: ``e2mc-plugin diagnose`` and the ``pretrained:``
    block read it back.
    """
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{name}.ckpt")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"state_dict": state}, path)
    args = copy.deepcopy(dict(cfg))
    args["pretrained"] = None  # the weights are in the .ckpt itself
    with open(os.path.join(directory, "args.json"), "w") as f:
        json.dump(args, f, indent=2)
    return path


@dataclass
class EvalResult:
    """Probe predictions on the held-out split: keys ``(probe, label_fraction)``."""

    predictions: Dict[Tuple[str, float], np.ndarray] = field(default_factory=dict)
    accuracy: Dict[Tuple[str, float], float] = field(default_factory=dict)
    test_labels: Optional[np.ndarray] = None


def evaluate(
    model: nn.Module,
    split: DigitsSplit,
    *,
    label_fractions: Sequence[float] = (0.1, 1.0),
    knn_k: int = 20,
    seed: int = 0,
) -> EvalResult:
    """kNN (cosine, ``exp(sim / 0.07)``-weighted) and linear probes on frozen backbone features."""
    from e2mc_plugin.solo.api import extract_features

    tr_x, tr_y = extract_features(model, eval_loader(split, split.train_x, split.train_y))
    te_x, te_y = extract_features(model, eval_loader(split, split.test_x, split.test_y))
    tr_x, tr_y, te_x, te_y = tr_x.numpy(), tr_y.numpy(), te_x.numpy(), te_y.numpy()
    out = EvalResult(test_labels=te_y)
    for frac in label_fractions:
        keep = label_subset(tr_y, frac, seed=seed)
        preds = {
            "knn": knn_predict(tr_x[keep], tr_y[keep], te_x, k=knn_k),
            "linear": linear_probe_predict(tr_x[keep], tr_y[keep], te_x, seed=seed),
        }
        for probe, pred in preds.items():
            out.predictions[(probe, frac)] = pred
            out.accuracy[(probe, frac)] = accuracy(te_y, pred)
    return out


def _log(msg: str) -> None:
    print(msg, flush=True)


def run_demo(dc: DemoConfig, out_dir: str) -> Dict[str, Any]:
    """All stages for every seed; writes checkpoints, diagnostics, and returns the raw results.

    Returns ``{"config", "rows": [{seed, model, probe, labels, accuracy}], "significance": [...],
    "timings": {...}, "diagnostics": {...}, "checkpoints": {...}}``.
    """
    from e2mc_plugin.evaluation.significance import compare_predictions

    t_start = time.perf_counter()
    timings: Dict[str, float] = {}
    os.makedirs(out_dir, exist_ok=True)
    ckpt_dir = os.path.join(out_dir, "checkpoints")
    split = load_digits_split(
        size=dc.size, test_fraction=dc.test_fraction, seed=dc.split_seed, limit=dc.limit
    )
    _log(
        f"[data] digits {tuple(split.train_x.shape)} train / {tuple(split.test_x.shape)} held-out, "
        f"{dc.size}x{dc.size} px"
    )
    specs = {name: aux_spec(name, dc.method) for name in dc.aux}
    common = dict(
        batch_size=dc.batch_size,
        progress=dc.progress,
        limit_train_batches=dc.limit_train_batches,
        root_dir=out_dir,
    )

    # (a) base pretraining, once (the paper continues one released checkpoint)
    t0 = time.perf_counter()
    base_cfg = method_cfg(dc, lr=dc.base_lr, epochs=dc.base_epochs)
    base = pretrain(
        base_cfg,
        split,
        epochs=dc.base_epochs,
        seed=dc.base_seed,
        desc=f"base {dc.method} ({dc.base_epochs} ep)",
        **common,
    )
    base_path = save_method(base, base_cfg, os.path.join(ckpt_dir, "base"), "base")
    timings["base_pretrain_s"] = time.perf_counter() - t0
    checkpoints = {"base": base_path}

    cont_lr = dc.base_lr * dc.continued_lr_scale
    variants: Dict[str, List[Dict[str, Any]]] = {"continued": []}
    variants.update({f"+{name}": [spec] for name, spec in specs.items()})
    rows: List[Dict[str, Any]] = []
    significance: List[Dict[str, Any]] = []
    models_seed0: Dict[str, nn.Module] = {"base": base}
    timings["continued_pretrain_s"] = 0.0
    timings["evaluation_s"] = 0.0
    for i, seed in enumerate(dc.seeds):
        _log(
            f"[seed {seed}] ({i + 1}/{len(dc.seeds)}) continued pretraining: {', '.join(variants)}"
        )
        t0 = time.perf_counter()
        results: Dict[str, EvalResult] = {
            "base": evaluate(
                base, split, label_fractions=dc.label_fractions, knn_k=dc.knn_k, seed=seed
            )
        }
        timings["evaluation_s"] += time.perf_counter() - t0
        for variant, aux in variants.items():
            # (b) continued pretraining from the base weights, same epochs / lr for all variants
            t0 = time.perf_counter()
            cfg = method_cfg(
                dc, lr=cont_lr, aux_losses=aux, pretrained=base_path, epochs=dc.continued_epochs
            )
            model = pretrain(
                cfg,
                split,
                epochs=dc.continued_epochs,
                seed=1000 + seed,
                desc=f"seed {seed} {variant} ({dc.continued_epochs} ep)",
                **common,
            )
            timings["continued_pretrain_s"] += time.perf_counter() - t0
            if seed == dc.seeds[0]:
                models_seed0[variant] = model
                if dc.save_checkpoints:
                    name = variant.lstrip("+")
                    checkpoints[variant] = save_method(
                        model, cfg, os.path.join(ckpt_dir, f"{name}_seed{seed}"), name
                    )
            # (c) probes
            t0 = time.perf_counter()
            results[variant] = evaluate(
                model, split, label_fractions=dc.label_fractions, knn_k=dc.knn_k, seed=seed
            )
            timings["evaluation_s"] += time.perf_counter() - t0
        for model_name, res in results.items():
            for (probe, frac), acc in res.accuracy.items():
                rows.append(
                    {
                        "seed": seed,
                        "model": model_name,
                        "probe": probe,
                        "labels": frac,
                        "accuracy": acc,
                    }
                )
        y = results["base"].test_labels
        for variant in variants:
            if variant == "continued":
                continue
            for key, pred in results[variant].predictions.items():
                test = compare_predictions(
                    y,
                    pred,
                    results["continued"].predictions[key],
                    n_resamples=dc.n_permutations,
                    seed=seed,
                )
                significance.append(
                    {
                        "seed": seed,
                        "a": variant,
                        "b": "continued",
                        "probe": key[0],
                        "labels": key[1],
                        **test,
                    }
                )

    diagnostics: Dict[str, Any] = {}
    if dc.diagnostics:
        t0 = time.perf_counter()
        diagnostics = _diagnostics(models_seed0, split, dc, os.path.join(out_dir, "diagnostics"))
        timings["diagnostics_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start
    return {
        "config": _jsonable(asdict(dc)),
        "host": _host_version(),
        "continued_lr": cont_lr,
        "n_train": int(split.train_x.shape[0]),
        "n_test": int(split.test_x.shape[0]),
        "rows": rows,
        "significance": significance,
        "timings": timings,
        "diagnostics": diagnostics,
        "checkpoints": checkpoints,
    }


def _diagnostics(
    models: Mapping[str, nn.Module], split: DigitsSplit, dc: DemoConfig, out_dir: str
) -> Dict[str, Any]:
    """Before / after figures of the seed-0 models on the held-out split."""
    from e2mc_plugin.diagnostics.embed import embed
    from e2mc_plugin.diagnostics.plots import write_diagnostics

    loader = eval_loader(split, split.test_x, split.test_y)
    embs = {name: embed(m, loader) for name, m in models.items()}
    mapping = AUX_PRESETS.get(dc.method, {}).get("e2mc", {}).get("mapping", "sigmoid")
    labels = next(iter(embs.values())).labels
    k = min(dc.knn_k, labels.size - 1)
    out = write_diagnostics(
        {n: e.projections for n, e in embs.items()},
        labels,
        out_dir,
        features={n: e.features for n, e in embs.items()},
        mapping=mapping,
        k=k,
    )
    out["mapping"] = mapping
    return out


def _host_version() -> Optional[str]:
    try:
        from e2mc_plugin.solo import compat

        return compat.HOST_VERSION
    except Exception:  # noqa: BLE001  (informational only)
        return None


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def with_overrides(dc: DemoConfig, **kwargs: Any) -> DemoConfig:
    """A copy of ``dc`` with some fields replaced (``None`` values are ignored)."""
    return replace(dc, **{k: v for k, v in kwargs.items() if v is not None})
