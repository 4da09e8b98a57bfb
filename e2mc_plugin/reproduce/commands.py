"""One :class:`~e2mc_plugin.reproduce.plan.Stage` per launcher call, with its exact command.

Every stage calls a tool the project already has, as a user would: ``e2mc-plugin convert`` (the
base release -> a host checkpoint), ``configs/linear/make_imagenet_subset.sh`` (a SimCLR label
list -> a folder of links), ``e2mc-plugin pretrain`` (continued pretraining), ``e2mc-plugin
linear`` (linear probes, semi-supervised fine-tuning, the iNat18 probe) and ``e2mc-plugin
voc07-svm``. Each writes only under its attempt folder (``checkpoint.dir``, ``--out``).

Probes are seeded: solo-learn's ``main_linear.py`` records ``seed`` but never calls
``seed_everything``, so the command adds the hydra callback
:class:`~e2mc_plugin.reproduce.seeding.SeedEverything`. Paths are passed single-quoted to hydra
(solo's checkpoint names hold ``=``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence, Tuple

from e2mc_plugin.reproduce.plan import ATTEMPT, Arg, Inputs, Part, Ref, Settings, Stage
from e2mc_plugin.reproduce.recipes import recipe_facts
from e2mc_plugin.reproduce.rows import COLUMNS, Row

__all__ = [
    "SEED_CALLBACK",
    "SMOKE_PRETRAIN_EPOCHS",
    "convert_stage",
    "probe_stage",
    "pretrain_stage",
    "resume_override",
    "subset_stage",
    "voc07_stage",
]

#: ``--smoke`` pretraining epochs (the CPU recipes say 1): a stage stopped after the first
#: epoch's checkpoint has an epoch left to go on with
SMOKE_PRETRAIN_EPOCHS = 2
SEED_CALLBACK = "+hydra.callbacks.e2mc_seed._target_=e2mc_plugin.reproduce.seeding.SeedEverything"


def _args(*items: "Arg | str") -> Tuple[Arg, ...]:
    return tuple(a if isinstance(a, Arg) else Arg.of(a) for a in items)


def _hydra(key: str, *value: Part) -> Arg:
    """``key='value'``: quoted, as hydra needs for solo's ``...-ep=9.ckpt`` names."""
    return Arg.of(f"{key}='", *value, "'")


def _check_quotable(path: Path) -> str:
    text = str(path)
    if "'" in text:
        raise ValueError(f"{text}: a path with a single quote cannot be passed to hydra; rename it")
    return text


def model_checkpoint(model: str, key: str = "ckpt") -> Ref:
    """The checkpoint (``key="folder"``: its folder, with ``args.json``) a model's probes read:
    the converted base release or a pretraining run."""
    return Ref("convert-base", key) if model == "base" else Ref(f"pretrain-{model}", key)


def _launcher_runtime(settings: Settings, recipe: str) -> Tuple[str, ...]:
    """``devices=N optimizer.batch_size=B`` keeping the recipe's global batch; ``--solo-src``."""
    out: Tuple[str, ...] = ()
    if not settings.smoke:
        facts = recipe_facts(recipe)
        out = (
            f"devices={settings.devices}",
            f"optimizer.batch_size={facts.batch_split(settings.devices)}",
        )
    if settings.solo_src is not None:
        out = ("--solo-src", str(settings.solo_src), *out)
    return out


def _launcher_stage(
    command: str,
    recipe: str,
    overrides: Sequence["Arg | str"],
    run_seed: int,
    settings: Settings,
    *,
    after: Sequence[str] = (),
    **stage: Any,
) -> Stage:
    """A hydra launcher call (``e2mc-plugin pretrain|linear``)::

        e2mc-plugin COMMAND [--cpu] --config-name RECIPE OVERRIDES... \\
            checkpoint.dir='<attempt>/ckpt' ++seed=RUN_SEED AFTER...

    then, outside the identity, the devices and the batch split keeping the recipe's global
    batch; ``stage``: the other :class:`Stage` fields (id, kind, title...)."""
    args = _args(
        command,
        *(["--cpu"] if settings.smoke else []),
        "--config-name",
        recipe,
        *overrides,
        _hydra("checkpoint.dir", ATTEMPT, "/ckpt"),
        f"++seed={run_seed}",
        *after,
    )
    return Stage(
        program="e2mc-plugin",
        args=args,
        runtime_args=_launcher_runtime(settings, recipe),
        recipe=recipe,
        **stage,
    )


def resume_override(checkpoint: Path) -> str:
    """``++resume_from_checkpoint='PATH'``: a pretraining run goes on from ``checkpoint``
    (solo's ``main_pretrain.py`` passes it to ``trainer.fit(ckpt_path=...)``)."""
    return f"++resume_from_checkpoint='{_check_quotable(checkpoint)}'"


