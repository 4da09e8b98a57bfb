"""The set-up scripts in a fresh copy of the repository, the way a user gets it.

A copy of this checkout's tree (tracked + untracked files, as ``git clone`` plus local edits) in
a temporary folder with no ``../shared`` sibling, no ``SOLO_LEARN_SRC`` and a fresh ``E2MC_HOME``:
``scripts/bootstrap_env.sh --dry-run`` runs the real resolution (``scripts/env.sh``: the solo-learn
main source, the archive next to the repository, the per-checkout environment paths) and prints
its plan without building anything. Every failure ends with one ``FAILED: <what> -- <what to do>``
line.
"""

from __future__ import annotations

import platform
import shutil
import sys
import tarfile
from pathlib import Path

import pytest

# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from setup_env import REPO, bootstrap_lines, copy_checkout, run_script  # noqa: E402

pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("git") is None or not (REPO / ".git").exists(),
    reason="needs bash, git and a git checkout of the repository",
)


@pytest.fixture()
def fresh(tmp_path):
    """A copy of the repository at tmp/user/e2mc-plugin (no ../shared) and an empty E2MC_HOME."""
    checkout = copy_checkout(tmp_path / "user" / "e2mc-plugin")
    assert not (checkout.parent / "shared").exists()
    return checkout, tmp_path / "home"


def test_no_shared_sibling_no_source_skips_106_in_one_line_and_carries_on(fresh):
    checkout, home = fresh
    res = run_script(checkout, home, "scripts/bootstrap_env.sh", "--dry-run")
    assert res.returncode == 0, res.stderr
    lines = bootstrap_lines(res)
    skipped = [line for line in lines if "host 1.0.6" in line]
    assert len(skipped) == 1, lines
    line = skipped[0]
    assert "SKIPPED" in line and "no solo-learn main source" in line
    assert "SOLO_LEARN_SRC" in line and f"{home}/solo-learn-src" in line  # how to provide it
    assert "carrying on with host 1.0.2" in line
    # the 1.0.2 host is planned: its shared deps and this checkout's own environment
    deps = f"would build its dependencies (shared by checkouts): {home}/deps-1.0.2-"
    own = f"would build this checkout's environment {home}/checkouts/e2mc-plugin-"
    assert any(deps in x for x in lines) and any(own in x for x in lines), lines
    assert not any("FAILED" in x for x in lines)
    assert not (home / "checkouts").exists()  # a dry run builds nothing


def test_source_archive_next_to_the_repository_is_extracted_and_planned(fresh):
    checkout, home = fresh
    name = "solo-learn-0000abc"
    staged = checkout.parent / "staging" / name
    (staged / "solo").mkdir(parents=True)
    (staged / "solo" / "__init__.py").write_text("")
    (staged / "setup.py").write_text('from setuptools import setup\nsetup(name="solo-learn")\n')
    hosts = checkout.parent / "shared" / "hosts"
    hosts.mkdir(parents=True)
    with tarfile.open(hosts / f"{name}.tar.gz", "w:gz") as tar:
        tar.add(staged, arcname=name)

    res = run_script(checkout, home, "scripts/bootstrap_env.sh", "--dry-run")
    assert res.returncode == 0, res.stderr
    extracted = home / name
    assert (extracted / "setup.py").read_text() == (staged / "setup.py").read_text()
    assert f"[env] extracted {hosts / f'{name}.tar.gz'} -> {extracted}" in res.stderr
    lines = bootstrap_lines(res)
    assert f"[bootstrap] host 1.0.6: solo-learn main from {extracted}" in lines
    planned = [x for x in lines if "host 1.0.6: would build this checkout's environment" in x]
    assert len(planned) == 1 and planned[0].endswith(f"solo-learn main from {extracted})"), lines
    assert not any("SKIPPED" in x or "FAILED" in x for x in lines), lines


def test_unreadable_archive_and_wrong_solo_learn_src_skip_106_saying_why(fresh, tmp_path):
    checkout, home = fresh
    hosts = checkout.parent / "shared" / "hosts"
    hosts.mkdir(parents=True)
    (hosts / "solo-learn-0000abc.tar.gz").write_bytes(b"not a gzip file")
    res = run_script(checkout, home, "scripts/bootstrap_env.sh", "--dry-run")
    assert res.returncode == 0, res.stderr
    (line,) = [x for x in bootstrap_lines(res) if "host 1.0.6" in x]
    assert "SKIPPED (cannot extract" in line and "solo-learn-0000abc.tar.gz" in line

    empty = tmp_path / "not-solo"
    empty.mkdir()
    res = run_script(checkout, home, "scripts/bootstrap_env.sh", "--dry-run",
                     SOLO_LEARN_SRC=str(empty))  # fmt: skip
    assert res.returncode == 0, res.stderr
    (line,) = [x for x in bootstrap_lines(res) if "host 1.0.6" in x]
    assert f"SKIPPED (SOLO_LEARN_SRC={empty} has no setup.py" in line


