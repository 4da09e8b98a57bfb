"""Two checkouts on one machine, each running its own code (real environments).

Two copies of the repository with the same folder name at different paths, each with a marker of
its own in ``e2mc_plugin/__init__.py``, set up at the same time by ``scripts/bootstrap_env.sh``
against one ``E2MC_HOME``. That home reuses the torch base and the 1.0.2 dependency venv of the
environment running this test (symlinked; their names are the scripts' own hashes), so only the
two small per-checkout environments are built. Each must import its own plugin, show its own
recipes through its own ``e2mc-plugin`` command and see exactly one ``e2mc-plugin`` distribution;
deleting one checkout must not break the other, and the next set-up removes the orphan.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from setup_env import REPO, copy_checkout, run_script  # noqa: E402

pytestmark = pytest.mark.slow

PROBE = """
import importlib.metadata as m, json, e2mc_plugin
dists = [d for d in m.distributions() if d.metadata["Name"] == "e2mc-plugin"]
methods = [e.name for e in m.entry_points(group="solo.methods")]
print(json.dumps({"file": e2mc_plugin.__file__, "mark": e2mc_plugin.CHECKOUT_MARK,
                  "dists": len(dists), "methods": methods}))
"""


def scripts_value(expr: str, home: Path, checkout: Path = REPO) -> str:
    """A value of scripts/env.sh (e.g. ``$(deps_venv 1.0.2)``) for ``checkout`` and ``home``."""
    env = {**os.environ, "E2MC_HOME": str(home)}
    res = subprocess.run(
        ["bash", "-c", f'source scripts/env.sh && echo "{expr}"'],
        cwd=checkout, env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return res.stdout.strip()


@pytest.fixture()
def shared_home(tmp_path):
    """A fresh E2MC_HOME whose torch base and 1.0.2 deps are this machine's (symlinks)."""
    real_home = Path(os.environ.get("E2MC_HOME") or Path.home() / ".cache" / "e2mc-plugin")
    base, deps = real_home / "torch-2.14.1", Path(scripts_value("$(deps_venv 1.0.2)", real_home))
    if not (base / ".stamp").is_file() or not (deps / ".stamp").is_file():
        pytest.skip(f"needs the torch base and 1.0.2 deps under {real_home}: run make env")
    home = tmp_path / "home"
    home.mkdir()
    (home / base.name).symlink_to(base)
    (home / deps.name).symlink_to(deps)
    return home


def probe(venv: Path, cwd: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SOLO_LEARN_SRC")}
    res = subprocess.run(
        [str(venv / "bin" / "python"), "-c", PROBE],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout)


def recipes_of(venv: Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "E2MC_PLUGIN_CONFIGS")}
    res = subprocess.run(
        [str(venv / "bin" / "e2mc-plugin"), "list"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    (line,) = [x for x in res.stdout.splitlines() if x.startswith("recipes:")]
    return line


def test_two_checkouts_side_by_side_each_run_their_own_code(shared_home, tmp_path):
    checkouts = {}
    for owner in ("alice", "bob"):
        checkout = copy_checkout(tmp_path / owner / "e2mc-plugin")
        init = checkout / "e2mc_plugin" / "__init__.py"
        init.write_text(init.read_text() + f"\nCHECKOUT_MARK = {owner!r}\n")
        checkouts[owner] = checkout

    # both set up at the same time (the second waits for the first's lock)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SOLO_LEARN_SRC")}
    env.update(E2MC_HOME=str(shared_home), E2MC_FETCH_SOLO="0")
    procs = {
        owner: subprocess.Popen(
            ["bash", "scripts/bootstrap_env.sh", "1.0.2"],
            cwd=checkout,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        for owner, checkout in checkouts.items()
    }
    for owner, proc in procs.items():
        try:
            _, err = proc.communicate(timeout=900)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"set-up of {owner}'s checkout did not finish")
        assert proc.returncode == 0, err[-3000:]

    venvs = {
        o: Path(scripts_value("$(host_venv 1.0.2)", shared_home, c)) for o, c in checkouts.items()
    }
    assert venvs["alice"] != venvs["bob"]
    deps = {(v / ".deps").read_text().strip() for v in venvs.values()}
    assert deps == {str(p) for p in shared_home.glob("deps-1.0.2-*")} and len(deps) == 1
    for owner, checkout in checkouts.items():
        got = probe(venvs[owner], tmp_path)
        assert got["mark"] == owner
        assert Path(got["file"]).resolve().is_relative_to(checkout.resolve())
        assert got["dists"] == 1 and got["methods"].count("e2mc_plugin") == 1, got
        assert str(checkout / "configs") in recipes_of(venvs[owner], tmp_path)

    # the shared deps never hold the plugin
    deps_site = next(Path(deps.pop()).glob("lib/python3*/site-packages"))
    assert not list(deps_site.glob("*e2mc_plugin*")), list(deps_site.glob("*e2mc_plugin*"))

    # alice's checkout goes away: bob's environment still runs bob's code; the next set-up
    # removes alice's environment and keeps bob's (up to date, not rebuilt)
    shutil.rmtree(tmp_path / "alice")
    assert probe(venvs["bob"], tmp_path)["mark"] == "bob"
    res = run_script(
        checkouts["bob"], shared_home, "scripts/bootstrap_env.sh", "1.0.2", timeout=600
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert (
        f"removed the environments of {tmp_path.resolve() / 'alice' / 'e2mc-plugin'}" in res.stderr
    )
    assert f"host 1.0.2: ready ({venvs['bob']})" in res.stderr
    assert not venvs["alice"].parent.exists() and venvs["bob"].is_dir()
    assert probe(venvs["bob"], tmp_path)["mark"] == "bob"
