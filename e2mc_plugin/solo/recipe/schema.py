"""The recipe blocks the plugin reads: their keys and defaults, in one place. Everything else in a
recipe is the host's.

```yaml
aux_losses:                 # list; [] (default) = the unwrapped method, bit for bit
  - name: e2mc              # a registered aux loss (e2mc-plugin list)
    beta: 1000              # ... that loss's own keyword arguments
    gamma: 100
    mapping: sigmoid
    embedding: projector    # adapter key (optional): dotted path of the module whose OUTPUT is
                            # the embedding; default "projector", DINO "head.mlp"
pretrained:                 # optional; weights loaded after the model is built (fresh optimizer)
  path: /ckpt/vicreg.ckpt
  format: null              # null/auto = detect; else a registered checkpoint loader
  strict: true              # missing / unexpected keys raise
  trusted: false            # true allows full (pickle) torch.load
  scope: full               # full | backbone (a backbone-only file)
param_group_lr:             # optional: fixed lr of the host's param group holding exactly the
  predictor: 0.1            # parameters of this module (absolute: not scaled by batch size);
                            # needs scheduler.name: none (the reference SimSiam predictor)
resume_aux_override: false  # optional: resume a checkpoint trained with other aux_losses
batched_crops: false        # optional, SwAV on 1.0.6: the reference's multi-crop forward (one
                            # backbone batch per resolution group, one head batch of all crops)
e2mc_linear:                # main_linear.py with the PluginLinearModel hydra callback only
  backbone_lr: 0.03         # base lr of the backbone group (finetune: True), scaled like
                            # optimizer.lr by solo's batch rule; null = optimizer.lr (host)
  lr_decay_gamma: 0.2       # factor of scheduler.name "step" (host: 0.1)
  head: {name: res5_pool_bn, kernel: 6, stride: 1, batchnorm: true}   # or null (host head)
  classifier_init: reference  # the classifier Linear: reference = N(0, 0.01^2) weights, zero
                            # bias (eval_linear.py); default = PyTorch's; null = as built
```

One parser per block, each in its own module: ``aux_losses`` the host-neutral core's
(:mod:`e2mc_plugin.attach.specs`, shared with ``attach_aux_losses``); ``pretrained`` the
checkpoint loaders' (:mod:`e2mc_plugin.checkpoints.recipe`); ``param_group_lr``,
``resume_aux_override`` and ``batched_crops`` in :mod:`.blocks`; ``e2mc_linear`` in
:mod:`.linear`; their values through :mod:`.values` (the one boolean parser, the one
positive-number check); misspelled or misplaced blocks in :mod:`.placement`. The first five are
read once by the wrapped method (``method: <name>_aux``, :func:`.parse.parse_recipe`),
``e2mc_linear`` by the fine-tuning model (:mod:`e2mc_plugin.solo.linear_model`). Errors are
:class:`ConfigError` (a ``ValueError``) whose message starts with the bad key
(``aux_losses[0].name``, ``pretrained.pth``) and lists the valid choices.
"""

from __future__ import annotations

from typing import Any, Mapping

from e2mc_plugin.attach.specs import ADAPTER_KEYS, ConfigError

__all__ = [
    "ADAPTER_KEYS",
    "ADAPTER_TOP_LEVEL_KEYS",
    "BATCHED_CROPS_KEY",
    "LINEAR_BLOCK",
    "METHOD_BLOCKS",
    "METHOD_BLOCK_DEFAULTS",
    "PLUGIN_TOP_LEVEL_KEYS",
    "RECIPE_BLOCKS",
    "RESUME_OVERRIDE_KEY",
    "ConfigError",
]

#: top-level switch of the reference SwAV multi-crop forward (solo/method/batched.py)
BATCHED_CROPS_KEY = "batched_crops"
#: the blocks the wrapped method reads (a plain host method carrying one is refused)
METHOD_BLOCKS = ("aux_losses", "pretrained", "param_group_lr", BATCHED_CROPS_KEY)
#: the block the fine-tuning LinearModel reads
LINEAR_BLOCK = "e2mc_linear"
#: every top-level block the plugin reads (misspellings of these are refused)
RECIPE_BLOCKS = METHOD_BLOCKS + (LINEAR_BLOCK,)
#: top-level key allowing a resume whose aux_losses differ from the checkpoint's
RESUME_OVERRIDE_KEY = "resume_aux_override"
#: every top-level key the wrapped method consumes (passed through to a keyword constructor)
ADAPTER_TOP_LEVEL_KEYS = METHOD_BLOCKS + (RESUME_OVERRIDE_KEY,)
#: every top-level key the plugin reads: a misspelling of one, or one nested under a host block,
#: is refused (the host would ignore it)
PLUGIN_TOP_LEVEL_KEYS = RECIPE_BLOCKS + (RESUME_OVERRIDE_KEY,)

#: the value each key of the wrapped method means when the recipe leaves it out (the host's
#: ``add_and_assert_specific_cfg`` writes them, so that ``args.json`` records them)
METHOD_BLOCK_DEFAULTS: Mapping[str, Any] = {
    "aux_losses": [],
    "pretrained": None,
    "param_group_lr": {},
    BATCHED_CROPS_KEY: False,
    RESUME_OVERRIDE_KEY: False,
}
