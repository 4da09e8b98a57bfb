"""Every recipe in configs/ composes with hydra and states the paper's protocol.

Fast: composition in both ways the host can be pointed at a recipe (``--config-path`` at the
recipe's folder, or the configs/ root on hydra's search path), the paper's coefficients, the
effective lr after solo-learn's batch scaling, 10 epochs, constant lr, views, checkpoint formats,
the aux_losses blocks against the registry, the CPU variants mirroring the full recipes, the
README table, and the shell helpers. host106: solo-learn's own parse_cfg on every recipe. Slow +
host106: the CPU variants through the real launcher (``e2mc-plugin pretrain|linear|knn``).
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

hydra = pytest.importorskip("hydra", reason="hydra-core is not installed")
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"

# ----------------------------------------------------------------------------- expectations

E2MC_VICREG = {
    "name": "e2mc",
    "beta": 1000,
    "gamma": 100,
    "mapping": "sigmoid",
    "eps": 1e-7,
    "m": None,
    "reduction": "reference",
    "gather": True,
    "views": "large",
}
F32_EPS = 1.1920928955078125e-07  # torch.finfo(torch.float32).eps, the estimator's default
E2MC_SWAV = {**E2MC_VICREG, "beta": 1, "gamma": 25, "mapping": "gaussian_cdf", "eps": F32_EPS}
E2MC_SIMSIAM = {**E2MC_SWAV, "beta": 0.001, "gamma": 0.01}
VCREG = {"name": "vcreg", "mu": 0.1, "nu": 0.001, "space": "hypersphere", "gather": True,
         "views": "large"}  # fmt: skip
AUH = {"name": "auh", "weight": 0.5, "t": 2, "gather": True, "views": "large"}
MMCR = {"name": "mmcr", "weight": 0.005, "views": "all", "gather": True}

# base method -> (effective lr, checkpoint format, precision, crops (224, 96)). The paper's lrs
# (0.003 / 0.001 / 0.001) are the base lrs the reference scripts are given; VICReg's and SimSiam's
# scripts multiply them by batch/256 = 2 like solo's parse_cfg, SwAV's does not (PROTOCOL.md).
METHOD = {
    "vicreg": (0.006, "vicreg_full", "16-mixed", (2, 0)),
    "swav": (0.001, "swav_official", "16-mixed", (2, 6)),
    "simsiam": (0.002, "simsiam_official", 32, (2, 0)),
}

# recipe (relative to configs/, no .yaml) -> (base method, aux_losses, official checkpoint file)
PRETRAIN = {
    "pretrain/vicreg/continued": ("vicreg", [], "resnet50_fullckpt.pth"),
    "pretrain/vicreg/e2mc": ("vicreg", [E2MC_VICREG], "resnet50_fullckpt.pth"),
    "pretrain/swav/continued_400ep": ("swav", [], "swav_400ep_bs256_pretrain.pth.tar"),
    "pretrain/swav/e2mc_400ep": ("swav", [E2MC_SWAV], "swav_400ep_bs256_pretrain.pth.tar"),
    "pretrain/swav/continued_800ep": ("swav", [], "swav_800ep_pretrain.pth.tar"),
    "pretrain/swav/e2mc_800ep": ("swav", [E2MC_SWAV], "swav_800ep_pretrain.pth.tar"),
    "pretrain/swav/vcreg_800ep": ("swav", [VCREG], "swav_800ep_pretrain.pth.tar"),
    "pretrain/swav/auh_800ep": ("swav", [AUH], "swav_800ep_pretrain.pth.tar"),
    "pretrain/swav/mmcr_800ep": ("swav", [MMCR], "swav_800ep_pretrain.pth.tar"),
    "pretrain/simsiam/continued": ("simsiam", [], "checkpoint_0099.pth.tar"),
    "pretrain/simsiam/e2mc": ("simsiam", [E2MC_SIMSIAM], "checkpoint_0099.pth.tar"),
}
PRETRAIN_DALI = {f"{name}_dali": spec for name, spec in PRETRAIN.items()}
SPLITS = ("1pct", "10pct", "100pct")
LINEAR_BASES = [f"linear/probe_{s}" for s in SPLITS]
LINEAR = [f"linear/probe_{s}_{m}" for s in SPLITS for m in ("vicreg", "swav", "simsiam")]
FINETUNE_BASES = ["finetuning/semisup_1pct", "finetuning/semisup_10pct"]
FINETUNE = [f"finetuning/semisup_{s}_{m}" for s in ("1pct", "10pct") for m in ("vicreg", "swav")]
TRANSFER = ["transfer/inat18_linear"]
# recipes run by the plugin's LinearModel variant (hydra callback + e2mc_linear block)
PLUGIN_LINEAR = [*FINETUNE_BASES, *FINETUNE, *TRANSFER, "cpu/finetune_cpu", "cpu/inat18_cpu"]

# CPU variant -> the full recipe whose method and aux_losses it mirrors
CPU = {
    "cpu/vicreg_continued": "pretrain/vicreg/continued",
    "cpu/vicreg_e2mc": "pretrain/vicreg/e2mc",
    "cpu/swav_continued": "pretrain/swav/continued_800ep",
    "cpu/swav_e2mc": "pretrain/swav/e2mc_800ep",
    "cpu/swav_vcreg": "pretrain/swav/vcreg_800ep",
    "cpu/swav_auh": "pretrain/swav/auh_800ep",
    "cpu/swav_mmcr": "pretrain/swav/mmcr_800ep",
    "cpu/simsiam_continued": "pretrain/simsiam/continued",
    "cpu/simsiam_e2mc": "pretrain/simsiam/e2mc",
}
CPU_LINEAR = {  # CPU variant of a linear-launcher recipe -> the recipe it mirrors
    "cpu/probe_cpu": "linear/probe_100pct",
    "cpu/finetune_cpu": "finetuning/semisup_1pct_swav",
    "cpu/inat18_cpu": "transfer/inat18_linear",
}
# ViT recipes and their CPU variants (their values: test_configs_vit_recipes.py, PROTOCOL.md)
VIT = [f"pretrain_vit/{m}/{k}" for m in ("dino", "mocov3")
       for k in ("continued", "e2mc", "vcreg", "auh", "mmcr")]  # fmt: skip
VIT_CPU = [*(f"cpu/vit_{m}_{k}" for m in ("dino", "mocov3") for k in ("continued", "e2mc")),
           "cpu/vit_dinov2_e2mc"]  # fmt: skip
ALL_RECIPES = [
    *PRETRAIN, *PRETRAIN_DALI, *LINEAR_BASES, *LINEAR, *FINETUNE_BASES, *FINETUNE, *TRANSFER,
    *CPU, *CPU_LINEAR, *VIT, *VIT_CPU,
]  # fmt: skip


def _compose_in_folder(recipe: str, overrides=()):
    """As ``--config-path configs/<folder> --config-name <name>`` (cached: treat as read-only)."""
    if not overrides:
        return _compose_cached(recipe)
    return _compose_uncached(recipe, tuple(overrides))


@functools.lru_cache(maxsize=None)
def _compose_cached(recipe: str):
    return _compose_uncached(recipe, ())


def _compose_uncached(recipe: str, overrides: tuple):
    folder, name = os.path.split(recipe)
    with initialize_config_dir(config_dir=str(CONFIGS / folder), version_base="1.2"):
        return compose(config_name=name, overrides=list(overrides))


def _compose_from_root(recipe: str, overrides=()):
    """As with the plugin's search path: configs/ root, ``--config-name pretrain/x/y``."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.2"):
        return compose(config_name=recipe, overrides=list(overrides))


