"""Where a pretraining stage's next attempt goes on from: the newest complete checkpoint of the
stage's earlier attempts that ran the plan's command.

A pretraining stage is hours of GPU time (10 ImageNet epochs). Killed, preempted or failed
after some epochs, its next attempt must not train them again: :func:`resume_checkpoint` looks
through the stage's earlier attempt folders whose ``command.json`` records the plan's identity
(:meth:`~e2mc_plugin.reproduce.plan.Stage.identity`: the same recipe, base release, data and
seed; an attempt run by another command, or by a version that recorded none, is passed over
with one line), and takes the newest complete ``*.ckpt`` among their files
(:func:`e2mc_plugin.resume.complete.newest_complete`: a truncated or damaged file is skipped
with one line naming it). The next attempt runs the same command plus
``++resume_from_checkpoint='PATH'`` (:func:`~e2mc_plugin.reproduce.commands.resume_override`):
solo's ``main_pretrain.py`` hands it to ``trainer.fit(ckpt_path=...)``, which restores the
weights, the optimizer, the lr schedule, the global step and the random states. That argument
is not part of the identity, so the done-marker checks are unchanged; the marker's ``command``
and the result's ``resumed_from`` name it.

The checkpoints are epoch-end files (solo's ``Checkpointer``) or the one a launcher stopped by
SIGTERM writes mid-epoch; what a mid-epoch resume repeats is in the README ("Kills, preemption
and resume"). Other stages run again from their beginning: a probe's result is the best top-1
over all its epochs' validations, which a resumed run would not see.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Optional

from e2mc_plugin.reproduce.markers import StageFolder, attempt_identity
from e2mc_plugin.reproduce.plan import Stage

__all__ = ["RESUMABLE_KINDS", "resume_checkpoint"]

#: the stage kinds whose next attempt goes on from an earlier attempt's checkpoint
RESUMABLE_KINDS = ("pretrain",)


def resume_checkpoint(
    folder: StageFolder, stage: Stage, report: Callable[[str], object] = print
) -> Optional[Path]:
    """The checkpoint ``stage``'s next attempt goes on from, or None (start from the beginning);
    each attempt or file passed over is reported in one line."""
    if stage.kind not in RESUMABLE_KINDS:
        return None
    identity = stage.identity()
    candidates: List[Path] = []
    for attempt in folder.attempts():
        found = [p for p in attempt.rglob("*.ckpt") if p.is_file()]
        if not found:
            continue
        if attempt_identity(attempt) != identity:
            report(
                f"{stage.id}: not going on from {attempt.name}: it recorded another command "
                "than this plan's (or none)"
            )
            continue
        candidates += found
    if not candidates:
        return None
    from e2mc_plugin.resume.complete import newest_complete  # imports torch

    return newest_complete(candidates, report=report, who=stage.id)
