"""``e2mc_linear.classifier_init``: the probe classifier's initialization."""

from __future__ import annotations

from typing import Optional

from torch import nn

from e2mc_plugin.evaluation.probe_head import reference_init

__all__ = ["init_classifier"]


def init_classifier(classifier: nn.Module, how: Optional[str]) -> None:
    """``how`` on the classifier's Linear (the host's ``nn.Linear`` or the res5 head's
    ``linear``): ``reference`` = N(0, 0.01^2) weights and zero bias (the reference
    ``eval_linear.py``), ``default`` = PyTorch's ``reset_parameters``, None = as built."""
    if how is None:
        return
    linear = classifier if isinstance(classifier, nn.Linear) else classifier.linear
    if how == "reference":
        reference_init(linear)
    else:
        linear.reset_parameters()