def _plain(cfg) -> dict:
    out = OmegaConf.to_container(cfg, resolve=False)
    out.pop("hydra", None)
    return out


def _chain(recipe: str) -> list[Path]:
    """The recipe file, then the sibling recipes it extends through `defaults` (nearest first)."""
    path = CONFIGS / f"{recipe}.yaml"
    parents = [
        entry
        for entry in OmegaConf.load(path).get("defaults", [])
        if isinstance(entry, str) and entry != "_self_"
    ]
    folder = os.path.dirname(recipe)
    return [path] + [f for p in parents for f in _chain(f"{folder}/{p}")]


def _crops(cfg) -> tuple[int, int]:
    """(large, small) crops counted as solo-learn's parse_cfg does (size of the first entry)."""
    big = cfg.augmentations[0].crop_size
    large = sum(a.num_crops for a in cfg.augmentations if a.crop_size == big)
    small = sum(a.num_crops for a in cfg.augmentations if a.crop_size != big)
    return large, small


def _effective_lr(cfg) -> float:
    """solo's parse_cfg: lr x batch_size x len(devices) x num_nodes / 256."""
    nodes = cfg.get("num_nodes", 1)
    return cfg.optimizer.lr * cfg.optimizer.batch_size * len(cfg.devices) * nodes / 256


