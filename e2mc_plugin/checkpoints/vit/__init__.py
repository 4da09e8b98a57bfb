"""Vision Transformer releases: identity (heads, patch, LayerScale, position table), the target
backbone, the refusal of a different function, and position-table resizing.

No solo-learn import: the target is read from the built module or from solo-learn's constructor
constants (:mod:`.target`).
"""

from e2mc_plugin.checkpoints.vit.fit import (
    ViTArchitectureError,
    check_fits,
    fit_release,
    fit_release_to_args,
)
from e2mc_plugin.checkpoints.vit.release import ViTRelease
from e2mc_plugin.checkpoints.vit.target import ViTTarget, describe_target, solo_target

__all__ = [
    "ViTArchitectureError",
    "ViTRelease",
    "ViTTarget",
    "check_fits",
    "describe_target",
    "fit_release",
    "fit_release_to_args",
    "solo_target",
]
