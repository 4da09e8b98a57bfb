"""The demo's own preset: every knob of a run (:class:`DemoConfig`) and the solo-learn config of
one stage (:func:`method_cfg`), built here from scratch (not from any test preset).

The auxiliary-loss coefficients come from :mod:`e2mc_plugin.aux_losses.paper`; the method
hyper-parameters below are solo-learn's own recipe values (``scripts/pretrain/cifar/*.yaml``) with
small heads for the CPU.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from e2mc_plugin.aux_losses.paper import PAPER_COEFFICIENTS, paper_aux_spec
from e2mc_plugin.demo.plateau import PlateauCriterion
from e2mc_plugin.solo.api import HOST_METHOD_KWARGS, small_cfg

__all__ = ["DemoConfig", "DEMO_METHODS", "aux_spec", "method_cfg", "with_overrides"]

# Method keys the host needs besides the projector widths (1.0.2 has no defaults).
_METHOD_KWARGS: Dict[str, Mapping[str, Any]] = {
    **HOST_METHOD_KWARGS,
    "simsiam": {"pred_hidden_dim": 64},
}
#: the methods the demo runs: those with the paper's coefficients
DEMO_METHODS = tuple(m for m in PAPER_COEFFICIENTS if m in _METHOD_KWARGS)

_OPTIMIZER_KWARGS: Dict[str, Dict[str, Any]] = {
    "lars": {"momentum": 0.9, "eta": 0.02, "clip_lr": True, "exclude_bias_n_norm": True},
    "sgd": {"momentum": 0.9},
    # fused: one pass over the 11M resnet18 parameters per step instead of a dozen (measured:
    # the foreach AdamW step was 20 % of a demo step on one thread; fused cuts a step by ~20 %)
    "adamw": {"fused": True},
}


@dataclass(frozen=True)
class DemoConfig:
    """Every knob of the demo; the defaults are the full run."""

    method: str = "vicreg"
    aux: Tuple[str, ...] = ("e2mc",)  # variants compared with "continued" (aux_losses: [])
    seeds: Tuple[int, ...] = (0, 1, 2)
    size: int = 16  # image side; 16x16 with the ImageNet stem keeps resnet18 fast on CPU
    batch_size: int = 128
    optimizer: str = "adamw"  # constant-lr LARS and SGD diverged here (see README)
    base_lr: float = 1e-3
    # base trained to a plateau of its kNN accuracy (see demo/plateau.py)
    base_max_epochs: int = PlateauCriterion.max_epochs
    base_eval_every: int = PlateauCriterion.eval_every
    base_patience: int = PlateauCriterion.patience
    base_min_delta: float = PlateauCriterion.min_delta  # accuracy, i.e. 0.5 points
    base_cooldown: bool = True  # then again to a plateau at the continued lr (see plateau.py)
    continued_epochs: int = 3
    continued_lr_scale: float = 0.1  # paper: 0.01 x base lr over 10 ImageNet epochs (see README)
    proj_hidden_dim: int = 256
    proj_output_dim: int = 64
    label_fractions: Tuple[float, ...] = (0.1, 1.0)
    knn_k: int = 20
    test_fraction: float = 0.3
    split_seed: int = 0
    base_seed: int = 0
    limit: Optional[int] = None  # use only the first `limit` digits (tests)
    limit_train_batches: Optional[int] = None  # shorten epochs (tests)
    n_permutations: int = 10_000
    diagnostics: bool = True
    save_checkpoints: bool = True  # seed-0 variants (the base is always written)
    progress: bool = True

    @classmethod
    def quick(cls, **overrides: Any) -> "DemoConfig":
        """One seed, 1 epoch per stage, 2 batches of 64: a smoke test of every stage."""
        base = dict(
            seeds=(0,),
            batch_size=64,
            base_max_epochs=1,
            base_eval_every=1,
            continued_epochs=1,
            proj_hidden_dim=64,
            proj_output_dim=32,
            limit=600,
            limit_train_batches=2,
            n_permutations=2000,
        )
        base.update(overrides)
        return cls(**base)

    @property
    def continued_lr(self) -> float:
        return self.base_lr * self.continued_lr_scale


def with_overrides(dc: DemoConfig, **kwargs: Any) -> DemoConfig:
    """A copy of ``dc`` with some fields replaced (``None`` values are ignored)."""
    return replace(dc, **{k: v for k, v in kwargs.items() if v is not None})


def aux_spec(name: str, method: str, **overrides: Any) -> Dict[str, Any]:
    """``{"name": name, **paper coefficients for method, **overrides}``.

    Raises ``ValueError`` naming the valid methods or losses.
    """
    try:
        spec = paper_aux_spec(method, name)
    except KeyError as err:
        raise ValueError(err.args[0]) from None
    return {**spec, **overrides}


def method_cfg(
    dc: DemoConfig,
    *,
    lr: float,
    aux_losses: Sequence[Mapping[str, Any]] = (),
    pretrained: Optional[str] = None,
    epochs: int = 1,
) -> Dict[str, Any]:
    """The 1.0.6-style solo-learn config of one stage (:func:`e2mc_plugin.solo.api.small_cfg`:
    resnet18, ImageNet stem, constant lr)."""
    if dc.method not in DEMO_METHODS:
        raise ValueError(f"demo: unknown method {dc.method!r}; valid: {', '.join(DEMO_METHODS)}")
    if dc.optimizer not in _OPTIMIZER_KWARGS:
        raise ValueError(
            f"demo: unknown optimizer {dc.optimizer!r}; valid: {', '.join(_OPTIMIZER_KWARGS)}"
        )
    method_kwargs = {
        "proj_hidden_dim": dc.proj_hidden_dim,
        "proj_output_dim": dc.proj_output_dim,
        **copy.deepcopy(_METHOD_KWARGS[dc.method]),
    }
    return small_cfg(
        f"{dc.method}_aux",
        name=f"demo-{dc.method}",
        method_kwargs=method_kwargs,
        optimizer={
            "name": dc.optimizer,
            "batch_size": dc.batch_size,
            "lr": lr,
            "weight_decay": 1e-4,
            # the online classifier (detached features) gets the same optimizer at the SSL lr
            "classifier_lr": lr if dc.optimizer == "adamw" else 0.1,
            "kwargs": copy.deepcopy(_OPTIMIZER_KWARGS[dc.optimizer]),
        },
        max_epochs=epochs,
        aux_losses=aux_losses,
        pretrained=None
        if pretrained is None
        else {"path": pretrained, "format": None, "strict": True, "trusted": False},
    )