# ----------------------------------------------------------------------------- composition


def test_every_recipe_file_is_tested():
    on_disk = {
        str(p.relative_to(CONFIGS))[: -len(".yaml")]
        for p in CONFIGS.rglob("*.yaml")
        if not {"augmentations", "wandb", "lr_reading"} & set(p.parts)
    }
    assert on_disk == set(ALL_RECIPES)


@pytest.mark.parametrize("recipe", ALL_RECIPES)
def test_recipe_composes_the_same_from_its_folder_and_from_the_root(recipe):
    assert _plain(_compose_in_folder(recipe)) == _plain(_compose_from_root(recipe))


@pytest.mark.parametrize("recipe", ALL_RECIPES)
def test_readme_table_lists_recipe(recipe):
    assert f"`{recipe}.yaml`" in (CONFIGS / "README.md").read_text()


# ----------------------------------------------------------------------------- pretraining


@pytest.mark.parametrize("recipe", [*PRETRAIN, *PRETRAIN_DALI])
def test_pretrain_recipe_states_the_paper_protocol(recipe):
    base, aux, official = {**PRETRAIN, **PRETRAIN_DALI}[recipe]
    lr, fmt, precision, crops = METHOD[base]
    cfg = _compose_in_folder(recipe)

    assert cfg.method == f"{base}_aux"
    assert OmegaConf.to_container(cfg.aux_losses) == aux
    assert cfg.backbone.name == "resnet50"
    # continued pretraining: 10 epochs, global batch 512, constant lr = 0.01 x base lr
    assert cfg.max_epochs == 10
    assert cfg.optimizer.batch_size * len(cfg.devices) == 512
    assert math.isclose(_effective_lr(cfg), lr, rel_tol=1e-12), _effective_lr(cfg)
    assert cfg.scheduler.name == "none"
    assert _crops(cfg) == crops
    assert cfg.precision == precision
    assert cfg.accelerator == "gpu" and cfg.strategy == "ddp" and cfg.sync_batchnorm is True
    assert cfg.auto_resume.enabled is False
    assert cfg.data.dataset == "imagenet"
    assert cfg.data.format == ("dali" if recipe.endswith("_dali") else "image_folder")
    if recipe.endswith("_dali"):
        assert cfg.dali.device == "gpu"
    # the user must give the data and the official checkpoint
    assert OmegaConf.is_missing(cfg.data, "train_path")
    assert OmegaConf.is_missing(cfg.pretrained, "path")
    assert cfg.pretrained.format == fmt
    assert cfg.pretrained.strict is True and cfg.pretrained.trusted is False
    # the file that sets pretrained.path (the recipe or the one it extends) names the release
    owner = next(f for f in _chain(recipe) if "pretrained:" in f.read_text())
    assert f"path: ???  # official file: {official}" in owner.read_text()


@pytest.mark.parametrize(
    "method, paper_lr",
    [("vicreg", 0.003), ("simsiam", 0.001)],
)
def test_lr_reading_switches_between_the_two_readings_of_the_papers_lr(method, paper_lr):
    """Unverifiable which lr the paper's runs passed: base (default) trains at 2 x the paper's
    number, like the scripts' x batch/256; effective trains at the paper's number. Both recipe
    forms (folder, configs root) take the one-key switch; the SimSiam predictor stays at 0.1."""
    for recipe in (f"pretrain/{method}/continued", f"pretrain/{method}/e2mc_dali"):
        base = _compose_in_folder(recipe)
        eff = _compose_in_folder(recipe, ["lr_reading=effective"])
        root = _compose_from_root(recipe, [f"pretrain/{method}/lr_reading@lr_reading=effective"])
        assert math.isclose(_effective_lr(base), 2 * paper_lr, rel_tol=1e-12)
        assert math.isclose(_effective_lr(eff), paper_lr, rel_tol=1e-12)
        assert _plain(eff) == _plain(root)
        assert _plain(eff) == {**_plain(base), "optimizer": {**_plain(base)["optimizer"],
                                                               "lr": paper_lr / 2}}  # fmt: skip
        if method == "simsiam":
            assert eff.param_group_lr.predictor == base.param_group_lr.predictor == 0.1


