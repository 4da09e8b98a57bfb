"""The comparison with the paper: per-cell mean, standard error, difference and the 2-SE test,
the deltas criterion - continued, the Markdown / CSV / plot, and ``e2mc-plugin report`` on a
reproduction folder. Results are committed as done-markers, exactly as the runner does."""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("hydra", reason="hydra-core is not installed")

from e2mc_plugin.reproduce import plot as plot_module  # noqa: E402
from e2mc_plugin.reproduce.compare import Estimate  # noqa: E402
from e2mc_plugin.reproduce.markers import Done, StageFolder  # noqa: E402
from e2mc_plugin.reproduce.outputs import record_plan, write_comparison  # noqa: E402
from e2mc_plugin.reproduce.plan import Inputs, Settings  # noqa: E402
from e2mc_plugin.reproduce.planner import build_plan  # noqa: E402
from e2mc_plugin.reproduce.rows import get_row  # noqa: E402

INPUTS = Inputs(Path("/d/i"), Path("/c/b.pth"), Path("/d/i"), Path("/d/inat"), Path("/d/voc"))
# (model, column) -> our values over seeds 31, 32, 33 (VOC07: one run)
OURS = {
    ("base", "linear_1"): [53.40, 53.60, 53.55],
    ("continued", "linear_1"): [53.50, 53.52, 53.48],
    ("e2mc", "linear_1"): [54.60, 54.50, 54.70],
    ("continued", "linear_10"): [66.50, 66.60, 66.55],
    ("e2mc", "linear_10"): [66.00, 66.10, 66.05],  # far below the paper's 66.82 ± 0.05
    ("base", "voc07"): [86.10],
}


def _commit(out: Path, stage: str, result: dict) -> None:
    folder = StageFolder(out, stage)
    folder.root.mkdir(parents=True, exist_ok=True)
    folder.commit(Done(stage, (stage,), (stage,), "attempt-1", 1.0, "now", result))


@pytest.fixture()
def reproduction(tmp_path) -> Path:
    out = tmp_path / "t1-vicreg"
    plan = build_plan(get_row("vicreg"), INPUTS, Settings(devices=1, seeds=(31, 32, 33)))
    record_plan(plan, out)
    for m in plan.measurements:
        values = OURS.get((m.cell.model, m.cell.column))
        for stage, value in zip(m.stages, values or [], strict=False):
            key = "map" if m.cell.column == "voc07" else "top1"
            _commit(out, stage, {key: value})
    return out


def _rows(path: Path) -> dict:
    with open(path) as f:
        return {(r["table"], r["model"], r["column"]): r for r in csv.DictReader(f)}


def test_each_cell_beside_the_paper_with_its_error_difference_and_2se_test(reproduction):
    written = write_comparison(reproduction)
    rows = _rows(written.csv)
    assert len(rows) == 13 + 4  # Table 1 (13 printed cells) + Table 2 (4)
    r = rows[("1", "e2mc", "linear_1")]
    v = np.array(OURS[("e2mc", "linear_1")])
    se = v.std(ddof=1) / math.sqrt(3)
    assert float(r["ours_mean"]) == pytest.approx(v.mean(), abs=5e-3)
    assert float(r["ours_se"]) == pytest.approx(se, abs=5e-3)
    assert (r["paper_mean"], r["paper_se"], r["paper_version"]) == ("54.54", "0.05", "A")
    assert float(r["difference"]) == pytest.approx(v.mean() - 54.54, abs=5e-3)
    assert float(r["difference_se"]) == pytest.approx(math.hypot(se, 0.05), abs=5e-3)
    assert r["within_2se"] == "yes" and r["ours_n"] == "3"
    assert rows[("1", "e2mc", "linear_10")]["within_2se"] == "no"
    base100 = rows[("1", "base", "linear_100")]  # not run: empty, the paper's † kept
    assert (base100["ours_mean"], base100["within_2se"], base100["paper_mark"]) == ("", "", "†")
    voc = rows[("2", "base", "voc07")]  # one run, no printed error: no test possible
    assert (voc["ours_se"], voc["paper_se"], voc["within_2se"]) == ("", "", "n/a")


