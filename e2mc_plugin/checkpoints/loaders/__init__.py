"""Built-in checkpoint loaders; importing this package registers them."""

from e2mc_plugin.checkpoints.loaders import backbones, simsiam, solo, swav, vicreg  # noqa: F401
