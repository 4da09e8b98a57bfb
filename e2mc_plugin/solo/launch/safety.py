"""Our runs survive kills and preemption and resume exactly: three callbacks of the factory.

``e2mc-plugin pretrain|linear`` runs the host's ``main_*.py`` unchanged; the plugin reaches its
``Trainer`` through the ``callbacks_factory`` entry point
(:mod:`e2mc_plugin.solo.launch.callbacks`), which adds these to every Trainer. Each acts only in
a run of ours (:func:`is_our_run`: launched by ``e2mc-plugin``, or training a wrapped
``<method>_aux`` method: the launcher, the Python API :func:`e2mc_plugin.solo.api.fit` and the
host's own scripts on a patched tree alike):

* :class:`AtomicCheckpoints` (``setup``): the strategy's default ``TorchCheckpointIO`` becomes
  :func:`e2mc_plugin.lightning.checkpoint_io.atomic_checkpoint_io`: every checkpoint (solo's
  ``Checkpointer``, Lightning's ``ModelCheckpoint``) is written to a temporary file, fsynced and
  renamed into place, and a damaged file is named when a resume reads it. A ``CheckpointIO``
  the user chose is kept.
* :class:`RandomStates`: the random states in every checkpoint, restored at the first epoch start
  after a resume (:mod:`e2mc_plugin.resume.random_state`).
* :class:`StopOnSignal`: SIGTERM (and SIGUSR1 where no scheduler integration owns it) stops the
  run at the next batch end or epoch end with a checkpoint (when checkpointing is on), one line
  saying so and where to resume from, and exit status 128 + signal (143 for SIGTERM)
  (:mod:`e2mc_plugin.resume.stop_signal`). On Lightning 2.x, which flags SIGTERM itself
  (``trainer.received_sigterm``), its flag is read; its own stop (``SIGTERMException``, exit
  status 0) gets the checkpoint, the line and the status too.
"""

from __future__ import annotations

import os
import sys
from typing import Any, List, Optional, Tuple

from e2mc_plugin.solo.host.picklable import picklable_subclass, rebuilding_getattr
from e2mc_plugin.solo.launch.launched import launched_command

__all__ = ["is_our_run", "safety_callbacks"]

_NAMES = ("AtomicCheckpoints", "RandomStates", "StopOnSignal")


def is_our_run(pl_module: Any) -> bool:
    """Launched by ``e2mc-plugin`` (:func:`launched_command`), or a wrapped method."""
    from e2mc_plugin.solo.method.mixin import AuxLossesMixin

    return launched_command() is not None or isinstance(pl_module, AuxLossesMixin)


def _writer(trainer: Any) -> Tuple[str, Any]:
    """Who writes the run's checkpoints: ``("solo", Checkpointer)``, ``("lightning",
    ModelCheckpoint)`` or ``("none", None)``."""
    from e2mc_plugin.solo.launch.run_summary import _checkpointer

    ckpt = _checkpointer(trainer)
    if ckpt is not None and hasattr(ckpt, "ckpt_placeholder"):
        return "solo", ckpt
    model_ckpt = getattr(trainer, "checkpoint_callback", None)
    if model_ckpt is not None and getattr(model_ckpt, "dirpath", None):
        return "lightning", model_ckpt
    return "none", None


def save_for_resume(trainer: Any, at_epoch_end: bool) -> Tuple[Optional[str], str]:
    """Write a checkpoint to resume from (every rank calls it); ``(path or None, how to resume)``.

    solo's ``Checkpointer``: its own name for the current epoch (``<name>-<run>-ep=E.ckpt``),
    through its ``save`` (so it replaces the previous one unless ``keep_prev``); at an epoch end
    where it has just written that file, that file. Lightning's ``ModelCheckpoint``:
    ``<dirpath>/last.ckpt`` (what ``ckpt_path="last"`` picks). Neither: nothing.
    """
    kind, writer = _writer(trainer)
    if kind == "solo":
        target = writer.path / writer.ckpt_placeholder.format(trainer.current_epoch)
        if not (at_epoch_end and str(getattr(writer, "last_ckpt", "")) == str(target)):
            writer.save(trainer)
        return str(target.resolve()), "auto_resume.enabled=True picks it up, or add " + (
            f"resume_from_checkpoint='{target.resolve()}'"
        )
    if kind == "lightning":
        target = os.path.join(writer.dirpath, writer.CHECKPOINT_NAME_LAST + writer.FILE_EXTENSION)
        trainer.save_checkpoint(target)
        return os.path.abspath(target), f"fit(..., ckpt_path='{os.path.abspath(target)}')"
    return None, "checkpointing is off: the run cannot resume; enable checkpoint.enabled"


