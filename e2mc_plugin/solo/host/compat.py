"""Every difference between the two supported hosts lives here.

solo-learn 1.0.2 (PyPI wheel) vs 1.0.6 (git main, 9187ea3):

- Lightning: ``pytorch_lightning`` 1.9 vs ``lightning.pytorch`` 2.1.
- Method constructor: keyword arguments (argparse names) vs one ``omegaconf.DictConfig``.
- Config defaults / checks: none (``add_model_specific_args``) vs the static
  ``add_and_assert_specific_cfg``.
- Backbone attribute: ``encoder`` / ``momentum_encoder`` vs ``backbone`` / ``momentum_backbone``.
- Projector during ``training_step``: 1.0.2 methods call it on the 2 large-crop features
  themselves; 1.0.6 calls it in ``forward`` per large crop and in ``multicrop_forward`` for small
  crops (SimCLR, SwAV, BYOL, SupCon only).
- Small crops: on 1.0.2 only SimCLR, BYOL, W-MSE accept them (the others unpack exactly two
  features and raise ``ValueError``); on 1.0.6 every method does.
- Momentum methods: do not run on 1.0.2 under Lightning 1.9 (host API drift); run on 1.0.6.
- Launchers (``main_*.py``): not in the 1.0.2 wheel; in the 1.0.6 source checkout.

``HOST_VERSION`` names the API family ("1.0.2" or "1.0.6") of the layout the importable ``solo``
package has (:func:`e2mc_plugin.solo.host.detect.layout_of`); None when solo-learn is missing or
its layout is neither. Adding a host version: its layout in ``detect.py``, its differences here.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
from typing import Any, Dict, Iterable, Iterator, Mapping, Optional

from torch import nn

from e2mc_plugin.method_families import host_method
from e2mc_plugin.solo.host.detect import HostInfo, describe_host, identify_host

__all__ = [
    "HOST",
    "HOST_VERSION",
    "HOST_DIST_VERSION",
    "CFG_API",
    "BACKBONE_ATTR",
    "lightning",
    "host_methods",
    "get_backbone",
    "has_backbone",
    "module_path",
    "constructor_cfg",
    "instantiate",
    "cfg_to_kwargs",
    "host_uses_small_crops",
    "large_crops_only",
    "host_method_name",
    "to_plain",
]


#: the importable ``solo`` package, identified by its layout (the one detector: :mod:`.detect`)
HOST: HostInfo = identify_host(use_env=False)
HOST_VERSION: Optional[str] = HOST.family
HOST_DIST_VERSION: Optional[str] = HOST.declared_version
#: 1.0.6 family: methods take one DictConfig and validate it in add_and_assert_specific_cfg.
CFG_API: bool = HOST_VERSION == "1.0.6"
BACKBONE_ATTR: str = "backbone" if CFG_API else "encoder"


def _require_host() -> None:
    if HOST_VERSION is None and HOST.package_dir is not None:
        raise ImportError(
            f"solo-learn is not supported here: {describe_host(HOST)}; install solo-learn 1.0.2 "
            "(pip) or 1.0.6 (pip install -e <checkout>)"
        )
    if HOST_VERSION is None:
        raise ImportError(
            "solo-learn is not importable: install solo-learn 1.0.2 (pip) or 1.0.6 (pip install -e "
            "<checkout>), or pass --solo-src / set SOLO_LEARN_SRC for the launcher"
        )


def lightning():
    """The Lightning package the host uses (``lightning.pytorch`` or ``pytorch_lightning``)."""
    _require_host()
    return importlib.import_module("lightning.pytorch" if CFG_API else "pytorch_lightning")


def host_methods() -> Dict[str, type]:
    """The host's ``solo.methods.METHODS`` dict (the very object its launchers read)."""
    _require_host()
    return importlib.import_module("solo.methods").METHODS


def has_backbone(model: nn.Module) -> bool:
    return isinstance(getattr(model, BACKBONE_ATTR, None), nn.Module)


def get_backbone(model: nn.Module) -> nn.Module:
    """The online backbone: ``model.backbone`` (1.0.6) or ``model.encoder`` (1.0.2)."""
    return getattr(model, BACKBONE_ATTR)


def module_path(path: str) -> str:
    """A dotted module path with the backbone named as this host names it: recipes may say
    ``backbone`` (1.0.6) or ``encoder`` (1.0.2) on either host."""
    head, _, rest = path.partition(".")
    if head in ("backbone", "encoder"):
        head = BACKBONE_ATTR
    if head in ("momentum_backbone", "momentum_encoder"):
        head = f"momentum_{BACKBONE_ATTR}"
    return f"{head}.{rest}" if rest else head


# --------------------------------------------------------------------------------------------
# construction


