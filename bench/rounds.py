"""The step benches' interleaved rounds: each variant once per round, the order rotating by one
each round (a, b, c / b, c, a / c, a, b / ...), so drifting machine load hits every variant alike;
and the ratio table of the per-step medians."""

from __future__ import annotations

import statistics
from typing import Callable, Dict, Iterator, List, Sequence, Tuple


def rotations(names: Sequence[str], rounds: int) -> Iterator[str]:
    """The names in the order they run: ``rounds`` rounds, round ``r`` starting at ``names[r]``."""
    names = list(names)
    for r in range(rounds):
        k = r % len(names)
        yield from names[k:] + names[:k]


def timed_rounds(
    names: Sequence[str], rounds: int, warmup: int, fit: Callable[[str], List[float]]
) -> Tuple[Dict[str, List[float]], Dict[str, List[float]]]:
    """Run ``fit(name)`` (seconds per step) in rotating rounds; drop each fit's first ``warmup``
    steps. Returns all timed steps per name and the median of each of its rounds."""
    times: Dict[str, List[float]] = {k: [] for k in names}
    round_medians: Dict[str, List[float]] = {k: [] for k in names}
    for name in rotations(names, rounds):
        timed = fit(name)[warmup:]
        times[name] += timed
        round_medians[name].append(statistics.median(timed))
    return times, round_medians


def print_ratios(
    times: Dict[str, List[float]],
    round_medians: Dict[str, List[float]],
    base: str,
    label_width: int = 26,
    ms_width: int = 7,
) -> None:
    """Per name: the median over all steps and the best (lowest) round median, each in ms and as
    a ratio to ``base``'s."""
    ref, best_ref = statistics.median(times[base]), min(round_medians[base])
    for name, ts in times.items():
        med, best = statistics.median(ts), min(round_medians[name])
        print(
            f"  {name:<{label_width}} median {med * 1e3:{ms_width}.1f} ms/step "
            f"(x{med / ref:5.3f})   best round {best * 1e3:{ms_width}.1f} ms/step "
            f"(x{best / best_ref:5.3f})"
        )
