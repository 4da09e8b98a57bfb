"""Host identification: layout (not the version string), source, and the git commit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from e2mc_plugin.solo.host.detect import describe_host, git_commit, identify_host, layout_of

REPO = Path(__file__).resolve().parents[3]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def _fake_host(root: Path, layout: str) -> Path:
    """A solo-learn tree with only the files that tell the layouts apart."""
    solo = root / "solo"
    files = {
        "cfg": ["backbones/__init__.py", "args/pretrain.py"],
        "argparse": ["utils/backbones.py", "args/setup.py"],
    }[layout]
    for rel in ["__init__.py", *files]:
        (solo / rel).parent.mkdir(parents=True, exist_ok=True)
        (solo / rel).write_text("")
    (root / "setup.py").write_text('setup(name="solo-learn", version="1.0.6")\n')
    (root / "main_pretrain.py").write_text("")
    return root


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git binary as a reference")
def test_git_commit_matches_git_rev_parse_for_branch_packed_and_worktree(tmp_path):
    repo = _fake_host(tmp_path / "solo-learn", "cfg")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "x")
    assert git_commit(repo) == _git(repo, "rev-parse", "--short=7", "HEAD")
    _git(repo, "pack-refs", "--all")  # the ref now lives in packed-refs only
    assert git_commit(repo) == _git(repo, "rev-parse", "--short=7", "HEAD")
    (repo / "setup.py").write_text('setup(name="solo-learn", version="1.0.6")  # 1.0.8\n')
    _git(repo, "commit", "-qam", "y")
    _git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), "HEAD~1")  # .git is a file there
    assert git_commit(tmp_path / "wt") == _git(tmp_path / "wt", "rev-parse", "--short=7", "HEAD")
    assert git_commit(tmp_path / "wt") != git_commit(repo)
    info = identify_host(repo)
    assert (info.layout, info.source, info.commit) == ("cfg", "git checkout", git_commit(repo))
    assert info.declared_version == "1.0.6" and info.launchers


def test_layouts_not_version_strings_identify_the_host(tmp_path):
    archive = identify_host(_fake_host(tmp_path / "a", "cfg"))
    assert (archive.layout, archive.family, archive.source) == ("cfg", "1.0.6", "source archive")
    assert archive.commit is None
    legacy = identify_host(_fake_host(tmp_path / "b", "argparse"))
    assert (legacy.layout, legacy.family) == ("argparse", "1.0.2")
    assert legacy.declared_version == "1.0.6"  # what setup.py says does not decide the family
    odd = tmp_path / "c" / "solo"
    odd.mkdir(parents=True)
    assert layout_of(odd) == "unknown"
    assert "UNSUPPORTED" in describe_host(identify_host(odd.parent))
    assert "no solo-learn host" in describe_host(identify_host(tmp_path / "nothing"))


def test_describe_names_layout_source_and_commit(tmp_path):
    line = describe_host(identify_host(_fake_host(tmp_path / "h", "cfg")))
    assert line.startswith("cfg layout (1.0.6 family); source archive; declares 1.0.6;")


@pytest.mark.host106
def test_the_installed_106_host_has_the_cfg_layout(monkeypatch):
    monkeypatch.delenv("SOLO_LEARN_SRC", raising=False)
    info = identify_host()
    assert info.layout == "cfg" and info.launchers
    from e2mc_plugin.solo.host import compat

    assert info.family == compat.HOST_VERSION


@pytest.mark.host102
def test_the_installed_102_host_has_the_argparse_layout(monkeypatch):
    monkeypatch.delenv("SOLO_LEARN_SRC", raising=False)
    info = identify_host()
    assert (info.layout, info.source, info.launchers) == (
        "argparse",
        "installed distribution",
        False,
    )
    assert info.declared_version == "1.0.2"


def test_list_shows_host_new_loaders_recipes_and_patches():
    env_cmd = [sys.executable, "-m", "e2mc_plugin.cli", "list"]
    res = subprocess.run(env_cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.splitlines()[1].startswith("host:")
    for loader in ("mocov3_official", "dino_full", "dino_backbone", "barlowtwins_full"):
        assert f"  {loader} " in out
    assert f"recipes:           {REPO / 'configs'} (source checkout)" in out
    res = subprocess.run([*env_cmd, "--patches-dir"], cwd=REPO, capture_output=True, text=True)
    assert (Path(res.stdout.strip()) / "0001-method-discovery-entry-points.patch").is_file()


def test_list_shows_the_launcher_checkout_and_the_imported_package_when_they_differ(tmp_path):
    checkout = _fake_host(tmp_path / "checkout", "argparse")
    env = {**os.environ, "SOLO_LEARN_SRC": str(checkout)}
    res = subprocess.run(
        [sys.executable, "-m", "e2mc_plugin.cli", "list"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[1].startswith("host:              argparse layout (1.0.2 family); source archive")
    assert lines[1].endswith(str(checkout))
    imported = identify_host(use_env=False)
    if imported.package_dir is not None:
        assert lines[2].startswith("import solo:       " + describe_host(imported)[:20])
