"""Validation of the recipe blocks the host adapter reads: ``aux_losses``, ``pretrained``,
``param_group_lr``.

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
param_group_lr:             # optional: fixed lr of the host's param group holding exactly the
  predictor: 0.1            # parameters of this module (absolute: not scaled by batch size);
                            # needs scheduler.name: none (the reference SimSiam predictor)
```
Errors are :class:`ConfigError` (a ``ValueError``) whose message starts with the bad key
(``aux_losses[0].name``, ``pretrained.pth``) and lists the valid choices.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

__all__ = [
    "RECIPE_BLOCKS",
    "ConfigError",
    "ADAPTER_KEYS",
    "AuxSpec",
    "to_plain",
    "validate_aux_losses",
    "validate_param_group_lr",
    "validate_pretrained",
]

#: the top-level recipe keys the adapter reads (everything else is the host's)
RECIPE_BLOCKS = ("aux_losses", "pretrained", "param_group_lr")

#: keys of an ``aux_losses`` entry consumed by the adapter (not passed to the aux loss)
ADAPTER_KEYS = ("embedding",)

#: (kwargs for build_aux_losses incl. "name", embedding module path or None = method default)
AuxSpec = Tuple[Dict[str, Any], Optional[str]]


class ConfigError(ValueError):
    """A recipe block is invalid; the message names the key and the valid choices."""


def to_plain(value: Any) -> Any:
    """OmegaConf containers -> plain Python (resolved); anything else unchanged."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(value, (DictConfig, ListConfig)):
            return OmegaConf.to_container(value, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return value


def _aux_registry():
    try:
        from e2mc_plugin.aux_losses import build_aux_losses, list_aux_losses
    except ImportError as err:  # pragma: no cover - the package ships it
        raise ConfigError(f"aux_losses: e2mc_plugin.aux_losses is not importable ({err})") from err
    return build_aux_losses, list_aux_losses


def validate_aux_losses(value: Any) -> List[AuxSpec]:
    """Check an ``aux_losses`` block; return ``[(loss_kwargs, embedding_or_None), ...]``.

    Every entry is built once (cheap, no parameters today) so that unknown names, unknown keyword
    arguments and bad values fail here, before any model is built.
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
    build_aux_losses, list_aux_losses = _aux_registry()
    specs: List[AuxSpec] = []
    for i, entry in enumerate(value):
        key = f"aux_losses[{i}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{key}: expected a mapping with a 'name', got {entry!r}")
        entry = dict(entry)
        if "name" not in entry:
            raise ConfigError(f"{key}.name: missing; valid names: {', '.join(list_aux_losses())}")
        embedding = entry.pop("embedding", None)
        if embedding is not None and (not isinstance(embedding, str) or not embedding):
            raise ConfigError(
                f"{key}.embedding: expected a dotted module path like 'projector' or "
                f"'head.mlp', got {embedding!r}"
            )
        try:
            build_aux_losses([dict(entry)])
        except KeyError as err:  # UnknownNameError lists the valid names
            msg = err.args[0] if err.args else err
            raise ConfigError(f"{key}.name: {msg}") from err
        except TypeError as err:  # unknown / missing keyword argument, named by the loss
            raise ConfigError(f"{key}: {err} (adapter keys: {', '.join(ADAPTER_KEYS)})") from err
        except ValueError as err:  # a bad value (mapping: foo, views: bar...)
            raise ConfigError(f"{key}: {err}") from err
        specs.append((entry, embedding))
    return specs


def validate_pretrained(value: Any) -> Optional[Dict[str, Any]]:
    """Check a ``pretrained`` block; return it with defaults filled, or None when unset.

    The block's schema lives with the loaders (:mod:`e2mc_plugin.checkpoints.recipe`); this adds
    the recipe conveniences (unset -> None, a bare path string, ``format: auto`` -> None) and
    turns its errors into :class:`ConfigError`.
    """
    from e2mc_plugin.checkpoints.recipe import validate_pretrained as validate_block

    value = to_plain(value)
    if value is None or value == {}:
        return None
    if isinstance(value, str):
        value = {"path": value}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"pretrained: expected a mapping {{path, format, strict, trusted}}, got {value!r}"
        )
    try:
        block = validate_block(value)
    except (KeyError, TypeError) as err:
        raise ConfigError(str(err.args[0] if err.args else err)) from err
    block["path"] = str(block["path"])
    if block["format"] in ("auto", ""):
        block["format"] = None
    return block


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
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
            raise ConfigError(
                f"param_group_lr.{path}: expected a positive learning rate, got {lr!r}"
            )
        out[path] = float(lr)
    return out