def convert_stage(row: Row, inputs: Inputs) -> Stage:
    args = _args(
        "convert",
        _check_quotable(inputs.checkpoint),
        "--out",
        Arg.of(ATTEMPT, "/base"),
        "--name",
        "base",
        "--format",
        row.checkpoint_format,
    )
    return Stage(
        id="convert-base",
        kind="convert",
        title="the base release -> a host checkpoint",
        program="e2mc-plugin",
        args=args,
        model="base",
    )


def subset_stage(inputs: Inputs, labels: int, script: Path) -> Stage:
    train = _check_quotable(inputs.imagenet / "train")
    listed = _check_quotable(inputs.label_lists / f"{labels}percent.txt")
    args = _args(str(script), train, listed, Arg.of(ATTEMPT, f"/imagenet_{labels}pct"))
    return Stage(
        id=f"subset-{labels}pct",
        kind="subset",
        title=f"ImageNet train, {labels}% of the labels",
        program="bash",
        args=args,
        labels=labels,
    )


def pretrain_stage(row: Row, model: str, inputs: Inputs, settings: Settings) -> Stage:
    smoke = settings.smoke
    recipe = row.smoke_recipe(model) if smoke else row.variants[model]
    ckpt = _check_quotable(inputs.checkpoint)
    if smoke:  # the CPU variants say `pretrained: null`: the whole block
        spec = f"{{path: '{ckpt}', format: {row.checkpoint_format}, strict: true, trusted: false}}"
        pretrained = Arg.of(f"pretrained={spec}")
    else:
        pretrained = _hydra("pretrained.path", ckpt)
    overrides = [_hydra("data.train_path", _check_quotable(inputs.imagenet / "train")), pretrained]
    if smoke:  # an epoch-end checkpoint before the last: what a stopped stage goes on from
        overrides.append(f"max_epochs={SMOKE_PRETRAIN_EPOCHS}")
    return _launcher_stage(
        "pretrain",
        recipe,
        overrides,
        settings.seeds[0],
        settings,
        id=f"pretrain-{model}",
        kind="pretrain",
        title=f"continued pretraining: {model}",
        model=model,
    )


def _probe_data(kind: str, labels: int, inputs: Inputs) -> Tuple[Arg, Arg]:
    if kind == "inat18":
        assert inputs.inat18 is not None
        root = _check_quotable(inputs.inat18)
        return _hydra("data.train_path", root, "/train"), _hydra("data.val_path", root, "/val")
    val = _hydra("data.val_path", _check_quotable(inputs.imagenet / "val"))
    if labels == 100:
        return _hydra("data.train_path", _check_quotable(inputs.imagenet / "train")), val
    return _hydra("data.train_path", Ref(f"subset-{labels}pct", "folder")), val


def probe_stage(
    row: Row, model: str, column: str, seed: int, inputs: Inputs, settings: Settings
) -> Stage:
    """A linear probe, semi-supervised fine-tuning or the iNat18 probe (``e2mc-plugin linear``)."""
    evaluation = COLUMNS[column]
    train, val = _probe_data(evaluation.kind, evaluation.labels, inputs)
    overrides = (
        f"pretrain_method={row.method}",
        _hydra("pretrained_feature_extractor", model_checkpoint(model)),
        train,
        val,
    )
    what = {
        "linear": "linear probe",
        "semisup": "semi-supervised fine-tuning",
        "inat18": "iNat18 linear probe",
    }[evaluation.kind]
    share = "" if evaluation.kind == "inat18" else f", {evaluation.labels}% labels"
    return _launcher_stage(
        "linear",
        evaluation.recipe(row.method, settings.smoke),
        overrides,
        seed,
        settings,
        id=stage_id(column, model, seed),
        kind=evaluation.kind,
        title=f"{what}{share}: {model}, seed {seed}",
        model=model,
        column=column,
        seed=seed,
        after=(SEED_CALLBACK,),
        labels=evaluation.labels,
    )


def voc07_stage(model: str, inputs: Inputs, settings: Settings) -> Stage:
    assert inputs.voc07 is not None
    # the run folder: voc07-svm reads the backbone's name from its args.json
    args = _args(
        "voc07-svm",
        Arg.of(model_checkpoint(model, "folder")),
        "--voc-root",
        _check_quotable(inputs.voc07),
        "--out",
        Arg.of(ATTEMPT, "/voc07.json"),
    )
    return Stage(
        id=stage_id("voc07", model, None),
        kind="voc07",
        title=f"VOC07 linear SVMs: {model}",
        program="e2mc-plugin",
        args=args,
        runtime_args=() if settings.smoke else ("--device", "cuda"),
        model=model,
        column="voc07",
    )


def stage_id(column: str, model: str, seed: Optional[int]) -> str:
    """``linear-1pct-e2mc-s31``, ``semisup-10pct-base-s32``, ``inat18-e2mc-s31``, ``voc07-base``."""
    evaluation = COLUMNS[column]
    share = "" if evaluation.transfer else f"-{evaluation.labels}pct"
    suffix = "" if seed is None else f"-s{seed}"
    return f"{evaluation.kind}{share}-{model}{suffix}"
