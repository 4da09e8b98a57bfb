"""``with_aux_losses(MethodCls)``: the same solo-learn method plus auxiliary losses (CaSSLe-style).

The subclass keeps everything of the host method (forward, its own loss, optimizers, momentum
updates, checkpoints) and only wraps ``training_step``::

    loss = MethodCls.training_step(batch)            # the host's own SSL + online-classifier loss
         + sum_g AuxLossSet_g(large_views_g, all_views_g)["loss"]

How the embeddings are found. While (and only while) the wrapped ``training_step`` runs in
training mode, forward hooks sit on the online backbone and on each embedding module
(``projector`` by default, ``head.mlp`` for DINO, or an entry's ``embedding:``). The backbone hook
records the features of every crop in call order, i.e. crop order (large crops first, then small
crops, on both hosts). The embedding hook assigns each output to the crop whose backbone features
are its input (matched by tensor identity), so extra or reordered calls cannot shift crops; it sees
the output BEFORE any normalization, prototypes or predictor. A crop that never went through the
embedding module (small crops of methods whose ``multicrop_forward`` skips the projector; every
small crop on 1.0.2) is projected here from its recorded backbone features, only when some loss
wants all views. Validation, sanity checks and kNN / UMAP feature extraction never run under the
hooks.

``aux_losses: []`` registers nothing and adds no operation: the wrapped class is then the host
method bit for bit (same parameters, same RNG use, same losses).

On solo-learn 1.0.2 the methods other than SimCLR/BYOL/W-MSE cannot take small crops (their
``training_step`` unpacks exactly two features); the wrapper shows them only the large crops and
encodes the small crops itself for the all-view losses (see :mod:`e2mc_plugin.solo.compat`).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from e2mc_plugin.solo import compat
from e2mc_plugin.solo.config import (
    ConfigError,
    to_plain,
    validate_aux_losses,
    validate_param_group_lr,
    validate_pretrained,
)

__all__ = ["with_aux_losses", "is_wrapped", "base_method_of", "SKIP_PRETRAINED_ENV"]

log = logging.getLogger(__name__)

#: set by the kNN / UMAP launchers: the weights come from the evaluated checkpoint, so the
#: ``pretrained`` block recorded in its args.json must not be loaded (the file may be gone).
SKIP_PRETRAINED_ENV = "E2MC_PLUGIN_SKIP_PRETRAINED"

_WRAPPED: Dict[type, type] = {}


def is_wrapped(cls: type) -> bool:
    return isinstance(cls, type) and "_e2mc_base_method" in cls.__dict__


def base_method_of(cls: type) -> type:
    """The host class a wrapped class was made from (``cls`` itself if it is not wrapped)."""
    return cls.__dict__.get("_e2mc_base_method", cls)


def default_embedding(model: nn.Module) -> str:
    """``projector`` if the method has one, else DINO's ``head.mlp``."""
    if isinstance(getattr(model, "projector", None), nn.Module):
        return "projector"
    head = getattr(model, "head", None)
    if isinstance(getattr(head, "mlp", None), nn.Module):
        return "head.mlp"
    children = ", ".join(name for name, _ in model.named_children())
    raise ConfigError(
        f"aux_losses[*].embedding: {type(model).__name__} has no 'projector' nor 'head.mlp'; "
        "set 'embedding:' to the module whose output is the embedding "
        f"(top-level modules: {children})"
    )


class _Capture:
    """Forward hooks that collect backbone features and embeddings per crop for one step."""

    def __init__(self, backbone: nn.Module, modules: Dict[str, nn.Module]):
        self.backbone = backbone
        self.modules = modules
        self.feats: List[torch.Tensor] = []
        self.emb: Dict[str, Dict[int, torch.Tensor]] = {p: {} for p in modules}
        self.unmatched: Dict[str, int] = {p: 0 for p in modules}
        self.active = False
        self._handles: List[Any] = []

    def _on_backbone(self, module, inputs, output):
        if self.active and isinstance(output, torch.Tensor):
            self.feats.append(output)

    def _embedding_hook(self, path: str):
        def hook(module, inputs, output):
            if not self.active or not inputs or not isinstance(output, torch.Tensor):
                return
            x = inputs[0]
            for i, f in enumerate(self.feats):
                if x is f:
                    self.emb[path].setdefault(i, output)
                    return
            self.unmatched[path] += 1

        return hook

    def __enter__(self) -> "_Capture":
        self._handles.append(self.backbone.register_forward_hook(self._on_backbone))
        for path, module in self.modules.items():
            if module is not self.backbone:
                self._handles.append(module.register_forward_hook(self._embedding_hook(path)))
        self.active = True
        return self

    def __exit__(self, *exc) -> None:
        self.active = False
        for h in self._handles:
            h.remove()
        self._handles.clear()


