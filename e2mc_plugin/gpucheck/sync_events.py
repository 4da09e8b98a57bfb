"""Where part (b) sees host syncs, each with the Python stack that made it.

- :class:`CudaSyncs` (GPU): ``torch.cuda.set_sync_debug_mode("warn")`` makes torch warn at every
  synchronizing CUDA call (``.item()``, blocking copies to the host, stream synchronizations,
  ``nonzero``, the linalg functions that check their results on the host...); each warning is
  caught with the stack of the Python line that made it.
- :class:`CpuSyncs` (dry run): a CPU has no device to wait for, so the operations that would
  synchronize on CUDA are recorded instead, through a dispatch mode (:data:`CUDA_SYNC_OPS`), plus
  the host reads that do not dispatch on the CPU (``Tensor.tolist``, ``Tensor.numpy``).

Both record into a :class:`Phase`-stamped list of :class:`SyncEvent`.
"""

from __future__ import annotations

import traceback
import warnings
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode

SYNC_WARNING = "called a synchronizing CUDA operation"

#: aten operations that synchronize the device with the host on CUDA: the scalar read behind
#: .item() / bool() / float(), the data-dependent output sizes (nonzero, masked_select, unique,
#: repeat_interleave without output_size; boolean-mask indexing: :data:`MASK_INDEXING`),
#: ``equal``, and the linalg functions torch documents
#: as synchronizing ("When inputs are on a CUDA device, this function synchronizes that device
#: with the CPU": eig, eigvals, eigh, eigvalsh, svd, svdvals, matrix_rank, lstsq, pinv, det...)
CUDA_SYNC_OPS = frozenset(
    {
        "_local_scalar_dense",
        "is_nonzero",
        "equal",
        "nonzero",
        "masked_select",
        "_unique",
        "_unique2",
        "unique_dim",
        "unique_consecutive",
        "repeat_interleave",
        "_linalg_eigh",
        "linalg_eig",
        "_linalg_svd",
        "_linalg_det",
        "_linalg_slogdet",
        "linalg_lstsq",
        "linalg_cholesky_ex",
        "linalg_inv_ex",
    }
)

#: indexing that synchronizes on CUDA when an index is a boolean mask (``x[mask]``,
#: ``x[mask] = v``: the kernel counts the mask's elements on the host)
MASK_INDEXING = frozenset({"index", "index_put", "index_put_", "_index_put_impl_"})

Frame = Tuple[str, int, str]


def short(path: str) -> str:
    """A file path from its package folder on (``e2mc_plugin/...``, ``solo/...``, ...)."""
    parts = path.replace("\\", "/").split("/")
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in ("e2mc_plugin", "solo", "lightning", "torch", "torchmetrics", "timm"):
            return "/".join(parts[i:])
    return "/".join(parts[-2:])


@dataclass
class Phase:
    """Where the training loop is: ``outside`` (set-up, epoch end, tear-down), ``step`` (from
    ``on_train_batch_start``: forward, loss, backward, optimizer step) or ``after`` (from the
    first ``on_train_batch_end`` callback to the next batch), and the batch index."""

    name: str = "outside"
    batch: Optional[int] = None


@dataclass
class SyncEvent:
    op: str
    phase: str
    batch: Optional[int]
    frames: List[Frame] = field(default_factory=list)  # innermost last


class _Recorder:
    def __init__(self, phase: Phase) -> None:
        self.phase = phase
        self.events: List[SyncEvent] = []

    def record(self, op: str) -> None:
        stack = traceback.extract_stack()[:-2]  # without this recorder's own frames
        frames = [(short(f.filename), f.lineno or 0, f.name) for f in stack]
        self.events.append(SyncEvent(op, self.phase.name, self.phase.batch, frames))


class CudaSyncs(_Recorder):
    """Context manager: sync debug mode "warn", each warning recorded (not shown)."""

    def __enter__(self) -> "CudaSyncs":
        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.filterwarnings("always", message=SYNC_WARNING)
        shown = warnings.showwarning

        def hook(message, category, filename, lineno, file=None, line=None):
            if SYNC_WARNING in str(message):
                self.record("cuda sync")
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = hook
        torch.cuda.set_sync_debug_mode("warn")
        return self

    def __exit__(self, *exc) -> None:
        torch.cuda.set_sync_debug_mode("default")
        self._catch.__exit__(*exc)


class _SyncOpMode(TorchDispatchMode):
    def __init__(self, recorder: _Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in CUDA_SYNC_OPS:
            self.recorder.record(name)
        elif name in MASK_INDEXING and _boolean_mask(args):
            self.recorder.record(f"{name.strip('_')} (boolean mask)")
        return func(*args, **(kwargs or {}))


def _boolean_mask(args) -> bool:
    indices = args[1] if len(args) > 1 else ()
    return any(
        isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8)
        for i in (indices or ())
    )


class CpuSyncs(_Recorder):
    """Context manager: records the CUDA-synchronizing operations and host reads on the CPU."""

    def __enter__(self) -> "CpuSyncs":
        self._saved = (torch.Tensor.tolist, torch.Tensor.numpy)
        tolist, numpy = self._saved

        def read_list(t, *a, **k):
            self.record("tolist")
            return tolist(t, *a, **k)

        def read_numpy(t, *a, **k):
            self.record("numpy")
            return numpy(t, *a, **k)

        torch.Tensor.tolist, torch.Tensor.numpy = read_list, read_numpy
        self._mode = _SyncOpMode(self)
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)
        torch.Tensor.tolist, torch.Tensor.numpy = self._saved
