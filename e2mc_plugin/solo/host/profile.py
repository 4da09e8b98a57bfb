"""The differences between the solo-learn layouts the adapter supports, as data: one profile per
layout, chosen by the detector (:mod:`.detect`) and asked by the rest of the adapter, which never
compares version strings.

====================  ====================================  ===================================
difference            ``cfg`` layout (family 1.0.6)         ``argparse`` layout (family 1.0.2)
====================  ====================================  ===================================
Lightning package     ``lightning.pytorch`` (2.x)           ``pytorch_lightning`` (1.9)
constructor API       ``cls(cfg)``; defaults and checks in  ``cls(**kwargs)``
                      ``add_and_assert_specific_cfg``
args layout           nested (the recipe as composed)       argparse names (flat, see
                                                            :mod:`.args_layout`)
backbone attribute    ``backbone`` / ``momentum_backbone``  ``encoder`` / ``momentum_encoder``
small crops           every method                          SimCLR, BYOL, W-MSE only (the
                                                            others unpack exactly two features)
method-name routing   ``cfg.method`` reaches the backbone   none
                      factory (ViT MoCo v3 / MAE variants)
per-crop forward      ``forward`` per large crop,           the projector runs inside
                      ``multicrop_forward`` per small crop  ``training_step``
hydra launchers       ``main_*.py`` the plugin runs         none
====================  ====================================  ===================================

The ``cfg`` layout is solo-learn's git main (9187ea3, ``setup.py`` says 1.0.6; tags 1.0.7 and
1.0.8 declare 1.0.6 too), the ``argparse`` layout the PyPI wheel 1.0.2. Adding a layout is one
more :class:`HostProfile` in :data:`PROFILES`: nothing outside ``host/`` changes
(``tests/solo/host/test_solo_host_profile.py`` shows it with a made-up third layout).

Stdlib only (no ``import solo``, no torch): the detector reads it from the CLI and the test runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

from e2mc_plugin.backbone_names import BACKBONE, LEGACY_BACKBONE

__all__ = ["ARGPARSE", "CFG", "PROFILES", "HostProfile", "profile_of"]

#: ``HostProfile.constructor`` values: one DictConfig argument, or keyword arguments
CONSTRUCTORS = ("cfg", "kwargs")


@dataclass(frozen=True)
class HostProfile:
    """What the adapter needs to know about one solo-learn layout.

    Attributes:
        layout: the layout's name (:attr:`e2mc_plugin.solo.host.detect.HostInfo.layout`).
        family: the API family it reports (``"1.0.6"``), for messages and records.
        markers: paths inside the ``solo`` package that identify the layout (all present; a
            trailing ``/`` names a folder).
        lightning: the Lightning package the host imports.
        constructor: ``"cfg"`` (``cls(cfg)``, one ``DictConfig``, completed and checked by the
            static ``add_and_assert_specific_cfg``) or ``"kwargs"`` (``cls(**kwargs)``).
        args_layout: how a nested (1.0.6-style) config becomes the constructor's input: a
            name in :data:`e2mc_plugin.solo.host.args_layout.ARGS_LAYOUTS`.
        backbone_attr: the attribute of the online backbone (``momentum_<it>`` for its copy).
        small_crop_methods: None when every method's ``training_step`` takes small crops; else
            the names of the ``solo.methods`` classes whose step does.
        routes_method_name: the backbone factory receives ``cfg.method`` (the wrapper shows it
            the host's own name while building).
        per_crop_forward: the host's step calls ``forward`` per large crop and
            ``multicrop_forward`` per small crop (what ``batched_crops`` serves).
        hydra_launchers: the layout's ``main_*.py`` are the hydra scripts the launcher runs.
    """

    layout: str
    family: str
    markers: Tuple[str, ...]
    lightning: str
    constructor: str
    args_layout: str
    backbone_attr: str
    small_crop_methods: Optional[Tuple[str, ...]]
    routes_method_name: bool
    per_crop_forward: bool
    hydra_launchers: bool

    def __post_init__(self) -> None:
        if self.constructor not in CONSTRUCTORS:
            raise ValueError(
                f"HostProfile {self.layout!r}: constructor {self.constructor!r} is not one of "
                f"{', '.join(CONSTRUCTORS)}"
            )

    def recognises(self, package_dir: Union[str, Path]) -> bool:
        """Whether every marker of this layout is in the ``solo`` package folder."""
        pkg = Path(package_dir)
        return all(
            (pkg / m).is_dir() if m.endswith("/") else (pkg / m).is_file() for m in self.markers
        )


#: each difference, read across: (the ``cfg`` layout: solo-learn git main, one omegaconf cfg per
#: method, hydra launchers; the ``argparse`` layout: solo-learn <= 1.0.2, keyword-argument
#: methods, ``encoder`` naming)
_DIFFERENCES = {
    "family": ("1.0.6", "1.0.2"),
    "markers": (("backbones/", "args/pretrain.py"), ("utils/backbones.py", "args/setup.py")),
    "lightning": ("lightning.pytorch", "pytorch_lightning"),
    # main: solo/methods/base.py __init__(self, cfg: omegaconf.DictConfig)
    "constructor": ("cfg", "kwargs"),
    # 1.0.2: solo/args/setup.py's flat names (encoder, lars, eta_lars, base_tau_momentum...)
    "args_layout": ("nested", "argparse"),
    "backbone_attr": (BACKBONE, LEGACY_BACKBONE),
    # 1.0.2: the other methods unpack exactly two features (feats1, feats2 = out["feats"])
    "small_crop_methods": (None, ("SimCLR", "BYOL", "WMSE")),
    # main: solo/backbones build the MoCo v3 / MAE ViTs by cfg.method
    "routes_method_name": (True, False),
    # 1.0.2: SwAV projects its two large crops inside training_step
    "per_crop_forward": (True, False),
    "hydra_launchers": (True, False),
}
CFG, ARGPARSE = (
    HostProfile(layout=layout, **{key: values[i] for key, values in _DIFFERENCES.items()})
    for i, layout in enumerate(("cfg", "argparse"))
)

#: layout name -> profile, tried in this order by :func:`profile_of`
PROFILES: Dict[str, HostProfile] = {p.layout: p for p in (CFG, ARGPARSE)}


def profile_of(package_dir: Union[str, Path]) -> Optional[HostProfile]:
    """The profile whose markers the ``solo`` package folder has, or None."""
    return next((p for p in PROFILES.values() if p.recognises(package_dir)), None)
