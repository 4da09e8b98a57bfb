"""The GPU kit's manifest, README, check and offline install (no registry, no kit build: made-up
wheels); the real requirements file names only pure-Python pins with a reason each."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from e2mc_plugin.gpucheck import kit

REPO = Path(__file__).resolve().parents[2]


def make_wheel(folder: Path, name: str, version: str, tag: str = "py3-none-any") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-{tag}.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}/__init__.py", f"VERSION = {version!r}\n")
        z.writestr(f"{name}-{version}.data/purelib/{name}_extra.py", "EXTRA = True\n")
        z.writestr(f"{name}-{version}.data/scripts/{name}-cli", "#!/bin/sh\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
        z.writestr(f"{info}/METADATA", f"Name: {name}\nVersion: {version}\n")
    return path


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "requirements").mkdir(parents=True)
    (root / "requirements" / "gpu-kit.txt").write_text(
        "# comment\nalpha==1.0  # alpha's reason\nbeta_pkg==2.0  # beta's reason, with a # in it\n"
    )
    (root / "e2mc_plugin").mkdir()
    (root / "e2mc_plugin" / "a.py").write_text("A = 1\n")
    (root / "configs").mkdir()
    (root / "configs" / "r.yaml").write_text("x: 1\n")
    return root


@pytest.fixture
def built(tmp_path, repo):
    folder = tmp_path / "kit"
    make_wheel(folder / "wheels", "alpha", "1.0")
    make_wheel(folder / "wheels", "beta_pkg", "2.0")
    (folder / "solo-learn").mkdir()
    (folder / "solo-learn" / "main_pretrain.py").write_text("print('host')\n")
    return folder, kit.write(folder, repo, "9187ea3")


def test_manifest_and_readme_say_what_the_kit_holds_and_why(built):
    folder, manifest = built
    assert [(w["name"], w["version"], w["why"]) for w in manifest["wheels"]] == [
        ("alpha", "1.0", "alpha's reason"),
        ("beta-pkg", "2.0", "beta's reason, with a # in it"),
    ]
    assert set(manifest["files"]) == {
        "wheels/alpha-1.0-py3-none-any.whl",
        "wheels/beta_pkg-2.0-py3-none-any.whl",
        "solo-learn/main_pretrain.py",
    }
    assert json.loads((folder / kit.MANIFEST).read_text()) == manifest
    readme = (folder / kit.README).read_text()
    assert "| `wheels/alpha-1.0-py3-none-any.whl` | alpha's reason |" in readme
    assert "solo-learn main's source (9187ea3)" in readme


def test_a_wheel_that_is_not_pure_python_is_refused(tmp_path, repo):
    make_wheel(tmp_path / "k" / "wheels", "alpha", "1.0", tag="cp312-cp312-manylinux_2_28_x86_64")
    with pytest.raises(SystemExit, match="not a pure-Python wheel"):
        kit.write(tmp_path / "k", repo, None)


def test_install_unpacks_the_wheels_offline_into_an_importable_folder(tmp_path, built):
    folder, _ = built
    site = tmp_path / "site"
    assert kit.install(folder, site) == [
        "alpha-1.0-py3-none-any.whl",
        "beta_pkg-2.0-py3-none-any.whl",
    ]
    assert (site / "alpha-1.0.dist-info" / "METADATA").is_file()
    assert not (site / "alpha-cli").exists()  # scripts are not needed
    code = "import alpha, alpha_extra, importlib.metadata as m; print(alpha.VERSION, "
    code += "m.version('alpha'))"
    out = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(site)}, capture_output=True, text=True
    )
    assert out.stdout.strip() == "1.0 1.0", out.stderr


def test_a_damaged_kit_is_named_and_not_installed(tmp_path, built):
    folder, _ = built
    wheel = folder / "wheels" / "alpha-1.0-py3-none-any.whl"
    wheel.write_bytes(wheel.read_bytes()[:-10])  # truncated on the way
    (folder / "solo-learn" / "main_pretrain.py").unlink()
    problems, _ = kit.check(folder)
    assert sorted(problems) == [
        "solo-learn/main_pretrain.py is missing",
        "wheels/alpha-1.0-py3-none-any.whl differs from the kit as built (truncated or edited)",
    ]
    with pytest.raises(SystemExit, match="run make gpu-kit again"):
        kit.install(folder, tmp_path / "site")
    assert kit.check(tmp_path / "nothing")[0] == [
        f"{tmp_path / 'nothing' / kit.MANIFEST} is missing: run make gpu-kit"
    ]


def test_the_tree_hash_follows_the_plugin_sources_only(repo, built):
    folder, _ = built
    assert kit.check(folder, repo)[1]["tree_matches"]
    (repo / "e2mc_plugin" / "__pycache__").mkdir()
    (repo / "e2mc_plugin" / "__pycache__" / "a.cpython-312.pyc").write_bytes(b"\0")
    (repo / "notes.txt").write_text("not a source of the wheel\n")
    assert kit.check(folder, repo)[1]["tree_matches"]
    (repo / "configs" / "r.yaml").write_text("x: 2\n")
    assert not kit.check(folder, repo)[1]["tree_matches"]


def test_the_kit_requirements_pin_every_package_with_a_reason():
    text = (REPO / kit.REQUIREMENTS).read_text()
    pins = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    reasons = kit.reasons(REPO / kit.REQUIREMENTS)
    assert len(reasons) == len(pins)
    for name in ("omegaconf", "hydra-core", "antlr4-python3-runtime", "lightning", "torchmetrics"):
        assert name in reasons
    assert "lightning==2.1.2" in text and "torchmetrics==0.11.4" in text