def test_vicreg_heads_and_optimizer_follow_the_release():
    cfg = _compose_in_folder("pretrain/vicreg/continued")
    kw = cfg.method_kwargs
    assert (kw.proj_hidden_dim, kw.proj_output_dim) == (8192, 8192)
    # solo sums the two views' variance hinges; official VICReg averages them: 12.5 = official 25
    assert (kw.sim_loss_weight, kw.var_loss_weight, kw.cov_loss_weight) == (25.0, 12.5, 1.0)
    assert cfg.optimizer.name == "lars" and cfg.optimizer.weight_decay == 1e-6
    assert cfg.optimizer.kwargs.eta == 0.001 and cfg.optimizer.kwargs.clip_lr is False


def test_swav_heads_queue_and_crops_follow_the_reference():
    cfg = _compose_in_folder("pretrain/swav/continued_800ep")
    kw = cfg.method_kwargs
    assert (kw.proj_hidden_dim, kw.proj_output_dim, kw.num_prototypes) == (2048, 128, 3000)
    assert (kw.temperature, kw.sk_epsilon, kw.sk_iters) == (0.1, 0.05, 3)
    # queue from the first continued step, prototypes never frozen (reference: epoch >= 800)
    assert (kw.queue_size, kw.epoch_queue_starts, kw.freeze_prototypes_epochs) == (3584, 0, 0)
    assert kw.queue_size % 512 == 0
    large, small = cfg.augmentations
    assert (large.crop_size, large.num_crops, small.crop_size, small.num_crops) == (224, 2, 96, 6)
    assert (large.rrc.crop_min_scale, large.rrc.crop_max_scale) == (0.14, 1.0)
    assert (small.rrc.crop_min_scale, small.rrc.crop_max_scale) == (0.05, 0.14)
    assert cfg.optimizer.name == "lars" and cfg.optimizer.kwargs.exclude_bias_n_norm is False
    # the reference's batching: backbone per resolution group, projection head on all crops
    assert cfg.batched_crops is True


def test_simsiam_heads_and_optimizer_follow_the_release():
    cfg = _compose_in_folder("pretrain/simsiam/continued")
    kw = cfg.method_kwargs
    assert (kw.proj_hidden_dim, kw.proj_output_dim, kw.pred_hidden_dim) == (2048, 2048, 512)
    assert cfg.optimizer.name == "sgd" and cfg.optimizer.weight_decay == 1e-4
    (aug,) = cfg.augmentations
    assert (aug.crop_size, aug.num_crops, aug.rrc.crop_min_scale) == (224, 2, 0.2)


def test_simsiam_predictor_keeps_the_reference_fixed_lr():
    """The reference's predictor lr 0.1 (not 0.01 x base) through the adapter's param_group_lr,
    which needs the constant schedule; the CPU variants carry it too (run by the slow tests)."""
    from e2mc_plugin.solo.recipe.blocks import validate_param_group_lr

    for recipe in (
        "pretrain/simsiam/continued",
        "pretrain/simsiam/e2mc",
        "cpu/simsiam_continued",
        "cpu/simsiam_e2mc",
    ):
        cfg = _compose_in_folder(recipe)
        assert validate_param_group_lr(cfg.param_group_lr) == {"predictor": 0.1}
        assert cfg.scheduler.name == "none"


@pytest.mark.parametrize("recipe", [r for r, spec in PRETRAIN.items() if spec[1]])
def test_aux_losses_build_with_the_registry(recipe):
    aux_losses = pytest.importorskip(
        "e2mc_plugin.aux_losses", reason="e2mc_plugin.aux_losses is not importable yet"
    )
    specs = OmegaConf.to_container(_compose_in_folder(recipe).aux_losses)
    built = aux_losses.build_aux_losses(specs)
    assert built.wants_all_views == any(s.get("views") == "all" for s in specs)


def test_continued_recipes_build_an_empty_aux_loss_set():
    aux_losses = pytest.importorskip(
        "e2mc_plugin.aux_losses", reason="e2mc_plugin.aux_losses is not importable yet"
    )
    built = aux_losses.build_aux_losses([])
    assert built.wants_all_views is False


@pytest.mark.parametrize("recipe", [r for r, spec in PRETRAIN.items() if spec[1]])
def test_recipe_blocks_pass_the_adapter_validation(recipe):
    from e2mc_plugin.attach.specs import validate_aux_losses
    from e2mc_plugin.checkpoints.recipe import validate_pretrained

    cfg = _compose_in_folder(recipe, ["pretrained.path=/ckpt/file.pth"])
    assert len(validate_aux_losses(cfg.aux_losses)) == len(cfg.aux_losses)
    assert validate_pretrained(cfg.pretrained)["path"] == "/ckpt/file.pth"


