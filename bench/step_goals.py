"""The GPU step-cost goals and their verdicts on ``bench_gpu_step.py``'s rows: the one place for
the numbers.

Goals (a ResNet-50 step, bf16 autocast, 2 x 256 crops at 224 px, VICReg 8192 projector):

- each criterion adds at most 1 % to the raw step (part A: ``added ms / step ms of "none"``),
  MMCR at most 3 % (2 views and SwAV's 8);
- the solo-learn wrapper's own machinery at most 1.5 % of the plain host step: part B's added
  time of ``wrapped, <loss>`` over ``plain host class`` minus that loss's own time in part A
  (same crops, same criterion arithmetic), so only hooks, view assembly, logging and the
  finiteness monitor remain. Needs A and B at the same batch (``--batch-b`` = ``--batch-a``).

The same thresholds are applied to the ViT-B/16 step (part V) for reference: a criterion's cost
does not grow with the backbone, so its share there should be smaller.
"""

from __future__ import annotations

from typing import Dict, List, Optional

CRITERION_GOAL = 0.01
MMCR_GOAL = 0.03
WRAPPER_GOAL = 0.015

#: raw-step variant (parts A and V) -> its goal (share of the step without aux loss)
RAW_GOALS: Dict[str, float] = {
    "e2mc (defaults)": CRITERION_GOAL,
    "vcreg (defaults)": CRITERION_GOAL,
    "auh (defaults)": CRITERION_GOAL,
    "mmcr 2 views (defaults)": MMCR_GOAL,
    "mmcr 8 views (defaults)": MMCR_GOAL,
}

#: wrapped variant (part B) -> the raw variant with the same criterion arithmetic (None: no loss)
WRAPPED_TO_RAW: Dict[str, Optional[str]] = {
    "wrapped, aux_losses: []": None,
    "wrapped, e2mc": "e2mc (defaults)",
    "wrapped, vcreg": "vcreg (defaults)",
    "wrapped, auh": "auh (defaults)",
    "wrapped, mmcr": "mmcr 2 views (defaults)",  # the wrapper's step has 2 crops
    "wrapped, e2mc check_finite=False": "e2mc check_finite=False",
}
PLAIN_HOST = "plain host class"


def annotate_raw(rows: List[dict]) -> List[dict]:
    """Add ``share`` (ratio - 1) to every row and ``goal`` / ``meets_goal`` to the criterion rows
    of a raw step (parts A and V; the base row is ``none``)."""
    for row in rows:
        row["share"] = row["ratio"] - 1.0
        goal = RAW_GOALS.get(row["variant"])
        if goal is not None:
            row["goal"] = goal
            row["meets_goal"] = row["share"] <= goal
    return rows


def wrapper_rows(raw: List[dict], wrapped: List[dict]) -> List[dict]:
    """The wrapper's own share per wrapped variant: ``(B[v] - B[plain]) - (A[loss] - A[none])``
    over ``B[plain]``, in ms and as a share with its goal. Rows whose counterpart is missing are
    left out."""
    raw_ms = {r["variant"]: r["median_ms"] for r in raw}
    b_ms = {r["variant"]: r["median_ms"] for r in wrapped}
    if PLAIN_HOST not in b_ms or "none" not in raw_ms:
        return []
    plain = b_ms[PLAIN_HOST]
    out = []
    for label, raw_label in WRAPPED_TO_RAW.items():
        if label not in b_ms or (raw_label is not None and raw_label not in raw_ms):
            continue
        criterion = 0.0 if raw_label is None else raw_ms[raw_label] - raw_ms["none"]
        machinery = b_ms[label] - plain - criterion
        share = machinery / plain
        out.append(
            {
                "variant": label,
                "criterion_ms": criterion,
                "wrapper_ms": machinery,
                "share": share,
                "goal": WRAPPER_GOAL,
                "meets_goal": share <= WRAPPER_GOAL,
            }
        )
    return out
