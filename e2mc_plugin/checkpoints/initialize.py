"""Apply a :class:`LoadedCheckpoint` to a built solo-learn method (any host's backbone naming).

Weights only: the optimizer, scheduler and epoch counter of the new run start fresh.

Two scopes: ``"full"`` (every tensor of the model but the exempt ones must come from the file) and
``"backbone"`` (only the backbone is taken from the file, strictly; the heads stay as built and a
WARNING lists them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from e2mc_plugin.backbone_names import BACKBONE, attr_of, rename
from e2mc_plugin.checkpoints.report import LoadedCheckpoint, LoadReport, group_keys
from e2mc_plugin.checkpoints.vit.fit import fit_release

log = logging.getLogger(__name__)

#: valid values of ``scope`` (``pretrained.scope`` in a recipe)
SCOPES = ("full", "backbone")
_BACKBONE = f"{BACKBONE}."  # checkpoint side: the loaders emit solo-learn 1.0.6 names

# Model keys that may stay as initialised without failing strict mode: the online classifiers
# are trained from scratch on the new data; momentum networks are copied from the online ones.
_EXEMPT_PREFIXES = ("classifier.", "momentum_classifier.", "momentum_")
# BatchNorm statistics must come from the checkpoint; other buffers (queues, counters, loss
# state) belong to the host's training run.
_REQUIRED_BUFFERS = ("running_mean", "running_var")


class CheckpointMismatchError(RuntimeError):
    """Strict initialization found missing, unexpected or mis-shaped keys (all listed)."""


def _momentum_pairs(model: nn.Module) -> List[Tuple[str, str, nn.Module, nn.Module]]:
    """(online prefix, momentum prefix, online, momentum) from ``model.momentum_pairs``."""
    pairs = getattr(model, "momentum_pairs", None)
    if pairs is None:
        return []
    if callable(pairs):
        pairs = pairs()
    names = {id(m): n for n, m in model.named_modules()}
    return [(names[id(o)] + ".", names[id(m)] + ".", o, m) for o, m in pairs]


def _host_buffers(model: nn.Module) -> set:
    return {n for n, _ in model.named_buffers() if n.rsplit(".", 1)[-1] not in _REQUIRED_BUFFERS}


def _listing(title: str, items: List[str]) -> str:
    return f"{title} ({len(items)}):\n    " + "\n    ".join(items)


@dataclass
class _Plan:
    """What a load would do: matched tensors (model key -> tensor, and its checkpoint key) and
    what does not fit, before anything is copied."""

    attr: str  # the model's name of the backbone
    scope: str
    exempt: Tuple[str, ...]  # model key prefixes a strict load may leave as built
    host_buffers: set
    to_load: Dict[str, torch.Tensor] = field(default_factory=dict)
    origin: Dict[str, str] = field(default_factory=dict)  # model key -> checkpoint key
    unexpected: List[str] = field(default_factory=list)
    mismatched: Dict[str, str] = field(default_factory=dict)
    out_of_scope: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)

    def model_name(self, key: str) -> str:
        return rename(key, BACKBONE, self.attr)


def _plan(
    model: nn.Module,
    target: Dict[str, torch.Tensor],
    loaded: LoadedCheckpoint,
    scope: str,
    attr: str,
    exempt: Tuple[str, ...],
) -> _Plan:
    """The :class:`_Plan` of loading ``loaded`` into ``model`` (``target``: its state dict)."""
    plan = _Plan(attr, scope, exempt, _host_buffers(model))
    model_backbone = f"{attr}."
    if scope == "backbone":
        if not any(k.startswith(model_backbone) for k in target):
            raise ValueError(f"scope: 'backbone' but the model has no {model_backbone}* tensors")
        if not any(k.startswith(_BACKBONE) for k in loaded.state_dict):
            raise CheckpointMismatchError(
                f"checkpoint {loaded.path or loaded.format!r} holds no {_BACKBONE}* tensors "
                "(scope: backbone)"
            )
    misfit = set()  # model keys the checkpoint has with another shape (listed as mismatches)
    for key, value in loaded.state_dict.items():
        if scope == "backbone" and not key.startswith(_BACKBONE):
            plan.out_of_scope.append(key)
            continue
        name = plan.model_name(key)
        if name not in target:
            plan.unexpected.append(key)
        elif tuple(value.shape) != tuple(target[name].shape):
            misfit.add(name)
            plan.mismatched[key] = (
                f"checkpoint {tuple(value.shape)} vs model {tuple(target[name].shape)}"
            )
        else:
            plan.to_load[name] = value
            plan.origin[name] = key
    plan.missing = [
        k
        for k in target
        if k not in plan.to_load
        and k not in misfit
        and not k.startswith(exempt)
        and k not in plan.host_buffers
        and (scope == "full" or k.startswith(model_backbone))
    ]
    return plan


def _report(loaded: LoadedCheckpoint, plan: _Plan) -> LoadReport:
    """The LoadReport of a load: the loader's mapping carried over to the model's names."""
    inverse = {dst: src for src, dst in loaded.report.mapped.items()}
    report = LoadReport(dropped=list(loaded.report.dropped), notes=list(loaded.report.notes))
    for name, key in plan.origin.items():
        if key in inverse:
            report.mapped[inverse[key]] = name
        else:
            report.created[name] = loaded.report.created.get(key, "made by the loader")
    report.absent_in_source = [
        name
        for name in (plan.model_name(k) for k in loaded.report.absent_in_source)
        if name in plan.to_load
    ]
    for key in plan.unexpected:
        report.skipped[key] = "not in the model"
    report.skipped.update(plan.mismatched)
    for key in plan.out_of_scope:
        report.skipped[key] = "scope: backbone (only backbone tensors are loaded)"
    return report


def _fill_momentum(
    pairs: List[Tuple[str, str, nn.Module, nn.Module]], plan: _Plan, report: LoadReport
) -> None:
    """Each momentum network the checkpoint did not fill becomes a copy of its loaded online one."""
    for online_prefix, momentum_prefix, online, momentum in pairs:
        keys = [momentum_prefix + k for k in momentum.state_dict()]
        if all(k in plan.to_load for k in keys):
            continue  # the checkpoint carried this momentum network
        if not any(online_prefix + k in plan.to_load for k in online.state_dict()):
            continue  # nothing loaded into the online network: both stay as built
        momentum.load_state_dict(online.state_dict())
        for k in keys:
            report.created[k] = f"copy of the loaded online network {online_prefix}*"


def initialize_from_checkpoint(
    model: nn.Module,
    loaded: LoadedCheckpoint,
    *,
    strict: bool = True,
    scope: str = "full",
    backbone_attr: Optional[str] = None,
) -> LoadReport:
    """Copy the tensors of ``loaded`` into ``model`` and return what happened.

    Args:
        model: a built solo-learn method (any host). Channels-last, GPU and half-precision
            models work: tensors are copied into the existing parameters.
        loaded: the result of :func:`load_checkpoint`.
        strict: if True, any missing model key, unexpected checkpoint key or shape mismatch
            raises :class:`CheckpointMismatchError` listing all of them, before anything is
            copied. Exempt: ``classifier.*``, momentum networks and buffers other than BatchNorm
            running statistics. If False, what matches is loaded, the rest reported, and a
            WARNING lists what was not applied or stayed as built.
        scope: ``"full"``: the whole model is checked as above. ``"backbone"``: only the
            checkpoint's ``backbone.*`` tensors are used (its heads are reported as skipped) and
            only the model's backbone must be filled (with ``strict``: every backbone tensor
            present and of the right shape, no extra backbone tensor); the projector, predictor,
            prototypes... stay as built, listed by prefix in a WARNING.
        backbone_attr: the model's name of its backbone (the host adapter passes its host
            profile's, e.g. ``encoder`` on solo-learn 1.0.2); None reads it from the model's
            keys (:func:`e2mc_plugin.backbone_names.attr_of`).

    After loading, every momentum network (``model.momentum_pairs``) that the checkpoint did
    not fill completely is set to a copy of its online network, if that received weights.

    The returned ``absent_in_source`` names the loaded model parameters that the source layer
    does not have (zeros for a ``bias=False`` Linear); this function leaves them trainable: the
    host adapter (:mod:`e2mc_plugin.solo.method.frozen`) keeps them zero, frozen and out of the
    optimizer.
    """
    if scope not in SCOPES:
        raise ValueError(f"scope: {scope!r} is not one of {', '.join(SCOPES)}")
    loaded = fit_release(model, loaded)  # a ViT of another function is refused, tables resized
    target = model.state_dict()
    attr = backbone_attr or attr_of(target)
    pairs = _momentum_pairs(model)
    exempt = _EXEMPT_PREFIXES + tuple(p for _, p, _, _ in pairs)
    plan = _plan(model, target, loaded, scope, attr, exempt)
    if strict and (plan.missing or plan.unexpected or plan.mismatched):
        raise CheckpointMismatchError(
            _mismatch_message(loaded, scope, plan.missing, plan.unexpected, plan.mismatched)
        )
    result = model.load_state_dict(plan.to_load, strict=False)
    if result.unexpected_keys:  # cannot happen: keys were checked against model.state_dict()
        raise CheckpointMismatchError(f"unexpected keys {result.unexpected_keys}")
    report = _report(loaded, plan)
    _fill_momentum(pairs, plan, report)
    report.untouched = [k for k in target if k not in plan.to_load and k not in report.created]
    random = [
        k
        for k in report.untouched
        if k not in plan.host_buffers and (scope == "backbone" or not k.startswith(exempt))
    ]
    _warn(loaded, scope, strict, report, random)
    return report


def _mismatch_message(
    loaded: LoadedCheckpoint,
    scope: str,
    missing: List[str],
    unexpected: List[str],
    mismatched: Dict[str, str],
) -> str:
    what = "the model's backbone" if scope == "backbone" else "the model"
    parts = [f"checkpoint {loaded.path or loaded.format!r} does not fit {what}"]
    if missing:
        parts.append(_listing("missing in the checkpoint", missing))
    if unexpected:
        parts.append(_listing("unexpected (not in the model)", unexpected))
    if mismatched:
        parts.append(_listing("shape mismatch", [f"{k}: {v}" for k, v in mismatched.items()]))
    backbone_only = all(k.startswith(_BACKBONE) for k in loaded.state_dict)
    if scope == "full" and backbone_only:
        parts.append(
            "The checkpoint holds only backbone tensors: use scope='backbone' (pretrained.scope: "
            "backbone) to load the backbone strictly and leave the heads as built."
        )
    else:
        parts.append("Use strict=False (pretrained.strict: false) to load what matches.")
    return "\n".join(parts)


def _warn(
    loaded: LoadedCheckpoint, scope: str, strict: bool, report: LoadReport, random: List[str]
) -> None:
    """WARNING for what a partial load left as built: heads (backbone scope) or anything else."""
    if scope == "full" and strict:
        return  # only exempt keys (online classifiers) can be left: nothing unexpected
    lines = []
    if random:
        lines.append(f"stayed randomly initialized ({len(random)} tensors): {group_keys(random)}")
    not_applied = [k for k, why in report.skipped.items() if not why.startswith("scope:")]
    if not_applied:
        lines.append(f"not applied ({len(not_applied)} tensors): {group_keys(not_applied)}")
    if lines:
        log.warning(
            "%s (scope: %s, strict: %s): loaded %d tensors from the file; %s",
            loaded.path or loaded.format,
            scope,
            strict,
            len(report.mapped),
            "; ".join(lines),
        )
