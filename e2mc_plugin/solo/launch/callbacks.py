"""Callbacks that ``e2mc-plugin pretrain|linear`` adds to the host's Trainer.

Lightning adds the callbacks returned by the ``lightning.pytorch.callbacks_factory`` entry points
to every ``Trainer`` it builds (``pytorch_lightning.callbacks_factory`` on Lightning 1.x);
``setup.cfg`` declares :func:`factory` in both groups, so it runs wherever the plugin is
installed: through ``e2mc-plugin``, the patched upstream scripts and the host's own scripts alike.

:class:`~e2mc_plugin.solo.method.guard.RecipeGuard` (always, when solo-learn is importable):
refuses, at ``setup``, a plain host method whose config carries plugin blocks (``method: vicreg``
with ``aux_losses:``), or misspelled / misplaced blocks; it does nothing for other modules.

:mod:`e2mc_plugin.solo.launch.safety` (always, when solo-learn is importable; acting in runs of
ours only): atomic checkpoint writes, random states saved and restored, a clean stop on SIGTERM.

:class:`RunSummary` (only when the launcher set ``$E2MC_PLUGIN_RUN_SUMMARY``, inherited by the
run's other processes; global rank 0): a resumed run says where it went on from at its first
training epoch (``e2mc-plugin pretrain: resumed from PATH at epoch 1, global step 2``); at the
end of ``fit`` it writes ``metrics.json`` beside the checkpoints and prints the checkpoint folder,
the metrics file and the final metrics.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, List

from e2mc_plugin.solo.host.picklable import picklable_subclass, rebuilding_getattr
from e2mc_plugin.solo.launch.launched import SUMMARY_ENV, launched_command

__all__ = ["SUMMARY_ENV", "factory", "make_run_summary"]


def _run_summary_class() -> type:
    """:class:`RunSummary`, built on first use on the host's ``Callback`` (``lightning.pytorch``
    or ``pytorch_lightning``) and published in this module, so that a trainer holding it pickles
    (``ddp_spawn``) and unpickles in a fresh process."""
    cached = globals().get("RunSummary")
    if cached is not None:
        return cached
    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.solo.launch.run_summary import (
        METRICS_FILE,
        BestEpoch,
        fit_record,
        format_record,
        format_resumed,
        resume_record,
        write_record,
    )

    class RunSummary(compat.lightning().Callback):
        """Print where the run left its checkpoints and metrics (rank 0, end of fit)."""

        def __init__(self, command: str) -> None:
            super().__init__()
            self.command = command
            self.record = None
            self.best = BestEpoch()
            self.resumed = None
            self.started = False

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            if self.started or not trainer.is_global_zero:
                return
            self.started = True
            self.resumed = resume_record(trainer)
            if self.resumed is not None:
                print(format_resumed(self.command, self.resumed), file=sys.stdout, flush=True)

        def on_validation_end(self, trainer, pl_module) -> None:
            self.best.observe(trainer)

        def on_fit_end(self, trainer, pl_module) -> None:
            if not trainer.is_global_zero:
                return
            self.record = fit_record(trainer, self.command, self.best, self.resumed)
            folder = self.record["folder"]
            path = (
                Path(folder) / METRICS_FILE
                if folder
                else Path(trainer.default_root_dir) / f"{self.command}-{METRICS_FILE}"
            )
            written = write_record(self.record, path)
            print("\n" + format_record(self.record, written), file=sys.stdout, flush=True)

    return picklable_subclass(RunSummary, __name__, "RunSummary")


__getattr__ = rebuilding_getattr(
    __name__, lambda name: _run_summary_class() if name == "RunSummary" else None
)


def make_run_summary(command: str) -> Any:
    """A ``RunSummary`` callback for ``e2mc-plugin <command>``."""
    return _run_summary_class()(command)


def factory() -> List[Any]:
    """Entry point of the ``callbacks_factory`` groups: the recipe guard and the run-safety
    callbacks, plus the run summary under the launcher."""
    callbacks: List[Any] = []
    from e2mc_plugin.solo.host import compat

    if compat.PROFILE is not None:  # a supported solo-learn host: its methods carry recipes
        from e2mc_plugin.solo.launch.safety import safety_callbacks
        from e2mc_plugin.solo.method.guard import RecipeGuard

        callbacks.append(RecipeGuard())
        callbacks += safety_callbacks()  # atomic writes, random states, stop on a signal
    command = launched_command()
    if command:
        callbacks.append(make_run_summary(command))
    return callbacks
