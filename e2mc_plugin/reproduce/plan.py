"""The typed plan of one ``e2mc-plugin reproduce`` call: stages, their commands, what they measure.

A :class:`Stage` is one launcher call (``e2mc-plugin convert|pretrain|linear|voc07-svm`` or the
label-subset script). Its command is a tuple of :class:`Arg`, each a string with holes that are
filled only when the stage runs: a :class:`Ref` (a value another stage produced, e.g. the
checkpoint of ``pretrain-e2mc``) and :data:`ATTEMPT` (the folder this attempt writes into).
``args`` decide the result and are recorded in the stage's done-marker; ``runtime_args``
(devices and the batch split that keeps the paper's global batch, ``--solo-src``, the VOC07
feature device) do not, so a run resumed on other hardware keeps its finished stages.

A :class:`Measurement` ties one paper cell to the stages that measure it (one per seed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, Tuple, Union

from e2mc_plugin.reproduce.paper import PaperCell
from e2mc_plugin.reproduce.rows import Row

__all__ = [
    "ATTEMPT",
    "Arg",
    "Inputs",
    "Measurement",
    "Plan",
    "Ref",
    "Settings",
    "Stage",
]


@dataclass(frozen=True)
class Ref:
    """A value from the result of stage ``stage`` (e.g. ``key="ckpt"``)."""

    stage: str
    key: str

    def placeholder(self) -> str:
        return f"<{self.key} of {self.stage}>"


class _Attempt:
    """The folder of the attempt that runs the stage (``stages/<id>/attempt-<k>``)."""

    def __repr__(self) -> str:
        return "ATTEMPT"


ATTEMPT = _Attempt()
Part = Union[str, Ref, _Attempt]


@dataclass(frozen=True)
class Arg:
    """One command-line argument: text and holes (:class:`Ref`, :data:`ATTEMPT`)."""

    parts: Tuple[Part, ...]

    @classmethod
    def of(cls, *parts: Part) -> "Arg":
        return cls(tuple(parts))

    def render(self, ref: Callable[[Ref], str], attempt: str) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, Ref):
                out.append(ref(part))
            elif part is ATTEMPT:
                out.append(attempt)
            else:
                out.append(str(part))
        return "".join(out)

    def refs(self) -> Iterator[Ref]:
        return (p for p in self.parts if isinstance(p, Ref))


@dataclass(frozen=True)
class Stage:
    """One step of the plan; ``program`` is ``e2mc-plugin`` or ``bash``."""

    id: str
    kind: str  # convert | subset | pretrain | linear | semisup | inat18 | voc07
    title: str
    program: str
    args: Tuple[Arg, ...]
    runtime_args: Tuple[str, ...] = ()
    model: Optional[str] = None
    column: Optional[str] = None
    seed: Optional[int] = None
    recipe: Optional[str] = None
    labels: Optional[int] = None  # % of the labels (subset stages and probes)

    @property
    def needs(self) -> Tuple[str, ...]:
        """The stages whose results fill this stage's command."""
        return tuple(dict.fromkeys(r.stage for a in self.args for r in a.refs()))

    def identity(self) -> Tuple[str, ...]:
        """The command as recorded in the done-marker: holes named, runtime arguments left out."""
        return tuple(a.render(Ref.placeholder, "<attempt>") for a in self.args)


@dataclass(frozen=True)
class Inputs:
    """Absolute paths given on the command line (placeholders like ``<imagenet>`` in a plan
    made without them)."""

    imagenet: Path
    checkpoint: Path
    label_lists: Path
    inat18: Optional[Path] = None
    voc07: Optional[Path] = None


@dataclass(frozen=True)
class Settings:
    devices: int
    seeds: Tuple[int, ...]
    smoke: bool = False
    paper_version: str = "A"
    solo_src: Optional[Path] = None


@dataclass(frozen=True)
class Measurement:
    """A paper cell and the stages whose results measure it (one per seed)."""

    cell: PaperCell
    stages: Tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    row: Row
    inputs: Inputs
    settings: Settings
    stages: Tuple[Stage, ...]
    measurements: Tuple[Measurement, ...]
    notes: Tuple[str, ...] = ()

    def stage(self, stage_id: str) -> Stage:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise ValueError(
            f"--stage {stage_id!r}: not a stage of this plan; valid: "
            + ", ".join(s.id for s in self.stages)
        )
