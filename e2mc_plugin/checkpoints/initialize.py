"""Apply a :class:`LoadedCheckpoint` to a built solo-learn method (1.0.2 or 1.0.6 naming).

Weights only: the optimizer, scheduler and epoch counter of the new run start fresh.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import torch
from torch import nn

from e2mc_plugin.checkpoints.report import LoadedCheckpoint, LoadReport

# Model keys that may stay as initialised without failing strict mode: the online classifiers
# are trained from scratch on the new data; momentum networks are copied from the online ones.
_EXEMPT_PREFIXES = ("classifier.", "momentum_classifier.", "momentum_")
# BatchNorm statistics must come from the checkpoint; other buffers (queues, counters, loss
# state) belong to the host's training run.
_REQUIRED_BUFFERS = ("running_mean", "running_var")


class CheckpointMismatchError(RuntimeError):
    """Strict initialization found missing, unexpected or mis-shaped keys (all listed)."""


def _legacy_names(model_keys: List[str]) -> bool:
    """solo-learn <= 1.0.2 names the backbone ``encoder`` (and ``momentum_encoder``)."""
    return any(k.startswith("encoder.") for k in model_keys) and not any(
        k.startswith("backbone.") for k in model_keys
    )


def _to_model_name(key: str, legacy: bool) -> str:
    if legacy:
        for new, old in (("backbone.", "encoder."), ("momentum_backbone.", "momentum_encoder.")):
            if key.startswith(new):
                return old + key[len(new) :]
    return key


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


def initialize_from_checkpoint(
    model: nn.Module, loaded: LoadedCheckpoint, *, strict: bool = True
) -> LoadReport:
    """Copy the tensors of ``loaded`` into ``model`` and return what happened.

    Args:
        model: a built solo-learn method (any host; ``encoder.`` names are detected from the
            model's own keys). Channels-last, GPU and half-precision models work: tensors are
            copied into the existing parameters.
        loaded: the result of :func:`load_checkpoint`.
        strict: if True, any missing model key, unexpected checkpoint key or shape mismatch
            raises :class:`CheckpointMismatchError` listing all of them, before anything is
            copied. Exempt: ``classifier.*``, momentum networks and buffers other than BatchNorm
            running statistics. If False, what matches is loaded and the rest reported.

    After loading, every momentum network (``model.momentum_pairs``) that the checkpoint did
    not fill completely is set to a copy of its online network, if that received weights.
    """
    target = model.state_dict()
    legacy = _legacy_names(list(target))
    pairs = _momentum_pairs(model)
    exempt_prefixes = _EXEMPT_PREFIXES + tuple(p for _, p, _, _ in pairs)
    host_buffers = _host_buffers(model)

    to_load: Dict[str, torch.Tensor] = {}
    origin: Dict[str, str] = {}  # model key -> loaded key
    unexpected: List[str] = []
    mismatched: Dict[str, str] = {}
    for key, value in loaded.state_dict.items():
        name = _to_model_name(key, legacy)
        if name not in target:
            unexpected.append(key)
        elif tuple(value.shape) != tuple(target[name].shape):
            mismatched[key] = (
                f"checkpoint {tuple(value.shape)} vs model {tuple(target[name].shape)}"
            )
        else:
            to_load[name] = value
            origin[name] = key
    missing = [
        k
        for k in target
        if k not in to_load and not k.startswith(exempt_prefixes) and k not in host_buffers
    ]

    if strict and (missing or unexpected or mismatched):
        parts = [f"checkpoint {loaded.path or loaded.format!r} does not fit the model"]
        if missing:
            parts.append(_listing("missing in the checkpoint", missing))
        if unexpected:
            parts.append(_listing("unexpected (not in the model)", unexpected))
        if mismatched:
            parts.append(_listing("shape mismatch", [f"{k}: {v}" for k, v in mismatched.items()]))
        parts.append("Use strict=False (pretrained.strict: false) to load what matches.")
        raise CheckpointMismatchError("\n".join(parts))

    result = model.load_state_dict(to_load, strict=False)
    if result.unexpected_keys:  # cannot happen: keys were checked against model.state_dict()
        raise CheckpointMismatchError(f"unexpected keys {result.unexpected_keys}")

    inverse = {dst: src for src, dst in loaded.report.mapped.items()}
    report = LoadReport(dropped=list(loaded.report.dropped))
    for name, key in origin.items():
        if key in inverse:
            report.mapped[inverse[key]] = name
        else:
            report.created[name] = loaded.report.created.get(key, "made by the loader")
    for key in unexpected:
        report.skipped[key] = "not in the model"
    report.skipped.update(mismatched)

    for online_prefix, momentum_prefix, online, momentum in pairs:
        keys = [momentum_prefix + k for k in momentum.state_dict()]
        if all(k in to_load for k in keys):
            continue  # the checkpoint carried this momentum network
        if not any(online_prefix + k in to_load for k in online.state_dict()):
            continue  # nothing loaded into the online network: both stay as built
        momentum.load_state_dict(online.state_dict())
        for k in keys:
            report.created[k] = f"copy of the loaded online network {online_prefix}*"
    report.untouched = [k for k in target if k not in to_load and k not in report.created]
    return report
