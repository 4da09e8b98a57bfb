"""What the set-up removes, with a temporary ``E2MC_HOME`` (never the real one): only what is
provably unused, never what a running program holds, only the hosts being set up, and a dry run
that lists exactly the removals of the real run.

Homes are laid out as the set-up leaves them (``checkouts/<key>/{checkout,machine,host-<v>/.deps}``,
``deps-<v>-<hash>/``); the machine is named through ``E2MC_MACHINE``, so one test plays several
machines sharing a home (a cluster home seen by several nodes or containers).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from setup_env import REPO, copy_checkout, run_script  # noqa: E402

pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("flock") is None,
    reason="needs bash and flock (util-linux)",
)
HERE = "node-a"


def deps(home: Path, version: str, tag: str) -> Path:
    venv = home / f"deps-{version}-{tag}"
    (venv / "bin").mkdir(parents=True)
    return venv


def checkout(home: Path, key: str, root: Path, machine, uses: dict, age_days: float = 0) -> Path:
    """A checkout's environments as the set-up records them (``machine=None``: recorded by a
    set-up older than the machine record)."""
    d = home / "checkouts" / key
    d.mkdir(parents=True)
    for version, venv in uses.items():
        env = d / f"host-{version}"
        env.mkdir(parents=True)
        (env / ".deps").write_text(f"{venv}\n")
        (env / ".stamp").write_text("ready\n")
    (d / "checkout").write_text(f"{root}\n")
    if machine is not None:
        (d / "machine").write_text(f"{machine}\n")
    if age_days:
        stamp = time.time() - age_days * 86400
        for path in [d, *d.rglob("*")]:
            os.utime(path, (stamp, stamp))
    return d


def prune(home: Path, *args: str, machine: str = HERE):
    res = run_script(REPO, home, "scripts/prune_envs.sh", *args, E2MC_MACHINE=machine)
    assert res.returncode == 0, res.stderr
    return [x for x in res.stderr.splitlines() if x.startswith("[bootstrap]")]


def removals(lines, dry: bool):
    word = "[bootstrap] would remove " if dry else "[bootstrap] removed "
    return sorted(x[len(word) :] for x in lines if x.startswith(word))


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


def test_a_checkout_another_machine_set_up_is_never_taken_for_gone(home, tmp_path):
    """The shared home of the report: node-b's checkout is not visible on node-a."""
    used = deps(home, "1.0.2", "bbbb")
    theirs = checkout(home, "e2mc-b", tmp_path / "node-b-only" / "e2mc", "node-b", {"1.0.2": used})
    assert prune(home, "--dry-run") == [] and prune(home) == []
    assert (theirs / "host-1.0.2").is_dir() and used.is_dir()
    # an environment set up before machines were recorded is treated the same way
    legacy = checkout(home, "e2mc-old", tmp_path / "old" / "e2mc", None, {"1.0.2": used})
    assert prune(home) == [] and legacy.is_dir()
    # set up long ago, but used lately (every run records it): kept
    long_ago = checkout(home, "e2mc-c", tmp_path / "c" / "e2mc", "node-c", {"1.0.2": used},
                        age_days=90)  # fmt: skip
    (long_ago / "host-1.0.2" / ".used").touch()
    assert prune(home) == [] and long_ago.is_dir()


def test_gone_here_or_unused_for_n_days_is_removed_and_the_dry_run_lists_exactly_that(
    home, tmp_path
):
    alive = tmp_path / "alive"
    alive.mkdir()
    (alive / "setup.cfg").write_text("[metadata]\n")
    kept_deps, mine_deps, old_deps = (deps(home, "1.0.2", t) for t in ("kept", "mine", "old"))
    stale_106 = deps(home, "1.0.6", "stale")
    live = checkout(home, "alive", alive, HERE, {"1.0.2": kept_deps})
    mine = checkout(home, "mine", tmp_path / "moved", HERE, {"1.0.2": mine_deps})
    old = checkout(home, "old", tmp_path / "elsewhere", "node-c", {"1.0.2": old_deps}, age_days=31)

    planned = removals(prune(home, "--dry-run"), dry=True)
    assert planned == sorted([
        f"the environments of {tmp_path / 'moved'} (host-1.0.2): that checkout no longer exists "
        f"on this machine ({HERE})",
        f"the environments of {tmp_path / 'elsewhere'} (host-1.0.2): not used for 30 days; set up "
        "on node-c, its checkout is not here",
        f"{mine_deps} (no environment uses it any more)",
        f"{old_deps} (no environment uses it any more)",
        f"{stale_106} (no environment uses it any more)",
    ])  # fmt: skip
    assert mine.is_dir() and old.is_dir() and stale_106.is_dir()  # the dry run removed nothing
    assert removals(prune(home), dry=False) == planned
    assert not mine.exists() and not old.exists() and not mine_deps.exists()
    assert live.is_dir() and kept_deps.is_dir()


def test_a_single_host_prune_touches_only_that_hosts_environments(home, tmp_path):
    d102, d106 = deps(home, "1.0.2", "aaaa"), deps(home, "1.0.6", "bbbb")
    moved = checkout(home, "moved", tmp_path / "moved", HERE, {"1.0.2": d102, "1.0.6": d106})
    lines = prune(home, "1.0.2")
    assert removals(lines, dry=False) == sorted([
        f"the environments of {tmp_path / 'moved'} (host-1.0.2): that checkout no longer exists "
        f"on this machine ({HERE})",
        f"{d102} (no environment uses it any more)",
    ])  # fmt: skip
    assert (moved / "host-1.0.6").is_dir() and d106.is_dir()  # the 0.84 GB host stays
    prune(home, "all")
    assert not moved.exists() and not d106.exists()


