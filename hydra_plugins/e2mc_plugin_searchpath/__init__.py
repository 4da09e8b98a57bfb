"""Hydra search-path plugin: puts e2mc-plugin's recipes (``configs/``) on hydra's search path.

Hydra imports every module under the ``hydra_plugins`` namespace package and calls each
``SearchPathPlugin``. With it, ``e2mc-plugin pretrain --config-name pretrain/vicreg/e2mc`` finds
``configs/pretrain/vicreg/e2mc.yaml`` without ``--config-path``.

Where the recipes are (first hit wins):
1. ``$E2MC_PLUGIN_CONFIGS`` (a folder);
2. ``<repo>/configs`` next to the installed ``e2mc_plugin`` package: an editable install
   (``pip install -e``) or a source checkout, which is how the plugin is installed today;
3. ``pkg://e2mc_plugin.configs`` if a future wheel packages the recipes inside the package.
Nothing is added when none exists. The lookup does not import ``e2mc_plugin``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Optional

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

CONFIGS_ENV = "E2MC_PLUGIN_CONFIGS"
PROVIDER = "e2mc-plugin"


def configs_location() -> Optional[str]:
    """The hydra search-path entry for the plugin's recipes, or None."""
    env = os.environ.get(CONFIGS_ENV)
    if env and Path(env).is_dir():
        return f"file://{Path(env).resolve()}"
    spec = importlib.util.find_spec("e2mc_plugin")
    if spec is not None and spec.origin:
        repo_configs = Path(spec.origin).resolve().parent.parent / "configs"
        if repo_configs.is_dir():
            return f"file://{repo_configs}"
    if spec is not None and importlib.util.find_spec("e2mc_plugin.configs") is not None:
        return "pkg://e2mc_plugin.configs"
    return None


class E2MCPluginSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        location = configs_location()
        if location is not None:
            search_path.append(provider=PROVIDER, path=location)