# ----------------------------------------------------------------------------- linear / knn


@pytest.mark.parametrize("recipe", [*LINEAR_BASES, *LINEAR])
def test_linear_probe_recipe(recipe):
    """The common protocol; per-method values are audited by PROTOCOL.md's table test."""
    cfg = _compose_in_folder(recipe)
    assert cfg.backbone.name == "resnet50"
    assert cfg.max_epochs == 100
    assert cfg.optimizer.kwargs.momentum == 0.9
    assert (cfg.scheduler.name, cfg.scheduler.warmup_epochs, cfg.scheduler.min_lr) == (
        "warmup_cosine",
        0,
        0.0,
    )
    assert cfg.scheduler.interval == "epoch"
    # label subsets come from a folder (the SimCLR lists), never solo's random data.fraction
    assert cfg.data.fraction == -1
    for key in ("train_path", "val_path"):
        assert OmegaConf.is_missing(cfg.data, key)
    assert OmegaConf.is_missing(cfg, "pretrained_feature_extractor")
    base = recipe in LINEAR_BASES
    # the bases carry no lr / wd / method: only a method's file does
    assert OmegaConf.is_missing(cfg.optimizer, "lr") == base
    assert OmegaConf.is_missing(cfg.optimizer, "weight_decay") == base
    assert OmegaConf.is_missing(cfg, "pretrain_method") == base
    if not base:
        assert recipe.endswith(f"_{cfg.pretrain_method}")
        assert cfg.optimizer.name == ("lars" if cfg.pretrain_method == "simsiam" else "sgd")


@pytest.mark.parametrize("recipe", [*FINETUNE_BASES, *FINETUNE, *TRANSFER])
def test_plugin_linear_recipes_use_the_plugin_variant(recipe):
    from e2mc_plugin.solo.recipe.linear import parse_linear_block

    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.2"):
        cfg = compose(config_name=recipe, return_hydra_config=True)
    callback = cfg.hydra.callbacks.e2mc_linear
    assert callback._target_ == "e2mc_plugin.solo.linear_model.PluginLinearModel"
    assert cfg.finetune is (not recipe.startswith("transfer/"))
    if recipe in FINETUNE_BASES:
        assert OmegaConf.is_missing(cfg.e2mc_linear, "backbone_lr")
        assert OmegaConf.is_missing(cfg.optimizer, "lr")
        return
    spec = parse_linear_block(cfg.e2mc_linear)
    assert (spec.head is not None) == recipe.startswith("transfer/")


