"""Part (a): every aux loss, forward and backward, under bf16 and fp16 autocast on the device,
against the float64 value of the same views on the CPU.

The views are the output of an autocast matmul (so they are bf16 / fp16, as a projector's
would be, and autocast is on while the loss runs). The reference is the same loss built again and
run in float64 on the CPU on exactly those half-precision values. Tolerances are the CPU suite's
(``tests/aux_losses/test_aux_hypothesis.py``; a fast test keeps them equal):

- value of every term: ``|got - ref| <= rtol * max(1, |ref|)``, rtol = 2e-4 (float32 work), E2MC
  5e-3 (the spacings of Psi(z) near 0.5 sit close to float32's resolution);
- gradient of every view: ``max |g - r| <= (50 * 2e-4 + eps(dtype)) * size``, size = max |r| (plus
  1 / min row norm for the losses on the sphere, as the suite does): the suite's float32
  tolerance plus one rounding of the gradient to the view's dtype. E2MC's gradient is compared
  summed over groups of tied values in each column: at a tie the sort may put either element
  first (the estimator is not differentiable there), while the group's sum is the same.
"""

from __future__ import annotations

import math
from typing import Dict, List, Tuple

import torch
from torch import Tensor

from e2mc_plugin.aux_losses import build_aux_loss
from e2mc_plugin.gpucheck.result import Context, PartResult, verdict

#: the CPU suite's settings of tests/aux_losses/test_aux_hypothesis.py (SPECS)
SPECS: Dict[str, dict] = {
    "e2mc (sigmoid)": {"name": "e2mc", "beta": 1.0, "gamma": 1.0, "mapping": "sigmoid"},
    "e2mc (normal CDF)": {
        "name": "e2mc",
        "beta": 1.0,
        "gamma": 1.0,
        "mapping": "gaussian_cdf",
        "reduction": "paper",
    },
    "vcreg": {"name": "vcreg", "mu": 1.0, "nu": 1.0},
    "auh": {"name": "auh", "weight": 1.0, "alignment_weight": 0.5},
    "mmcr": {"name": "mmcr", "weight": 1.0},
}
#: relative accuracy of a float32 computation against float64 (the suite's RTOL[float32])
RTOL = 2e-4
#: E2MC's value tolerance in the suite (float32 resolution of the spacings)
E2MC_VALUE_RTOL = 5e-3
#: the suite's gradient factor: max |g - r| <= GRAD_FACTOR * RTOL * size
GRAD_FACTOR = 50
SPHERE = ("vcreg", "auh", "mmcr")  # scale-invariant losses: gradients ~ 1 / |z|
DTYPES = (torch.bfloat16, torch.float16)
#: (rows n, autocast matmul inner size k, embedding dim d)
SIZES = {"gpu": (256, 512, 2048), "cpu": (64, 32, 48)}


def tie_sums(z: Tensor, g: Tensor) -> Tensor:
    """Per column of ``z`` (n, d): the sum of ``g`` over each group of equal values, laid out in
    sorted order (one entry per group, zeros after). Invariant to how a sort orders ties."""
    zs, idx = z.sort(dim=0, stable=True)
    gs = g.gather(0, idx)
    new = torch.ones_like(zs, dtype=torch.bool)
    new[1:] = zs[1:] != zs[:-1]
    group = new.long().cumsum(0) - 1
    return torch.zeros_like(gs).scatter_add_(0, group, gs)


def _views(n: int, k: int, d: int, seed: int) -> Tuple[List[Tensor], Tensor]:
    gen = torch.Generator().manual_seed(seed)
    xs = [torch.randn(n, k, generator=gen) for _ in range(2)]
    return xs, torch.randn(k, d, generator=gen) / math.sqrt(k)


def compare(label: str, dtype: torch.dtype, device: torch.device, size, seed: int) -> dict:
    """One loss under ``dtype`` autocast on ``device`` against float64 on the CPU: a row."""
    spec = dict(SPECS[label])
    name = spec.pop("name")
    xs, w = _views(*size, seed)
    loss = build_aux_loss(name, **spec)
    weight = w.to(device).requires_grad_(True)  # the views need a graph to retain their grad
    with torch.autocast(device.type, dtype=dtype):
        views = [x.to(device) @ weight for x in xs]
        for v in views:
            v.retain_grad()
        out = loss(views)
    out["loss"].backward()
    loss.raise_if_nonfinite()  # the deferred check read once, here (no NaN/Inf expected)
    halves = [v.detach().to("cpu", torch.float64) for v in views]
    leaves = [h.clone().requires_grad_(True) for h in halves]
    ref = build_aux_loss(name, **spec)(leaves)
    ref["loss"].backward()

    rtol = E2MC_VALUE_RTOL if name == "e2mc" else RTOL
    got = {t: float(v.detach()) for t, v in out.items()}
    want = {t: float(v.detach()) for t, v in ref.items()}
    value_err = max(abs(got[t] - want[t]) / max(1.0, abs(want[t])) for t in want)
    fp32 = all(out[t].dtype == torch.float32 for t in out)
    grad_err, grad_tol, finite = 0.0, 0.0, True
    for v, h, leaf in zip(views, halves, leaves, strict=True):
        g, r = v.grad.detach().to("cpu", torch.float64), leaf.grad
        finite = finite and bool(torch.isfinite(g).all())
        if name == "e2mc":
            g, r = tie_sums(h, g), tie_sums(h, r)
        size = float(r.abs().max())
        if name in SPHERE:
            size += 1.0 / float(torch.linalg.vector_norm(h, dim=1).min())
        tol = (GRAD_FACTOR * RTOL + torch.finfo(dtype).eps) * size
        grad_err = max(grad_err, float((g - r).abs().max()) / size)
        grad_tol = max(grad_tol, tol / size)
    half_in = all(v.dtype == dtype for v in views)
    ok = half_in and fp32 and finite and value_err <= rtol and grad_err <= grad_tol
    return {
        "loss": label,
        "autocast": str(dtype).replace("torch.", ""),
        "views": str(views[0].dtype).replace("torch.", ""),
        "terms fp32": fp32,
        "value error": value_err,
        "value tol": rtol,
        "grad error": grad_err,
        "grad tol": grad_tol,
        "ok": ok,
    }


def run(ctx: Context) -> PartResult:
    device = torch.device("cpu" if ctx.cpu else "cuda")
    size = SIZES["cpu" if ctx.cpu else "gpu"]
    if ctx.cpu:
        torch.set_num_threads(1)
    rows = [
        compare(label, dtype, device, size, seed=i)
        for i, label in enumerate(SPECS)
        for dtype in DTYPES
    ]
    passed = sum(r["ok"] for r in rows)
    n, k, d = size
    notes = [
        f"views: 2 x ({n}, {d}), the output of an autocast ({n}, {k}) @ ({k}, {d}) matmul on "
        f"{device.type}; reference: the same loss in float64 on the CPU on the same values",
        "errors are relative: value |got - ref| / max(1, |ref|) (worst term); gradient "
        "max |g - r| / size (worst view), size = max |r| (+ 1 / min row norm on the sphere)",
    ]
    if device.type == "cuda":
        notes.append(
            "TF32 matmuls: "
            f"{'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'} (torch's default: off)"
        )
    return PartResult(
        verdict(passed == len(rows)),
        f"{passed} of {len(rows)} loss x autocast dtype comparisons within the CPU suite's "
        "tolerances",
        list(rows[0]),
        rows,
        notes,
    )
