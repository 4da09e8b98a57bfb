"""The rows ``e2mc-plugin reproduce --row`` knows, as data, and what each paper column measures.

A row is one base release continued for 10 epochs: its base model (converted, never trained),
the "continued" baseline (``aux_losses: []``) and the criterion the paper adds (E2MC, or one of
Table 3's ablations). Which cells a row fills comes from the paper's file
(:mod:`e2mc_plugin.reproduce.paper`): every printed cell of its tables for its models, so a
"-" in the paper is a run we do not make.

The recipes are those of ``configs/`` (``configs/README.md``); ``--smoke`` swaps each one for its
CPU variant under ``configs/cpu/`` (``cpu/<method>_<model>`` for pretraining, one probe, one
fine-tuning and one iNat18 recipe for every method).
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches
from typing import Dict, Mapping, Tuple

__all__ = ["COLUMNS", "Evaluation", "ROWS", "Row", "get_row"]


@dataclass(frozen=True)
class Row:
    """One row of the paper's tables. ``variants`` maps each trained model to its recipe."""

    name: str  # the --row value
    paper_row: str  # the row key in configs/paper/tables.yml
    method: str  # solo-learn method: vicreg | swav | simsiam
    tables: Tuple[int, ...]
    checkpoint_format: str  # the base release's `pretrained.format` / `convert --format`
    release: str  # the base release's file name
    variants: Mapping[str, str]  # model -> pretraining recipe (configs-relative, no .yaml)
    criterion: str  # the model compared with "continued" in the deltas

    @property
    def models(self) -> Tuple[str, ...]:
        return ("base", *self.variants)

    def smoke_recipe(self, model: str) -> str:
        """The CPU variant of a pretraining recipe (``configs/cpu/``)."""
        return f"cpu/{self.method}_{model}"


@dataclass(frozen=True)
class Evaluation:
    """What a paper column measures: a probe ``kind`` trained with ``labels`` % of its labels.

    kinds: ``linear`` (frozen backbone, ImageNet), ``semisup`` (whole network fine-tuned,
    ImageNet), ``inat18`` (frozen res5 features, iNat18), ``voc07`` (linear SVMs, VOC07 mAP; one
    deterministic run, no seeds).
    """

    kind: str
    labels: int

    @property
    def seeded(self) -> bool:
        return self.kind != "voc07"

    @property
    def transfer(self) -> bool:
        return self.kind in ("inat18", "voc07")

    def recipe(self, method: str, smoke: bool) -> str:
        """The launcher recipe of this evaluation (``voc07`` has none: a command of its own)."""
        if self.kind == "voc07":
            raise ValueError("voc07 runs `e2mc-plugin voc07-svm`, which takes no recipe")
        if smoke:
            return {"linear": "cpu/probe_cpu", "semisup": "cpu/finetune_cpu"}.get(
                self.kind, "cpu/inat18_cpu"
            )
        if self.kind == "linear":
            return f"linear/probe_{self.labels}pct_{method}"
        if self.kind == "semisup":
            return f"finetuning/semisup_{self.labels}pct_{method}"
        return "transfer/inat18_linear"


COLUMNS: Dict[str, Evaluation] = {
    "linear_1": Evaluation("linear", 1),
    "linear_10": Evaluation("linear", 10),
    "linear_100": Evaluation("linear", 100),
    "semisup_1": Evaluation("semisup", 1),
    "semisup_10": Evaluation("semisup", 10),
    "inat18": Evaluation("inat18", 100),
    "voc07": Evaluation("voc07", 100),
}


def _table1(name: str, method: str, fmt: str, release: str, continued: str, e2mc: str) -> Row:
    return Row(
        name=name, paper_row=name, method=method, tables=(1, 2), checkpoint_format=fmt,
        release=release, variants={"continued": continued, "e2mc": e2mc}, criterion="e2mc",
    )  # fmt: skip


def _table3(criterion: str) -> Row:
    return Row(
        name=f"swav800-{criterion}", paper_row="swav800", method="swav", tables=(3,),
        checkpoint_format="swav_official", release="swav_800ep_pretrain.pth.tar",
        variants={
            "continued": "pretrain/swav/continued_800ep",
            criterion: f"pretrain/swav/{criterion}_800ep",
        },
        criterion=criterion,
    )  # fmt: skip


ROWS: Dict[str, Row] = {
    row.name: row
    for row in (
        _table1("vicreg", "vicreg", "vicreg_full", "resnet50_fullckpt.pth",
                "pretrain/vicreg/continued", "pretrain/vicreg/e2mc"),
        _table1("swav400", "swav", "swav_official", "swav_400ep_bs256_pretrain.pth.tar",
                "pretrain/swav/continued_400ep", "pretrain/swav/e2mc_400ep"),
        _table1("swav800", "swav", "swav_official", "swav_800ep_pretrain.pth.tar",
                "pretrain/swav/continued_800ep", "pretrain/swav/e2mc_800ep"),
        _table1("simsiam", "simsiam", "simsiam_official",
                "100ep-256bs/pretrain/checkpoint_0099.pth.tar",
                "pretrain/simsiam/continued", "pretrain/simsiam/e2mc"),
        _table3("vcreg"),
        _table3("auh"),
        _table3("mmcr"),
    )
}  # fmt: skip


def get_row(name: str) -> Row:
    """The row ``name``; an unknown name lists the valid ones (and the closest)."""
    if name in ROWS:
        return ROWS[name]
    close = get_close_matches(name, ROWS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"--row {name!r}: unknown row{hint}; valid: {', '.join(ROWS)}")
