"""``e2mc-plugin linear``: the probe's backbone is the one the checkpoint was trained as.

solo-learn's ``main_linear.py`` builds the backbone from the linear recipe (``backbone.name``,
``backbone.kwargs``, ``pretrain_method``), not from the checkpoint, and loads the checkpoint with
``strict=False``: a tensor the built backbone has no place for is dropped and one the checkpoint
lacks stays random, without a word. A DINOv2 ViT-S/14 probed without ``init_values`` loses its
LayerScale gammas; with registers but no ``reg_tokens`` its register tokens; a ``mocov3``
``vit_small`` probed with ``pretrain_method: dino`` has 6 heads instead of 12 (the same shapes);
a ViT checkpoint probed with the recipe's ``resnet18`` trains on a random ResNet.

Every solo-learn run and every ``e2mc-plugin convert`` output keeps the ``args.json`` that
rebuilds its model beside the ``.ckpt`` (``main_knn.py`` reads it). :func:`probe_backbone_problem`
compares the composed linear job with it and returns one line naming what differs and what to set;
the launcher raises it as a :class:`ConfigError` before the host's job starts. Keys that change
only training (dropout rates) or the input sizes accepted (``dynamic_img_size``) are not compared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Mapping, Optional

from e2mc_plugin.checkpoints.vit.target import solo_target
from e2mc_plugin.method_families import host_method

__all__ = ["TRAINING_ONLY_KWARGS", "probe_backbone_problem", "run_args"]

#: timm ViT kwargs that change neither the parameters nor the function at the trained size
TRAINING_ONLY_KWARGS = frozenset({
    "drop_rate", "pos_drop_rate", "patch_drop_rate", "proj_drop_rate", "attn_drop_rate",
    "drop_path_rate", "dynamic_img_size",
})  # fmt: skip


def run_args(checkpoint: Any) -> Optional[dict]:
    """The ``args.json`` beside ``checkpoint`` (a solo-learn run or a converted file), or None
    when the path is not a file or has none beside it."""
    if not isinstance(checkpoint, str) or not Path(checkpoint).is_file():
        return None
    path = Path(checkpoint).parent / "args.json"
    try:
        args = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return args if isinstance(args, dict) and isinstance(args.get("backbone"), dict) else None


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _shown(kwargs: Mapping[str, Any], keys: List[str]) -> str:
    return "{" + ", ".join(f"{k}: {_text(kwargs[k])}" for k in keys if k in kwargs) + "}"


def _kwargs_problem(name: str, job: Mapping, run: Mapping, where: str) -> Optional[str]:
    keys = sorted(k for k in set(job) | set(run) if k not in TRAINING_ONLY_KWARGS)
    differ = [k for k in keys if job.get(k) != run.get(k)]
    if not differ:
        return None
    sets = [f"backbone.kwargs.{k}={_text(run[k])}" for k in differ if k in run]
    drops = [f"backbone.kwargs.{k}" for k in differ if k not in run]
    fixes = ([f"set {', '.join(sets)} ('+' before a key the recipe lacks)"] if sets else []) + (
        [f"remove {', '.join(drops)}"] if drops else []
    )
    return (
        f"backbone.kwargs: the checkpoint's {name} was built with {_shown(run, differ)} "
        f"({where}); this linear job builds it with {_shown(job, differ)}, and main_linear.py "
        f"loads with strict=False (what differs is dropped or left random): {'; '.join(fixes)}"
    )


def probe_backbone_problem(
    job: Mapping[str, Any], run: Mapping[str, Any], where: str
) -> Optional[str]:
    """One line saying how the composed linear ``job`` would build another backbone than the
    checkpoint's ``run`` (its ``args.json``, at ``where``), or None when it builds the same."""
    job_bb, run_bb = job.get("backbone") or {}, run.get("backbone") or {}
    name, run_name = job_bb.get("name"), run_bb.get("name")
    if name != run_name:
        return (
            f"backbone.name: the checkpoint is a {run_name} ({where}); this linear job builds "
            f"{name}, and main_linear.py loads with strict=False (a random backbone would be "
            f"probed): set backbone.name={run_name}"
        )
    kwargs, run_kwargs = dict(job_bb.get("kwargs") or {}), dict(run_bb.get("kwargs") or {})
    problem = _kwargs_problem(str(name), kwargs, run_kwargs, where)
    if problem:
        return problem
    method, run_method = str(job.get("pretrain_method") or ""), str(run.get("method") or "")
    ours, theirs = solo_target(method, name, kwargs), solo_target(run_method, name, run_kwargs)
    if ours is not None and theirs is not None and ours.num_heads != theirs.num_heads:
        return (
            f"pretrain_method: the checkpoint's {name} is {host_method(run_method)}'s "
            f"({theirs.num_heads} heads, {where}); with pretrain_method={method or 'null'} "
            f"main_linear.py builds one with {ours.num_heads} heads (the same shapes, another "
            f"function): set pretrain_method={host_method(run_method)}"
        )
    return None
