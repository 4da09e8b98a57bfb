"""OpenMP's wait policy for the demo's CPU threads, on a machine it may share with other jobs.

libgomp's default lets a thread that has finished its share of an operation spin until the others
arrive. When another process holds a core, the demo's threads then spin against it: measured on a
2-core machine beside ``make test``, the demo's first run took 874 s with two threads (129 s on
the idle machine), and a training step 433 ms with spinning threads against 252 ms with
``OMP_WAIT_POLICY=PASSIVE`` (a waiting thread sleeps). The policy is read when torch loads its
OpenMP runtime, so it is set before torch is imported; a value the user set is kept.
"""

from __future__ import annotations

import os
import sys

__all__ = ["WAIT_POLICY_ENV", "prefer_passive_waiting"]

WAIT_POLICY_ENV = "OMP_WAIT_POLICY"


def prefer_passive_waiting() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it or torch is already imported (too
    late to take effect); True when it was set here."""
    if WAIT_POLICY_ENV in os.environ or "torch" in sys.modules:
        return False
    os.environ[WAIT_POLICY_ENV] = "PASSIVE"
    return True