def _submodule(model: nn.Module, path: str, key: str) -> nn.Module:
    """``model.get_submodule(path)``, or a :class:`ConfigError` for recipe key ``key`` listing
    the model's top-level modules."""
    try:
        return model.get_submodule(path)
    except AttributeError as err:
        children = ", ".join(n for n, _ in model.named_children())
        raise ConfigError(
            f"{key}: {type(model).__name__} has no module {path!r} (top-level modules: {children})"
        ) from err


def _group_of(groups: List[Dict[str, Any]], module: nn.Module) -> Optional[int]:
    """Index of the param group holding exactly ``module``'s trainable parameters, or None."""
    wanted = {id(p) for p in module.parameters() if p.requires_grad}
    for i, group in enumerate(groups):
        if wanted and {id(p) for p in group["params"] if p.requires_grad} == wanted:
            return i
    return None


def _checked_group_lrs(model: nn.Module, method_cls: type, value: Any) -> Dict[str, float]:
    """Validate ``param_group_lr`` against the built model: each path names a module whose
    parameters form one of the host's param groups, and the lr schedule is constant."""
    lrs = validate_param_group_lr(value)
    if not lrs:
        return lrs
    if getattr(model, "scheduler", "none") != "none":
        raise ConfigError(
            f"param_group_lr: needs scheduler.name: none (a constant lr, as in the continued-"
            f"pretraining protocol); with {model.scheduler!r} the host's scheduler (and its "
            f"static_lr groups) would overwrite the fixed group lr"
        )
    groups = [dict(g, params=list(g["params"])) for g in method_cls.learnable_params.fget(model)]
    for path in lrs:
        module = _submodule(model, compat.module_path(path), f"param_group_lr.{path}")
        if _group_of(groups, module) is None:
            names = ", ".join(str(g.get("name", i)) for i, g in enumerate(groups))
            raise ConfigError(
                f"param_group_lr.{path}: the parameters of {path!r} are not one of the host's "
                f"param groups ({names}); name a module that has its own group"
            )
    return lrs


def _with_group_lrs(
    model: nn.Module, groups: List[Dict[str, Any]], lrs: Dict[str, float]
) -> List[Dict[str, Any]]:
    """The host's param groups with ``lr`` fixed for the groups named in ``param_group_lr``."""
    groups = [dict(g, params=list(g["params"])) for g in groups]
    for path, lr in lrs.items():
        i = _group_of(groups, model.get_submodule(compat.module_path(path)))
        groups[i]["lr"] = lr
    return groups


