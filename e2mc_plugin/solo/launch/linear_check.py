"""``e2mc-plugin linear``: the ``e2mc_linear:`` block checked before the host's job starts.

Hydra turns an exception raised by a hydra callback into a warning and runs the job anyway, and a
recipe without the plugin's callback builds the host's LinearModel, which ignores the block. So
the launcher composes the job's config once, as hydra will (``hydra.compose``: same config
folder, name and overrides), and refuses, before any work:

- a misspelled or misplaced plugin block (``optimizer.e2mc_linear``);
- an ``e2mc_linear`` block without the ``PluginLinearModel`` hydra callback that reads it;
- a bad value in the block (the same parser as the plugin's LinearModel);
- a backbone other than the one the checkpoint's ``args.json`` records
  (:mod:`~e2mc_plugin.solo.launch.linear_backbone`: the host loads with ``strict=False``).

Command lines the compose API does not take (``--cfg``, ``--multirun``, sweeps, other flags) are
left to hydra; the plugin's LinearModel checks the block again in its constructor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from e2mc_plugin.solo.launch.linear_backbone import probe_backbone_problem, run_args
from e2mc_plugin.solo.recipe.linear import parse_linear_block
from e2mc_plugin.solo.recipe.placement import misplaced_recipe_key
from e2mc_plugin.solo.recipe.schema import LINEAR_BLOCK, ConfigError

__all__ = ["CALLBACK_TARGET", "check_linear_recipe", "compose_job"]

CALLBACK_TARGET = "e2mc_plugin.solo.linear_model.PluginLinearModel"
_VERSION_BASE = "1.2"  # main_linear.py's @hydra.main(version_base="1.2")


def _split(args: Sequence[str]) -> Optional[Tuple[Optional[str], Optional[str], List[str]]]:
    """``(config path, config name, overrides)``, or None for a command line with other flags."""
    path = name = None
    overrides: List[str] = []
    it = iter(args)
    for arg in it:
        for flags, slot in ((("--config-path", "-cp"), "path"), (("--config-name", "-cn"), "name")):
            value = None
            if arg in flags:
                value = next(it, None)
            elif any(arg.startswith(f + "=") for f in flags):
                value = arg.split("=", 1)[1]
            if value is not None:
                path, name = (value, name) if slot == "path" else (path, value)
                break
        else:
            if arg.startswith("-"):
                return None
            overrides.append(arg)
    return path, name, overrides


def compose_job(args: Sequence[str]) -> Optional[Any]:
    """The config hydra will compose for ``args`` (with its ``hydra`` node), or None when the
    command line is not one the compose API takes, or composing fails (hydra reports it)."""
    split = _split(args)
    if split is None or split[1] is None:
        return None
    path, name, overrides = split
    try:
        from hydra import compose, initialize, initialize_config_dir
        from hydra.core.global_hydra import GlobalHydra

        if GlobalHydra.instance().is_initialized():
            return None
        init = (
            initialize_config_dir(config_dir=path, version_base=_VERSION_BASE)
            if path
            else initialize(config_path=None, version_base=_VERSION_BASE)
        )
        with init:
            return compose(name, overrides=overrides, return_hydra_config=True)
    except Exception:  # noqa: BLE001 - hydra's own run reports its composition errors
        return None


def _has_callback(cfg: Any) -> bool:
    from omegaconf import OmegaConf

    callbacks = OmegaConf.select(cfg, "hydra.callbacks") or {}
    return any(
        isinstance(c, Mapping) and c.get("_target_") == CALLBACK_TARGET for c in callbacks.values()
    )


def check_linear_recipe(args: Sequence[str]) -> None:
    """:class:`ConfigError` naming the key when the composed job's ``e2mc_linear`` block would be
    ignored or is invalid, or its backbone is not the checkpoint's; nothing when the command line
    cannot be composed here."""
    cfg = compose_job(args)
    if cfg is None:
        return
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    # unresolved: a '???' left for the command line (or an interpolation) is hydra's to report
    job = OmegaConf.to_container(cfg, resolve=False, throw_on_missing=False)
    job.pop("hydra", None)
    problem = misplaced_recipe_key(job)
    if problem:
        raise ConfigError(problem)
    run = run_args(job.get("pretrained_feature_extractor"))
    if run is not None:
        where = str(Path(job["pretrained_feature_extractor"]).parent / "args.json")
        problem = probe_backbone_problem(job, run, where)
        if problem:
            raise ConfigError(problem)
    if job.get(LINEAR_BLOCK) is None:
        return
    if not _has_callback(cfg):
        raise ConfigError(
            f"{LINEAR_BLOCK}: only the plugin's fine-tuning LinearModel reads this block, and "
            f"this recipe builds the host's (no hydra callback {CALLBACK_TARGET}); add "
            f"'hydra: {{callbacks: {{e2mc_linear: {{_target_: {CALLBACK_TARGET}}}}}}}' to the "
            "recipe, or remove the block"
        )
    try:
        block = OmegaConf.select(cfg, LINEAR_BLOCK)
        block = OmegaConf.to_container(block, resolve=True) if block is not None else None
    except OmegaConfBaseException:  # a bad interpolation in the block: hydra reports it
        return
    parse_linear_block(block)
