"""``RecipeGuard``: a Lightning callback refusing a plain host method that carries plugin blocks.

``method: vicreg`` with ``aux_losses:`` (or ``pretrained:`` / ``param_group_lr:``) builds the
host's own VICReg, which ignores those blocks and trains without them. The ``_aux`` variants exist
to prevent exactly this; the guard catches the plain name at ``setup`` (before the first step, in
every process), and also refuses misspelled or misplaced plugin blocks (``aux_loss:``,
``method_kwargs.aux_losses``) on any method. The plugin adds it to every host Trainer through
the ``callbacks_factory`` entry points (:mod:`e2mc_plugin.solo.launch.callbacks`).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from e2mc_plugin.attach.plain import to_plain
from e2mc_plugin.method_families import SUFFIX
from e2mc_plugin.solo.host import compat
from e2mc_plugin.solo.recipe.placement import misplaced_recipe_key
from e2mc_plugin.solo.recipe.schema import METHOD_BLOCKS, ConfigError

__all__ = ["RecipeGuard", "recipe_problem"]


def _set(value: Any) -> bool:
    value = to_plain(value)
    return value is not None and value != [] and value != {}


def recipe_problem(model: Any) -> Optional[str]:
    """Why ``model`` (a built LightningModule) must not train, or None.

    A wrapped method has parsed its blocks already; a plain host method (1.0.6: its ``cfg``)
    must carry no plugin block and no close misspelling of one.
    """
    from e2mc_plugin.solo.method.mixin import AuxLossesMixin

    if isinstance(model, AuxLossesMixin):
        return None
    cfg = getattr(model, "cfg", None)
    if not isinstance(cfg, Mapping):
        return None  # 1.0.2 keeps no cfg; its constructor received only its own keys
    problem = misplaced_recipe_key(cfg)
    if problem:
        return problem
    blocks = [key for key in METHOD_BLOCKS if _set(cfg.get(key))]
    if not blocks:
        return None
    method = str(cfg.get("method", type(model).__name__.lower()))
    return (
        f"method: {method!r} is the plain host method, which ignores {', '.join(blocks)}; "
        f"use method: {method}{SUFFIX} (the wrapped variant that reads them)"
    )


def _callback_base() -> type:
    return compat.lightning().Callback


class RecipeGuard(_callback_base()):  # type: ignore[misc]
    """Raises :class:`ConfigError` in ``setup`` when :func:`recipe_problem` finds one."""

    def setup(self, trainer: Any, pl_module: Any, stage: Optional[str] = None) -> None:
        problem = recipe_problem(trainer.lightning_module)
        if problem:
            raise ConfigError(problem)