def _make_methods(method_cls: type) -> Dict[str, Any]:
    """The members of the wrapped class, closed over ``method_cls``: the class is made with
    ``type()``, so the base implementation is called explicitly instead of through ``super()``."""

    def _e2mc_setup(self, aux_specs: Any, pretrained: Any, param_group_lr: Any = None) -> None:
        self._param_group_lr = _checked_group_lrs(self, method_cls, param_group_lr)
        specs = validate_aux_losses(aux_specs)
        self._aux_groups: List[Tuple[str, nn.Module]] = []
        self.aux_debug = False
        self._aux_debug_state: Optional[Dict[str, Any]] = None
        self._aux_num_steps = 0
        if specs:
            from e2mc_plugin.aux_losses import build_aux_losses

            default = default_embedding(self)
            grouped: Dict[str, List[Dict[str, Any]]] = {}
            for i, (kwargs, embedding) in enumerate(specs):
                path = compat.module_path(embedding or default)
                _submodule(self, path, f"aux_losses[{i}].embedding")
                grouped.setdefault(path, []).append(kwargs)
            # the default group first: its keys are logged without a prefix
            order = sorted(grouped, key=lambda p: (p != default, p))
            self.aux_losses = nn.ModuleList(build_aux_losses(grouped[p]) for p in order)
            self._aux_groups = list(zip(order, self.aux_losses, strict=True))
            self._aux_default = default
            self._aux_host_small = compat.host_uses_small_crops(method_cls)
            if self.num_small_crops and not self._aux_host_small:
                log.warning(
                    "solo-learn %s %s.training_step cannot take small crops: its own loss uses "
                    "the %d large crops; the %d small crops feed only all-view aux losses",
                    compat.HOST_VERSION,
                    method_cls.__name__,
                    self.num_large_crops,
                    self.num_small_crops,
                )
        block = validate_pretrained(pretrained)
        self.pretrained_report = None
        if block is not None:
            if os.environ.get(SKIP_PRETRAINED_ENV):
                log.info("pretrained: %s skipped (%s is set)", block["path"], SKIP_PRETRAINED_ENV)
            else:
                self._e2mc_load_pretrained(block)

    def _e2mc_load_pretrained(self, block: Dict[str, Any]) -> None:
        try:
            from e2mc_plugin.checkpoints import initialize_from_checkpoint, pretrained_from_cfg
        except ImportError as err:
            raise ConfigError(
                f"pretrained: e2mc_plugin.checkpoints is not available ({err}); "
                f"cannot load {block['path']}"
            ) from err
        loaded, strict = pretrained_from_cfg(block)
        report = initialize_from_checkpoint(self, loaded, strict=strict)
        self.pretrained_report = report
        log.info("pretrained: initialized from %s\n%s", block["path"], report)

    if compat.CFG_API:

        def __init__(self, cfg):
            name = cfg.get("method") if hasattr(cfg, "get") else None
            host_name = (
                name[: -len("_aux")] if isinstance(name, str) and name.endswith("_aux") else None
            )
            with compat.host_method_name(cfg, host_name):
                method_cls.__init__(self, cfg)
            self._e2mc_setup(
                self.cfg.get("aux_losses"),
                self.cfg.get("pretrained"),
                self.cfg.get("param_group_lr"),
            )

        @staticmethod
        def add_and_assert_specific_cfg(cfg):
            from solo.utils.misc import omegaconf_select

            cfg = method_cls.add_and_assert_specific_cfg(cfg)
            cfg.aux_losses = omegaconf_select(cfg, "aux_losses", [])
            cfg.pretrained = omegaconf_select(cfg, "pretrained", None)
            cfg.param_group_lr = omegaconf_select(cfg, "param_group_lr", {})
            validate_aux_losses(cfg.aux_losses)
            validate_pretrained(cfg.pretrained)
            validate_param_group_lr(cfg.param_group_lr)
            return cfg

    else:

        def __init__(
            self,
            *args,
            aux_losses: Any = None,
            pretrained: Any = None,
            param_group_lr: Any = None,
            **kwargs,
        ):
            # fail on the recipe blocks before the (slow) model build
            validate_aux_losses(aux_losses)
            validate_pretrained(pretrained)
            validate_param_group_lr(param_group_lr)
            method_cls.__init__(self, *args, **kwargs)
            # 1.0.2 keeps no cfg object: record the blocks for inspection
            self.aux_losses_cfg = to_plain(aux_losses) or []
            self.pretrained_cfg = to_plain(pretrained)
            self._e2mc_setup(aux_losses, pretrained, param_group_lr)

    @property
    def learnable_params(self) -> List[Dict[str, Any]]:
        params = method_cls.learnable_params.fget(self)
        if self._param_group_lr:
            params = _with_group_lrs(self, params, self._param_group_lr)
        extra = [p for _, m in self._aux_groups for p in m.parameters() if p.requires_grad]
        if extra:
            params = params + [{"name": "aux_losses", "params": extra}]
        return params

    def training_step(self, batch: Sequence[Any], batch_idx: int):
        if not self._aux_groups or not self.training:
            return method_cls.training_step(self, batch, batch_idx)

        idx, X, targets = batch
        X = [X] if isinstance(X, torch.Tensor) else list(X)
        n_large, n_crops = self.num_large_crops, self.num_large_crops + self.num_small_crops
        want_all = any(m.wants_all_views for _, m in self._aux_groups)
        backbone = compat.get_backbone(self)
        modules = {
            p: (backbone if p == compat.BACKBONE_ATTR else self.get_submodule(p))
            for p, _ in self._aux_groups
        }
        cap = _Capture(backbone, modules)
        with cap:
            if self.num_small_crops and not self._aux_host_small:
                with compat.large_crops_only(self):
                    out = method_cls.training_step(self, [idx, X[:n_large], targets], batch_idx)
                if want_all:  # the host never encodes them: do it here, in crop order
                    for x in X[n_large:]:
                        backbone(x)
            else:
                out = method_cls.training_step(self, batch, batch_idx)
            cap.active = False  # fallback projections below must not be captured

            n_needed = n_crops if want_all else n_large
            if len(cap.feats) < n_needed:
                raise RuntimeError(
                    f"{type(self).__name__}: the backbone ran on {len(cap.feats)} crops during "
                    f"training_step, the aux losses need {n_needed}"
                )
            total: Optional[torch.Tensor] = None
            terms: Dict[str, torch.Tensor] = {}
            debug_views: Dict[str, List[torch.Tensor]] = {}
            projected_here: Dict[str, List[int]] = {}
            for path, aux in self._aux_groups:
                module = modules[path]
                need = n_crops if aux.wants_all_views else n_large
                views = []
                for i in range(need):
                    if module is backbone:
                        views.append(cap.feats[i])
                    elif i in cap.emb[path]:
                        views.append(cap.emb[path][i])
                    else:
                        views.append(module(cap.feats[i]))
                        projected_here.setdefault(path, []).append(i)
                large = views[:n_large]
                res = aux(large, views if aux.wants_all_views else large)
                total = res["loss"] if total is None else total + res["loss"]
                prefix = "" if path == self._aux_default else f"{path}/"
                for k, v in res.items():
                    if k == "loss" and not prefix:
                        continue
                    terms[f"{prefix}{k}"] = v
                if self.aux_debug:
                    debug_views[path] = [v.detach().clone() for v in views]

        self._aux_num_steps += 1
        if self.aux_debug:
            self._aux_debug_state = {
                "views": debug_views,
                "out": {"loss": total, **terms},
                "projected_here": projected_here,
                "unmatched": dict(cap.unmatched),
            }
        self.log("train_aux/loss", total.detach(), on_epoch=True, sync_dist=True, prog_bar=True)
        for k, v in terms.items():
            self.log(
                f"train_aux/{k}",
                v.detach() if torch.is_tensor(v) else v,
                on_epoch=True,
                sync_dist=True,
            )

        if isinstance(out, dict):
            out = dict(out)
            out["loss"] = out["loss"] + total
            return out
        return out + total

    methods: Dict[str, Any] = {
        "_e2mc_base_method": method_cls,
        "__init__": __init__,
        "_e2mc_setup": _e2mc_setup,
        "_e2mc_load_pretrained": _e2mc_load_pretrained,
        "learnable_params": learnable_params,
        "training_step": training_step,
    }
    if compat.CFG_API:
        methods["add_and_assert_specific_cfg"] = add_and_assert_specific_cfg
    return methods


