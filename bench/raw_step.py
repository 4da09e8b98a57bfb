"""(A) / (V) of ``bench_gpu_step.py``: a raw training step (backbone, VICReg projector, VICReg
loss, SGD, bf16 autocast) with each aux loss added, timed in interleaved rounds.

The backbone is a torchvision ResNet (A) or solo-learn main's ViT (V); the variants are in
:func:`raw_variants`.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F
from bench_criteria import plain_e2mc
from rounds import rotations
from torch import Tensor, nn

from e2mc_plugin.aux_losses import build_aux_loss
from e2mc_plugin.aux_losses.paper import paper_aux_spec

AUX_NAMES = ("e2mc", "vcreg", "auh", "mmcr")
#: the raw-step variants run for the ViT (V): one row per criterion
VIT_VARIANTS = (
    "none",
    "e2mc (defaults)",
    "vcreg (defaults)",
    "auh (defaults)",
    "mmcr 2 views (defaults)",
    "mmcr 8 views (defaults)",
)


def aux_spec(name: str, **extra) -> dict:
    return {**paper_aux_spec("vicreg", name), **extra}


def vicreg_loss(z1: Tensor, z2: Tensor) -> Tensor:
    """solo-learn's ``vicreg_loss_func`` (sim 25, var 25, cov 1), written out."""
    sim = F.mse_loss(z1, z2)
    var = sum(F.relu(1.0 - torch.sqrt(z.var(dim=0) + 1e-4)).mean() for z in (z1, z2))
    n, d = z1.shape
    cov = 0.0
    for z in (z1, z2):
        z = z - z.mean(dim=0)
        c = (z.T @ z) / (n - 1)
        cov = cov + (c.pow(2).sum() - c.diagonal().pow(2).sum()) / d
    return 25.0 * sim + 25.0 * var + cov


# ------------------------------------------------------------------------------------------------
# (A) raw step
# ------------------------------------------------------------------------------------------------


def _aux_from_spec(spec: dict) -> Callable[[List[Tensor]], Tensor]:
    spec = dict(spec)
    loss = build_aux_loss(spec.pop("name"), **spec)
    return lambda views: loss(views)["loss"]


def _eight_views(fn: Callable[[List[Tensor]], Tensor]) -> Callable[[List[Tensor]], Tensor]:
    """The 2 views plus 6 more made by rolling their rows (SwAV's 8 crops, same batch)."""
    return lambda views: fn(views + [v.roll(k, 0) for k in (1, 2, 3) for v in views])


def _plain_algorithm1(views: List[Tensor]) -> Tensor:
    with torch.autocast(views[0].device.type, enabled=False):
        return plain_e2mc([v.float() for v in views])["loss"]


def raw_variants() -> Dict[str, Optional[dict]]:
    """label -> aux spec (None: no aux loss; "plain": Algorithm 1)."""
    return {
        "none": None,
        "e2mc (defaults)": aux_spec("e2mc"),
        "e2mc check_finite=False": aux_spec("e2mc", check_finite=False),
        "e2mc check_finite=True (eager)": aux_spec("e2mc", check_finite=True),
        "e2mc plain Algorithm 1": {"name": "plain"},
        "vcreg (defaults)": aux_spec("vcreg"),
        "auh (defaults)": aux_spec("auh"),
        "mmcr 2 views (defaults)": aux_spec("mmcr"),
        "mmcr 8 views (defaults)": {**aux_spec("mmcr"), "eight": True},
    }


def raw_backbone(arch: str, size: int):
    """``(backbone, feature dim)``: a torchvision ResNet without its fc, or solo-learn main's ViT
    (``vit_base`` / ``vit_tiny`` of ``solo.backbones``, patch 16, ``img_size=size``)."""
    if arch.startswith("vit"):
        from solo.backbones import vit_base, vit_tiny

        build = {"vit_base": vit_base, "vit_tiny": vit_tiny}[arch]
        logging.getLogger().setLevel(logging.ERROR)  # solo's "no custom backbone" warning
        vit = build("vicreg", img_size=size)
        return vit, vit.num_features
    import torchvision

    backbone = getattr(torchvision.models, arch)()
    feat = backbone.fc.in_features
    backbone.fc = nn.Identity()
    return backbone, feat


def vit_unavailable() -> Optional[str]:
    """Why part V cannot run here (None: it can)."""
    try:
        from solo.backbones import vit_base  # noqa: F401
    except ImportError as err:
        return f"solo-learn main's solo.backbones.vit_base is not importable ({err})"
    return None


def run_raw(args, device: torch.device, arch: str, only=None) -> Dict[str, List[float]]:
    torch.manual_seed(0)
    backbone, feat = raw_backbone(arch, args.size)
    p = args.proj_dim
    projector = nn.Sequential(
        nn.Linear(feat, p), nn.BatchNorm1d(p), nn.ReLU(),
        nn.Linear(p, p), nn.BatchNorm1d(p), nn.ReLU(),
        nn.Linear(p, p),
    )  # fmt: skip
    model = nn.Sequential(backbone, projector).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=1e-6, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    crops = [
        torch.randn(args.batch_a, 3, args.size, args.size, generator=gen)
        .to(device)
        .contiguous(memory_format=torch.channels_last)
        for _ in range(2)
    ]
    variants = {k: v for k, v in raw_variants().items() if only is None or k in only}
    fns: Dict[str, Optional[Callable]] = {}
    for label, spec in variants.items():
        if spec is None:
            fns[label] = None
        elif spec["name"] == "plain":
            fns[label] = _plain_algorithm1
        else:
            spec = dict(spec)
            eight = spec.pop("eight", False)
            fn = _aux_from_spec(spec)
            fns[label] = _eight_views(fn) if eight else fn

    def step(fn) -> float:
        sync(device)
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp):
            z = [model(x) for x in crops]
            loss = vicreg_loss(*z)
            if fn is not None:
                loss = loss + fn(z)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync(device)
        return time.perf_counter() - t0

    times = {label: [] for label in variants}
    for label in rotations(list(variants), args.rounds):
        for _ in range(args.warmup):
            step(fns[label])
        times[label] += [step(fns[label]) for _ in range(args.steps)]
    return times


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
