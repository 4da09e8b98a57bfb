"""Ours against the paper, cell by cell, and the deltas (criterion - continued) per label fraction.

For a cell measured over seeds ``v_1..v_n`` (top-1 %, or VOC07 mAP %): ours = mean, its standard
error ``s_o = std(v, ddof=1) / sqrt(n)`` (none for n = 1); the paper's ``s_p`` is printed beside
its mean (none for † / * cells and in version B). The difference ``d = ours - paper`` is "within
2 standard errors" when ``|d| <= 2 sqrt(s_o^2 + s_p^2)``, a missing error counting as 0;
with neither error (one VOC07 run against a cell printed without one) it is ``None`` ("n/a").

The delta of a row is its criterion minus its continued baseline (E2MC - continued in Table 1,
e.g. VCReg - continued in Table 3) per linear-probe label fraction, for ours and the paper's,
each with the standard error of a difference of two independent means.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from e2mc_plugin.reproduce.markers import StageFolder
from e2mc_plugin.reproduce.paper import PaperCell

__all__ = ["Comparison", "Delta", "Estimate", "compare_cells", "deltas", "stage_value"]


@dataclass(frozen=True)
class Estimate:
    """A mean with its standard error (None: not available) over ``n`` values."""

    mean: float
    se: Optional[float]
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> "Estimate":
        n = len(values)
        se = statistics.stdev(values) / math.sqrt(n) if n > 1 else None
        return cls(float(statistics.fmean(values)), se, n)

    def minus(self, other: "Estimate") -> "Estimate":
        """The difference of two independent means; its error combines both (missing: 0)."""
        if self.se is None and other.se is None:
            se = None
        else:
            se = math.hypot(self.se or 0.0, other.se or 0.0)
        return Estimate(self.mean - other.mean, se, min(self.n, other.n))


@dataclass(frozen=True)
class Comparison:
    """One paper cell beside ours (``ours`` None until a stage of it is done)."""

    cell: PaperCell
    ours: Optional[Estimate]
    done: int  # stages finished
    planned: int

    @property
    def paper(self) -> Estimate:
        return Estimate(self.cell.mean, self.cell.se, 1)

    @property
    def diff(self) -> Optional[Estimate]:
        return None if self.ours is None else self.ours.minus(self.paper)

    @property
    def within(self) -> Optional[bool]:
        """|ours - paper| <= 2 x the combined standard error; None: no error on either side."""
        d = self.diff
        if d is None or d.se is None:
            return None
        return abs(d.mean) <= 2 * d.se


def stage_value(out: Path, stage: str) -> Optional[float]:
    """The measured number of a finished stage (top-1 or mAP, %), None if not done."""
    folder = StageFolder(out, stage)
    if not folder.is_done():
        return None
    result = folder.read_done().result
    return float(result["top1"] if "top1" in result else result["map"])


def compare_cells(
    out: Path, measured: Sequence[Tuple[PaperCell, Sequence[str]]]
) -> List[Comparison]:
    """Each ``(cell, stage ids)`` beside the mean over its finished stages."""
    rows = []
    for cell, stages in measured:
        values = [v for v in (stage_value(out, s) for s in stages) if v is not None]
        ours = Estimate.of(values) if values else None
        rows.append(Comparison(cell=cell, ours=ours, done=len(values), planned=len(stages)))
    return rows


@dataclass(frozen=True)
class Delta:
    row: str  # the reproduce row
    criterion: str
    column: str
    ours: Optional[Estimate]
    paper: Estimate


def deltas(
    comparisons: Sequence[Comparison], rows: Mapping[str, Tuple[str, str, int]]
) -> List[Delta]:
    """``criterion - continued`` per linear column of each row.

    ``rows``: reproduce row -> (paper row, criterion, table) as in the manifest.
    """
    index: Dict[Tuple[int, str, str, str], Comparison] = {c.cell.key: c for c in comparisons}
    out: List[Delta] = []
    for name, (paper_row, criterion, table) in rows.items():
        for column in ("linear_1", "linear_10", "linear_100"):
            a = index.get((table, paper_row, criterion, column))
            b = index.get((table, paper_row, "continued", column))
            if a is None or b is None:
                continue
            ours = a.ours.minus(b.ours) if a.ours and b.ours else None
            out.append(Delta(name, criterion, column, ours, a.paper.minus(b.paper)))
    return out
