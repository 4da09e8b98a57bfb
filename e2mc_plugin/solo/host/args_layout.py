"""How a recipe (the nested config ``main_pretrain.py`` receives from hydra, also the Python API's
input) becomes what a host layout's method constructor takes: one function per args layout
(:attr:`e2mc_plugin.solo.host.profile.HostProfile.args_layout`).

* ``nested``: the config as given, plain containers (the ``cfg`` layout builds its DictConfig);
* ``argparse``: solo-learn 1.0.2's flat keyword arguments (its ``args/setup.py`` names).
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Dict, Iterable, Mapping

from e2mc_plugin.attach.plain import to_plain

__all__ = ["ARGS_LAYOUTS", "cfg_to_kwargs", "nested"]


def nested(cfg: Mapping[str, Any], passthrough: Iterable[str] = ()) -> Dict[str, Any]:
    """The nested config itself (a deep, plain copy); every top-level key stays."""
    return copy.deepcopy(dict(to_plain(cfg)))


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


#: ``HostProfile.args_layout`` -> ``(nested config, passthrough keys) -> constructor input``
ARGS_LAYOUTS: Dict[str, Callable[[Mapping[str, Any], Iterable[str]], Dict[str, Any]]] = {
    "nested": nested,
    "argparse": cfg_to_kwargs,
}
