"""configs/paper/tables.yml holds every printed cell of the paper's Tables 1-3, as printed.

The check against the printed tables reads ``paper_tables.md`` (``$E2MC_PAPER_TABLES``, else
``../shared/reference/paper_tables.md`` beside the repository, CI's layout) with its own small
Markdown parser, so a mistake in the loader cannot hide one in the file; without the file it is
skipped with the reason. The loader's own checks need no reference.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from e2mc_plugin.reproduce.paper import PaperFileError, paper_tables, tables_file

REPO = Path(__file__).resolve().parents[2]
PRINTED = Path(
    os.environ.get("E2MC_PAPER_TABLES", REPO.parent / "shared" / "reference" / "paper_tables.md")
)
HEADERS = {
    "linear 1%": "linear_1", "linear 10%": "linear_10", "linear 100%": "linear_100",
    "semi-sup 1%": "semisup_1", "semi-sup 10%": "semisup_10", "iNat18": "inat18", "VOC07": "voc07",
    "1%": "linear_1", "10%": "linear_10", "100%": "linear_100",  # Table 3 (linear only)
}  # fmt: skip
CELL = re.compile(r"^(?P<mean>\d+\.\d+)(?:\s*(?P<mark>[†*]))?(?:\s*\+-(?P<se>\d+\.\d+))?$")


def _printed_tables(text: str) -> dict:
    """{(table, method, epochs or None, column): (mean, se, mark)} of Tables 1-3 as printed."""
    cells = {}
    for match in re.finditer(r"^## Table (\d): .*?$(.*?)(?=^## |\Z)", text, re.M | re.S):
        table = int(match.group(1))
        rows = [line for line in match.group(2).splitlines() if line.startswith("|")]
        header = [h.strip() for h in rows[0].strip("|").split("|")]
        has_epochs = header[1] == "epochs"
        columns = header[2:] if has_epochs else header[1:]
        for line in rows[2:]:
            fields = [f.strip() for f in line.strip("|").split("|")]
            method = fields[0]
            epochs = int(fields[1]) if has_epochs else None
            for title, value in zip(columns, fields[2 if has_epochs else 1 :], strict=True):
                if value == "-":
                    continue
                m = CELL.match(value)
                assert m, f"Table {table}, {method}: cannot read {value!r}"
                se = float(m.group("se")) if m.group("se") else None
                key = (table, method, epochs, HEADERS[title])
                cells[key] = (float(m.group("mean")), se, m.group("mark") or "")
    return cells


def _loaded(version: str) -> dict:
    out = {}
    for c in paper_tables(version).cells:
        epochs = None if c.table == 3 else c.epochs  # Table 3 prints no epochs column
        out[(c.table, c.label, epochs, c.column)] = (c.mean, c.se, c.mark)
    return out


@pytest.fixture(scope="module")
def printed() -> str:
    if not PRINTED.is_file():
        pytest.skip(f"no printed tables to check against: {PRINTED} is absent (E2MC_PAPER_TABLES)")
    return PRINTED.read_text()


def test_every_printed_cell_of_tables_1_to_3_is_in_the_file_as_printed(printed):
    expected = _printed_tables(printed)
    assert len(expected) == 82  # 48 + 16 + 18 cells printed, "-" excluded
    assert _loaded("A") == expected


def test_version_b_prints_the_same_numbers_without_errors_and_its_noted_marks(printed):
    note = re.search(r"Version B prints the semi-supervised (.+?) base cells ([\d. /]+) without "
                     r"the (.) mark", printed)  # fmt: skip
    assert note, "the note on version B's marks is not in the printed tables"
    unmarked = {float(v) for v in note.group(2).split("/")}
    method = {"SwAV-800": ("SwAV base", 800)}[note.group(1)]
    expected = {}
    for (table, label, epochs, column), (mean, _, mark) in _printed_tables(printed).items():
        if table == 1 and (label, epochs) == method and column.startswith("semisup"):
            assert mean in unmarked and mark == note.group(3)
            mark = ""
        expected[(table, label, epochs, column)] = (mean, None, mark)
    assert _loaded("B") == expected


def test_the_file_says_where_each_cell_comes_from():
    a, b = paper_tables("A"), paper_tables("B")
    assert {c.version for c in a.cells} == {"A"} and {c.version for c in b.cells} == {"B"}
    cell = a.cell(1, "vicreg", "e2mc", "linear_1")
    assert (cell.label, cell.epochs, cell.mean, cell.se) == ("VICReg + E2MC", 1010, 54.54, 0.05)
    assert a.cell(1, "vicreg", "continued", "semisup_1") is None  # printed "-"
    assert all(c.se is None for c in b.cells)
    assert a.cell(1, "swav800", "base", "semisup_1").mark == "†"
    assert b.cell(1, "swav800", "base", "semisup_1").mark == ""


@pytest.mark.parametrize(
    "edit, message",
    [
        (("column: linear_1,", "column: linear_2,"), "column 'linear_2' is not one of"),
        (("model: e2mc,", "model: e2mc2,"), "model 'e2mc2' is not one of"),
        (('mark: "†"', 'mark: "#"'), "mark '#' is not one of"),
        (("versions: [A]}", "versions: [A, B]}"), "prints these cells twice"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_entry(tmp_path, edit, message):
    text = tables_file().read_text().replace(*edit, 1)
    (tmp_path / "tables.yml").write_text(text)
    with pytest.raises(PaperFileError, match=message):
        paper_tables("B" if "twice" in message else "A", tmp_path / "tables.yml")


def test_unknown_version_is_refused():
    with pytest.raises(PaperFileError, match="valid: A, B"):
        paper_tables("C")