def test_the_deps_a_set_up_is_about_to_use_are_kept(home, tmp_path):
    """``--uses``: in a dry run the environment is not built yet; the real run names it."""
    planned = deps(home, "1.0.2", "next")
    assert removals(prune(home, "--dry-run", "--uses", f"1.0.2={planned}"), dry=True) == []
    assert removals(prune(home, "--dry-run"), dry=True) == [
        f"{planned} (no environment uses it any more)"
    ]


LOCKED_BY_ENV_PYTHON = "import sys, time; open(sys.argv[1], 'w').close(); time.sleep(120)"


def _wait(marker: Path, proc) -> None:
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)


def test_an_environment_whose_python_runs_is_kept_until_it_ends(home, tmp_path):
    """The lock every Python process of an environment takes (scripts/env_lock.py, installed as
    ``_e2mc_env_lock.pth``), here in a real venv whose checkout was moved away meanwhile."""
    used = deps(home, "1.0.2", "aaaa")
    d = checkout(home, "moved", tmp_path / "moved", HERE, {})
    env = d / "host-1.0.2"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    (env / ".deps").write_text(f"{used}\n")
    site = next(env.glob("lib/python3*/site-packages"))
    shutil.copy(REPO / "scripts" / "env_lock.py", site / "_e2mc_env_lock.py")
    (site / "_e2mc_env_lock.pth").write_text("import _e2mc_env_lock\n")
    marker = tmp_path / "running"
    proc = subprocess.Popen([str(env / "bin" / "python"), "-c", LOCKED_BY_ENV_PYTHON, str(marker)])
    try:
        _wait(marker, proc)
        lines = prune(home)
        assert (
            f"[bootstrap] kept {env} ({tmp_path / 'moved'}): in use by a running process" in lines
        )
        assert removals(lines, dry=False) == [] and env.is_dir() and used.is_dir()
        assert "would remove" not in "".join(prune(home, "--dry-run"))
    finally:
        proc.kill()
        proc.wait()
    assert len(removals(prune(home), dry=False)) == 2 and not d.exists() and not used.exists()


def test_a_program_run_through_host_sh_holds_its_environment_and_deps(home, tmp_path):
    user = copy_checkout(tmp_path / "user" / "e2mc-plugin")
    env = dict(os.environ, E2MC_HOME=str(home))
    env_sh = 'source scripts/env.sh && echo "$(host_venv 1.0.2)"'
    found = subprocess.run(["bash", "-c", env_sh], cwd=user, env=env, capture_output=True,
                           text=True, check=True)  # fmt: skip
    venv = Path(found.stdout.strip())
    used = deps(home, "1.0.2", "aaaa")
    (venv / "bin").mkdir(parents=True)
    (venv / ".deps").write_text(f"{used}\n")
    (venv / ".stamp").write_text("ready\n")
    (venv.parent / "checkout").write_text(f"{user}\n")
    (venv.parent / "machine").write_text(f"{HERE}\n")
    hold = venv / "bin" / "hold"
    hold.write_text('#!/bin/sh\ntouch "$1"\nsleep 120\n')
    hold.chmod(0o755)
    marker = tmp_path / "running"
    command = ["bash", "scripts/host.sh", "1.0.2", "hold", str(marker)]
    proc = subprocess.Popen(command, cwd=user, env=env, start_new_session=True)
    try:
        _wait(marker, proc)
        shutil.rmtree(user)  # the checkout moves away while its program runs
        lines = prune(home)
        assert f"[bootstrap] kept {venv} ({user}): in use by a running process" in lines
        assert venv.is_dir() and used.is_dir()
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
    prune(home)
    assert not venv.exists() and not used.exists()


def test_the_set_up_dry_run_lists_the_removals_of_its_own_hosts_only(home, tmp_path):
    """``bootstrap_env.sh --dry-run 1.0.2`` (what host.sh suggests): the removals the real run
    would make, none of a 1.0.6 environment, and nothing removed."""
    user = copy_checkout(tmp_path / "user" / "e2mc-plugin")
    d102, d106 = deps(home, "1.0.2", "aaaa"), deps(home, "1.0.6", "bbbb")
    moved = checkout(home, "moved", tmp_path / "moved", HERE, {"1.0.2": d102, "1.0.6": d106})
    res = run_script(user, home, "scripts/bootstrap_env.sh", "--dry-run", "1.0.2",
                     E2MC_MACHINE=HERE)  # fmt: skip
    assert res.returncode == 0, res.stderr
    lines = [x for x in res.stderr.splitlines() if x.startswith("[bootstrap]")]
    assert removals(lines, dry=True) == sorted([
        f"the environments of {tmp_path / 'moved'} (host-1.0.2): that checkout no longer exists "
        f"on this machine ({HERE})",
        f"{d102} (no environment uses it any more)",
    ])  # fmt: skip
    assert lines[-1] == "[bootstrap] dry run: done"
    assert (moved / "host-1.0.2").is_dir() and d102.is_dir() and d106.is_dir()
