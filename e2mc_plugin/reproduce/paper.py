"""The paper's Tables 1-3 as typed cells, read once from ``configs/paper/tables.yml``.

A :class:`PaperCell` is one printed number: ``(table, row, model, column)`` names it, e.g.
``(1, "vicreg", "e2mc", "linear_1")`` is Table 1's "VICReg + E2MC, linear 1%" = 54.54 ± 0.05.
Both versions of the paper print the same means; version B drops the standard errors of
Tables 1-3 and one mark (the file's header says which cells). :func:`paper_tables` returns the
cells of one version, with ``se = None`` throughout for version B.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

__all__ = ["PaperCell", "PaperTables", "PaperFileError", "paper_tables", "tables_file"]

VERSIONS = ("A", "B")
_CELL_KEYS = {"table", "row", "model", "column", "mean", "se", "mark", "versions"}


class PaperFileError(ValueError):
    """``configs/paper/tables.yml`` is missing or not as documented in its header."""


@dataclass(frozen=True)
class PaperCell:
    """One printed cell: mean (%), standard error (None: not printed), mark (``†``, ``*`` or
    ``""``), the version it is read from, and its row's printed name and epochs."""

    table: int
    row: str
    model: str
    column: str
    mean: float
    se: Optional[float]
    mark: str
    version: str
    label: str  # "VICReg + E2MC"
    epochs: int  # 1010

    @property
    def key(self) -> Tuple[int, str, str, str]:
        return (self.table, self.row, self.model, self.column)


@dataclass(frozen=True)
class PaperTables:
    """The cells of one version of the paper, with the file's names for tables and columns."""

    version: str
    cells: Tuple[PaperCell, ...]
    table_titles: Mapping[int, str]
    column_titles: Mapping[str, str]
    marks: Mapping[str, str]

    _index: Dict[Tuple[int, str, str, str], PaperCell] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {c.key: c for c in self.cells})

    def cell(self, table: int, row: str, model: str, column: str) -> Optional[PaperCell]:
        """The printed cell, or None where the paper prints "-"."""
        return self._index.get((table, row, model, column))


def tables_file() -> Path:
    """``configs/paper/tables.yml`` of this checkout or installed wheel."""
    from e2mc_plugin._resources import resource_dir

    configs = resource_dir("configs")
    if configs is None:
        raise PaperFileError("no configs/ folder found (e2mc-plugin list shows where it looks)")
    return configs / "paper" / "tables.yml"


def _cell(raw: Mapping, index: int, data: Mapping, version: str) -> Optional[PaperCell]:
    where = f"cells[{index}]"
    if not isinstance(raw, Mapping) or set(raw) != _CELL_KEYS:
        raise PaperFileError(f"{where}: expected the keys {sorted(_CELL_KEYS)}, got {raw!r}")
    if version not in raw["versions"]:
        return None
    row, model, column = raw["row"], raw["model"], raw["column"]
    for name, value, known in (
        ("row", row, data["rows"]),
        ("model", model, data["models"]),
        ("column", column, data["columns"]),
        ("table", raw["table"], data["tables"]),
        ("mark", raw["mark"], {"", *data["marks"]}),
    ):
        if value not in known:
            raise PaperFileError(f"{where}: {name} {value!r} is not one of {sorted(known)}")
    base = data["rows"][row]
    label = f"{base['method']} {data['models'][model]}"
    epochs = int(base["epochs"]) + (0 if model == "base" else 10)
    se = raw["se"] if version == "A" else None
    return PaperCell(
        table=int(raw["table"]), row=row, model=model, column=column, mean=float(raw["mean"]),
        se=None if se is None else float(se), mark=raw["mark"], version=version, label=label,
        epochs=epochs,
    )  # fmt: skip


@lru_cache(maxsize=None)
def _load(path: str, version: str) -> PaperTables:
    import yaml

    if version not in VERSIONS:
        raise PaperFileError(f"paper version {version!r}: valid: {', '.join(VERSIONS)}")
    if not Path(path).is_file():
        raise PaperFileError(f"{path}: the paper's tables file is missing")
    data = yaml.safe_load(Path(path).read_text())
    missing = {"tables", "columns", "rows", "models", "marks", "cells"} - set(data or {})
    if missing:
        raise PaperFileError(f"{path}: missing the sections {sorted(missing)}")
    cells = []
    for index, raw in enumerate(data["cells"]):
        cell = _cell(raw, index, data, version)
        if cell is not None:
            cells.append(cell)
    keys = [c.key for c in cells]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise PaperFileError(f"{path}: version {version} prints these cells twice: {twice}")
    return PaperTables(
        version=version,
        cells=tuple(cells),
        table_titles={int(k): v for k, v in data["tables"].items()},
        column_titles=dict(data["columns"]),
        marks=dict(data["marks"]),
    )


def paper_tables(version: str = "A", path: Optional[Path] = None) -> PaperTables:
    """The cells of version ``version`` ("A": with standard errors, the default; "B")."""
    return _load(str(path or tables_file()), version)
