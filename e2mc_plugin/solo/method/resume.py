"""Resume policy: a run resumes only with the aux configuration its checkpoint was trained with.

``on_save_checkpoint`` stores the parsed ``aux_losses`` as plain data
(``checkpoint["e2mc_plugin_aux_losses"]``); ``on_load_checkpoint`` compares it with the current
recipe, before any weight is restored. Any difference (another loss, ``[]``, another ``beta``,
another ``embedding``) raises :class:`ConfigError` naming it, unless the recipe sets
``resume_aux_override: true`` (then a WARNING). A checkpoint without the record (a plain host
method, an older plugin) resumes with a WARNING.
"""

from __future__ import annotations

import logging
from typing import Any, Dict

from e2mc_plugin.attach import AUX_RECORD_KEY, describe_aux_change
from e2mc_plugin.solo.recipe.parse import Recipe
from e2mc_plugin.solo.recipe.schema import RESUME_OVERRIDE_KEY, ConfigError

__all__ = ["AUX_RECORD_KEY", "check_resume", "describe_aux_change", "record_aux"]

log = logging.getLogger(__name__)


def record_aux(checkpoint: Dict[str, Any], recipe: Recipe) -> None:
    """Store the aux configuration of ``recipe`` in ``checkpoint``."""
    checkpoint[AUX_RECORD_KEY] = recipe.aux_record()


def check_resume(checkpoint: Dict[str, Any], recipe: Recipe) -> None:
    """Refuse to resume with other ``aux_losses`` than the checkpoint's, unless
    ``resume_aux_override: true`` (then warn)."""
    current = recipe.aux_record()
    if AUX_RECORD_KEY not in checkpoint:
        log.warning(
            "aux_losses: the checkpoint records no aux configuration (saved by a plain host "
            "method or an older e2mc-plugin); resuming with %s",
            current,
        )
        return
    change = describe_aux_change(list(checkpoint[AUX_RECORD_KEY]), current)
    if not change:
        return
    if not recipe.resume_aux_override:
        raise ConfigError(
            f"aux_losses: differs from the checkpoint being resumed ({change}); restore the "
            f"checkpoint's aux_losses, or set {RESUME_OVERRIDE_KEY}: true to resume anyway"
        )
    log.warning(
        "aux_losses: resuming with a different aux configuration (%s; %s: true)",
        change,
        RESUME_OVERRIDE_KEY,
    )