@pytest.mark.parametrize(
    "case, overrides, what",
    [
        ("no python", {"PYTHON": "/nonexistent/python3"}, "no Python interpreter"),
        ("home is a file", {"E2MC_HOME": "FILE/home"}, "cannot write to E2MC_HOME"),
        ("bad argument", {}, "unknown argument '1.0.9'"),
    ],
)
def test_every_failure_ends_with_one_line_what_and_what_to_do(fresh, case, overrides, what):
    checkout, home = fresh
    if overrides.get("E2MC_HOME") == "FILE/home":
        blocker = home.parent / "a-file"
        blocker.write_text("")
        overrides = {"E2MC_HOME": str(blocker / "home")}
    args = ["1.0.9"] if case == "bad argument" else []
    res = run_script(checkout, home, "scripts/bootstrap_env.sh", "--dry-run", *args, **overrides)
    assert res.returncode == 1
    failed = [x for x in res.stderr.splitlines() if "FAILED" in x]
    assert len(failed) == 1 and res.stderr.splitlines()[-1] == failed[0], res.stderr
    assert failed[0].startswith(f"[bootstrap] FAILED: {what}") and " -- " in failed[0]


def test_host_program_without_an_environment_says_how_to_create_it(fresh):
    checkout, home = fresh
    res = run_script(checkout, home, "scripts/host.sh", "1.0.2", "python", "-V")
    assert res.returncode == 1
    (line,) = res.stderr.splitlines()
    assert line.startswith("[host] no environment at ") and "make env" in line


def test_two_checkouts_get_their_own_environment_on_shared_dependencies(tmp_path):
    """Same folder name, different paths: one environment each, one dependency venv for both."""
    home = tmp_path / "home"
    plans = []
    for owner in ("alice", "bob"):
        checkout = copy_checkout(tmp_path / owner / "e2mc-plugin")
        res = run_script(checkout, home, "scripts/bootstrap_env.sh", "--dry-run", "1.0.2")
        assert res.returncode == 0, res.stderr
        plans.append(bootstrap_lines(res))
    deps = [{x.rsplit(" ", 1)[-1] for x in p if "dependencies" in x} for p in plans]
    envs = [
        {x.split(" environment ")[1].split()[0] for x in p if "checkout's env" in x} for p in plans
    ]
    assert len(deps[0]) == 1 and deps[0] == deps[1]
    assert len(envs[0]) == len(envs[1]) == 1 and envs[0] != envs[1]


def test_prune_keeps_every_deps_venv_a_checkout_names_and_removes_the_rest(tmp_path):
    """Many checkouts naming the same deps venv (a ``cat | grep -q`` pipeline under pipefail
    lost that race and removed a venv in use); a deleted checkout's environments and an unused
    deps venv go, each in one line."""
    home = tmp_path / "home"
    used, unused = home / "deps-1.0.2-aaaa", home / "deps-1.0.6-bbbb"
    for venv in (used, unused):
        (venv / "bin").mkdir(parents=True)
    live = tmp_path / "live"
    (live).mkdir()
    (live / "setup.cfg").write_text("[metadata]\n")
    for i in range(200):  # enough files that grep matches long before cat would finish
        env = home / "checkouts" / f"live-{i:03d}" / "host-1.0.2"
        env.mkdir(parents=True)
        (env.parent / "checkout").write_text(str(live))
        (env / ".deps").write_text(f"{used}\n")
    gone = home / "checkouts" / "gone-0000"
    (gone / "host-1.0.6").mkdir(parents=True)
    (gone / "checkout").write_text(str(tmp_path / "deleted"))
    (gone / "machine").write_text(platform.node())  # set up on this machine
    (gone / "host-1.0.6" / ".deps").write_text(f"{unused}\n")

    for _ in range(5):
        res = run_script(REPO, home, "scripts/prune_envs.sh")
        assert res.returncode == 0, res.stderr
        assert used.is_dir(), res.stderr
    assert not unused.exists() and not gone.exists()
    assert len(list((home / "checkouts").iterdir())) == 200
