"""Hydra search-path plugin: puts e2mc-plugin's recipes (``configs/``) on hydra's search path.

Hydra imports every module under the ``hydra_plugins`` namespace package and calls each
``SearchPathPlugin``. With it, ``e2mc-plugin pretrain --config-name pretrain/vicreg/e2mc`` finds
``configs/pretrain/vicreg/e2mc.yaml`` without ``--config-path``.

Where the recipes are is decided by :func:`e2mc_plugin._resources.resource_dir` (first hit wins):
``$E2MC_PLUGIN_CONFIGS``; the source checkout of an editable install; the copy inside an
installed wheel. Nothing is added when none exists. ``import e2mc_plugin`` is lazy (no torch).
"""

from __future__ import annotations

from typing import Optional

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from e2mc_plugin._resources import ENV, resource_dir

CONFIGS_ENV = ENV["configs"]
PROVIDER = "e2mc-plugin"


def configs_location() -> Optional[str]:
    """The hydra search-path entry for the plugin's recipes, or None."""
    found = resource_dir("configs")
    return None if found is None else f"file://{found}"


class E2MCPluginSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        location = configs_location()
        if location is not None:
            search_path.append(provider=PROVIDER, path=location)
