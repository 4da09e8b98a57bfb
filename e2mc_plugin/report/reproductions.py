"""``e2mc-plugin report`` on ``e2mc-plugin reproduce`` folders: the comparison with the paper.

A folder holding ``reproduce.json`` (given, or found below a given folder) is a reproduction: the
report writes its comparison (``comparison.md`` / ``.csv``, ``deltas.png``) into
``<--out>/<folder name>/`` and prints it; the solo-learn run folders inside it (its stages'
checkpoints) are not sweep runs and are left out of the sweep table.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Sequence, Tuple

__all__ = ["report_reproductions", "split_reproductions", "outside"]


def split_reproductions(paths: Sequence[str]) -> Tuple[List[Path], List[str]]:
    """(reproduction folders given or below the given ones, the given paths that are not one)."""
    from e2mc_plugin.reproduce.outputs import MANIFEST

    found: List[Path] = []
    rest: List[str] = []
    for p in paths:
        if (Path(p) / MANIFEST).is_file():
            found.append(Path(p).resolve())
            continue
        rest.append(p)
        for root, dirs, files in os.walk(p):
            if MANIFEST in files:
                found.append(Path(root).resolve())
                dirs[:] = []  # its stages are not sweep runs
    return list(dict.fromkeys(found)), rest


def outside(runs: Sequence[str], reproductions: Sequence[Path]) -> List[str]:
    """The run folders that are not inside a reproduction."""
    return [r for r in runs if not any(f in Path(r).resolve().parents for f in reproductions)]


def report_reproductions(folders: Sequence[Path], out: Path) -> int:
    """Write and print each reproduction's comparison; 0, or 2 when one cannot be read."""
    from e2mc_plugin.reproduce.outputs import write_comparison

    for folder in folders:
        try:
            written = write_comparison(folder, out / folder.name)
        except (OSError, ValueError) as err:
            print(f"error: {folder}: {err}")
            return 2
        print(f"{folder}: reproduction of the paper's tables\n\n{written.markdown}\n")
        paths = [written.md, written.csv] + ([written.png] if written.png else [])
        print("wrote " + ", ".join(map(str, paths)))
    return 0
