"""A hydra run's recipe errors as one line naming the recipe file, for ``e2mc-plugin``'s error
policy (``error: <message>``, exit 2; ``e2mc-plugin --traceback`` shows the traceback).

Hydra prints any exception of the job as a long traceback and exits 1, and turns one raised by a
hydra callback into a warning. The launcher sets ``HYDRA_FULL_ERROR=1`` so the exception reaches
it instead, and :func:`recipe_error` turns the recipe's errors (the plugin's
:class:`~e2mc_plugin.solo.recipe.schema.ConfigError`, hydra's composition errors, OmegaConf's)
into a :class:`RecipeError` whose message starts with the recipe file::

    error: recipe /abs/configs/cpu/finetune_cpu.yaml: e2mc_linear.backbone_lr: expected a
    positive number, got -0.02
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

__all__ = ["FULL_ERROR_ENV", "RecipeError", "full_error_value", "recipe_error", "recipe_file"]

#: hydra re-raises the job's exception instead of printing it when this is set
FULL_ERROR_ENV = "HYDRA_FULL_ERROR"

_PATH_FLAGS = ("--config-path", "-cp")
_NAME_FLAGS = ("--config-name", "-cn")


class RecipeError(ValueError):
    """An error of the recipe a hydra launcher composed; the message names the recipe file."""


def _flag(args: Sequence[str], flags: Sequence[str]) -> Optional[str]:
    found = None
    for i, arg in enumerate(args):
        for flag in flags:
            if arg == flag and i + 1 < len(args):
                found = args[i + 1]
            elif arg.startswith(flag + "="):
                found = arg.split("=", 1)[1]
    return found


def recipe_file(args: Sequence[str]) -> Optional[str]:
    """The recipe a hydra command line composes: ``--config-path``/``--config-name`` (``-cp``,
    ``-cn``), else the name under the plugin's ``configs/`` (search-path plugin); the path as
    given when no file is found; None without ``--config-name``."""
    name = _flag(args, _NAME_FLAGS)
    if not name:
        return None
    name = name if name.endswith(".yaml") else f"{name}.yaml"
    folder = _flag(args, _PATH_FLAGS)
    candidates = [Path(folder) / name] if folder else []
    from e2mc_plugin._resources import resource_dir

    configs = resource_dir("configs")
    if configs is not None:
        candidates.append(Path(configs) / name)
    for path in candidates:
        if path.is_file():
            return str(path)
    return str(candidates[0]) if candidates else name


def _is_recipe_error(err: BaseException) -> bool:
    from e2mc_plugin.solo.recipe.schema import ConfigError

    package = type(err).__module__.split(".")[0]
    return isinstance(err, ConfigError) or package in ("hydra", "omegaconf")


def recipe_error(err: BaseException, args: Sequence[str]) -> Optional[RecipeError]:
    """``err`` as a :class:`RecipeError` naming the recipe file, or None if it is not a recipe
    error (the caller re-raises it unchanged)."""
    if not _is_recipe_error(err):
        return None
    text = str(err).strip() or type(err).__name__
    cause = err.__cause__
    if cause is not None and type(cause).__module__.split(".")[0] == "omegaconf":
        text = f"{text} ({str(cause).strip().splitlines()[0]})"
    recipe = recipe_file(args)
    return RecipeError(f"recipe {recipe}: {text}" if recipe else text)


def full_error_value() -> Optional[str]:
    """``"1"`` unless the user set ``HYDRA_FULL_ERROR`` (then unchanged: None)."""
    return None if FULL_ERROR_ENV in os.environ else "1"
