"""The host adapter: the only part of e2mc-plugin that imports solo-learn and Lightning.

Its map (sub-packages ``host/``, ``recipe/``, ``method/``, ``launch/`` and the modules beside
them) is kept in one place: ``docs/architecture.md``. Submodules are imported on demand
(``from e2mc_plugin.solo import api``), so importing this package does not import the host.
"""

import importlib

#: names from before the adapter's re-layout, kept for a release (``from e2mc_plugin.solo import
#: compat``); entry points installed before it name real modules: registration.py, callbacks.py
_MOVED = {"compat": "e2mc_plugin.solo.host.compat"}


def __getattr__(name: str):
    if name in _MOVED:
        return importlib.import_module(_MOVED[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
