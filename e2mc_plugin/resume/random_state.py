"""The random states of a training process: saved in every checkpoint, restored on resume.

A run that is stopped after an epoch's checkpoint and resumed draws the same random numbers as
the run that was never stopped (same shuffling, same augmentations, same dropout masks, same
loader-worker seeds, which ``DataLoader`` draws from the torch generator), so it ends with the
same weights. What is kept, under :data:`RANDOM_STATE_KEY` of the checkpoint::

    {"format": 1, "world_size": W, "ranks": [state of rank 0, ..., state of rank W-1]}
    state = {"python": [version, [625 ints], gauss],          # random.getstate()
             "numpy": [[624 ints], pos, has_gauss, gauss],    # np.random.get_state() (MT19937)
             "torch": ByteTensor,                             # torch.get_rng_state()
             "cuda": [ByteTensor per device]}                 # only once CUDA is initialized

Plain lists, numbers and tensors only: ``torch.load(weights_only=True)``, which both Lightning
versions use, reads it. Under DDP every rank's state is gathered (``all_gather_object``: every
rank runs the checkpoint hooks of ``trainer.save_checkpoint``) and each rank gets its own back.

When: :class:`ResumeRandomState` captures at the save (solo-learn's ``Checkpointer`` saves in
``on_train_epoch_end``, after the epoch's validation) and restores at the start of the first
training epoch after the resume: after Lightning's sanity check (which isolates its random
numbers anyway), ``configure_optimizers`` and ``on_fit_start``, and before the epoch's data
loader iterator is created (its sampler order and worker seeds are drawn there). Nothing that
the uninterrupted run does between its save and its next epoch draws random numbers in the
hosts' loops, so the two runs continue from the same state.
"""

from __future__ import annotations

import logging
import random
from typing import Any, Dict, List, Mapping, MutableMapping, Optional

import numpy as np
import torch

__all__ = ["RANDOM_STATE_KEY", "ResumeRandomState", "capture", "restore"]

log = logging.getLogger(__name__)

#: the checkpoint entry holding the random states
RANDOM_STATE_KEY = "e2mc_plugin_random_states"
_FORMAT = 1


def _local_state() -> Dict[str, Any]:
    version, internal, gauss = random.getstate()
    _, key, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: Dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [key.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def _set_local_state(state: Mapping[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    key, pos, has_gauss, cached = state["numpy"]
    np.random.set_state(("MT19937", np.asarray(key, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available():
        for device in range(min(len(cuda), torch.cuda.device_count())):
            torch.cuda.set_rng_state(cuda[device], device)


def _world() -> tuple:
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def capture() -> Dict[str, Any]:
    """The random states of every process of the run (a collective call under DDP)."""
    state = _local_state()
    rank, world = _world()
    ranks: List[Any] = [state]
    if world > 1:
        ranks = [None] * world
        torch.distributed.all_gather_object(ranks, state)
    return {"format": _FORMAT, "world_size": world, "ranks": ranks}


def restore(saved: Mapping[str, Any]) -> None:
    """Set this process's random states to the ones ``saved`` holds for its rank (rank 0's
    when the run resumes with more processes than it was saved with)."""
    rank, world = _world()
    ranks = saved["ranks"]
    if len(ranks) != world:
        log.warning(
            "random states: the checkpoint was saved by %d process(es), this run has %d: "
            "the random numbers differ from an uninterrupted run",
            len(ranks),
            world,
        )
    _set_local_state(ranks[rank] if rank < len(ranks) else ranks[0])


class ResumeRandomState:
    """What a host's three checkpoint hooks call (see the module docstring for when).

    ``save(checkpoint)`` in ``on_save_checkpoint``, ``load(checkpoint)`` in
    ``on_load_checkpoint``, ``epoch_start()`` in ``on_train_epoch_start``.
    """

    def __init__(self) -> None:
        self._pending: Optional[Mapping[str, Any]] = None

    def save(self, checkpoint: MutableMapping[str, Any]) -> None:
        checkpoint[RANDOM_STATE_KEY] = capture()

    def load(self, checkpoint: Mapping[str, Any]) -> None:
        saved = checkpoint.get(RANDOM_STATE_KEY)
        if saved is None:
            log.warning(
                "random states: the checkpoint holds none (saved without e2mc-plugin or by an "
                "older one); the resumed run draws other random numbers than an uninterrupted one"
            )
        self._pending = saved

    def epoch_start(self) -> None:
        if self._pending is not None:
            saved, self._pending = self._pending, None
            restore(saved)
