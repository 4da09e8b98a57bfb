"""The GPU check end to end on the CPU, as on a GPU node without network: ``make gpu-kit``'s
script builds the kit (<= 60 MiB, pure wheels only); a fresh venv holding only what a GPU image
has (the shared torch base seen through a .pth file, as scripts/bootstrap_env.sh does, plus
lightning, timm and scikit-learn from the registry, and no pkg_resources) runs
``scripts/gpu_check.sh --cpu`` with the kit to its table. Needs the package registries (the kit
and the venv) and solo-learn main's source (scripts/env.sh finds it)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KIT_MAX_MIB = 60
#: what a GPU image has beside torch: lightning (with torchmetrics), timm, and scikit-learn (with
#: scipy, which solo-learn's methods import)
IMAGE_PACKAGES = ("lightning", "timm", "scikit-learn")

pytestmark = [pytest.mark.slow, pytest.mark.host106]


def _env_sh(name: str) -> str:
    cmd = f'source scripts/env.sh >/dev/null 2>&1; printf %s "${name}"'
    return subprocess.run(["bash", "-c", cmd], cwd=REPO, capture_output=True, text=True).stdout


def _site(python: Path) -> str:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kit") / ".gpu-kit"
    res = subprocess.run(
        ["bash", "scripts/build_gpu_kit.sh", str(folder)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if res.stdout.startswith("gpu-kit: FAILED (no solo-learn main source"):
        pytest.skip(res.stdout.strip())
    assert res.stdout.startswith("gpu-kit: BUILT"), res.stdout + res.stderr[-3000:]
    return folder


@pytest.fixture(scope="module")
def image_python(tmp_path_factory):
    base = Path(_env_sh("BASE"))
    if not (base / ".stamp").is_file():
        pytest.skip(f"no torch base at {base} (scripts/bootstrap_env.sh)")
    venv = tmp_path_factory.mktemp("image") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    Path(_site(python), "_e2mc_torch_base.pth").write_text(_site(base / "bin" / "python") + "\n")
    pins = REPO / "requirements" / "torch-pins.txt"
    res = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-c", str(pins), *IMAGE_PACKAGES],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    # an image whose setuptools has no pkg_resources (>= 82): the kit must bring it
    subprocess.run([str(python), "-m", "pip", "uninstall", "-q", "-y", "setuptools"], check=True)
    gone = subprocess.run([str(python), "-c", "import pkg_resources"], capture_output=True)
    have = subprocess.run([str(python), "-c", "import omegaconf"], capture_output=True)
    assert have.returncode != 0  # nothing of the kit is there before the check
    return python, gone.returncode != 0


def test_the_kit_is_small_pure_and_described(kit):
    size = sum(p.stat().st_size for p in kit.rglob("*") if p.is_file())
    assert size <= KIT_MAX_MIB * 2**20, f"{size / 2**20:.1f} MiB"
    wheels = sorted(p.name for p in (kit / "wheels").glob("*.whl"))
    assert all(w.endswith(("-py3-none-any.whl", "-py2.py3-none-any.whl")) for w in wheels), wheels
    for name in ("omegaconf-", "hydra_core-", "antlr4_python3_runtime-", "e2mc_plugin-"):
        assert any(w.startswith(name) for w in wheels), (name, wheels)
    assert "lightning-2.1.2-py3-none-any.whl" in wheels
    assert "torchmetrics-0.11.4-py3-none-any.whl" in wheels
    assert (kit / "solo-learn" / "main_pretrain.py").is_file()
    manifest = json.loads((kit / "kit.json").read_text())
    assert all(w["why"] for w in manifest["wheels"])
    print(f"\nkit: {size / 2**20:.1f} MiB, {len(wheels)} wheels")


def test_a_fresh_image_venv_with_the_kit_runs_the_dry_run_to_its_table(kit, image_python, tmp_path):
    python, no_pkg_resources = image_python
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SOLO_LEARN_SRC")}
    env.update(PYTHON=str(python), E2MC_GPU_KIT=str(kit), OMP_NUM_THREADS="1")
    t0 = time.monotonic()
    res = subprocess.run(
        ["bash", "scripts/gpu_check.sh", "--cpu", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    seconds = time.monotonic() - t0
    log = res.stdout + res.stderr[-4000:]
    doc = json.loads((out / "gpu_check.json").read_text())
    parts = {p["name"]: p for p in doc["parts"]}
    assert list(parts) == ["env", "a", "b", "d", "c"], log
    status = {name: p["status"] for name, p in parts.items()}
    # b may FAIL on a real finding (a hidden sync); every other part passes
    assert all(status[k] == "PASS" for k in ("env", "a", "d", "c")), (status, log)
    assert status["b"] in ("PASS", "FAIL"), (parts["b"]["summary"], log)
    assert res.returncode == (0 if status["b"] == "PASS" else 1), log

    packages = {r["package"]: r for r in parts["env"]["rows"]}
    assert (
        packages["lightning"]["version"] == "2.1.2" and packages["lightning"]["from"] == "the kit"
    )
    assert packages["torchmetrics"]["from"] == "the kit" and packages["timm"]["from"] == "the kit"
    assert packages["solo-learn"]["from"] == "the kit's solo-learn source"
    assert packages["e2mc-plugin"]["from"] == "this tree"
    assert packages["torch"]["from"] != "the kit"  # the image's own torch
    assert no_pkg_resources  # the image had none: the kit's setuptools brought it

    e2mc_sgd = next(r for r in parts["b"]["rows"] if r["run"] == "e2mc, SGD")
    assert e2mc_sgd["ok"] and e2mc_sgd["finiteness check"] >= 1, parts["b"]
    assert len(parts["a"]["rows"]) == 10 and all(r["ok"] for r in parts["a"]["rows"])
    assert [r["command"] for r in parts["d"]["rows"]] == ["e2mc-plugin pretrain", "e2mc-plugin knn"]
    steps = {r["step"] for r in parts["c"]["rows"]}
    assert steps == {"resnet18 raw step", "solo-learn wrapper", "vit_tiny raw step"}, steps

    md = (out / "gpu_check.md").read_text()
    assert md.startswith("# GPU check: CPU dry run")
    for p in parts.values():
        assert f"| {p['title']} | {p['status']} |" in md
        if p["name"] != "env":
            assert "The dry run cannot prove" in md.split(f"## {p['title']}")[1]
    print(f"\ndry run: {seconds:.0f} s\n{md}")
