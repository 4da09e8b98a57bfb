"""The demo's one timing helper: named wall-clock totals, accumulated over repeated stages."""

from __future__ import annotations

import contextlib
import time
from typing import Dict, Iterator

__all__ = ["Timings"]


class Timings:
    """``with timings.measure("base_s"): ...`` adds the block's wall time to ``totals["base_s"]``.

    Examples:
        >>> t = Timings()
        >>> with t.measure("x"):
        ...     pass
        >>> sorted(t.totals)
        ['x']
    """

    def __init__(self) -> None:
        self.totals: Dict[str, float] = {}
        self._start = time.perf_counter()

    @contextlib.contextmanager
    def measure(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.totals[name] = self.totals.get(name, 0.0) + time.perf_counter() - t0

    def as_dict(self) -> Dict[str, float]:
        """The totals plus ``total_s``, the time since construction."""
        return {**self.totals, "total_s": time.perf_counter() - self._start}
