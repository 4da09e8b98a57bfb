"""The wrapped method's smaller blocks: ``pretrained``, ``param_group_lr``, ``batched_crops`` and
``resume_aux_override``, each read into its typed value (the ``aux_losses`` block is the
host-neutral core's, :mod:`e2mc_plugin.attach.specs`)."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from e2mc_plugin.attach.plain import to_plain
from e2mc_plugin.checkpoints.recipe import PretrainedSpec
from e2mc_plugin.solo.recipe.schema import BATCHED_CROPS_KEY, RESUME_OVERRIDE_KEY, ConfigError
from e2mc_plugin.solo.recipe.values import flag, positive_number

__all__ = [
    "parse_pretrained",
    "validate_batched_crops",
    "validate_param_group_lr",
    "validate_resume_override",
]


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
        out[path] = positive_number(f"param_group_lr.{path}", lr, "learning rate")
    return out


def validate_batched_crops(value: Any) -> bool:
    """``batched_crops``: true or false (unset: false)."""
    value = to_plain(value)
    return False if value is None else flag(BATCHED_CROPS_KEY, value)


def validate_resume_override(value: Any) -> bool:
    """``resume_aux_override``: true or false (unset: false)."""
    value = to_plain(value)
    return False if value is None else flag(RESUME_OVERRIDE_KEY, value)
