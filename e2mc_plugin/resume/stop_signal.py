"""Stop a run cleanly on the signals schedulers send before they preempt it.

A signal handler runs between two Python bytecodes, in the middle of an optimizer step or of a
checkpoint write, where nothing can be saved consistently. :class:`StopSignals` only notes the
signal; the host's hooks look at :attr:`StopSignals.received` at safe points (after a training
batch, at an epoch end), write a checkpoint there and stop the run with :func:`exit_status`
(``128 + signal number``, what a shell reports for a process the signal ended: 143 for SIGTERM,
138 for SIGUSR1). The signals handled:

* ``SIGTERM``: what SLURM, Kubernetes and most schedulers send before killing a job;
* ``SIGUSR1``: the usual early warning (SLURM ``--signal=USR1@90``), taken only where no other
  handler owns it: under SLURM with auto-requeue, Lightning's handler keeps it (it saves
  ``hpc_ckpt_N.ckpt`` and requeues the job; the ``SIGTERM`` that follows ends the run here).

Loader workers forked while the handlers are installed inherit them and ignore the signals
(a handler acts only in the process that installed it): a signal sent to the whole process group
reaches the main process's safe point instead of killing a worker under it.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any, Dict, Optional

__all__ = [
    "STOP_SIGNALS",
    "StopSignals",
    "agree",
    "exit_status",
    "signal_name",
    "stopped_line",
]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
_OWNED_BY_OTHERS = (signal.SIGUSR1,)  # left to an existing handler (Lightning's SLURM requeue)


def agree(received: Optional[int], group: Any = None) -> Optional[int]:
    """The signal any process of the run received (the largest number), or None: under DDP one
    all-reduce of one number, so that every rank stops after the same batch even when the
    signal reached only some of them; alone, ``received`` itself (no communication).

    The number travels as a CPU tensor over a gloo group (``group``, else the default group when
    it is gloo, else one gloo group made once beside it): reading the result back never waits for
    the GPU, so checking after every batch adds no host-device sync to the step."""
    import torch  # here: the handlers themselves need nothing but the standard library

    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return received
    group = group if group is not None else _cpu_group(dist)
    flag = torch.tensor([received or 0], dtype=torch.int64)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=group)
    return int(flag.item()) or None


_GLOO_GROUPS: Dict[Any, Any] = {}  # default process group -> a gloo group of the same ranks


def _cpu_group(dist: Any) -> Any:
    """A process group whose collectives take CPU tensors: the default one when it is gloo, else a
    gloo group of all ranks, made once per default group (every rank makes it at its first
    check, the same batch on all of them, as ``new_group`` requires)."""
    if dist.get_backend() == "gloo":
        return None
    default = dist.group.WORLD
    if default not in _GLOO_GROUPS:
        _GLOO_GROUPS[default] = dist.new_group(backend="gloo")
    return _GLOO_GROUPS[default]


def signal_name(signum: int) -> str:
    """``"SIGTERM"`` for 15."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_status(signum: int) -> int:
    """The exit status of a run stopped by ``signum``: ``128 + signum`` (143 for SIGTERM)."""
    return 128 + int(signum)


def stopped_line(signum: int, where: str, checkpoint: Optional[str], resume: str) -> str:
    """The one line a stopped run prints: the signal, where it stopped, how to go on."""
    name = signal_name(signum)
    if checkpoint is None:
        return f"e2mc-plugin: stopped by {name} {where}; no checkpoint written ({resume})"
    return f"e2mc-plugin: stopped by {name} {where}; checkpoint {checkpoint}; resume: {resume}"


class StopSignals:
    """Notes the first of :data:`STOP_SIGNALS` while installed (module docstring).

    A signal that arrives after :meth:`uninstall` (a handler left behind by someone who restored
    a snapshot taken while it was installed) gets the handler found at :meth:`install`.
    """

    def __init__(self) -> None:
        self.received: Optional[int] = None
        self._previous: Dict[int, Any] = {}
        self._found: Dict[int, Any] = {}
        self._pid = 0

    @property
    def installed(self) -> bool:
        return bool(self._previous)

    def install(self) -> bool:
        """Handle the signals from now on (main thread only; False elsewhere)."""
        if self._previous or threading.current_thread() is not threading.main_thread():
            return bool(self._previous)
        self._pid = os.getpid()
        for signum in STOP_SIGNALS:
            current = signal.getsignal(signum)
            if signum in _OWNED_BY_OTHERS and current not in (signal.SIG_DFL, None):
                continue
            self._previous[signum] = self._found[signum] = current
            signal.signal(signum, self._note)
        return True

    def uninstall(self) -> None:
        """Give the signals back to the handlers found at :meth:`install`."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}

    def _note(self, signum: int, frame: Any) -> None:
        if os.getpid() != self._pid:
            return  # a loader worker forked while installed: the main process acts
        if not self._previous:  # left behind: behave as the handler found at install
            found = self._found.get(signum, signal.SIG_DFL)
            signal.signal(signum, found if found is not None else signal.SIG_DFL)
            if callable(found):
                found(signum, frame)
            elif found in (signal.SIG_DFL, None):
                os.kill(os.getpid(), signum)
            return
        if self.received is None:
            self.received = signum
