"""What a checkpoint load did, key by key: the result type of every loader and of initialization."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List

from torch import Tensor


def group_keys(keys: Iterable[str], depth: int = 1) -> str:
    """Summarise keys by their leading ``depth`` components: ``backbone.* (318), queue``."""
    counts: Counter = Counter()
    for key in keys:
        parts = key.split(".")
        head = ".".join(parts[:depth])
        counts[head + (".*" if len(parts) > depth else "")] += 1
    return ", ".join(f"{k} ({n})" if n > 1 else k for k, n in sorted(counts.items()))


@dataclass
class LoadReport:
    """Key-level account of a load.

    Attributes:
        mapped: source key -> destination key, for every tensor taken from the file.
        created: destination key -> why it was made up (no source tensor), e.g. a zero bias.
        absent_in_source: the created keys that stand for a parameter the source layer does not
            have (a ``bias=False`` Linear): a method initialized from the file keeps them zero,
            frozen and out of the optimizer (see :mod:`e2mc_plugin.checkpoints.absent`).
        dropped: source keys deliberately not used (classifier, queue, optimizer state...).
        untouched: destination keys of the model left as initialised (e.g. ``classifier.*``).
        skipped: checkpoint key -> why it was not applied to the model (``strict=False`` only:
            unexpected key, shape mismatch).
        notes: what else the load did or could not know (a resized position table, a head
            count that the file does not record, heads the release does not have).
    """

    mapped: Dict[str, str] = field(default_factory=dict)
    created: Dict[str, str] = field(default_factory=dict)
    absent_in_source: List[str] = field(default_factory=list)
    dropped: List[str] = field(default_factory=list)
    untouched: List[str] = field(default_factory=list)
    skipped: Dict[str, str] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"mapped {len(self.mapped)} tensors: {group_keys(self.mapped.values())}"]
        renamed = {s: d for s, d in self.mapped.items() if s != d}
        if renamed:
            shown = list(renamed.items())[:3]
            more = f" (+{len(renamed) - 3} more)" if len(renamed) > 3 else ""
            lines.append("  renamed e.g. " + ", ".join(f"{s} -> {d}" for s, d in shown) + more)
        by_reason: Dict[str, List[str]] = {}
        absent = set(self.absent_in_source)
        if absent:
            lines.append(
                f"absent in the source (bias=False), created as zeros and kept zero, frozen and "
                f"out of the optimizer: {', '.join(self.absent_in_source)}"
            )
        for dst, why in self.created.items():
            if dst in absent:
                continue
            by_reason.setdefault(why, []).append(dst)
        for why, keys in by_reason.items():
            what = keys[0] if len(keys) == 1 else f"{len(keys)} tensors: {group_keys(keys)}"
            lines.append(f"created {what}: {why}")
        if self.dropped:
            lines.append(f"dropped {len(self.dropped)} source keys: {group_keys(self.dropped)}")
        for src, why in self.skipped.items():
            lines.append(f"not applied {src}: {why}")
        if self.untouched:
            untouched = group_keys(self.untouched)
            lines.append(f"left as initialised {len(self.untouched)} model keys: {untouched}")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


@dataclass
class LoadedCheckpoint:
    """Tensors renamed to solo-learn 1.0.6 names, the loader that produced them and its report."""

    state_dict: Dict[str, Tensor]
    format: str
    report: LoadReport
    path: str = ""
    #: the release's architecture when the loader knows it (a ViT: ``checkpoints.vit.ViTRelease``)
    architecture: Any = None

    def __repr__(self) -> str:
        return (
            f"LoadedCheckpoint(format={self.format!r}, path={self.path!r}, "
            f"tensors={len(self.state_dict)})"
        )
