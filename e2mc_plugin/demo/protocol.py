"""The paper's protocol in miniature, as small steps.

1. :func:`e2mc_plugin.demo.base.obtain_base`: a base trained to a plateau of its kNN accuracy
   (cached).
2. :func:`continue_variant` for every variant and seed: from the base weights (``pretrained:``
   block, fresh optimizer, constant lr = ``continued_lr_scale`` x base lr, the same epochs for every
   variant), ``aux_losses: []`` ("continued") vs the auxiliary-loss variants.
3. :func:`e2mc_plugin.demo.evaluate.evaluate`: kNN and linear probes and the entropy column.
:func:`run_demo` chains them; :func:`rows_of`, :func:`significance_of` and :func:`entropy_of`
turn the per-seed results into the records of the tables.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any, Dict, List, Mapping, Optional, Sequence

from torch import nn

from e2mc_plugin.datasets.digits import DigitsSplit, eval_loader, load_digits_split
from e2mc_plugin.demo.base import BaseModel, obtain_base
from e2mc_plugin.demo.evaluate import EvalResult, evaluate
from e2mc_plugin.demo.preset import DemoConfig, method_cfg
from e2mc_plugin.demo.timing import Timings
from e2mc_plugin.demo.train import pretrain, save_method
from e2mc_plugin.demo.variants import Variant, default_variants
from e2mc_plugin.diagnostics.stats import default_mapping

__all__ = [
    "run_demo",
    "continue_variant",
    "rows_of",
    "significance_of",
    "entropy_of",
    "SeedResults",
]

SeedResults = Dict[str, EvalResult]  # model name -> its evaluation, for one seed


def _log(msg: str) -> None:
    """A line of the run log; an open progress bar is cleared first and redrawn after it."""
    from tqdm.auto import tqdm

    tqdm.write(msg)


def continue_variant(
    dc: DemoConfig, split: DigitsSplit, base_path: str, variant: Variant, seed: int, root: str
) -> tuple:
    """One continued run from the base weights; returns ``(model, cfg)``."""
    cfg = method_cfg(
        dc,
        lr=dc.continued_lr,
        aux_losses=variant.aux_losses,
        pretrained=base_path,
        epochs=dc.continued_epochs,
    )
    model = pretrain(
        cfg,
        split,
        epochs=dc.continued_epochs,
        seed=1000 + seed,
        batch_size=dc.batch_size,
        desc=f"seed {seed} {variant.name} ({dc.continued_epochs} ep)",
        progress=dc.progress,
        limit_train_batches=dc.limit_train_batches,
        root_dir=root,
    )
    return model, cfg


def rows_of(per_seed: Mapping[int, SeedResults]) -> List[Dict[str, Any]]:
    """``{seed, model, probe, labels, accuracy}`` records."""
    return [
        {"seed": seed, "model": model, "probe": probe, "labels": frac, "accuracy": acc}
        for seed, results in per_seed.items()
        for model, res in results.items()
        for (probe, frac), acc in res.accuracy.items()
    ]


def significance_of(
    per_seed: Mapping[int, SeedResults], n_permutations: int, baseline: str = "continued"
) -> List[Dict[str, Any]]:
    """Paired tests (McNemar, permutation) of every variant against ``baseline``, per seed."""
    from e2mc_plugin.evaluation.significance import compare_predictions

    out: List[Dict[str, Any]] = []
    for seed, results in per_seed.items():
        ref = results[baseline]
        for model, res in results.items():
            if model in (baseline, "base"):
                continue
            for key, pred in res.predictions.items():
                test = compare_predictions(
                    ref.test_labels,
                    pred,
                    ref.predictions[key],
                    n_resamples=n_permutations,
                    seed=seed,
                )
                out.append(
                    {"seed": seed, "a": model, "b": baseline, "probe": key[0], "labels": key[1]}
                    | test
                )
    return out


def entropy_of(per_seed: Mapping[int, SeedResults]) -> List[Dict[str, Any]]:
    """``{seed, model, entropy_mean}`` records (mean per-dim entropy of Psi(z), held-out)."""
    return [
        {"seed": seed, "model": model, "entropy_mean": res.entropy_mean}
        for seed, results in per_seed.items()
        for model, res in results.items()
    ]


def _diagnostics(
    models: Mapping[str, nn.Module], split: DigitsSplit, dc: DemoConfig, out_dir: str
) -> Dict[str, Any]:
    """Before / after figures of the seed-0 models on the held-out split (at most six)."""
    from e2mc_plugin.diagnostics.plots import write_diagnostics
    from e2mc_plugin.solo.api import extract_features

    loader = eval_loader(split, split.test_x, split.test_y)
    embs = {name: extract_features(m, loader) for name, m in list(models.items())[:6]}
    mapping = default_mapping(dc.method)
    labels = next(iter(embs.values())).labels.numpy()
    out = write_diagnostics(
        {n: e.projections.numpy() for n, e in embs.items()},
        labels,
        out_dir,
        features={n: e.features.numpy() for n, e in embs.items()},
        mapping=mapping,
        k=min(dc.knn_k, labels.size - 1),
    )
    out["mapping"] = mapping
    return out


def _write_curve_files(base: BaseModel, out_dir: str) -> Dict[str, str]:
    from e2mc_plugin.demo.plateau import plot_curve, write_curve

    csv_path = write_curve(base.curve, os.path.join(out_dir, "base_curve.csv"))
    png = plot_curve(
        base.curve, os.path.join(out_dir, "base_curve.png"), base.info, base.info["criterion"]
    )
    return {"csv": csv_path, "png": png}


def run_demo(
    dc: DemoConfig,
    out_dir: str,
    *,
    variants: Optional[Sequence[Variant]] = None,
    use_cache: bool = True,
) -> Dict[str, Any]:
    """Every stage for every seed; writes checkpoints, the base curve, the diagnostics.

    Returns ``{"config", "host", "base", "variants", "rows", "significance", "entropy",
    "timings", "diagnostics", "checkpoints", ...}``.
    """
    from e2mc_plugin.solo.host import compat

    timings = Timings()
    os.makedirs(out_dir, exist_ok=True)
    ckpt_dir = os.path.join(out_dir, "checkpoints")
    split = load_digits_split(
        size=dc.size, test_fraction=dc.test_fraction, seed=dc.split_seed, limit=dc.limit
    )
    _log(
        f"[data] digits {tuple(split.train_x.shape)} train / {tuple(split.test_x.shape)} held-out, "
        f"{dc.size}x{dc.size} px"
    )
    variants = list(variants or default_variants(dc))
    with timings.measure("base_s"):
        base = obtain_base(dc, split, log=_log, use_cache=use_cache, work_dir=ckpt_dir)
    curve_files = _write_curve_files(base, out_dir)
    checkpoints = {"base": base.path}
    mapping = default_mapping(dc.method)
    per_seed: Dict[int, SeedResults] = {}
    seed0_models: Dict[str, nn.Module] = {"base": base.model}
    for i, seed in enumerate(dc.seeds):
        _log(f"[seed {seed}] ({i + 1}/{len(dc.seeds)}) {', '.join(v.name for v in variants)}")
        ev = dict(label_fractions=dc.label_fractions, knn_k=dc.knn_k, seed=seed, mapping=mapping)
        with timings.measure("evaluation_s"):
            results: SeedResults = {"base": evaluate(base.model, split, **ev)}
        for v in variants:
            with timings.measure("continued_s"):
                model, cfg = continue_variant(dc, split, base.path, v, seed, out_dir)
            with timings.measure("evaluation_s"):
                results[v.name] = evaluate(model, split, **ev)
            if seed == dc.seeds[0]:
                seed0_models[v.name] = model
                if dc.save_checkpoints:
                    name = v.name.lstrip("+").replace(" ", "_").replace(",", "_")
                    folder = os.path.join(ckpt_dir, f"{name}_seed{seed}")
                    checkpoints[v.name] = save_method(model, cfg, folder, name)
        per_seed[seed] = results
    diagnostics: Dict[str, Any] = {}
    if dc.diagnostics:
        with timings.measure("diagnostics_s"):
            diagnostics = _diagnostics(
                seed0_models, split, dc, os.path.join(out_dir, "diagnostics")
            )
    return {
        "config": asdict(dc),
        "host": compat.HOST_VERSION,
        "continued_lr": dc.continued_lr,
        "n_train": int(split.train_x.shape[0]),
        "n_test": int(split.test_x.shape[0]),
        "base": {**base.info, "curve": base.curve, "files": curve_files},
        "variants": {v.name: v.coefficients for v in variants},
        "rows": rows_of(per_seed),
        "significance": significance_of(per_seed, dc.n_permutations),
        "entropy": entropy_of(per_seed),
        "timings": timings.as_dict(),
        "diagnostics": diagnostics,
        "checkpoints": checkpoints,
    }
