"""The GPU check's runner and report: every part runs in its own process, a part that fails,
raises, dies or outlives its limit (with the processes it started) becomes its row and the next
part still runs; the JSON and the Markdown table hold every part; a failed environment skips
the parts with its reason; an exhausted budget skips the rest."""

import json
import os
import time
from pathlib import Path

import pytest

from e2mc_plugin.gpucheck import report
from e2mc_plugin.gpucheck.parts import PARTS, PartSpec
from e2mc_plugin.gpucheck.runner import run_check

HERE = Path(__file__).resolve().parent


def spec(name, func, limit=60.0):
    return PartSpec(name, f"part {name}", f"gpucheck_fake_parts:{func}", limit, limit, "p", "c")


@pytest.fixture
def fake_path(monkeypatch):
    paths = [str(HERE), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")  # a zombie is dead


def test_each_failure_is_a_row_and_the_next_part_runs(tmp_path, fake_path):
    parts = [
        spec("p1", "passing"),
        spec("p2", "raising"),
        spec("p3", "dying"),
        spec("p4", "sleeping", limit=3.0),
        spec("p5", "failing"),
    ]
    out, work = tmp_path / "out", tmp_path / "work"
    entries = run_check(
        out, cpu=True, repo=tmp_path, work=work, parts=parts, environment=spec("env", "env_ok")
    )
    status = {e["name"]: e["status"] for e in entries}
    assert status == {
        "env": "PASS",
        "p1": "PASS",
        "p2": "ERROR",
        "p3": "ERROR",
        "p4": "TIMEOUT",
        "p5": "FAIL",
    }
    by = {e["name"]: e for e in entries}
    assert by["p2"]["summary"] == "RuntimeError: boom in the part"
    assert "exit status 3" in by["p3"]["summary"] and "about to die" in by["p3"]["notes"]
    assert "limit of 3 s" in by["p4"]["summary"]
    # the part's own child was killed with it (its process group)
    grandchild = int((work / "p4" / "grandchild.pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(grandchild)

    doc = json.loads((out / report.JSON_NAME).read_text())
    assert [p["name"] for p in doc["parts"]] == ["env", "p1", "p2", "p3", "p4", "p5"]
    assert doc["parts"][1]["rows"] == [{"loss": "e2mc", "error": 1.5e-6, "ok": True}]
    md = (out / report.MD_NAME).read_text()
    assert md.startswith("# GPU check: CPU dry run")
    for e in entries:
        assert f"| {e['title']} | {e['status']} |" in md
    assert "| e2mc | 1.50e-06 | yes |" in md  # the part's own table
    assert "x.py:1 \\| f" in md  # cells escape the pipe
    assert "The dry run cannot prove: c." in md
    assert (out / "logs" / "p3.log").read_text().startswith("about to die")


def test_a_failed_environment_skips_every_part_with_its_reason(tmp_path, fake_path):
    entries = run_check(
        tmp_path / "out",
        cpu=False,
        repo=tmp_path,
        work=tmp_path / "work",
        parts=[spec("p1", "passing"), spec("p2", "passing")],
        environment=spec("env", "env_bad"),
    )
    assert [e["status"] for e in entries] == ["FAIL", "SKIPPED", "SKIPPED"]
    assert entries[1]["summary"] == "the environment is not ready: no CUDA device"
    md = (tmp_path / "out" / report.MD_NAME).read_text()
    assert "The dry run cannot prove" not in md  # a GPU run's report


def test_a_spent_budget_skips_the_remaining_parts(tmp_path, fake_path):
    entries = run_check(
        tmp_path / "out",
        cpu=True,
        repo=tmp_path,
        work=tmp_path / "work",
        parts=[spec("p1", "passing")],
        environment=spec("env", "env_ok"),
        budget_s=5.0,  # below the minimum a part is started with
    )
    assert [e["status"] for e in entries] == ["SKIPPED", "SKIPPED"]
    assert "time budget (5 s) is spent" in entries[1]["summary"]


def test_the_real_parts_are_a_b_d_c_each_with_its_texts_and_a_gpu_limit_within_8_minutes():
    assert [p.name for p in PARTS] == ["a", "b", "d", "c"]
    for p in PARTS:
        module, _, func = p.target.partition(":")
        assert module.startswith("e2mc_plugin.gpucheck.") and func == "run"
        assert p.proves and p.dry_run_cannot and p.limit_gpu_s <= 300
