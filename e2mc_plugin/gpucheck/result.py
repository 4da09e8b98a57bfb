"""What a part of the GPU check receives (:class:`Context`) and returns (:class:`PartResult`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List

PASS, FAIL, ERROR, TIMEOUT, SKIPPED = "PASS", "FAIL", "ERROR", "TIMEOUT", "SKIPPED"
STATUSES = (PASS, FAIL, ERROR, TIMEOUT, SKIPPED)


@dataclass(frozen=True)
class Context:
    """Where and how a part runs.

    ``cpu``: the dry run (tiny sizes, no CUDA); ``work``: this part's scratch folder (removed
    with the check's work folder); ``repo``: the repository root (``bench/``, ``configs/``);
    ``limit_s``: the seconds after which the part's process is killed (a part that starts
    children gives them less).
    """

    cpu: bool
    work: Path
    repo: Path
    limit_s: float


@dataclass
class PartResult:
    """One part's outcome: a status, one summary line, a table (``columns`` name the keys of
    each row, in order), notes, and machine-readable ``data`` (JSON only)."""

    status: str
    summary: str
    columns: List[str] = field(default_factory=list)
    rows: List[Dict[str, Any]] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    data: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "PartResult":
        keys = ("status", "summary", "columns", "rows", "notes", "data")
        return cls(**{k: d[k] for k in keys if k in d})


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return PASS if ok else FAIL
