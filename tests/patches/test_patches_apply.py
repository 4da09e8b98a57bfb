"""The patches in patches/ apply to solo-learn 9187ea3 and do what patches/README.md says.

Fast: every patch applies alone and all apply in order to a pristine 9187ea3 tree (`git apply`),
the patched Python files compile, and (host 1.0.6) entry-point discovery registers methods from
a fake installed distribution. Slow (`-m slow`, host 1.0.6): solo-learn's own test suite on the
patched copy, and the patched launchers run on CPU: strict weights-only initialization (0002),
strict linear backbone loading incl. the legacy `encoder.` prefix (0003), kNN without CUDA
(0004), more than 2 large crops for a method that declares support (0005).

Pristine source, first found: `git archive 9187ea3` from $SOLO_LEARN_GIT_DIR (default: the local
mirror), a copy of $SOLO_LEARN_SRC, or the source tree of the installed 1.0.6 host.
"""

from __future__ import annotations

import importlib.util
import os
import py_compile
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PATCH_DIR = REPO / "patches"
PATCHES = sorted(PATCH_DIR.glob("000*.patch"))
UPSTREAM_COMMIT = "9187ea3"
DEFAULT_GIT_DIR = "/work/.mirror/vturrisi+solo-learn/repo"
HOST_SUITE = ["tests/args", "tests/losses", "tests/methods", "tests/utils", "tests/backbones"]
OPTIONAL_HOST_TESTS = {"tests/utils/test_auto_umap.py": ("umap", "pandas", "seaborn")}


# ----------------------------------------------------------------------------- sources


def _installed_host_src() -> Path | None:
    spec = importlib.util.find_spec("solo")
    if spec is None or spec.origin is None:
        return None
    root = Path(spec.origin).resolve().parents[1]
    return root if (root / "main_pretrain.py").is_file() else None


def _export_pristine(dest: Path) -> str | None:
    """Writes a 9187ea3 tree into dest; returns where it came from, or None."""
    git_dir = os.environ.get("SOLO_LEARN_GIT_DIR", DEFAULT_GIT_DIR)
    if shutil.which("git") and Path(git_dir).exists():
        has = subprocess.run(
            ["git", "--git-dir", git_dir, "cat-file", "-e", f"{UPSTREAM_COMMIT}^{{commit}}"],
            capture_output=True,
        )
        if has.returncode == 0:
            archive = subprocess.run(
                ["git", "--git-dir", git_dir, "archive", UPSTREAM_COMMIT],
                capture_output=True,
                check=True,
            )
            dest.mkdir(parents=True, exist_ok=True)
            subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
            return f"git archive {UPSTREAM_COMMIT} from {git_dir}"
    for src in (os.environ.get("SOLO_LEARN_SRC"), _installed_host_src()):
        if src and (Path(src) / "main_pretrain.py").is_file():
            ignore = shutil.ignore_patterns(".git", "*.egg-info", "__pycache__", "trained_models")
            shutil.copytree(src, dest, ignore=ignore)
            return f"copy of {src}"
    return None


@pytest.fixture(scope="session")
def pristine(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("solo-pristine") / "solo-learn"
    if _export_pristine(dest) is None:
        pytest.skip(
            f"no solo-learn {UPSTREAM_COMMIT} source: set SOLO_LEARN_GIT_DIR (a clone) or "
            "SOLO_LEARN_SRC (a checkout), or install the 1.0.6 host from a source tree"
        )
    return dest


def _git_apply(tree: Path, patch: Path, *extra: str) -> subprocess.CompletedProcess:
    # --unsafe-paths is not needed: patches only touch files inside the tree
    return subprocess.run(
        ["git", "apply", *extra, str(patch)], cwd=tree, capture_output=True, text=True
    )


@pytest.fixture(scope="session")
def patched(pristine, tmp_path_factory) -> Path:
    tree = tmp_path_factory.mktemp("solo-patched") / "solo-learn"
    shutil.copytree(pristine, tree)
    for patch in PATCHES:
        res = _git_apply(tree, patch)
        assert res.returncode == 0, f"{patch.name} does not apply in order:\n{res.stderr}"
    return tree


# ----------------------------------------------------------------------------- fast


def test_the_five_patches_exist_and_each_has_a_readme_section():
    names = [p.name for p in PATCHES]
    assert names == [
        "0001-method-discovery-entry-points.patch",
        "0002-pretrained-weights-init.patch",
        "0003-strict-linear-backbone.patch",
        "0004-device-agnostic-knn.patch",
        "0005-multiview-large-crops.patch",
    ]
    readme = (PATCH_DIR / "README.md").read_text()
    for name in names:
        assert f"## {name}" in readme, f"patches/README.md has no section for {name}"


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name[:4])
def test_patch_has_one_line_of_context(patch):
    """Hunks are tiny (-U1), so the upstream text carried in this repo stays minimal."""
    diff = patch.read_text().split("\ndiff --git ", 1)[1]
    run = 0
    for line in diff.splitlines():
        if line.startswith(("diff --git", "index ", "--- ", "+++ ", "@@")):
            run = 0
        elif line.startswith(" "):
            run += 1
            # one trailing + one leading line between two changes of the same hunk at most
            assert run <= 2, f"{patch.name}: more than one line of context: {line!r}"
        else:
            run = 0


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name[:4])
def test_patch_applies_alone_to_pristine_tree(pristine, patch):
    res = _git_apply(pristine, patch, "--check")
    assert res.returncode == 0, f"{patch.name} does not apply to {UPSTREAM_COMMIT}:\n{res.stderr}"


