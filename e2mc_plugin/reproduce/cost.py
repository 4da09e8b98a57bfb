"""GPU-hours and disk of each stage, at the paper's batch sizes: the estimate ``--plan`` prints.

One measured number drives the GPU-hours: ``ms_per_image``, the GPU time of one training image
(two 224-px crops, forward + backward through ResNet-50 and a VICReg projector, mixed precision)
at the paper's per-GPU batch. It comes from ``bench/bench_gpu_step.py --json FILE`` (part A's
``none`` row: a 2 x 256-crop step, divided by 256; its aux rows give each criterion's step-time
ratio) or, by default, from the paper: 10 continued VICReg epochs took 10 h on 2 RTX 8000s
(fp16), i.e. 2 x 10 h / (10 x 1,281,167 images) = 5.62 ms per image. Then, per stage
(images per epoch and epochs from the recipe, :mod:`e2mc_plugin.reproduce.recipes`):

- pretraining: ``epochs x train images x ms_per_image x crop factor x precision factor x aux
  ratio`` (crop factor: pixels over two 224 crops, 1.55 for SwAV's 2 x 224 + 6 x 96);
- frozen probes (linear, iNat18) and VOC07 features: one crop, forward only, taken as 1/3 of a
  forward + backward: ``ms_per_image / 2 / 3`` per image, train and validation images each epoch;
- fine-tuning: ``ms_per_image / 2`` per training image, forward only per validation image;
- fp32 recipes (SimSiam pretraining, every probe) x 1.4: the paper's SimSiam (fp32) against its
  VICReg (fp16) time per image, both two 224 crops (14 h vs 10 h).

GPU-hours do not depend on the device count (ideal scaling is assumed); wall-clock hours are
GPU-hours / devices. Data loading, start-up and the VOC07 SVMs (CPU) are not counted.

Disk: the checkpoint each stage leaves (solo keeps only the last one): fp32 weights plus one
optimizer buffer (momentum) per trained tensor (:mod:`e2mc_plugin.reproduce.params`); the subset
folders hold links, VOC07 writes a JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Mapping

from e2mc_plugin.reproduce.params import backbone_numel, features_dim, head_numel, linear_numel
from e2mc_plugin.reproduce.plan import Stage
from e2mc_plugin.reproduce.recipes import recipe_facts
from e2mc_plugin.reproduce.rows import Row

__all__ = [
    "IMAGES",
    "StageCost",
    "StepTime",
    "default_step_time",
    "stage_cost",
    "step_time_from_bench",
]

IMAGES: Dict[str, int] = {
    "imagenet_train": 1_281_167, "imagenet_val": 50_000,
    "imagenet_1pct": 12_811, "imagenet_10pct": 128_116,  # the SimCLR subset lists
    "inat18_train": 437_513, "inat18_val": 24_426, "inat18_classes": 8_142,
    "voc07_trainval": 5_011, "voc07_test": 4_952,
}  # fmt: skip
IMAGENET_CLASSES = 1000
PAPER_VICREG = {"hours": 10.0, "gpus": 2, "epochs": 10}  # "10 continued epochs took 10 h"
FORWARD_SHARE = 1 / 3
FP32_FACTOR = 1.4  # SimSiam fp32 14 h / VICReg fp16 10 h, two 224 crops each
BENCH_IMAGES_PER_STEP = 256  # bench_gpu_step.py part A at full size: 2 crops x 256
_BENCH_AUX_ROWS = {"e2mc": "e2mc (defaults)", "vcreg": "vcreg (defaults)",
                   "auh": "auh (defaults)", "mmcr": "mmcr 8 views (defaults)"}  # fmt: skip
BYTES = 4  # fp32


@dataclass(frozen=True)
class StepTime:
    ms_per_image: float
    source: str
    aux_ratio: Mapping[str, float] = field(default_factory=dict)  # criterion -> step ratio


@dataclass(frozen=True)
class StageCost:
    gpu_hours: float
    disk_bytes: int


def default_step_time() -> StepTime:
    p = PAPER_VICREG
    ms = p["gpus"] * p["hours"] * 3.6e6 / (p["epochs"] * IMAGES["imagenet_train"])
    return StepTime(
        ms_per_image=ms,
        source=(
            f"default, from the paper: 10 VICReg epochs in 10 h on 2 RTX 8000 (fp16) = "
            f"{ms:.2f} ms per image; measure yours with bench/bench_gpu_step.py --json FILE "
            "and pass --step-time FILE"
        ),
    )


def step_time_from_bench(path: Path) -> StepTime:
    """Part A of ``bench/bench_gpu_step.py --json`` (run at its full size)."""
    try:
        rows = {r["variant"]: r for r in json.loads(Path(path).read_text())["A"]}
        none = float(rows["none"]["median_ms"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"--step-time {path}: not a bench/bench_gpu_step.py --json file with part A and its "
            f"'none' row ({type(err).__name__}: {err})"
        ) from None
    ratios = {k: float(rows[v]["ratio"]) for k, v in _BENCH_AUX_ROWS.items() if v in rows}
    ms = none / BENCH_IMAGES_PER_STEP
    return StepTime(
        ms_per_image=ms,
        aux_ratio=ratios,
        source=(
            f"{path}: bench/bench_gpu_step.py part A, {none:.1f} ms per step of 2 x "
            f"{BENCH_IMAGES_PER_STEP} crops (its full size) = {ms:.2f} ms per image; criteria "
            + ", ".join(f"{k} x{r:.3f}" for k, r in ratios.items())
        ),
    )


def _precision(precision: str) -> float:
    return FP32_FACTOR if precision in ("32", "32-true", "64") else 1.0


def _pretrain(stage: Stage, row: Row, step: StepTime) -> StageCost:
    facts = recipe_facts(stage.recipe)
    ratio = step.aux_ratio.get(stage.model, 1.0)
    ms = step.ms_per_image * facts.crop_factor * _precision(facts.precision) * ratio
    hours = facts.epochs * IMAGES["imagenet_train"] * ms / 3.6e6
    feats = features_dim(facts.backbone)
    trained = (
        backbone_numel(facts.backbone) + head_numel(row.method, facts.method_kwargs, feats)
        + linear_numel(feats, IMAGENET_CLASSES)  # solo's online classifier
    )  # fmt: skip
    return StageCost(hours, 2 * BYTES * trained)


def _probe(stage: Stage, step: StepTime) -> StageCost:
    facts = recipe_facts(stage.recipe)
    forward = step.ms_per_image / 2 * FORWARD_SHARE * _precision(facts.precision)
    backbone = backbone_numel(facts.backbone)
    feats = features_dim(facts.backbone)
    if stage.kind == "inat18":
        train, val = IMAGES["inat18_train"], IMAGES["inat18_val"]
        head = linear_numel(4 * feats, IMAGES["inat18_classes"]) + 4 * feats  # 2x2 pool + BN
        return StageCost(
            facts.epochs * (train + val) * forward / 3.6e6, BYTES * (backbone + 2 * head)
        )
    train = IMAGES["imagenet_train" if stage.labels == 100 else f"imagenet_{stage.labels}pct"]
    val = IMAGES["imagenet_val"]
    classifier = linear_numel(feats, IMAGENET_CLASSES)
    if stage.kind == "semisup":
        step_ms = step.ms_per_image / 2 * _precision(facts.precision)
        hours = facts.epochs * (train * step_ms + val * forward) / 3.6e6
        return StageCost(hours, 2 * BYTES * (backbone + classifier))
    hours = facts.epochs * (train + val) * forward / 3.6e6
    return StageCost(hours, BYTES * (backbone + 2 * classifier))


def stage_cost(stage: Stage, row: Row, step: StepTime) -> StageCost:
    """GPU-hours and bytes on disk of one stage (see the module doc for the model)."""
    if stage.kind == "subset":
        return StageCost(0.0, 0)
    if stage.kind == "convert":
        facts = recipe_facts(row.variants["continued"])
        feats = features_dim(facts.backbone)
        numel = backbone_numel(facts.backbone) + head_numel(row.method, facts.method_kwargs, feats)
        return StageCost(0.0, BYTES * numel)
    if stage.kind == "pretrain":
        return _pretrain(stage, row, step)
    if stage.kind == "voc07":
        images = IMAGES["voc07_trainval"] + IMAGES["voc07_test"]
        forward = step.ms_per_image / 2 * FORWARD_SHARE * FP32_FACTOR
        return StageCost(images * forward / 3.6e6, 0)
    return _probe(stage, step)
