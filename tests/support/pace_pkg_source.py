"""Source of ``pace_pkg``, a test-only package that the slow launcher tests install through a
dist-info on ``PYTHONPATH`` (:func:`kill_env.pace_package`): a ``lightning.pytorch``
``callbacks_factory`` entry point whose callback

* touches ``$PACE_DIR/epoch<E>-batch<B>`` after each training batch, then sleeps
  ``$PACE_SLEEP`` seconds (so a test can signal the run at a known point);
* with ``$PACE_HOLD`` set to such a mark name, holds the run there (touches ``$PACE_DIR/held``
  and waits to be killed) when its working folder holds ``$PACE_HOLD_IN`` (one run among the
  several launcher runs of a test, e.g. one ``reproduce`` stage's attempt);
* with ``$PACE_SLOW_SAVE`` set to a fragment of a file name, makes every write into a file whose
  name holds it stop half way: it writes half of the first chunk, touches ``$PACE_SLOW_SAVE_MARK``
  and waits to be killed (a kill in the middle of a checkpoint write, on any writer).
"""

SOURCE = """
import builtins
import os
import time
from pathlib import Path

import lightning.pytorch as pl


class _HalfThenWait:
    def __init__(self, f):
        self._f = f

    def write(self, data):
        data = bytes(data)
        self._f.write(data[: max(1, len(data) // 2)])
        self._f.flush()
        Path(os.environ["PACE_SLOW_SAVE_MARK"]).touch()
        time.sleep(600)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


def _slow_writes(fragment):
    real_open = builtins.open

    def slow_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if fragment in str(file) and ("w" in mode or "x" in mode):
            return _HalfThenWait(f)
        return f

    builtins.open = slow_open


class Pace(pl.Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        name = f"epoch{trainer.current_epoch}-batch{batch_idx}"
        Path(os.environ["PACE_DIR"], name).touch()
        time.sleep(float(os.environ.get("PACE_SLEEP", "0")))
        if name == os.environ.get("PACE_HOLD") and os.environ["PACE_HOLD_IN"] in os.getcwd():
            Path(os.environ["PACE_DIR"], "held").touch()
            time.sleep(600)


def factory():
    if os.environ.get("PACE_SLOW_SAVE"):
        _slow_writes(os.environ["PACE_SLOW_SAVE"])
    return [Pace()] if os.environ.get("PACE_DIR") else []
"""
