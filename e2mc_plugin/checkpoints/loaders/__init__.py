"""Built-in checkpoint loaders; importing this package registers them."""

from e2mc_plugin.checkpoints.loaders import (  # noqa: F401
    backbones,
    barlowtwins,
    dino,
    dino_vit,
    dinov2,
    hf_vit,
    ibot,
    mae,
    mocov3,
    mocov3_vit,
    simsiam,
    solo,
    swav,
    vicreg,
)
