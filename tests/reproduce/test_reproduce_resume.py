"""Done-markers and resume: finished stages are kept byte for byte, a failed or killed stage runs
again in a new attempt, a failure names the stage, its log and how to rerun it alone.

The stages here are small bash commands of the same kinds as the real plan's (a ``subset``
stage must leave ``<attempt>/imagenet_<n>pct``, a ``voc07`` stage ``<attempt>/voc07.json``), so
the runner, the markers and the result readers run exactly as for the launchers.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from e2mc_plugin.reproduce.markers import Done, StageFolder, StageMismatchError
from e2mc_plugin.reproduce.paper import paper_tables
from e2mc_plugin.reproduce.plan import ATTEMPT, Arg, Inputs, Measurement, Plan, Ref, Settings, Stage
from e2mc_plugin.reproduce.rows import get_row
from e2mc_plugin.reproduce.runner import StageFailed, run_plan

MAKE_FOLDER = 'mkdir -p "$1/imagenet_1pct" && echo "$2" > "$1/imagenet_1pct/listed.txt"'
# fails unless $3 exists; then writes the mAP read from $2's listed file (a Ref's value)
VOC = ('test -e "$3" || { echo "no $3 yet" >&2; exit 3; }; '
       'echo "{\\"mAP\\": 0.$(cat "$2/listed.txt")}" > "$1/voc07.json"')  # fmt: skip


def _stage(stage_id, kind, script, *extra, labels=None) -> Stage:
    args = (Arg.of("-c"), Arg.of(script), Arg.of("_"), Arg.of(ATTEMPT), *extra)
    return Stage(id=stage_id, kind=kind, title=stage_id, program="bash", args=args, labels=labels)


def _plan(flag: Path, listed: str = "42") -> Plan:
    stages = (
        _stage("subset-1pct", "subset", MAKE_FOLDER, Arg.of(listed), labels=1),
        _stage("voc07-x", "voc07", VOC, Arg.of(Ref("subset-1pct", "folder")), Arg.of(str(flag))),
        _stage("voc07-y", "voc07", VOC, Arg.of(Ref("subset-1pct", "folder")), Arg.of("/")),
    )
    cell = paper_tables("A").cell(2, "vicreg", "e2mc", "voc07")
    return Plan(
        row=get_row("vicreg"),
        inputs=Inputs(Path("/i"), Path("/c"), Path("/l")),
        settings=Settings(devices=1, seeds=(1,)),
        stages=stages,
        measurements=(Measurement(cell, ("voc07-x",)),),
    )


def _markers(out: Path) -> dict:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "stages").rglob("DONE")}


def test_a_run_commits_each_stage_and_a_second_call_keeps_them(tmp_path):
    flag = tmp_path / "flag"
    flag.touch()
    out, lines = tmp_path / "out", []
    assert run_plan(_plan(flag), out, rerun=["x"], echo=lines.append) == {"ran": 3, "kept": 0}
    done = StageFolder(out, "voc07-x").read_done()
    assert done.result["map"] == pytest.approx(42.0)  # the Ref carried subset-1pct's folder
    assert done.attempt == "attempt-1" and done.command[0] == "bash"
    assert "<folder of subset-1pct>" in done.identity  # recorded with its holes named
    result = json.loads((out / "stages" / "subset-1pct" / "result.json").read_text())
    assert result["images"] == 1 and result["folder"].endswith("attempt-1/imagenet_1pct")
    before, lines = _markers(out), []
    assert run_plan(_plan(flag), out, rerun=["x"], echo=lines.append) == {"ran": 0, "kept": 3}
    assert _markers(out) == before
    assert lines == ["resuming: 3 of 3 stages are done and kept as they are; nothing left to run"]
    assert [p.name for p in StageFolder(out, "voc07-x").attempts()] == ["attempt-1"]


def test_a_failing_stage_stops_the_run_and_says_how_to_rerun_it_alone(tmp_path):
    flag, out = tmp_path / "flag", tmp_path / "out"
    with pytest.raises(StageFailed) as failed:
        run_plan(_plan(flag), out, rerun=["e2mc-plugin", "reproduce", "--row", "vicreg"],
                 echo=lambda _: None)  # fmt: skip
    text = str(failed.value)
    attempt = out / "stages" / "voc07-x" / "attempt-1"
    assert failed.value.stage.id == "voc07-x" and "exit code 3" in text
    assert f"log: {attempt / 'log.txt'}" in text and f"no {flag} yet" in text  # the log's tail
    assert "e2mc-plugin reproduce --row vicreg --stage voc07-x" in text
    assert f"cd {attempt} && bash -c" in text and str(out / "stages/subset-1pct") in text
    assert not StageFolder(out, "voc07-x").is_done()
    assert not (out / "stages" / "voc07-y").exists()  # nothing after the failure ran
    before = _markers(out)
    flag.touch()  # fixed: the next call resumes at the failed stage, in a new attempt
    assert run_plan(_plan(flag), out, rerun=["x"], echo=lambda _: None) == {"ran": 2, "kept": 1}
    assert all(_markers(out)[p] == v for p, v in before.items())
    assert StageFolder(out, "voc07-x").read_done().attempt == "attempt-2"
    assert (attempt / "log.txt").is_file()  # the failed attempt stays for inspection


def test_a_stage_killed_mid_way_has_no_marker_and_runs_again(tmp_path):
    flag, out = tmp_path / "flag", tmp_path / "out"
    flag.touch()
    run_plan(_plan(flag), out, rerun=["x"], only="subset-1pct", echo=lambda _: None)
    killed = out / "stages" / "voc07-x" / "attempt-1"
    killed.mkdir(parents=True)  # what a SIGKILL leaves: an attempt folder, no result, no DONE
    (killed / "log.txt").write_text("half a log")
    assert run_plan(_plan(flag), out, rerun=["x"], echo=lambda _: None) == {"ran": 2, "kept": 1}
    assert StageFolder(out, "voc07-x").read_done().attempt == "attempt-2"
    assert (killed / "log.txt").read_text() == "half a log"


def test_only_one_stage_needs_the_stages_it_reads_done(tmp_path):
    flag, out = tmp_path / "flag", tmp_path / "out"
    flag.touch()
    with pytest.raises(StageFailed, match="stage subset-1pct is not done yet; run it first"):
        run_plan(_plan(flag), out, rerun=["x"], only="voc07-x", echo=lambda _: None)
    assert not (out / "stages" / "voc07-x").exists()  # no attempt folder for a stage not run
    with pytest.raises(ValueError, match="--stage 'nope': not a stage of this plan; valid: subset"):
        run_plan(_plan(flag), out, rerun=["x"], only="nope", echo=lambda _: None)


def test_a_finished_stage_made_by_another_command_is_refused_before_anything_runs(tmp_path):
    flag, out = tmp_path / "flag", tmp_path / "out"
    flag.touch()
    run_plan(_plan(flag), out, rerun=["x"], only="subset-1pct", echo=lambda _: None)
    with pytest.raises(StageMismatchError) as err:
        run_plan(_plan(flag, listed="7"), out, rerun=["x"], echo=lambda _: None)
    assert "stage subset-1pct" in str(err.value) and "finished: 42" in str(err.value)
    assert "planned:  7" in str(err.value) and "use another --out" in str(err.value)
    assert not (out / "stages" / "voc07-x").exists()


def test_the_done_marker_is_never_replaced(tmp_path):
    folder = StageFolder(tmp_path, "s")
    folder.root.mkdir(parents=True)
    done = Done("s", ("a",), ("a",), "attempt-1", 1.0, "now", {"top1": 1.0})
    folder.commit(done)
    with pytest.raises(FileExistsError):
        folder.commit(Done("s", ("b",), ("b",), "attempt-2", 1.0, "later", {"top1": 2.0}))
    assert folder.read_done() == done
    assert sorted(os.listdir(folder.root)) == ["DONE", "result.json"]  # no temporary left


def test_an_unreadable_marker_is_an_error_not_a_rerun(tmp_path):
    folder = StageFolder(tmp_path, "s")
    folder.root.mkdir(parents=True)
    folder.done_path.write_text("{half")
    with pytest.raises(StageMismatchError, match="unreadable done-marker"):
        folder.check(("a",))


@pytest.mark.parametrize("signal_name, code", [("TERM", 143), ("INT", 130)])
def test_a_stopped_run_stops_its_launcher_and_leaves_the_stage_unmarked(
    tmp_path, signal_name, code
):
    """SIGTERM (a scheduler's preemption) or Ctrl-C while a stage runs: the runner stops the
    launcher, says the stage runs again (not a pretraining stage: from its beginning), and exits
    with the shell's code for the signal.

    Ctrl-C is Python's own KeyboardInterrupt, which a process started in the background without
    job control never gets (its shell set SIGINT to ignored, as for a user's ``nohup ... &``):
    the test restores Python's handler so that it runs the same under any CI shell."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _run_stopped(tmp_path, signal_name, code)
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_stopped(tmp_path, signal_name, code):
    plan = _plan(tmp_path / "flag")
    stop = f"kill -{signal_name} $PPID; exec sleep 60"  # the runner is the launcher's parent
    stages = (_stage("subset-1pct", "subset", stop, labels=1), *plan.stages[1:])
    lines = []
    with pytest.raises(SystemExit) as stopped:
        run_plan(Plan(**{**plan.__dict__, "stages": stages}), tmp_path / "out", rerun=["x"],
                 echo=lines.append)  # fmt: skip
    assert stopped.value.code == code
    assert lines[-1].endswith(
        "stage subset-1pct has no marker and runs again from its beginning on the next call"
    )
    assert not StageFolder(tmp_path / "out", "subset-1pct").is_done()