def test_subset_script_links_listed_files_and_keeps_every_class(tmp_path):
    train = tmp_path / "train"
    for cls, files in {"n01": ["n01_1.JPEG", "n01_2.JPEG"], "n02": ["n02_7.JPEG"]}.items():
        (train / cls).mkdir(parents=True)
        for f in files:
            (train / cls / f).write_bytes(b"x")
    listing = tmp_path / "1percent.txt"
    listing.write_text("n01_2.JPEG\r\nn02_7.JPEG\n\n")
    out = tmp_path / "subset"
    script = CONFIGS / "linear/make_imagenet_subset.sh"
    res = subprocess.run(
        ["bash", str(script), str(train), str(listing), str(out)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    linked = sorted(str(p.relative_to(out)) for p in out.rglob("*.JPEG"))
    assert linked == ["n01/n01_2.JPEG", "n02/n02_7.JPEG"]
    assert (out / "n01/n01_2.JPEG").resolve() == (train / "n01/n01_2.JPEG").resolve()

    listing.write_text("n01_9.JPEG\n")
    res = subprocess.run(
        ["bash", str(script), str(train), str(listing), str(tmp_path / "x")],
        capture_output=True,
        text=True,
    )
    assert res.returncode != 0 and "missing" in res.stderr


def test_knn_script_passes_the_documented_grid(tmp_path):
    res = subprocess.run(
        ["bash", str(CONFIGS / "knn/knn_imagenet.sh"), "/runs/r", "/data/in", "--batch_size", "64"],
        capture_output=True,
        text=True,
        env={**os.environ, "KNN_LAUNCHER": "echo"},
    )
    assert res.returncode == 0, res.stderr
    args = res.stdout.split()
    for flag, value in [
        ("--pretrained_checkpoint_dir", "/runs/r"),
        ("--train_data_path", "/data/in/train"),
        ("--val_data_path", "/data/in/val"),
        ("--temperature", "0.07"),
        ("--distance_function", "cosine"),
        ("--feature_type", "backbone"),
    ]:
        assert args[args.index(flag) + 1] == value
    assert args[args.index("--k") + 1 : args.index("--k") + 5] == ["10", "20", "100", "200"]
    assert args[-2:] == ["--batch_size", "64"]  # extra arguments come last and win


# ----------------------------------------------------------------------------- CPU variants


@pytest.mark.parametrize("recipe", CPU)
def test_cpu_variant_mirrors_its_full_recipe(recipe):
    cfg = _compose_in_folder(recipe)
    full = _compose_in_folder(CPU[recipe])
    assert cfg.method == full.method
    assert OmegaConf.to_container(cfg.aux_losses) == OmegaConf.to_container(full.aux_losses)
    assert cfg.get("batched_crops", False) == full.get("batched_crops", False)
    assert _crops(cfg)[0] == 2 and (_crops(cfg)[1] > 0) == (_crops(full)[1] > 0)
    assert cfg.optimizer.name == full.optimizer.name
    assert cfg.scheduler.name == "none"
    assert cfg.pretrained is None
    _assert_cpu_smoke(cfg)


@pytest.mark.parametrize("recipe", CPU_LINEAR)
def test_cpu_linear_variant_is_a_smoke_version_of_its_recipe(recipe):
    cfg = _compose_in_folder(recipe)
    full = _compose_in_folder(CPU_LINEAR[recipe])
    assert cfg.optimizer.name == full.optimizer.name and cfg.scheduler == full.scheduler
    assert cfg.get("finetune", False) == full.get("finetune", False)
    assert cfg.get("e2mc_linear") == full.get("e2mc_linear") or recipe == "cpu/finetune_cpu"
    if recipe == "cpu/finetune_cpu":  # same block, the two lrs of SwAV 1%
        assert cfg.e2mc_linear.backbone_lr == full.e2mc_linear.backbone_lr
        assert cfg.optimizer.lr == full.optimizer.lr
    _assert_cpu_smoke(cfg)


def _assert_cpu_smoke(cfg) -> None:
    assert cfg.backbone.name == "resnet18"
    assert cfg.accelerator == "cpu" and cfg.devices == "1" and cfg.strategy == "auto"
    assert cfg.precision == 32 and cfg.sync_batchnorm is False
    assert cfg.optimizer.batch_size == 8 and cfg.max_epochs == 1
    assert 0 < cfg.limit_train_batches <= 4
    assert cfg.wandb.enabled is False and cfg.auto_resume.enabled is False
    assert cfg.data.format == "image_folder" and cfg.data.num_workers == 0
    assert "dali" not in cfg


# ----------------------------------------------------------------------------- solo-learn parse_cfg


def _filled(recipe: str, tmp_path: Path):
    overrides = [f"data.train_path={tmp_path}"]
    if "pretrained" in _compose_in_folder(recipe):
        overrides.append("pretrained.path=/ckpt/file.pth")
    cfg = _compose_in_folder(recipe, overrides)
    OmegaConf.set_struct(cfg, False)  # as main_pretrain.py does
    return cfg


@pytest.mark.host106
@pytest.mark.parametrize("recipe", list(PRETRAIN))
def test_solo_parse_cfg_gives_the_paper_lr_and_crops(recipe, tmp_path):
    from solo.args.pretrain import parse_cfg
    from solo.methods import METHODS

    base = PRETRAIN[recipe][0]
    lr, _, _, crops = METHOD[base]
    cfg = parse_cfg(_filled(recipe, tmp_path))
    assert math.isclose(cfg.optimizer.lr, lr, rel_tol=1e-12)
    assert (cfg.data.num_large_crops, cfg.data.num_small_crops) == crops
    assert cfg.data.num_classes == 1000
    # the host method accepts the method_kwargs (defaults filled, asserts pass)
    cfg = METHODS[base].add_and_assert_specific_cfg(cfg)
    assert cfg.scheduler.name == "none"


@pytest.mark.host106
@pytest.mark.parametrize("recipe", [*LINEAR, *FINETUNE, *TRANSFER])
def test_solo_parse_cfg_gives_the_effective_lr(recipe, tmp_path):
    from solo.args.linear import parse_cfg

    overrides = [
        f"data.train_path={tmp_path}",
        f"data.val_path={tmp_path}",
        "pretrained_feature_extractor=/ckpt/x.ckpt",
    ]
    if OmegaConf.is_missing(_compose_in_folder(recipe), "pretrain_method"):
        overrides.append("pretrain_method=swav")
    cfg = _compose_in_folder(recipe, overrides)
    expected = _effective_lr(cfg)
    OmegaConf.set_struct(cfg, False)
    cfg = parse_cfg(cfg)
    assert math.isclose(cfg.optimizer.lr, expected, rel_tol=1e-12)
    assert cfg.data.fraction == -1


@pytest.mark.host106
@pytest.mark.parametrize(
    # one launcher subprocess in the fast suite (about 20 s); the other in the slow one
    "recipe",
    ["finetuning/semisup_1pct", pytest.param("finetuning/semisup_10pct", marks=pytest.mark.slow)],
)
def test_finetune_recipe_composes_through_the_launcher(recipe, tmp_path):
    """``e2mc-plugin linear --config-name finetuning/semisup_1pct --cfg job`` (search path)."""
    pytest.importorskip("hydra_plugins.e2mc_plugin_searchpath", reason="search-path plugin absent")
    res = _launch("linear", ["--config-name", recipe, "--cfg", "job"], cwd=tmp_path)
    assert res.returncode == 0, _tail(res)
    printed = OmegaConf.create(res.stdout[res.stdout.index("name:") :])
    assert printed.finetune is True and printed.max_epochs == 20
    assert printed.optimizer.weight_decay == 0.0 and printed.e2mc_linear.lr_decay_gamma == 0.2


# ----------------------------------------------------------------------------- launcher (slow)


def _image_folder(root: Path, classes: int = 5, per_class: int = 4, size: int = 40) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"c{c}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"c{c}" / f"{i}.png")
    return root


def _launch(command: str, args: list, cwd: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("e2mc-plugin")
    cmd = [exe, command] if exe else [sys.executable, "-m", "e2mc_plugin.cli", command]
    env = {**os.environ, "OMP_NUM_THREADS": "2", "WANDB_MODE": "disabled", "HYDRA_FULL_ERROR": "1"}
    if not env.get("SOLO_LEARN_SRC") and _installed_host_src():
        env["SOLO_LEARN_SRC"] = str(_installed_host_src())  # the launcher needs main_*.py
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [*cmd, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=1200
    )


def _installed_host_src() -> Path | None:
    """Source checkout of the installed host (its main_*.py are not in the wheel)."""
    import importlib.util

    spec = importlib.util.find_spec("solo")
    if spec is None or spec.origin is None:
        return None
    root = Path(spec.origin).resolve().parents[1]
    return root if (root / "main_pretrain.py").is_file() else None


def _tail(res: subprocess.CompletedProcess, n: int = 3000) -> str:
    return f"rc={res.returncode}\n--- stdout\n{res.stdout[-n:]}\n--- stderr\n{res.stderr[-n:]}"


def _q(path: Path) -> str:
    """Quoted hydra override value (solo's checkpoint names contain '=')."""
    return f"'{path}'"


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return _image_folder(tmp_path_factory.mktemp("cpu-images") / "train")


def _pretrain(recipe: str, images: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    folder, name = os.path.split(recipe)
    out.mkdir(parents=True, exist_ok=True)
    return _launch(
        "pretrain",
        [
            "--config-path",
            CONFIGS / folder,
            "--config-name",
            name,
            f"data.train_path={_q(images)}",
            f"checkpoint.dir={_q(out / 'ckpt')}",
            *extra,
        ],
        cwd=out,
    )


@pytest.mark.slow
@pytest.mark.host106
@pytest.mark.parametrize("recipe", list(CPU))
def test_cpu_variant_trains_through_the_launcher(recipe, images, tmp_path):
    res = _pretrain(recipe, images, tmp_path)
    assert res.returncode == 0, _tail(res)
    assert list((tmp_path / "ckpt").rglob("*.ckpt")), _tail(res)
    assert list((tmp_path / "ckpt").rglob("args.json")), _tail(res)


@pytest.fixture(scope="module")
def cpu_e2mc_run(images, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cpu-e2mc-run")
    res = _pretrain("cpu/vicreg_e2mc", images, out)
    assert res.returncode == 0, _tail(res)
    (ckpt,) = sorted((out / "ckpt").rglob("*.ckpt"))[-1:]
    return ckpt


@pytest.mark.slow
@pytest.mark.host106
def test_cpu_continued_run_initializes_from_a_solo_checkpoint(cpu_e2mc_run, images, tmp_path):
    block = f"pretrained={{path:{_q(cpu_e2mc_run)},format:solo,strict:true,trusted:false}}"
    res = _pretrain("cpu/vicreg_continued", images, tmp_path, block)
    assert res.returncode == 0, _tail(res)


@pytest.mark.slow
@pytest.mark.host106
def test_cpu_probe_and_knn_run_on_the_pretrained_checkpoint(
    cpu_e2mc_run, images, tmp_path, knn_cli_args
):
    res = _launch(
        "linear",
        [
            "--config-path",
            CONFIGS / "cpu",
            "--config-name",
            "probe_cpu",
            f"pretrained_feature_extractor={_q(cpu_e2mc_run)}",
            "pretrain_method=vicreg",
            f"data.train_path={_q(images)}",
            f"data.val_path={_q(images)}",
            f"checkpoint.dir={_q(tmp_path / 'linear')}",
        ],
        cwd=tmp_path,
    )
    assert res.returncode == 0, _tail(res)

    res = _launch(
        "knn",
        [
            "--cpu",  # main_knn.py hard-codes CUDA; the launcher shims it (patch 0004 fixes it)
            *knn_cli_args(cpu_e2mc_run.parent, images, images),
        ],
        cwd=tmp_path,
    )
    assert res.returncode == 0, _tail(res)
    assert "Result: acc@1=" in res.stdout, _tail(res)


@pytest.mark.slow
@pytest.mark.host106
def test_cpu_variant_found_by_name_through_the_search_path_plugin(images, tmp_path):
    """No --config-path: hydra finds configs/ through hydra_plugins.e2mc_plugin_searchpath."""
    pytest.importorskip("hydra_plugins.e2mc_plugin_searchpath", reason="search-path plugin absent")
    res = _launch(
        "pretrain",
        [
            "--config-name",
            "cpu/simsiam_e2mc",
            f"data.train_path={_q(images)}",
            f"checkpoint.dir={_q(tmp_path / 'ckpt')}",
        ],
        cwd=tmp_path,
    )
    assert res.returncode == 0, _tail(res)
    assert list((tmp_path / "ckpt").rglob("*.ckpt")), _tail(res)


def _linear_launch(recipe: str, ckpt: Path, images: Path, out: Path) -> subprocess.CompletedProcess:
    folder, name = os.path.split(recipe)
    return _launch(
        "linear",
        [
            "--config-path",
            CONFIGS / folder,
            "--config-name",
            name,
            f"pretrained_feature_extractor={_q(ckpt)}",
            "pretrain_method=swav",
            f"data.train_path={_q(images)}",
            f"data.val_path={_q(images)}",
            f"checkpoint.dir={_q(out / 'linear')}",
        ],
        cwd=out,
    )


def _saved(out: Path) -> dict:
    import torch

    (ckpt,) = sorted((out / "linear").rglob("*.ckpt"))[-1:]
    return torch.load(ckpt, map_location="cpu", weights_only=False)


@pytest.mark.slow
@pytest.mark.host106
def test_cpu_finetune_trains_two_lrs_through_the_launcher(cpu_e2mc_run, images, tmp_path):
    """One epoch of the SwAV 1% fine-tuning recipe: the saved optimizer has the backbone and the
    classifier groups at their own lrs (x batch 8 / 256) and the step schedule's factor 0.2."""
    res = _linear_launch("cpu/finetune_cpu", cpu_e2mc_run, images, tmp_path)
    assert res.returncode == 0, _tail(res)
    saved = _saved(tmp_path)
    groups = {g["name"]: g["initial_lr"] for g in saved["optimizer_states"][0]["param_groups"]}
    assert groups == {"backbone": pytest.approx(0.02 / 32), "classifier": pytest.approx(5 / 32)}
    (sched,) = saved["lr_schedulers"]
    assert sched["gamma"] == 0.2 and sorted(sched["milestones"]) == [12, 16]


@pytest.mark.slow
@pytest.mark.host106
def test_cpu_inat18_probe_trains_the_res5_head_through_the_launcher(cpu_e2mc_run, images, tmp_path):
    res = _linear_launch("cpu/inat18_cpu", cpu_e2mc_run, images, tmp_path)
    assert res.returncode == 0, _tail(res)
    state = _saved(tmp_path)["state_dict"]
    # resnet18: 512 channels x 2 x 2 pooled positions at 224 px; 5 class folders
    assert tuple(state["classifier.linear.weight"].shape) == (5, 2048)
    assert tuple(state["classifier.bn.running_mean"].shape) == (512,)
    assert int(state["classifier.bn.num_batches_tracked"]) == 2  # trained (train-mode BN)