def to_plain(value: Any) -> Any:
    """OmegaConf containers -> plain Python (resolved); anything else unchanged."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(value, (DictConfig, ListConfig)):
            return OmegaConf.to_container(value, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return value


def cfg_to_kwargs(cfg: Mapping[str, Any], passthrough: Iterable[str] = ()) -> Dict[str, Any]:
    """Translate a 1.0.6-style nested config into solo-learn 1.0.2 constructor kwargs.

    Mirrors 1.0.2's ``additional_setup_pretrain``: ``backbone_args["cifar"]`` from
    ``data.dataset``, optimizer ``lars`` -> ``optimizer="sgd", lars=True`` (LARS kwargs ``eta``,
    ``clip_lr``, ``exclude_bias_n_norm`` become ``eta_lars``, ``grad_clip_lars``,
    ``exclude_bias_n_norm``), ``method_kwargs`` flattened, ``momentum.{base_tau, final_tau,
    classifier}`` -> ``{base,final}_tau_momentum``, ``momentum_classifier``. The top-level keys
    named in ``passthrough`` (a wrapped class's own recipe blocks) pass through unchanged.
    """
    c = copy.deepcopy(dict(to_plain(cfg)))
    backbone = c.get("backbone") or {}
    name = backbone["name"]
    data = c["data"]
    backbone_args = {"cifar": data.get("dataset") in ("cifar10", "cifar100")}
    backbone_args.update(backbone.get("kwargs") or {})
    if "resnet" in name:
        backbone_args.setdefault("zero_init_residual", False)

    opt = c["optimizer"]
    opt_kwargs = dict(opt.get("kwargs") or {})
    lars = opt["name"] == "lars"
    eta = opt_kwargs.pop("eta", 1e-3) if lars else 1e-3
    clip = bool(opt_kwargs.pop("clip_lr", False)) if lars else False
    exclude = bool(opt_kwargs.pop("exclude_bias_n_norm", False)) if lars else False
    exclude = exclude or bool(opt.get("exclude_bias_n_norm_wd", False))

    sched = c.get("scheduler") or {}
    knn = c.get("knn_eval") or {}
    kwargs: Dict[str, Any] = dict(
        encoder=name,
        num_classes=data["num_classes"],
        backbone_args=backbone_args,
        max_epochs=c["max_epochs"],
        batch_size=opt["batch_size"],
        optimizer="sgd" if lars else opt["name"],
        lars=lars,
        lr=opt["lr"],
        weight_decay=opt["weight_decay"],
        classifier_lr=opt["classifier_lr"],
        exclude_bias_n_norm=exclude,
        accumulate_grad_batches=c.get("accumulate_grad_batches") or 1,
        extra_optimizer_args=opt_kwargs,
        scheduler=sched.get("name", "none"),
        min_lr=sched.get("min_lr", 0.0),
        warmup_start_lr=sched.get("warmup_start_lr", 3e-5),
        warmup_epochs=sched.get("warmup_epochs", 10),
        lr_decay_steps=sched.get("lr_decay_steps"),
        num_large_crops=data["num_large_crops"],
        num_small_crops=data.get("num_small_crops", 0),
        eta_lars=eta,
        grad_clip_lars=clip,
        knn_eval=bool(knn.get("enabled", False)),
        knn_k=knn.get("k", 20),
    )
    kwargs.update(c.get("method_kwargs") or {})
    if "momentum" in c:
        mom = c["momentum"] or {}
        kwargs.update(
            base_tau_momentum=mom.get("base_tau", 0.99),
            final_tau_momentum=mom.get("final_tau", 1.0),
            momentum_classifier=bool(mom.get("classifier", False)),
        )
    for key in passthrough:
        if key in c:
            kwargs[key] = c[key]
    return kwargs


def constructor_cfg(args: tuple, kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The recipe a method's constructor received: the DictConfig (1.0.6, ``cls(cfg)``) or the
    keyword arguments (1.0.2, ``cls(**kwargs)``: the plugin's blocks among them)."""
    if CFG_API:
        return kwargs["cfg"] if "cfg" in kwargs else args[0]
    return kwargs


def instantiate(cls: type, cfg: Mapping[str, Any]) -> nn.Module:
    """Build ``cls`` from a 1.0.6-style config on either host (on 1.0.2 the top-level keys in
    ``cls.cfg_passthrough`` reach the constructor as keyword arguments)."""
    _require_host()
    if CFG_API:
        from omegaconf import OmegaConf

        conf = OmegaConf.create(copy.deepcopy(dict(to_plain(cfg))))
        OmegaConf.set_struct(conf, False)
        return cls(conf)
    return cls(**cfg_to_kwargs(cfg, getattr(cls, "cfg_passthrough", ())))


@contextlib.contextmanager
def host_method_name(cfg: Any) -> Iterator[None]:
    """1.0.6 passes ``cfg.method`` to the backbone factory (ViT: custom MoCo v3 / MAE backbones):
    show it the host's own method name while the wrapped variant ``<method>_aux`` is built."""
    variant = cfg.get("method") if CFG_API else None
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
    if CFG_API:
        return True
    methods = importlib.import_module("solo.methods")
    ok = tuple(getattr(methods, n) for n in ("SimCLR", "BYOL", "WMSE") if hasattr(methods, n))
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
