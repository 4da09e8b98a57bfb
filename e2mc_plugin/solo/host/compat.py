"""The installed host, asked through its profile: the one place the adapter touches what differs.

:data:`PROFILE` is the :class:`~e2mc_plugin.solo.host.profile.HostProfile` of the layout of the
importable ``solo`` package (:func:`e2mc_plugin.solo.host.detect.identify_host`), None when
solo-learn is missing or its layout is not a known one. The functions below answer the adapter's
questions from it (which Lightning, how to build a method, where its backbone is, whether its
step takes small crops); none compares version strings. ``HOST_VERSION`` is the profile's family,
for messages and records.

Beyond the profile's differences: momentum methods do not run on 1.0.2 under Lightning 1.9 (host
API drift), and the 1.0.2 wheel ships no ``main_*.py`` launchers.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any, Dict, Iterator, Mapping, Optional

from torch import nn

from e2mc_plugin import backbone_names
from e2mc_plugin.method_families import host_method
from e2mc_plugin.solo.host.args_layout import ARGS_LAYOUTS
from e2mc_plugin.solo.host.detect import HostInfo, describe_host, identify_host
from e2mc_plugin.solo.host.profile import HostProfile

__all__ = [
    "HOST",
    "HOST_VERSION",
    "HOST_DIST_VERSION",
    "PROFILE",
    "lightning",
    "host_methods",
    "get_backbone",
    "has_backbone",
    "module_path",
    "constructor_cfg",
    "instantiate",
    "host_uses_small_crops",
    "large_crops_only",
    "host_method_name",
    "profile",
]


#: the importable ``solo`` package, identified by its layout (the one detector: :mod:`.detect`)
HOST: HostInfo = identify_host(use_env=False)
#: the differences of its layout (None: no supported solo-learn)
PROFILE: Optional[HostProfile] = HOST.profile
HOST_VERSION: Optional[str] = HOST.family
HOST_DIST_VERSION: Optional[str] = HOST.declared_version


def profile() -> HostProfile:
    """:data:`PROFILE`; ImportError saying what to install when there is none."""
    if PROFILE is None and HOST.package_dir is not None:
        raise ImportError(
            f"solo-learn is not supported here: {describe_host(HOST)}; install solo-learn 1.0.2 "
            "(pip) or 1.0.6 (pip install -e <checkout>)"
        )
    if PROFILE is None:
        raise ImportError(
            "solo-learn is not importable: install solo-learn 1.0.2 (pip) or 1.0.6 (pip install -e "
            "<checkout>), or pass --solo-src / set SOLO_LEARN_SRC for the launcher"
        )
    return PROFILE


def lightning():
    """The Lightning package the host uses (``lightning.pytorch`` or ``pytorch_lightning``)."""
    return importlib.import_module(profile().lightning)


def host_methods() -> Dict[str, type]:
    """The host's ``solo.methods.METHODS`` dict (the very object its launchers read)."""
    profile()
    return importlib.import_module("solo.methods").METHODS


def has_backbone(model: nn.Module) -> bool:
    return PROFILE is not None and isinstance(
        getattr(model, PROFILE.backbone_attr, None), nn.Module
    )


def get_backbone(model: nn.Module) -> nn.Module:
    """The online backbone (``model.backbone`` on 1.0.6, ``model.encoder`` on 1.0.2)."""
    return getattr(model, profile().backbone_attr)


def module_path(path: str) -> str:
    """A dotted module path with the backbone named as this host names it: recipes may use any
    host's name (``backbone``, ``encoder``) on every host."""
    attr = profile().backbone_attr
    names = backbone_names.KNOWN + (attr,)
    head, _, rest = path.partition(".")
    if head in names:
        head = attr
    elif head in [f"momentum_{name}" for name in names]:
        head = f"momentum_{attr}"
    return f"{head}.{rest}" if rest else head


# --------------------------------------------------------------------------------------------
# construction


def constructor_cfg(args: tuple, kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The recipe a method's constructor received: its one config argument (``cls(cfg)``) or its
    keyword arguments (``cls(**kwargs)``, the plugin's blocks among them)."""
    if profile().constructor == "cfg":
        return kwargs["cfg"] if "cfg" in kwargs else args[0]
    return kwargs


def instantiate(cls: type, cfg: Mapping[str, Any]) -> nn.Module:
    """Build ``cls`` from a nested (1.0.6-style) config on any host: the profile's args layout
    translates it (the top-level keys in ``cls.cfg_passthrough`` reach a keyword-argument
    constructor unchanged), its constructor API receives it."""
    host = profile()
    args = ARGS_LAYOUTS[host.args_layout](cfg, getattr(cls, "cfg_passthrough", ()))
    if host.constructor == "cfg":
        from omegaconf import OmegaConf

        conf = OmegaConf.create(args)
        OmegaConf.set_struct(conf, False)
        return cls(conf)
    return cls(**args)


@contextlib.contextmanager
def host_method_name(cfg: Any) -> Iterator[None]:
    """Where the backbone factory receives ``cfg.method`` (1.0.6: ViT picks custom MoCo v3 / MAE
    backbones by it), show it the host's own method name while ``<method>_aux`` is built."""
    variant = cfg.get("method") if profile().routes_method_name else None
    name = host_method(variant) if isinstance(variant, str) else variant
    if name == variant:
        yield
        return
    cfg.method = name
    try:
        yield
    finally:
        cfg.method = variant


# --------------------------------------------------------------------------------------------
# small crops


def host_uses_small_crops(method_cls: type) -> bool:
    """Whether the host's ``training_step`` of ``method_cls`` accepts small crops.

    1.0.6: always (``multicrop_forward``). 1.0.2: only SimCLR, BYOL and W-MSE; the other methods
    unpack ``feats1, feats2 = out["feats"]`` and raise ``ValueError`` when small crops are present.
    """
    names = profile().small_crop_methods
    if names is None:
        return True
    methods = importlib.import_module("solo.methods")
    ok = tuple(getattr(methods, n) for n in names if hasattr(methods, n))
    return issubclass(method_cls, ok)


@contextlib.contextmanager
def large_crops_only(model: nn.Module) -> Iterator[None]:
    """Make a 1.0.2 method see only its large crops (``num_small_crops = 0``) for one call."""
    saved = (model.num_small_crops, model.num_crops, model.multicrop)
    model.num_small_crops, model.num_crops, model.multicrop = 0, model.num_large_crops, False
    try:
        yield
    finally:
        model.num_small_crops, model.num_crops, model.multicrop = saved
