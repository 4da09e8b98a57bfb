"""A Lightning ``CheckpointIO`` whose checkpoints are never half-written, and that names the file
it cannot read.

Lightning's ``TorchCheckpointIO`` serializes to memory and then writes the final file in place:
a process killed during that write leaves a truncated ``.ckpt`` under the final name (which
auto-resume then picks, and every later run fails on). :func:`atomic_checkpoint_io` returns a
``TorchCheckpointIO`` of the given Lightning package that writes local files through
:func:`e2mc_plugin.checkpoints.atomic.atomic_write` (temporary file in the same folder, flushed,
fsynced, renamed into place); remote paths (``s3://...``, whose object stores replace whole
objects) and ``storage_options`` go to Lightning's own writer. Loading checks the file first
(:func:`e2mc_plugin.checkpoints.safe_load.check_checkpoint_file`: truncated or damaged bytes
raise ``CorruptCheckpointError`` naming the file, not ``PytorchStreamReader failed``)::

    import lightning.pytorch as pl                  # or: import pytorch_lightning as pl
    from e2mc_plugin.lightning import atomic_checkpoint_io

    trainer = pl.Trainer(plugins=[atomic_checkpoint_io(pl)], ...)

Every writer goes through it: ``ModelCheckpoint``, solo-learn's ``Checkpointer``, a user's
``trainer.save_checkpoint``. ``e2mc-plugin pretrain|linear`` and the wrapped solo-learn methods
install it themselves (:mod:`e2mc_plugin.solo.launch.safety`).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any, Dict, Optional, Union

import torch

from e2mc_plugin.checkpoints.atomic import atomic_write
from e2mc_plugin.checkpoints.safe_load import check_checkpoint_file

__all__ = ["atomic_checkpoint_io", "atomic_io_class", "is_local_path"]

_CLASSES: Dict[str, type] = {}


def is_local_path(path: Any) -> bool:
    """True for a plain path or a ``file://`` URL (what ``os.replace`` can rename)."""
    text = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
    return "://" not in text or text.startswith("file://")


def _package_name(lightning: Union[str, ModuleType]) -> str:
    name = lightning if isinstance(lightning, str) else lightning.__name__
    if name not in ("lightning.pytorch", "pytorch_lightning"):
        raise ValueError(
            f"atomic_checkpoint_io: expected the Lightning package your Trainer comes from "
            f"(lightning.pytorch or pytorch_lightning), got {name!r}"
        )
    return name


def atomic_io_class(lightning: Union[str, ModuleType]) -> type:
    """The ``AtomicCheckpointIO`` class built on ``lightning``'s ``TorchCheckpointIO`` (cached)."""
    name = _package_name(lightning)
    if name in _CLASSES:
        return _CLASSES[name]
    base = importlib.import_module(f"{name}.plugins.io").TorchCheckpointIO

    class AtomicCheckpointIO(base):
        """``TorchCheckpointIO`` writing local files atomically (module docstring)."""

        def save_checkpoint(
            self, checkpoint: Dict[str, Any], path: Any, storage_options: Optional[Any] = None
        ) -> None:
            if storage_options is not None or not is_local_path(path):
                return super().save_checkpoint(checkpoint, path, storage_options)
            local = os.fspath(path).removeprefix("file://")
            os.makedirs(os.path.dirname(os.path.abspath(local)), exist_ok=True)
            try:
                atomic_write(local, lambda f: torch.save(checkpoint, f))
            except AttributeError:  # an unpicklable hyper-parameter: Lightning drops it
                super().save_checkpoint(checkpoint, path, storage_options)

        def load_checkpoint(self, path: Any, map_location: Optional[Any] = None) -> Dict[str, Any]:
            if is_local_path(path) and os.path.isfile(os.fspath(path).removeprefix("file://")):
                check_checkpoint_file(os.fspath(path).removeprefix("file://"))  # names the file
            if map_location is None:
                return super().load_checkpoint(path)
            return super().load_checkpoint(path, map_location=map_location)

        def __reduce__(self):  # pickles by package name (ddp_spawn sends the trainer)
            return (atomic_checkpoint_io, (name,))

    AtomicCheckpointIO.__qualname__ = AtomicCheckpointIO.__name__
    _CLASSES[name] = AtomicCheckpointIO
    return AtomicCheckpointIO


def atomic_checkpoint_io(lightning: Union[str, ModuleType]) -> Any:
    """A new atomic ``CheckpointIO`` for ``Trainer(plugins=[...])``.

    Args:
        lightning: the Lightning package the ``Trainer`` comes from, as a module or its name:
            ``lightning.pytorch`` (Lightning 2.x) or ``pytorch_lightning`` (1.9 and 2.x).
    """
    return atomic_io_class(lightning)()
