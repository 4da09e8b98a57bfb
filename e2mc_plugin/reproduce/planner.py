"""``build_plan``: the stages of one row, built once from the row, the inputs and the paper.

Which runs to make follows from the paper's cells (a "-" is a run not made): for every printed
cell of the row's tables and models, one probe per seed (VOC07: one deterministic run). Then the
stages those probes need: the converted base release, the continued-pretraining runs, the
label-subset folders. Order: conversion, subsets, pretraining, then the probes column by column
(linear 1 %, 10 %, 100 %, semi-supervised, transfer), base / continued / criterion within a
column, so that a partial run already fills whole columns of the table.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from e2mc_plugin.reproduce.commands import (
    convert_stage,
    pretrain_stage,
    probe_stage,
    subset_stage,
    voc07_stage,
)
from e2mc_plugin.reproduce.paper import PaperCell, PaperTables, paper_tables
from e2mc_plugin.reproduce.plan import Inputs, Measurement, Plan, Settings, Stage
from e2mc_plugin.reproduce.rows import COLUMNS, Row

__all__ = ["build_plan", "row_cells"]

_TRANSFER_FLAGS = {"inat18": "--inat18 DIR", "voc07": "--voc07 DIR"}


def row_cells(row: Row, paper: PaperTables) -> List[PaperCell]:
    """The printed cells of ``row``'s tables and models."""
    return [
        c
        for c in paper.cells
        if c.table in row.tables and c.row == row.paper_row and c.model in row.models
    ]


def _subset_script():
    from e2mc_plugin._resources import resource_dir

    configs = resource_dir("configs")
    if configs is None:
        raise FileNotFoundError("no configs/ folder found (e2mc-plugin list shows where it looks)")
    return configs / "linear" / "make_imagenet_subset.sh"


def _probe_stages(
    row: Row, pairs: List[Tuple[str, str]], inputs: Inputs, settings: Settings
) -> Dict[Tuple[str, str], Tuple[Stage, ...]]:
    out: Dict[Tuple[str, str], Tuple[Stage, ...]] = {}
    for model, column in pairs:
        if COLUMNS[column].seeded:
            out[(model, column)] = tuple(
                probe_stage(row, model, column, seed, inputs, settings) for seed in settings.seeds
            )
        else:
            out[(model, column)] = (voc07_stage(model, inputs, settings),)
    return out


def build_plan(
    row: Row, inputs: Inputs, settings: Settings, paper: Optional[PaperTables] = None
) -> Plan:
    """The typed plan of ``row`` (nothing runs; recipes are composed to size the batches)."""
    if not settings.seeds:
        raise ValueError("--seeds: at least one seed")
    if len(set(settings.seeds)) != len(settings.seeds):
        raise ValueError(f"--seeds {settings.seeds}: each seed once")
    paper = paper or paper_tables(settings.paper_version)
    given = {"inat18": inputs.inat18 is not None, "voc07": inputs.voc07 is not None}
    cells, notes = [], []
    for cell in row_cells(row, paper):
        if given.get(cell.column, True):
            cells.append(cell)
    for column, flag in _TRANSFER_FLAGS.items():
        if not given[column] and any(c.column == column for c in row_cells(row, paper)):
            notes.append(f"Table 2 {paper.column_titles[column]} is not planned: add {flag}")
    order = {c: i for i, c in enumerate(COLUMNS)}
    models = {m: i for i, m in enumerate(row.models)}
    pairs = sorted({(c.model, c.column) for c in cells}, key=lambda p: (order[p[1]], models[p[0]]))
    probes = _probe_stages(row, pairs, inputs, settings)

    stages: List[Stage] = []
    if any(model == "base" for model, _ in pairs):
        stages.append(convert_stage(row, inputs))
    labels = sorted({COLUMNS[c].labels for _, c in pairs if not COLUMNS[c].transfer} - {100})
    stages += [subset_stage(inputs, n, _subset_script()) for n in labels]
    trained = [m for m in row.variants if any(model == m for model, _ in pairs)]
    stages += [pretrain_stage(row, m, inputs, settings) for m in trained]
    for pair in pairs:
        stages += probes[pair]
    measurements = tuple(
        Measurement(cell=c, stages=tuple(s.id for s in probes[(c.model, c.column)])) for c in cells
    )
    ids = [s.id for s in stages]
    assert len(ids) == len(set(ids)), ids
    return Plan(
        row=row, inputs=inputs, settings=settings, stages=tuple(stages),
        measurements=measurements, notes=tuple(notes),
    )  # fmt: skip