def with_aux_losses(method_cls: type) -> type:
    """Return ``method_cls`` + auxiliary losses (cached: the same class for the same input).

    The subclass is named ``<Method>WithAux`` and lives in this module (importable, picklable).
    It reads ``aux_losses`` and ``pretrained`` (see :mod:`e2mc_plugin.solo.config`), from the
    DictConfig on 1.0.6 (validated in ``add_and_assert_specific_cfg``) or from keyword arguments
    on 1.0.2, and logs ``train_aux/loss`` (progress bar) and ``train_aux/<loss>/<term>`` with
    ``on_epoch=True, sync_dist=True``. A class that is already wrapped is returned unchanged.
    """
    if is_wrapped(method_cls):
        return method_cls
    if method_cls in _WRAPPED:
        return _WRAPPED[method_cls]
    name = f"{method_cls.__name__}WithAux"
    module = sys.modules[__name__]
    existing = module.__dict__.get(name)  # not getattr: the module __getattr__ would recurse
    if existing is not None and base_method_of(existing) is not method_cls:
        name = f"{method_cls.__module__.replace('.', '_')}_{name}"
    wrapped = type(name, (method_cls,), _make_methods(method_cls))
    wrapped.__module__ = __name__
    wrapped.__qualname__ = name
    wrapped.__doc__ = (
        f"{method_cls.__name__} with e2mc-plugin auxiliary losses.\n\n{with_aux_losses.__doc__}"
    )
    setattr(module, name, wrapped)
    _WRAPPED[method_cls] = wrapped
    return wrapped


def __getattr__(name: str) -> type:
    """``<HostClass>WithAux`` on first access, so that a pickled wrapped model (``ddp_spawn``,
    multiprocessing) unpickles in a fresh process where the class was not created yet."""
    if name.endswith("WithAux"):
        methods = compat.host_methods()
        host = {cls.__name__: cls for cls in methods.values() if isinstance(cls, type)}
        base = host.get(name[: -len("WithAux")])
        if base is not None and not is_wrapped(base):
            return with_aux_losses(base)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
