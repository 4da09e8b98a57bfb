"""A stage's folder, its result and its done-marker: what makes a second call resume.

Layout under ``--out``::

    stages/<stage id>/attempt-<k>/   what attempt k's command wrote (checkpoints, log.txt);
                                     a new attempt never reuses a folder
    .../attempt-<k>/command.json     its command, the stage's identity when it ran, and the
                                     checkpoint it went on from (pretraining)
    stages/<stage id>/result.json    the stage's result (checkpoint path, top-1, mAP...)
    stages/<stage id>/DONE           the done-marker: the stage's identity (its command with
                                     holes named), the attempt, times, and the result again

``DONE`` is written last and created exclusively (a hard link of a complete temporary file), so
it either exists complete or not at all, and nothing ever replaces it: a stage with ``DONE`` is
finished for good. A stage without it (killed, failed) runs again in a new attempt folder; the
earlier attempts stay for inspection. A finished stage whose recorded identity differs from
the plan's (another checkpoint, recipe or seed under the same ``--out``) is refused; a
pretraining attempt goes on only from an earlier attempt that recorded the plan's identity
(:mod:`e2mc_plugin.reproduce.continuation`).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = [
    "Done",
    "StageFolder",
    "StageMismatchError",
    "attempt_identity",
    "record_attempt",
    "write_json_atomic",
]

STAGES_DIR = "stages"
DONE_FILE = "DONE"
RESULT_FILE = "result.json"
COMMAND_FILE = "command.json"


class StageMismatchError(ValueError):
    """A finished stage under ``--out`` was made by another command than the plan's."""


def _temporary(folder: Path, data: Mapping[str, Any]) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    return Path(tmp)


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename (no partial file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(_temporary(path.parent, data), path)
    return path


def record_attempt(
    attempt: Path, argv: Sequence[str], identity: Sequence[str], resumes_from: Optional[Path]
) -> Path:
    """``<attempt>/command.json``: what the attempt runs, as which stage identity, from where."""
    return write_json_atomic(
        attempt / COMMAND_FILE,
        {
            "argv": list(argv),
            "cwd": str(attempt),
            "identity": list(identity),
            "resumes_from": None if resumes_from is None else str(resumes_from),
        },
    )


def attempt_identity(attempt: Path) -> Optional[Tuple[str, ...]]:
    """The stage identity an attempt recorded, or None (none recorded, or unreadable)."""
    try:
        return tuple(json.loads((attempt / COMMAND_FILE).read_text())["identity"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class Done:
    """The content of a ``DONE`` marker."""

    stage: str
    identity: Tuple[str, ...]
    command: Tuple[str, ...]
    attempt: str
    seconds: float
    finished: str
    result: Mapping[str, Any]

    def as_dict(self) -> Dict[str, Any]:
        return {
            "stage": self.stage, "identity": list(self.identity), "command": list(self.command),
            "attempt": self.attempt, "seconds": self.seconds, "finished": self.finished,
            "result": dict(self.result),
        }  # fmt: skip


@dataclass(frozen=True)
class StageFolder:
    """``<out>/stages/<stage id>``."""

    out: Path
    stage: str

    @property
    def root(self) -> Path:
        return self.out / STAGES_DIR / self.stage

    @property
    def done_path(self) -> Path:
        return self.root / DONE_FILE

    def attempts(self) -> List[Path]:
        """The attempt folders, oldest first."""
        if not self.root.is_dir():
            return []
        found = [p for p in self.root.glob("attempt-*") if p.name[8:].isdigit()]
        return sorted(found, key=lambda p: int(p.name[8:]))

    def new_attempt(self) -> Path:
        """A fresh ``attempt-<k>`` folder (k = 1 + the highest so far)."""
        done = self.attempts()
        k = int(done[-1].name[8:]) + 1 if done else 1
        path = self.root / f"attempt-{k}"
        path.mkdir(parents=True, exist_ok=False)
        return path

    def is_done(self) -> bool:
        return self.done_path.is_file()

    def read_done(self) -> Done:
        try:
            data = json.loads(self.done_path.read_text())
            return Done(
                stage=data["stage"], identity=tuple(data["identity"]),
                command=tuple(data["command"]), attempt=data["attempt"],
                seconds=float(data["seconds"]), finished=data["finished"],
                result=data["result"],
            )  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise StageMismatchError(
                f"{self.done_path}: an unreadable done-marker ({err}); the stage's files are "
                "kept as they are: move the stage folder aside to run the stage again"
            ) from None

    def check(self, identity: Sequence[str]) -> Done:
        """The marker, refused when it records another identity than ``identity``."""
        done = self.read_done()
        if tuple(identity) != done.identity:
            differ = [
                f"  finished: {a}\n  planned:  {b}"
                for a, b in zip(done.identity, identity, strict=False)
                if a != b
            ] or [f"  finished: {' '.join(done.identity)}\n  planned:  {' '.join(identity)}"]
            raise StageMismatchError(
                f"stage {self.stage} under {self.out} was finished by another command than "
                f"this plan's:\n" + "\n".join(differ) + "\nA finished stage is never redone or "
                "overwritten: use another --out for other inputs"
            )
        return done

    def commit(self, done: Done) -> None:
        """Write ``result.json``, then create ``DONE`` exclusively (FileExistsError if it is)."""
        write_json_atomic(self.root / RESULT_FILE, dict(done.result))
        tmp = _temporary(self.root, done.as_dict())
        try:
            os.link(tmp, self.done_path)  # fails if DONE exists: never replaced
        except FileExistsError:
            raise
        except OSError:  # a filesystem without hard links: exclusive create, then write
            fd = os.open(self.done_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            with os.fdopen(fd, "w") as f:
                f.write(tmp.read_text())
        finally:
            tmp.unlink()