def test_all_patches_apply_in_order_and_the_result_compiles(patched):
    changed = {
        "solo/methods/__init__.py": "solo.methods",
        "main_pretrain.py": "pretrained_feature_extractor",
        "main_linear.py": "strict=True",
        "main_knn.py": "torch.cuda.is_available()",
        "main_umap.py": "torch.cuda.is_available()",
    }
    for rel, marker in changed.items():
        path = patched / rel
        assert marker in path.read_text(), f"{rel} lacks {marker!r} after patching"
        py_compile.compile(str(path), doraise=True)
    assert "supports_multiple_large_crops" in (patched / "main_pretrain.py").read_text()
    assert ".cuda(" not in (patched / "main_knn.py").read_text()


# ----------------------------------------------------------------------------- helpers


def _env(patched: Path, *extra_paths: Path) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(patched), *map(str, extra_paths)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env.update(
        PYTHONPATH=os.pathsep.join(paths),
        OMP_NUM_THREADS="2",
        WANDB_MODE="disabled",
        HYDRA_FULL_ERROR="1",
        CUDA_VISIBLE_DEVICES="",  # prove the CPU path even on a GPU machine
        PYTHONWARNINGS="ignore",
    )
    return env


def _run(cmd, *, cwd, env, timeout=900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def _q(path: Path) -> str:
    """A hydra override value: solo's checkpoint names contain '=' (ep=0), so quote them."""
    return f"'{path}'"


def _tail(res: subprocess.CompletedProcess, n: int = 3000) -> str:
    return f"rc={res.returncode}\n--- stdout\n{res.stdout[-n:]}\n--- stderr\n{res.stderr[-n:]}"


FAKE_PLUGIN = '''
"""A stand-in for an installed solo-learn plugin (tests/patches)."""
from solo.losses.vicreg import vicreg_loss_func
from solo.methods.base import BaseMethod
from solo.methods.vicreg import VICReg


class DummyMethod(VICReg):
    """VICReg on the first two of any number of large crops."""

    supports_multiple_large_crops = True

    def training_step(self, batch, batch_idx):
        out = BaseMethod.training_step(self, batch, batch_idx)
        z1, z2 = out["z"][:2]
        return vicreg_loss_func(z1, z2) + out["loss"]


class BundledMethod(VICReg):
    pass


def bundle():
    return {"dummy_bundled": BundledMethod}
'''

FAKE_ENTRY_POINTS = """
[solo.methods]
dummy_cls = fake_solo_plugin:DummyMethod
fake_bundle = fake_solo_plugin:bundle
broken = fake_solo_plugin_missing:nothing

[fake.duplicate]
vicreg = fake_solo_plugin:DummyMethod
"""


@pytest.fixture(scope="session")
def fake_site(tmp_path_factory) -> Path:
    """A folder holding an installed-looking distribution with solo.methods entry points."""
    site = tmp_path_factory.mktemp("fake-site")
    (site / "fake_solo_plugin.py").write_text(FAKE_PLUGIN)
    info = site / "fake_solo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-solo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(FAKE_ENTRY_POINTS)
    return site


# ----------------------------------------------------------------------------- 0001 (fast)


@pytest.mark.host106
def test_0001_entry_points_register_classes_and_callables(patched, fake_site, tmp_path):
    script = textwrap.dedent(
        f"""
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import solo
            import solo.methods as m
        assert solo.__file__.startswith({str(patched)!r}), solo.__file__
        import fake_solo_plugin as f
        assert m.METHODS["dummy_cls"] is f.DummyMethod          # an entry point loading a class
        assert m.METHODS["dummy_bundled"] is f.BundledMethod    # a callable returning a dict
        assert "fake_bundle" not in m.METHODS
        assert m.METHODS["vicreg"].__name__ == "VICReg"         # built-ins untouched
        assert any("broken" in str(w.message) for w in caught), "broken plugin did not warn"
        try:
            m._register_entry_point_methods(dict(m.METHODS), group="fake.duplicate")
        except ValueError as e:
            assert "vicreg" in str(e) and "already taken" in str(e), e
        else:
            raise SystemExit("a duplicate name did not raise")
        print("ENTRY-POINTS-OK")
        """
    )
    res = _run([sys.executable, "-c", script], cwd=tmp_path, env=_env(patched, fake_site))
    assert "ENTRY-POINTS-OK" in res.stdout, _tail(res)


# ----------------------------------------------------------------------------- slow


@pytest.mark.slow
@pytest.mark.host106
def test_host_test_suite_passes_on_patched_tree(patched):
    """solo-learn's own tests (not tests/data, tests/dali: they download CIFAR / need DALI)."""
    # optional extras of solo-learn (solo's [umap] extra) that the venv may lack
    ignore = [
        f"--ignore={module}"
        for module, needs in OPTIONAL_HOST_TESTS.items()
        if any(importlib.util.find_spec(dep) is None for dep in needs)
    ]
    if ignore:
        print(f"\nsolo-learn tests skipped for missing optional packages: {ignore}")
    start = time.monotonic()
    res = _run(
        [
            sys.executable,
            "-m",
            "pytest",
            *HOST_SUITE,
            *ignore,
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
        ],
        cwd=patched,
        env=_env(patched),
        timeout=3600,
    )
    elapsed = time.monotonic() - start
    summary = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
    print(f"\nsolo-learn suite on the patched tree: {summary} ({elapsed:.0f} s)")
    assert res.returncode == 0, _tail(res)
    assert " passed" in summary and "failed" not in summary, summary


def _make_image_folder(root: Path, classes: int = 5, per_class: int = 4, size: int = 40) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        d = root / f"class{c}"
        d.mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(d / f"{i}.png")
    return root


def _pretrain_args(patched: Path, data: Path, ckpt_dir: Path, *extra: str) -> list:
    return [
        sys.executable,
        patched / "main_pretrain.py",
        "--config-path",
        patched / "scripts/pretrain/imagenet-100",
        "--config-name",
        "vicreg.yaml",
        "backbone.name=resnet18",
        "method_kwargs.proj_hidden_dim=32",
        "method_kwargs.proj_output_dim=32",
        "augmentations.0.crop_size=32",
        "data.dataset=custom",
        f"data.train_path={_q(data)}",
        "data.val_path=null",
        "data.format=image_folder",
        "data.num_workers=0",
        "optimizer.batch_size=4",
        "max_epochs=1",
        "+limit_train_batches=2",
        "+enable_progress_bar=False",
        "accelerator=cpu",
        "devices='1'",
        "strategy=auto",
        "precision=32",
        "sync_batchnorm=False",
        "wandb.enabled=False",
        "auto_resume.enabled=False",
        f"checkpoint.dir={_q(ckpt_dir)}",
        *extra,
    ]


@pytest.fixture(scope="module")
def cpu_run(patched, tmp_path_factory):
    """One tiny VICReg pretraining run with the patched launcher: (data, run dir, ckpt)."""
    work = tmp_path_factory.mktemp("cpu-run")
    data = _make_image_folder(work / "images")
    res = _run(_pretrain_args(patched, data, work / "ckpt"), cwd=work, env=_env(patched))
    assert res.returncode == 0, _tail(res)
    ckpts = sorted((work / "ckpt").rglob("*.ckpt"))
    assert ckpts, _tail(res)
    return data, ckpts[-1].parent, ckpts[-1]


@pytest.mark.slow
@pytest.mark.host106
def test_0002_pretrained_weights_are_loaded_strictly(patched, cpu_run, tmp_path):
    import torch

    data, _, ckpt = cpu_run
    env = _env(patched)
    ok = _run(
        _pretrain_args(patched, data, tmp_path / "ok", f"+pretrained_feature_extractor={_q(ckpt)}"),
        cwd=tmp_path,
        env=env,
    )
    assert ok.returncode == 0, _tail(ok)

    state = torch.load(ckpt, map_location="cpu")["state_dict"]
    state.pop("backbone.conv1.weight")
    broken = tmp_path / "missing_key.pt"
    torch.save(state, broken)  # a bare state dict is accepted too
    bad = _run(
        _pretrain_args(
            patched, data, tmp_path / "bad", f"+pretrained_feature_extractor={_q(broken)}"
        ),
        cwd=tmp_path,
        env=env,
    )
    assert bad.returncode != 0
    assert "backbone.conv1.weight" in bad.stderr and "Missing key" in bad.stderr, _tail(bad)


def _linear_args(patched: Path, data: Path, ckpt: Path) -> list:
    return [
        sys.executable,
        patched / "main_linear.py",
        "--config-path",
        patched / "scripts/linear/imagenet-100",
        "--config-name",
        "vicreg.yaml",
        f"pretrained_feature_extractor={_q(ckpt)}",
        "backbone.name=resnet18",
        "data.dataset=custom",
        f"data.train_path={_q(data)}",
        f"data.val_path={_q(data)}",
        "data.format=image_folder",
        "data.num_workers=0",
        "optimizer.batch_size=4",
        "max_epochs=1",
        "+limit_train_batches=1",
        "+limit_val_batches=1",
        "+num_sanity_val_steps=0",
        "+enable_progress_bar=False",
        "accelerator=cpu",
        "devices='1'",
        "strategy=auto",
        "precision=32",
        "sync_batchnorm=False",
        "wandb.enabled=False",
        "auto_resume.enabled=False",
        "checkpoint.enabled=False",
    ]


@pytest.mark.slow
@pytest.mark.host106
def test_0003_linear_loads_backbone_strictly_and_renames_legacy_encoder(patched, cpu_run, tmp_path):
    import torch

    data, _, ckpt = cpu_run
    env = _env(patched)
    state = torch.load(ckpt, map_location="cpu")["state_dict"]

    legacy = {
        ("encoder." + k[len("backbone.") :] if k.startswith("backbone.") else k): v
        for k, v in state.items()
    }
    legacy_ckpt = tmp_path / "legacy.ckpt"
    torch.save({"state_dict": legacy}, legacy_ckpt)
    res = _run(_linear_args(patched, data, legacy_ckpt), cwd=tmp_path, env=env)
    assert res.returncode == 0, _tail(res)

    missing = dict(state)
    missing.pop("backbone.layer1.0.conv1.weight")
    missing_ckpt = tmp_path / "missing.ckpt"
    torch.save({"state_dict": missing}, missing_ckpt)
    res = _run(_linear_args(patched, data, missing_ckpt), cwd=tmp_path, env=env)
    assert res.returncode != 0
    assert "layer1.0.conv1.weight" in res.stderr and "Missing key" in res.stderr, _tail(res)


@pytest.mark.slow
@pytest.mark.host106
def test_0004_knn_runs_without_cuda(patched, cpu_run, tmp_path, knn_cli_args):
    data, run_dir, _ = cpu_run
    res = _run(
        [
            sys.executable,
            patched / "main_knn.py",
            *knn_cli_args(run_dir, data, data),
        ],
        cwd=tmp_path,
        env=_env(patched),
    )
    assert res.returncode == 0, _tail(res)
    assert "Result: acc@1=" in res.stdout, _tail(res)


@pytest.mark.slow
@pytest.mark.host106
def test_0005_more_large_crops_only_for_methods_that_declare_it(
    patched, cpu_run, fake_site, tmp_path
):
    data, _, _ = cpu_run
    env = _env(patched, fake_site)
    refused = _run(
        _pretrain_args(patched, data, tmp_path / "a", "augmentations.0.num_crops=3"),
        cwd=tmp_path,
        env=env,
    )
    assert refused.returncode != 0
    assert "needs exactly 2 large crops" in refused.stderr, _tail(refused)

    accepted = _run(
        _pretrain_args(
            patched, data, tmp_path / "b", "augmentations.0.num_crops=3", "method=dummy_cls"
        ),
        cwd=tmp_path,
        env=env,
    )
    assert accepted.returncode == 0, _tail(accepted)
