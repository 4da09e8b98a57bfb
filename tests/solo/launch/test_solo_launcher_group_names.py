"""A folder of ``configs/`` is a hydra config group (the search-path plugin puts ``configs/`` on
every hydra app's path): a group named like a recipe key makes ``key=value`` on the command line
a group choice. ``configs/finetune/`` hid the host's ``finetune`` key (``finetune=False`` failed
with "Config group override must be a string"); it is ``configs/finetuning/`` now."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

hydra = pytest.importorskip("hydra")

from e2mc_plugin.solo.launch.overrides import OverrideError, renamed_recipe  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
GROUPS = sorted(p.name for p in CONFIGS.iterdir() if p.is_dir())


def _recipe_keys():
    """Top-level keys of every recipe mapping: the plugin's and, with a checkout, the host's."""
    roots = [CONFIGS]
    host = os.environ.get("SOLO_LEARN_SRC")
    if host and (Path(host) / "scripts").is_dir():
        roots.append(Path(host) / "scripts")
    keys = {}
    for root in roots:
        for path in root.rglob("*.yaml"):
            cfg = yaml.safe_load(path.read_text())
            if isinstance(cfg, dict):
                for key in cfg:
                    keys.setdefault(str(key), path)
    return keys


def test_no_config_group_is_named_like_a_recipe_key():
    keys = _recipe_keys()
    clashes = {g: str(keys[g]) for g in GROUPS if g in keys and g != "defaults"}
    assert not clashes, f"config groups named like recipe keys: {clashes}"


@pytest.mark.parametrize("value", [False, True])
def test_finetune_is_settable_on_the_command_line(value):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.2"):
        cfg = compose("finetuning/semisup_1pct_vicreg", overrides=[f"finetune={value}"])
    assert cfg.finetune is value and cfg.e2mc_linear.backbone_lr == 0.03


def test_old_recipe_folder_name_says_the_new_one(tmp_path):
    with pytest.raises(OverrideError, match=r"renamed configs/finetuning/.*finetuning/semisup_1p"):
        renamed_recipe(["--config-name", "finetune/semisup_1pct_vicreg", "a=1"])
    with pytest.raises(OverrideError, match="finetuning/semisup_1pct_swav"):
        renamed_recipe(["-cn=finetune/semisup_1pct_swav.yaml"])
    renamed_recipe(["--config-name", "finetuning/semisup_1pct_vicreg"])  # the new name
    (tmp_path / "finetune").mkdir()
    (tmp_path / "finetune" / "mine.yaml").write_text("finetune: true\n")
    renamed_recipe(["-cp", str(tmp_path), "-cn", "finetune/mine"])  # a user's own folder
