"""The wheel carries configs/ and patches/, and one resolver finds them (checkout or wheel)."""

from __future__ import annotations

import ast
import configparser
import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from e2mc_plugin._resources import ENV, resource_dir, resource_origin

REPO = Path(__file__).resolve().parents[2]
RESOURCE_FILES = {
    name: sorted(
        p.relative_to(REPO / name).as_posix()
        for p in (REPO / name).rglob("*")
        if p.is_file() and p.suffix in {".yaml", ".md", ".patch", ".sh"}
    )
    for name in ("configs", "patches")
}


def test_checkout_resources_are_the_repository_folders(monkeypatch):
    for name, env in ENV.items():
        monkeypatch.delenv(env, raising=False)
        assert resource_dir(name) == REPO / name
        assert resource_origin(name) == "source checkout"


def test_environment_override_wins(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV["patches"], str(tmp_path))
    assert resource_dir("patches") == tmp_path.resolve()
    assert resource_origin("patches") == "environment"
    monkeypatch.setenv(ENV["patches"], str(tmp_path / "missing"))  # not a folder: ignored
    assert resource_dir("patches") == REPO / "patches"


def test_unknown_resource_lists_valid_names():
    with pytest.raises(ValueError, match="valid: configs, patches"):
        resource_dir("recipes")


def test_installed_layout_uses_the_packaged_copy(tmp_path, monkeypatch):
    """site-packages/e2mc_plugin/_resources/{configs,patches}: no setup.cfg two levels up."""
    package = tmp_path / "site-packages" / "e2mc_plugin" / "_resources"
    package.mkdir(parents=True)
    source = REPO / "e2mc_plugin" / "_resources" / "__init__.py"
    shutil.copy(source, package / "__init__.py")
    (package / "configs" / "cpu").mkdir(parents=True)
    (package / "patches").mkdir()
    spec = importlib.util.spec_from_file_location("installed_resources", package / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, env in ENV.items():
        monkeypatch.delenv(env, raising=False)
        assert module.resource_dir(name) == package.resolve() / name
        assert module.resource_origin(name) == "installed package"
    shutil.rmtree(package / "patches")
    assert module.resource_dir("patches") is None
    assert module.resource_origin("patches") == "missing"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a clean copy of the tree, with this environment's setuptools."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed in this environment")
    work = tmp_path_factory.mktemp("wheel")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for rel in files:
        if (REPO / rel).is_file():
            (work / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, work / "src" / rel)
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    res = subprocess.run(
        [*cmd, "-w", str(work / "dist"), str(work / "src")], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr[-3000:]
    (built,) = (work / "dist").glob("e2mc_plugin-*.whl")
    return built


def test_wheel_carries_every_recipe_and_patch(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name, files in RESOURCE_FILES.items():
        assert files, name
        missing = [f for f in files if f"e2mc_plugin/_resources/{name}/{f}" not in names]
        assert missing == [], f"{name} files not in the wheel: {missing}"
    assert "hydra_plugins/e2mc_plugin_searchpath/__init__.py" in names
    assert not any(n.startswith(("tests/", "bench/", "configs/", "patches/")) for n in names)


def test_wheel_metadata_requires_python_310_and_declares_entry_points(wheel):
    archive = zipfile.ZipFile(wheel)
    info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = archive.read(info).decode()
    assert "Requires-Python: >=3.10" in metadata
    assert "Requires-Dist: torch>=2.6" in metadata
    assert not any(
        line.startswith("Requires-Dist: " + dep)
        for line in metadata.splitlines()
        for dep in ("torchvision", "lightning", "pytorch-lightning", "solo-learn")
    ), "the user's solo-learn environment provides these: never let pip replace them"
    entry_points = configparser.ConfigParser()
    entry_points.read_string(archive.read(info.replace("METADATA", "entry_points.txt")).decode())
    assert entry_points["console_scripts"]["e2mc-plugin"] == "e2mc_plugin.cli:main"
    assert "e2mc_plugin" in entry_points["solo.methods"]


def test_sources_parse_as_python_310():
    """Requires-Python says 3.10: no newer syntax anywhere in the installed packages."""
    newer = "try:\n    pass\nexcept* ValueError:\n    pass\n"  # 3.11 syntax
    with pytest.raises(SyntaxError):  # the check below can fail: it refuses newer syntax
        ast.parse(newer, feature_version=(3, 10))
    paths = [
        p for package in ("e2mc_plugin", "hydra_plugins") for p in (REPO / package).rglob("*.py")
    ]
    failed = []
    for path in paths:
        try:
            ast.parse(path.read_text(), filename=str(path), feature_version=(3, 10))
        except SyntaxError as err:
            failed.append(f"{path.relative_to(REPO)}:{err.lineno}: {err.msg}")
    assert len(paths) > 100 and not failed, failed
