"""The parts of the GPU check, in the order they run: what each proves on a GPU, what its CPU dry
run cannot prove, and its time limits. The environment comes first; the bench, the longest,
runs last so that a short window still gives the other three."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class PartSpec:
    """A part: ``target`` is ``"module:function"`` taking a
    :class:`~e2mc_plugin.gpucheck.result.Context` and returning a
    :class:`~e2mc_plugin.gpucheck.result.PartResult`; limits in seconds (GPU, dry run)."""

    name: str
    title: str
    target: str
    limit_gpu_s: float
    limit_cpu_s: float
    proves: str
    dry_run_cannot: str

    def limit(self, cpu: bool) -> float:
        return self.limit_cpu_s if cpu else self.limit_gpu_s


ENVIRONMENT = PartSpec(
    name="env",
    title="environment",
    target="e2mc_plugin.gpucheck.environment:run",
    limit_gpu_s=60,
    limit_cpu_s=120,
    proves=(
        "the node's python3 and torch with the kit: which torch, Lightning, torchmetrics, "
        "hydra, solo-learn and e2mc-plugin are imported and from where, the GPU, and that the "
        "kit is intact and was built from this tree"
    ),
    dry_run_cannot="the GPU",
)

PARTS: Tuple[PartSpec, ...] = (
    PartSpec(
        name="a",
        title="(a) exactness of every aux loss under autocast",
        target="e2mc_plugin.gpucheck.exactness:run",
        limit_gpu_s=120,
        limit_cpu_s=240,
        proves=(
            "E2MC (sigmoid and normal CDF), VCReg, AUH and MMCR, forward and backward, on views "
            "made by an autocast op in bf16 and in fp16, compute in float32 on the GPU and equal "
            "the float64 CPU value of the same views to the CPU suite's tolerances (value 2e-4 "
            "relative, E2MC 5e-3; gradient 50 x 2e-4 of its size plus one rounding to the view's "
            "dtype, E2MC's summed over tied values)"
        ),
        dry_run_cannot=(
            "the CUDA kernels (cuBLAS, the CUDA sort, cuSOLVER's eigh) and CUDA autocast: the "
            "dry run makes the same comparison under CPU autocast"
        ),
    ),
    PartSpec(
        name="b",
        title="(b) no hidden host syncs in wrapped solo-learn steps",
        target="e2mc_plugin.gpucheck.syncs:run",
        limit_gpu_s=150,
        limit_cpu_s=400,
        proves=(
            "wrapped solo-learn VICReg steps (ResNet-50, 224 px, SGD, bf16-mixed, the default "
            "deferred finiteness check) with E2MC and with MMCR run under "
            "torch.cuda.set_sync_debug_mode('warn'); each sync is located by its Python stack and "
            "allowed only where documented: the finiteness check and the logger at Lightning's "
            "log points, progress-bar values at batch end, outside the steps, and once in the "
            "first step (Lightning registers each logged value on the device). The host's own "
            "syncs (the same steps with aux_losses: []; with solo-learn's LARS, the paper "
            "recipes' optimizer) are reported; the plugin fails on any sync it adds"
        ),
        dry_run_cannot=(
            "a CPU has no device syncs: the dry run records, through a dispatch mode, the "
            "operations that synchronize on CUDA (.item() / bool() of a tensor, nonzero, "
            "masked_select, unique, the linalg functions torch documents as synchronizing, "
            "e.g. eigh) and .tolist() / .numpy(); it cannot see syncs inside CUDA libraries or "
            "from .cpu() copies, and it allows the deferred check's CPU-only read "
            "(FiniteMonitor.poll), which does not read on CUDA"
        ),
    ),
    PartSpec(
        name="d",
        title="(d) the launcher: pretrain at bf16-mixed, then kNN",
        target="e2mc_plugin.gpucheck.launcher:run",
        limit_gpu_s=150,
        limit_cpu_s=400,
        proves=(
            "e2mc-plugin pretrain runs solo-learn main's main_pretrain.py with the recipe "
            "cpu/vicreg_e2mc on the GPU at precision bf16-mixed for 3 steps (checkpoint, "
            "args.json and a finite train_aux/loss), then e2mc-plugin knn evaluates that "
            "checkpoint with the host's main_knn.py as written (CUDA)"
        ),
        dry_run_cannot=(
            "CUDA: the dry run runs the same commands with --cpu (bf16-mixed on CPU autocast, "
            "kNN under the CPU shim)"
        ),
    ),
    PartSpec(
        name="c",
        title="(c) step cost against the goals (bench/bench_gpu_step.py)",
        target="e2mc_plugin.gpucheck.step_cost:run",
        limit_gpu_s=300,
        limit_cpu_s=400,
        proves=(
            "each criterion's share of a ResNet-50 bf16 2 x 256 step (goal 1 %, MMCR 3 %), the "
            "wrapper's own share (goal 1.5 %) and each criterion's share of a ViT-B/16 bf16 "
            "2 x 256 step (solo-learn's vit_base); a missed goal fails the part and its row "
            "says so"
        ),
        dry_run_cannot=(
            "speed: toy sizes on the CPU; the shares are shown, not compared with the goals"
        ),
    ),
)

#: the whole check's time budget in seconds (GPU: the parts within 8 minutes with start-up)
BUDGET_GPU_S = 450.0
BUDGET_CPU_S = 1500.0
