"""Benchmark: our criteria vs a straightforward implementation of the paper's Algorithm 1.

    python bench/bench_criteria.py [--reps 2] [--shapes 512x8192,512x2048,256x128] [--threads N]

For each (n, d) and each aux loss (2 views; MMCR 8 views) it times forward + backward of ours and
of the straightforward form written below (d x d covariance, ``torch.sort`` values with autograd,
``F.pdist``), in the same process, and prints the time ratio, the peak-memory ratio, and the max
relative difference of the values (loss and every term; must be <= 1e-5) and of the gradients.

Time: best of ``--reps`` runs after one warm-up (wall clock, ``time.perf_counter``); a case whose
first run takes over 1 s is timed by that run alone (keeps the whole bench within ~3 minutes).
Peak memory (CPU): peak resident set size above the level before the run, read from the kernel
(``/proc/self/status`` VmHWM after resetting it through ``/proc/self/clear_refs``), in a run of its
own with glibc set to return freed blocks to the OS (timed runs keep the default-like reuse). On CUDA:
``torch.cuda.max_memory_allocated`` above the level before the run.
"""

from __future__ import annotations

import argparse
import ctypes
import math
import sys
import time
from typing import Callable, Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from e2mc_plugin.aux_losses import build_aux_loss

EPS = 1e-7
SLOW_S = 1.0  # a first run this slow is timed as is (warm-up overhead is negligible there)
Terms = Dict[str, Tensor]

# ---------------------------------------------------------------------------------------------
# Straightforward forms (paper Algorithm 1 and the reference code, written as plainly as possible)
# ---------------------------------------------------------------------------------------------


def _off_diagonal(c: Tensor) -> Tensor:
    d = c.shape[0]
    return c.flatten()[:-1].view(d - 1, d + 1)[:, 1:].flatten()


def plain_cov(x: Tensor) -> Tensor:
    n, d = x.shape
    x = x - x.mean(dim=0)
    c = (x.T @ x) / (n - 1)
    return _off_diagonal(c).pow(2).sum() / d


def plain_entropy(x: Tensor) -> Tensor:
    n = x.shape[0]
    m = round(math.sqrt(n))
    s, _ = torch.sort(x, dim=0)
    return torch.log((n + 1) / m * (s[m:] - s[: n - m]) + EPS).sum(dim=0) / (n - m)


def plain_e2mc(views: Sequence[Tensor]) -> Terms:
    ents, covs = [], []
    for z in views:
        x = torch.sigmoid(z)
        x = x - x.mean(dim=0)
        ents.append(plain_entropy(x).mean())
        covs.append(plain_cov(x))
    ent = sum(ents) / len(views)
    cov = sum(covs)
    return {"loss": -1000.0 * ent + 100.0 * cov, "entropy": ent, "covariance": cov}


def plain_vcreg(views: Sequence[Tensor]) -> Terms:
    var, cov = 0.0, 0.0
    for z in views:
        z = F.normalize(z, dim=1)
        z = z - z.mean(dim=0)
        std = torch.sqrt(z.var(dim=0) + 1e-4)
        var = var + F.relu(1.0 / math.sqrt(z.shape[1]) - std).mean() / len(views)
        cov = cov + plain_cov(z)
    return {"loss": 0.1 * var + 0.001 * cov, "variance": var, "covariance": cov}


def plain_auh(views: Sequence[Tensor]) -> Terms:
    unif = 0.0
    for z in views:
        z = F.normalize(z, dim=1)
        unif = unif + F.pdist(z, p=2).pow(2).mul(-2.0).exp().mean().log() / len(views)
    return {"loss": 0.5 * unif, "uniformity": unif}


def plain_mmcr(views: Sequence[Tensor]) -> Terms:
    c = torch.stack([F.normalize(z, dim=1) for z in views], dim=-1).mean(dim=-1)
    nuc = torch.linalg.svdvals(c).sum()
    return {"loss": -0.005 * nuc, "nuclear_norm": nuc}


CASES: List[Tuple[str, int, Callable[[Sequence[Tensor]], Terms], Callable[[], object]]] = [
    (
        "e2mc",
        2,
        plain_e2mc,
        lambda: build_aux_loss("e2mc", beta=1000.0, gamma=100.0, mapping="sigmoid"),
    ),
    ("vcreg", 2, plain_vcreg, lambda: build_aux_loss("vcreg")),
    ("auh", 2, plain_auh, lambda: build_aux_loss("auh")),
    ("mmcr", 8, plain_mmcr, lambda: build_aux_loss("mmcr")),
]

# ---------------------------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------------------------


_LIBC = None
try:
    _LIBC = ctypes.CDLL("libc.so.6")
except OSError:  # not glibc: memory numbers may undercount reused heap blocks
    pass