def test_the_markdown_shows_ours_paper_and_difference_under_each_model(reproduction):
    text = write_comparison(reproduction).markdown
    lines = text.splitlines()
    i = lines.index(next(line for line in lines if line.startswith("| VICReg + E2MC | 1010 |")))
    assert lines[i].split("|")[3].strip() == "ours"
    assert lines[i + 1].split("|")[3:5] == [" paper ", " 54.54 ± 0.05 "]
    assert lines[i + 2].split("|")[3].strip() == "Δ" and "✓" in lines[i + 2].split("|")[4]
    assert "✗" in lines[i + 2].split("|")[5]  # linear 10 %: outside 2 standard errors
    assert "| VICReg base | 1000 | ours | 53.52 ± 0.06 |" in text
    assert "54.53 * ± 0.12" in text  # mark where the paper prints it
    assert "… (0/3 runs)" in text  # linear 100 % base: nothing run yet
    assert "### Table 2: transfer" in text and "| 86.10 |" in text
    j = lines.index(next(line for line in lines if line.startswith("| VICReg continued |")))
    for line in lines[j : j + 3]:  # the paper prints "-" for continued's semi-supervised cells
        assert [f.strip() for f in line.split("|")[-3:-1]] == ["-", "-"]


def test_deltas_criterion_minus_continued_per_label_fraction(reproduction):
    written = write_comparison(reproduction)
    by_column = {d.column: d for d in written.deltas}
    assert set(by_column) == {"linear_1", "linear_10", "linear_100"}
    d = by_column["linear_1"]
    e2mc, cont = np.array(OURS[("e2mc", "linear_1")]), np.array(OURS[("continued", "linear_1")])
    assert d.ours.mean == pytest.approx(e2mc.mean() - cont.mean())
    expected = math.hypot(e2mc.std(ddof=1) / math.sqrt(3), cont.std(ddof=1) / math.sqrt(3))
    assert d.ours.se == pytest.approx(expected)
    assert d.paper.mean == pytest.approx(54.54 - 53.51)
    assert d.paper.se == pytest.approx(math.hypot(0.05, 0.07))
    assert by_column["linear_100"].ours is None  # no run yet
    assert "| vicreg | e2mc | linear 1% | +1.10 ± 0.06 | +1.03 ± 0.09 |" in written.markdown


def test_the_plot_is_written_with_matplotlib_and_skipped_without(reproduction, monkeypatch):
    if importlib.util.find_spec("matplotlib") is not None:
        png = write_comparison(reproduction).png
        assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setattr(plot_module, "matplotlib_available", lambda: False)
    assert plot_module.plot_deltas(write_comparison(reproduction).deltas, {}, Path("x.png")) is None


def test_estimates_of_one_value_have_no_error():
    one = Estimate.of([50.0])
    assert one.se is None and one.minus(Estimate(49.0, None, 1)).se is None
    assert one.minus(Estimate(49.0, 0.3, 1)).se == pytest.approx(0.3)


def test_report_reads_a_reproduction_folder(reproduction, tmp_path, capsys):
    from e2mc_plugin.cli import main

    assert main(["report", str(reproduction), "--out", str(tmp_path / "rep")]) == 0
    out = capsys.readouterr().out
    assert "reproduction of the paper's tables" in out and "VICReg + E2MC" in out
    assert (tmp_path / "rep" / "t1-vicreg" / "comparison.csv").is_file()
    # a folder above it: the reproduction is found, its stages' run folders are not sweep runs
    run = reproduction / "stages" / "pretrain-e2mc" / "attempt-1" / "ckpt" / "vicreg_aux" / "0"
    run.mkdir(parents=True)
    (run / "args.json").write_text('{"method": "vicreg_aux"}')
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "rep2")]) == 0
    out = capsys.readouterr().out
    assert "e2mc_results.json" not in out and (tmp_path / "rep2" / "t1-vicreg").is_dir()
