"""Small CPU configurations and synthetic loaders: the fixtures of the plugin's tests and
benchmarks, for third-party aux losses too (``tiny_cfg("vicreg_aux", aux_losses=[...])`` and
``synthetic_pretrain_loader()`` train a wrapped method on the CPU in seconds).

Shipped beside the host adapter, not inside it: nothing in ``e2mc_plugin`` imports this package;
it imports the adapter (:func:`e2mc_plugin.solo.api.method_cfg`) like any user.
"""