def _malloc_mode(measure_memory: bool) -> None:
    """glibc: return freed blocks to the OS while measuring memory; keep them while timing.

    Timing runs reuse heap memory as a training loop would (no page faults on every run);
    memory runs start from a trimmed heap with every block >= 256 KiB mmapped, so that the
    resident set size grows with what the run allocates.
    """
    if _LIBC is None:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    if measure_memory:
        _LIBC.mallopt(m_mmap_threshold, 256 * 1024)
        _LIBC.mallopt(m_trim_threshold, 256 * 1024)
        _LIBC.malloc_trim(0)
    else:
        _LIBC.mallopt(m_mmap_threshold, 32 * 1024 * 1024)  # glibc's maximum
        _LIBC.mallopt(m_trim_threshold, 1024 * 1024 * 1024)


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


class PeakMemory:
    """Peak memory (MiB) of a block above the level at its start."""

    def __init__(self, device: torch.device):
        self.device = device
        self.mib = float("nan")

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._base = torch.cuda.memory_allocated()
        else:
            _malloc_mode(measure_memory=True)
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS
            self._base = _rss_kib("VmRSS")
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.mib = (torch.cuda.max_memory_allocated() - self._base) / 2**20
        else:
            self.mib = (_rss_kib("VmHWM") - self._base) / 1024
            _malloc_mode(measure_memory=False)


def _run(fn: Callable[[Sequence[Tensor]], Terms], base: Sequence[Tensor]):
    views = [b.clone().requires_grad_(True) for b in base]
    out = fn(views)
    out["loss"].backward()
    return {k: v.detach() for k, v in out.items()}, [v.grad for v in views]


def measure(fn, base: Sequence[Tensor], reps: int, device: torch.device):
    """(best time s, peak MiB, terms, grads): the first run gives the memory (and a slow time)."""

    def timed():
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        result = _run(fn, base)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0, result

    with PeakMemory(device) as mem:
        first, (terms, grads) = timed()
    times = [first]
    if first < SLOW_S:  # fast case: the first run was a warm-up, time `reps` more
        times = [timed()[0] for _ in range(reps)]
    return min(times), mem.mib, terms, grads


def max_rel(a: Dict[str, Tensor], b: Dict[str, Tensor]) -> float:
    return max(
        float((a[k].double() - b[k].double()).abs() / b[k].double().abs().clamp_min(1e-30))
        for k in b
    )


def max_rel_grad(ga: Sequence[Tensor], gb: Sequence[Tensor]) -> float:
    """Largest |difference| over the largest |gradient| entry (per view, max over views)."""
    return max(
        float((x - y).abs().max() / y.abs().max().clamp_min(1e-30))
        for x, y in zip(ga, gb, strict=True)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--shapes", default="512x8192,512x2048,256x128")
    parser.add_argument("--losses", default="e2mc,vcreg,auh,mmcr")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    _malloc_mode(measure_memory=False)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    wanted = set(args.losses.split(","))
    print(
        f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
        f"best of {args.reps} after 1 warm-up (runs > {SLOW_S:.0f} s: 1 run); memory = peak "
        f"{'CUDA allocated' if device.type == 'cuda' else 'RSS'} above the start of the run"
    )
    header = (
        f"{'loss':6} {'n x d':>10} {'V':>2} | {'ours s':>8} {'plain s':>8} {'speedup':>8} | "
        f"{'ours MiB':>9} {'plain MiB':>9} {'mem ratio':>9} | {'max rel val':>11} "
        f"{'max rel grad':>12}"
    )
    print(header)
    print("-" * len(header))
    worst = 0.0
    t_start = time.perf_counter()
    for n, d in shapes:
        for name, n_views, plain, build in CASES:
            if name not in wanted:
                continue
            gen = torch.Generator().manual_seed(n * d)
            base = [torch.randn(n, d, generator=gen).to(device) for _ in range(n_views)]
            ours = build()
            t_o, m_o, v_o, g_o = measure(ours, base, args.reps, device)
            t_p, m_p, v_p, g_p = measure(plain, base, args.reps, device)
            rel, rel_g = max_rel(v_o, v_p), max_rel_grad(g_o, g_p)
            worst = max(worst, rel)
            ratio = f"{m_p / m_o:8.1f}x" if min(m_o, m_p) >= 1.0 else f"{'n/a':>9}"
            print(
                f"{name:6} {f'{n}x{d}':>10} {n_views:>2} | {t_o:8.3f} {t_p:8.3f} "
                f"{t_p / t_o:7.1f}x | {m_o:9.1f} {m_p:9.1f} {ratio} | "
                f"{rel:11.2e} {rel_g:12.2e}",
                flush=True,
            )
    print("speedup = plain s / ours s; mem ratio = plain MiB / ours MiB (n/a below 1 MiB)")
    print(
        f"max relative value difference {worst:.2e} (limit 1e-5): "
        f"{'OK' if worst <= 1e-5 else 'FAIL'}; total {time.perf_counter() - t_start:.0f} s"
    )
    return 0 if worst <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
