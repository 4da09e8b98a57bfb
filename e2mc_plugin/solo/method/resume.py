"""The wrapped method's side of the resume policy (:mod:`e2mc_plugin.attach.record`, the one
policy both hosts apply): the recipe's aux configuration is recorded in every checkpoint, and a
resume whose ``aux_losses`` differ is refused (``ConfigError`` naming the change) unless the
recipe sets ``resume_aux_override: true``."""

from __future__ import annotations

from typing import Any, Dict

from e2mc_plugin.attach import AUX_RECORD_KEY
from e2mc_plugin.attach import check_resume as check_aux_resume
from e2mc_plugin.solo.recipe.parse import Recipe
from e2mc_plugin.solo.recipe.schema import RESUME_OVERRIDE_KEY

__all__ = ["AUX_RECORD_KEY", "check_resume", "record_aux"]


def record_aux(checkpoint: Dict[str, Any], recipe: Recipe) -> None:
    """Store the aux configuration of ``recipe`` in ``checkpoint``."""
    checkpoint[AUX_RECORD_KEY] = recipe.aux_record()


def check_resume(checkpoint: Dict[str, Any], recipe: Recipe) -> None:
    """Refuse to resume with other ``aux_losses`` than the checkpoint's, unless
    ``resume_aux_override: true`` (then warn)."""
    check_aux_resume(
        checkpoint,
        recipe.aux_record(),
        override=recipe.resume_aux_override,
        how_to_override=f"set {RESUME_OVERRIDE_KEY}: true",
    )
