"""What solo-learn's ``main_linear.py`` lacks for the paper's fine-tuning and transfer protocols.

The host's ``LinearModel`` trains backbone and classifier at ONE lr, decays a step schedule by a
hard-coded 0.1, and always classifies the globally pooled feature. The paper needs (Appendix
A.2.2 / B.2.2 semi-supervised fine-tuning, A.2.3 / B.2.3 transfer, in the paper's two versions;
reference ``eval_semisup.py`` / ``eval_linear.py``):

- semi-supervised fine-tuning with separate backbone and classifier lrs, cosine or step decay by
  0.2 at epochs 12 and 16;
- the iNat18 transfer probe: res5 -> AvgPool(6, stride 1) -> BatchNorm -> linear
  (:mod:`e2mc_plugin.evaluation.probe_head`);
- the reference's probe classifier initialization, N(0, 0.01^2) weights and zero bias
  (``classifier_init: reference``; the host keeps PyTorch's default).

A recipe asks for them with an ``e2mc_linear:`` block (:mod:`e2mc_plugin.solo.recipe.linear`)
and the hydra callback :class:`PluginLinearModel`, which swaps the ``LinearModel`` name that
``main_linear.py``'s ``main`` uses for ``LinearModelE2MC`` during that job and restores it
afterwards. Host files are never edited; recipes without the callback run the host's class::

    hydra:
      callbacks:
        e2mc_linear:
          _target_: e2mc_plugin.solo.linear_model.PluginLinearModel
    e2mc_linear: {backbone_lr: 0.03, lr_decay_gamma: 0.2, head: null, classifier_init: null}

One job per module: :mod:`.variant` (the ``LinearModelE2MC`` subclass, pickled by name),
:mod:`.classifier` (the classifier's initialization), :mod:`.callback` (the hydra callback).
"""

from e2mc_plugin.solo.linear_model.callback import PluginLinearModel
from e2mc_plugin.solo.linear_model.variant import plugin_linear_model_class

__all__ = ["PluginLinearModel", "plugin_linear_model_class"]
