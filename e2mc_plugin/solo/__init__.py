"""The host adapter: the only part of e2mc-plugin that imports solo-learn and Lightning.

    config.py        the recipe blocks' schema and per-block checks; misspelled / misplaced blocks
    recipe.py        ``parse_recipe(cfg) -> Recipe``: the blocks read once, each aux loss built once
    embedding.py     default embedding module, lookup, build-time check (dry forward)
    capture.py       forward hooks and the views each aux set reads, per training step
    param_groups.py  ``param_group_lr``: fixed lr of one host param group
    mixin.py         ``AuxLossesMixin``: training_step / learnable_params / checkpoint hooks
    wrapper.py       ``with_aux_losses(MethodCls)``: ``class XWithAux(AuxLossesMixin, X)``
    registration.py  ``register()``: ``"<method>_aux"`` variants in ``solo.methods.METHODS``
    recipe_guard.py  ``RecipeGuard``: refuses a plain method carrying plugin blocks
    compat.py        every solo-learn 1.0.2 vs 1.0.6 difference
    launcher.py      ``e2mc-plugin pretrain|linear|knn|umap``: the host's ``main_*.py`` via runpy
    api.py           Python API: ``build_method``, ``fit``, ``extract_features``
    presets.py       ``tiny_cfg``: small CPU configurations (tests, examples, benchmarks)
    data.py          loaders in the hosts' pretraining batch format, synthetic loaders

Submodules are imported on demand (``from e2mc_plugin.solo import api``) so that importing this
package does not import the host.
"""