def _during(trainer: Any) -> str:
    return f"during epoch {trainer.current_epoch} (after global step {trainer.global_step})"


def _build(name: str) -> Optional[type]:
    if name not in _NAMES:
        return None
    cached = globals().get(name)
    if cached is not None:
        return cached
    from e2mc_plugin.lightning.checkpoint_io import atomic_checkpoint_io
    from e2mc_plugin.resume import stop_signal
    from e2mc_plugin.resume.random_state import ResumeRandomState
    from e2mc_plugin.solo.host import compat

    pl = compat.lightning()

    class AtomicCheckpoints(pl.Callback):
        """The run's default CheckpointIO made atomic (module docstring)."""

        def setup(self, trainer, pl_module, stage=None) -> None:
            strategy = trainer.strategy
            if is_our_run(pl_module) and type(strategy.checkpoint_io) is (
                pl.plugins.io.TorchCheckpointIO
            ):
                strategy.checkpoint_io = atomic_checkpoint_io(pl)

    class RandomStates(pl.Callback):
        """The random states saved in checkpoints and restored on resume (module docstring)."""

        def __init__(self) -> None:
            self.states = ResumeRandomState()

        def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
            if is_our_run(pl_module):
                self.states.save(checkpoint)

        def on_load_checkpoint(self, trainer, pl_module, checkpoint) -> None:
            if is_our_run(pl_module):
                self.states.load(checkpoint)

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            self.states.epoch_start()

    class StopOnSignal(pl.Callback):
        """Checkpoint, one line and exit status 128 + signal on SIGTERM / SIGUSR1."""

        def __init__(self) -> None:
            self.signals = stop_signal.StopSignals()
            self.training = False

        def on_fit_start(self, trainer, pl_module) -> None:
            if is_our_run(pl_module):  # before the sanity check (Lightning 1.x leaves SIGTERM)
                self.signals.install()

        def on_train_start(self, trainer, pl_module) -> None:
            self.training = is_our_run(pl_module)

        def on_train_batch_end(self, trainer, pl_module, *args: Any) -> None:
            self._check(trainer, at_epoch_end=False)

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            self._check(trainer, at_epoch_end=True)

        def _received(self, trainer) -> Optional[int]:
            if self.signals.received is not None:
                return self.signals.received
            return (
                stop_signal.signal.SIGTERM if getattr(trainer, "received_sigterm", False) else None
            )

        def _check(self, trainer, at_epoch_end: bool) -> None:
            if not self.signals.installed:
                return
            signum = stop_signal.agree(self._received(trainer))
            if signum is not None:  # only now the words for where the run stopped
                where = (
                    f"at the end of epoch {trainer.current_epoch}"
                    if at_epoch_end
                    else _during(trainer)
                )
                raise SystemExit(self._stop(trainer, signum, where, at_epoch_end))

        def _stop(self, trainer, signum: int, where: str, at_epoch_end: bool) -> int:
            self.signals.uninstall()
            if self.training:
                path, resume = save_for_resume(trainer, at_epoch_end)
            else:
                path, resume = None, "nothing was trained yet; the same command starts it again"
            if trainer.is_global_zero:
                line = stop_signal.stopped_line(signum, where, path, resume)
                print(line, file=sys.stderr, flush=True)
            return stop_signal.exit_status(signum)

        def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
            self.signals.uninstall()
            received = self._received(trainer)
            # Lightning 2.x stops on SIGTERM itself where this callback does not look (the
            # sanity check, a validation): SIGTERMException, whose exit status would be 0
            if received and isinstance(exception, SystemExit) and not exception.code:
                if is_our_run(pl_module):
                    where = _during(trainer) if self.training else "before training began"
                    exception.code = self._stop(trainer, received, where, at_epoch_end=False)

        def on_fit_end(self, trainer, pl_module) -> None:
            self.signals.uninstall()
            self.training = False

        def teardown(self, trainer, pl_module, stage=None) -> None:
            self.signals.uninstall()
            self.training = False

    for cls in (AtomicCheckpoints, RandomStates, StopOnSignal):
        picklable_subclass(cls, __name__, cls.__name__)
    return globals()[name]


__getattr__ = rebuilding_getattr(__name__, _build)


def safety_callbacks() -> List[Any]:
    """One of each callback (the factory adds them to every Trainer; they act in our runs)."""
    return [_build(name)() for name in _NAMES]
