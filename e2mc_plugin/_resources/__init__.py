"""Where the plugin's recipes (``configs/``) and upstream patches (``patches/``) are.

The repository keeps them at its top level; a wheel carries copies in this package
(``e2mc_plugin/_resources/configs``, ``.../patches``, written by ``setup.py``'s ``build_py``).
:func:`resource_dir` is the one place that decides which copy is used; the hydra search-path
plugin, ``e2mc-plugin list`` and the launcher all ask it. Stdlib only: hydra imports this
during its plugin scan.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Optional

#: resource name -> environment variable that overrides its location
ENV: Dict[str, str] = {"configs": "E2MC_PLUGIN_CONFIGS", "patches": "E2MC_PLUGIN_PATCHES"}

_PACKAGED = Path(__file__).resolve().parent
# e2mc_plugin/_resources -> e2mc_plugin -> the repository root (a source checkout or editable
# install has setup.cfg there; site-packages does not)
_CHECKOUT = _PACKAGED.parent.parent


def resource_dir(name: str) -> Optional[Path]:
    """The folder of resource ``name`` (``"configs"`` or ``"patches"``), or None if absent.

    First hit wins: ``$E2MC_PLUGIN_CONFIGS`` / ``$E2MC_PLUGIN_PATCHES``; the source checkout the
    package is imported from (so edits to ``configs/`` apply without reinstalling); the copy
    inside an installed wheel.

    Raises:
        ValueError: an unknown resource name (the message lists the valid ones).
    """
    if name not in ENV:
        raise ValueError(f"unknown resource {name!r}; valid: {', '.join(ENV)}")
    override = os.environ.get(ENV[name])
    if override and Path(override).is_dir():
        return Path(override).resolve()
    candidates = []
    if (_CHECKOUT / "setup.cfg").is_file():
        candidates.append(_CHECKOUT / name)
    candidates.append(_PACKAGED / name)
    return next((c for c in candidates if c.is_dir()), None)


def resource_origin(name: str) -> str:
    """``"environment"``, ``"source checkout"``, ``"installed package"`` or ``"missing"``."""
    found = resource_dir(name)
    if found is None:
        return "missing"
    override = os.environ.get(ENV[name])
    if override and Path(override).resolve() == found:
        return "environment"
    return "installed package" if _PACKAGED in found.parents else "source checkout"
