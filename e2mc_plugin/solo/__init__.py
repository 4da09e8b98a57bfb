"""The host adapter: the only part of e2mc-plugin that imports solo-learn and Lightning.

Its map (sub-packages ``host/``, ``recipe/``, ``method/``, ``launch/``, ``linear_model/`` and the
modules beside them) is kept in one place: ``docs/architecture.md``. Submodules are imported on
demand (``from e2mc_plugin.solo import api``), so importing this package does not import the host.
"""
