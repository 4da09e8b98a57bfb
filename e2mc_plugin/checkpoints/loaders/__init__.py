"""Built-in checkpoint loaders; importing this package registers them."""

from e2mc_plugin.checkpoints.loaders import (  # noqa: F401
    backbones,
    barlowtwins,
    dino,
    mocov3,
    simsiam,
    solo,
    swav,
    vicreg,
)
