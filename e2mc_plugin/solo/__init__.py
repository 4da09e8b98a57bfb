"""The host adapter: the only part of e2mc-plugin that imports solo-learn and Lightning.

    compat.py        every solo-learn 1.0.2 vs 1.0.6 difference
    config.py        validation of the ``aux_losses`` / ``pretrained`` recipe blocks
    wrapper.py       ``with_aux_losses(MethodCls)``: CaSSLe-style class factory
    registration.py  ``register()``: ``"<method>_aux"`` variants in ``solo.methods.METHODS``
    launcher.py      ``e2mc-plugin pretrain|linear|knn|umap``: the host's ``main_*.py`` via runpy
    api.py           Python API: ``build_method``, ``fit``, ``extract_features``, ``tiny_cfg``

Submodules are imported on demand (``from e2mc_plugin.solo import api``) so that importing this
package does not import the host.
"""
