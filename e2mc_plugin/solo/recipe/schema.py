"""The recipe blocks the plugin reads, in one place: their schema, their per-block checks, and the
check for misspelled or misplaced blocks. Everything else in a recipe is the host's.

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
The first five are read by the wrapped method (``method: <name>_aux``,
:func:`e2mc_plugin.solo.recipe.parse.parse_recipe`), ``e2mc_linear`` by the fine-tuning model
(:mod:`e2mc_plugin.solo.linear_model`). Errors are :class:`ConfigError` (a ``ValueError``)
whose message starts with the bad key (``aux_losses[0].name``, ``pretrained.pth``) and lists the
valid choices. Nothing here builds a
loss: :func:`e2mc_plugin.solo.recipe.parse.parse_recipe` does, once.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from e2mc_plugin.checkpoints.recipe import PretrainedSpec, validate_pretrained
from e2mc_plugin.method_families import SUFFIX
from e2mc_plugin.solo.host.compat import to_plain

__all__ = [
    "ADAPTER_KEYS",
    "ADAPTER_TOP_LEVEL_KEYS",
    "BATCHED_CROPS_KEY",
    "CLASSIFIER_INITS",
    "LINEAR_BLOCK",
    "METHOD_BLOCKS",
    "PLUGIN_TOP_LEVEL_KEYS",
    "RECIPE_BLOCKS",
    "RESUME_OVERRIDE_KEY",
    "SUFFIX",
    "AuxSpec",
    "ConfigError",
    "HeadSpec",
    "LinearSpec",
    "flag",
    "parse_linear_block",
    "misplaced_recipe_key",
    "parse_pretrained",
    "to_plain",
    "validate_aux_losses",
    "validate_batched_crops",
    "validate_param_group_lr",
    "validate_pretrained",
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
#: every top-level key the wrapped method consumes (passed through to the 1.0.2 constructor)
ADAPTER_TOP_LEVEL_KEYS = METHOD_BLOCKS + (RESUME_OVERRIDE_KEY,)

#: keys of an ``aux_losses`` entry consumed by the adapter (not passed to the aux loss)
ADAPTER_KEYS = ("embedding",)

#: (kwargs for build_aux_loss incl. "name", embedding module path or None = method default)
AuxSpec = Tuple[Dict[str, Any], Optional[str]]


class ConfigError(ValueError):
    """A recipe block is invalid; the message names the key and the valid choices."""


#: every top-level key the plugin reads: a misspelling of one, or one nested under a host block,
#: is refused (the host would ignore it)
PLUGIN_TOP_LEVEL_KEYS = RECIPE_BLOCKS + (RESUME_OVERRIDE_KEY,)

_BOOL_WORDS = "true or false (a YAML bool, without quotes)"


def flag(key: str, value: Any) -> bool:
    """The one parser of the recipe's boolean fields: a real bool (numpy's too), else
    :class:`ConfigError` naming ``key``. A string is refused, not read: ``bool("false")`` is true,
    and a quoted ``'false'`` (YAML, hydra's command line) is a string."""
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"):
        value = bool(value)
    if isinstance(value, bool):
        return value
    hint = "; write it without quotes" if isinstance(value, str) else ""
    raise ConfigError(f"{key}: expected {_BOOL_WORDS}, got {value!r}{hint}")


def _squash(key: str) -> str:
    return key.lower().replace("auxiliary", "aux").replace("_", "").replace("-", "")


def _close_block(key: Any) -> Optional[str]:
    """The plugin key ``key`` is a misspelling of (``aux_loss``, ``auxiliary_losses`` ->
    ``aux_losses``), or None."""
    if not isinstance(key, str) or key in PLUGIN_TOP_LEVEL_KEYS:
        return None
    squashed = {_squash(block): block for block in PLUGIN_TOP_LEVEL_KEYS}
    if _squash(key) in squashed:
        return squashed[_squash(key)]
    close = difflib.get_close_matches(_squash(key), list(squashed), n=1, cutoff=0.85)
    return squashed[close[0]] if close else None


def _tree(cfg: Any) -> Any:
    """A DictConfig as plain containers WITHOUT resolving (no interpolation or ``???`` can fail
    here); anything else unchanged."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(cfg, (DictConfig, ListConfig)):
            return OmegaConf.to_container(cfg, resolve=False, throw_on_missing=False)
    except ImportError:  # pragma: no cover
        pass
    return cfg


def _nested_plugin_keys(node: Any, path: str):
    """``(dotted parent path, key, the plugin key it is or resembles)`` below ``path``."""
    items = node.items() if isinstance(node, Mapping) else enumerate(node)
    for key, value in items:
        if isinstance(node, Mapping):
            block = key if key in PLUGIN_TOP_LEVEL_KEYS else _close_block(key)
            if block is not None:
                yield path, key, block
                continue
            child = f"{path}.{key}"
        else:
            child = f"{path}[{key}]"
        if isinstance(value, (Mapping, list, tuple)):
            yield from _nested_plugin_keys(value, child)


def misplaced_recipe_key(cfg: Mapping[str, Any]) -> Optional[str]:
    """The error message for the first misspelled or misplaced plugin key in ``cfg``, or None.

    Checked: top-level keys that closely match a plugin key (``aux_loss``, ``pretrain``,
    ``auxiliary_losses``), and plugin keys (or close matches) anywhere below a host block
    (``method_kwargs.aux_losses``, ``optimizer.e2mc_linear``, ``data.pretrained``), where the host
    would ignore them. The plugin's own blocks are checked by their parsers.
    """
    cfg = _tree(cfg)
    for key in cfg:
        block = _close_block(key)
        if block is not None:
            return (
                f"{key}: unknown top-level key, did you mean {block!r}? (plugin keys: "
                f"{', '.join(PLUGIN_TOP_LEVEL_KEYS)}); as written it would be ignored"
            )
    for key, value in cfg.items():
        if key in PLUGIN_TOP_LEVEL_KEYS or key == "hydra":  # hydra.callbacks.e2mc_linear: ok
            continue
        if not isinstance(value, (Mapping, list, tuple)):
            continue
        for parent, nested, block in _nested_plugin_keys(value, str(key)):
            what = f"the plugin block {block!r}"
            if nested != block:
                what = f"a misspelling of {what}"
            return (
                f"{parent}.{nested}: {what} belongs at the top level of the recipe, not under "
                f"{parent} (the host ignores it there); move it to '{block}:'"
            )
    return None


def validate_aux_losses(value: Any) -> List[AuxSpec]:
    """Normalize an ``aux_losses`` block: ``[(loss_kwargs incl. name, embedding_or_None), ...]``.

    Checks the block's shape only (a list of mappings with a ``name``, ``embedding`` a dotted
    path); the names, keyword arguments and values are checked by building each loss, once, in
    :func:`e2mc_plugin.solo.recipe.parse.parse_recipe`.
    """
    value = to_plain(value)
    if value is None:
        return []
    if isinstance(value, Mapping):
        raise ConfigError(
            "aux_losses: expected a list of entries like [{name: e2mc, beta: 1000, ...}], got a "
            "mapping; wrap it in a list"
        )
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"aux_losses: expected a list, got {type(value).__name__} {value!r}")
    specs: List[AuxSpec] = []
    for i, entry in enumerate(value):
        key = f"aux_losses[{i}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{key}: expected a mapping with a 'name', got {entry!r}")
        entry = dict(entry)
        if "name" not in entry:
            from e2mc_plugin.aux_losses import list_aux_losses

            raise ConfigError(f"{key}.name: missing; valid names: {', '.join(list_aux_losses())}")
        embedding = entry.pop("embedding", None)
        if embedding is not None and (not isinstance(embedding, str) or not embedding):
            raise ConfigError(
                f"{key}.embedding: expected a dotted module path like 'projector' or "
                f"'head.mlp', got {embedding!r}"
            )
        specs.append((entry, embedding))
    return specs


def parse_pretrained(value: Any) -> Optional[PretrainedSpec]:
    """A ``pretrained`` block -> :class:`PretrainedSpec` (None when unset); the schema lives with
    the loaders (:mod:`e2mc_plugin.checkpoints.recipe`), its errors become :class:`ConfigError`."""
    from e2mc_plugin.checkpoints.recipe import parse_pretrained as parse_block

    value = to_plain(value)
    if value is not None and not isinstance(value, (str, Mapping)):
        raise ConfigError(
            f"pretrained: expected a mapping {{path, format, strict, trusted, scope}}, "
            f"got {value!r}"
        )
    try:
        return parse_block(value)
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(str(err.args[0] if err.args else err)) from err


def validate_param_group_lr(value: Any) -> Dict[str, float]:
    """Check a ``param_group_lr`` block ``{module path: lr}``; floats, or {} when unset."""
    value = to_plain(value)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"param_group_lr: expected a mapping like {{predictor: 0.1}}, got {value!r}"
        )
    out: Dict[str, float] = {}
    for path, lr in value.items():
        if not isinstance(path, str) or not path:
            raise ConfigError(
                f"param_group_lr: keys are module paths like 'predictor', got {path!r}"
            )
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
            raise ConfigError(
                f"param_group_lr.{path}: expected a positive finite learning rate, got {lr!r}"
            )
        out[path] = float(lr)
    return out


def validate_batched_crops(value: Any) -> bool:
    """``batched_crops``: true or false (unset: false)."""
    value = to_plain(value)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ConfigError(f"{BATCHED_CROPS_KEY}: expected true or false, got {value!r}")
    return value


# --- e2mc_linear

_LINEAR_KEYS = ("backbone_lr", "lr_decay_gamma", "head", "classifier_init")
#: ``e2mc_linear.classifier_init`` values (None: as built: the host's Linear keeps PyTorch's
#: default, the res5_pool_bn head is built with the reference's)
CLASSIFIER_INITS = ("reference", "default")
_HEADS = ("res5_pool_bn",)
_HEAD_KEYS = ("name", "kernel", "stride", "batchnorm")


@dataclass(frozen=True)
class HeadSpec:
    kernel: int = 6
    stride: int = 1
    batchnorm: bool = True


@dataclass(frozen=True)
class LinearSpec:
    backbone_lr: Optional[float] = None  # base (per-256) lr; None = the classifier's
    lr_decay_gamma: float = 0.1
    head: Optional[HeadSpec] = None
    classifier_init: Optional[str] = None  # one of CLASSIFIER_INITS, None = as built


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ConfigError(f"{LINEAR_BLOCK}.{key}: expected a positive finite number, got {value!r}")
    return float(value)


def parse_linear_block(block: Any) -> LinearSpec:
    """The ``e2mc_linear:`` block (a mapping or None) -> :class:`LinearSpec`; ConfigError names
    the key and the valid choices."""
    block = to_plain(block)
    if block is None:
        return LinearSpec()
    if not isinstance(block, Mapping):
        raise ConfigError(f"{LINEAR_BLOCK}: expected a mapping, got {type(block).__name__}")
    unknown = sorted(set(block) - set(_LINEAR_KEYS))
    if unknown:
        raise ConfigError(
            f"{LINEAR_BLOCK}: unknown key(s) {unknown}; valid keys: {', '.join(_LINEAR_KEYS)}"
        )
    backbone_lr = block.get("backbone_lr")
    head = block.get("head")
    init = block.get("classifier_init")
    if init is not None and init not in CLASSIFIER_INITS:
        raise ConfigError(
            f"{LINEAR_BLOCK}.classifier_init: unknown initialization {init!r}; valid: "
            f"{', '.join(CLASSIFIER_INITS)} (or null: as built)"
        )
    return LinearSpec(
        backbone_lr=None if backbone_lr is None else _number(backbone_lr, "backbone_lr"),
        lr_decay_gamma=_number(block.get("lr_decay_gamma", 0.1), "lr_decay_gamma"),
        head=None if head is None else _parse_head(head),
        classifier_init=init,
    )


def _parse_head(head: Any) -> HeadSpec:
    if not isinstance(head, Mapping) or head.get("name") not in _HEADS:
        name = head.get("name") if isinstance(head, Mapping) else head
        raise ConfigError(
            f"{LINEAR_BLOCK}.head.name: unknown head {name!r}; valid: {', '.join(_HEADS)}"
        )
    unknown = sorted(set(head) - set(_HEAD_KEYS))
    if unknown:
        raise ConfigError(
            f"{LINEAR_BLOCK}.head: unknown key(s) {unknown}; valid keys: {', '.join(_HEAD_KEYS)}"
        )
    kernel, stride = head.get("kernel", 6), head.get("stride", 1)
    for key, value in (("kernel", kernel), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"{LINEAR_BLOCK}.head.{key}: expected a positive integer, got {value!r}"
            )
    batchnorm = flag(f"{LINEAR_BLOCK}.head.batchnorm", head.get("batchnorm", True))
    return HeadSpec(kernel=kernel, stride=stride, batchnorm=batchnorm)
