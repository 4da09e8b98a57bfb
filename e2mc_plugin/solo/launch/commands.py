"""``e2mc-plugin pretrain|linear|knn|umap [ARGS...] [--solo-src PATH] [--cpu] [--verbose]``.

Runs the host's own launcher (``main_pretrain.py``, ``main_linear.py``, ``main_knn.py``,
``main_umap.py`` of a solo-learn 1.0.6 source checkout) unchanged, in this process, after
registering the plugin's ``<method>_aux`` variants into ``solo.methods.METHODS``
(:mod:`e2mc_plugin.solo.launch.relaunch`; every DDP rank does the same)::

    sys.argv = [<plugin rank entry script>, *ARGS]
    exec "<checkout>/main_pretrain.py" as __main__   # like runpy.run_path, argv[0] kept

The working directory is not changed; ARGS are the host's own (hydra overrides for pretrain /
linear, argparse flags for knn / umap) plus:

``--solo-src PATH``
    the checkout (else ``$SOLO_LEARN_SRC``, else the checkout of an editable solo install). The
    wheels do not ship the ``main_*.py`` launchers.
    The checkout is put first on ``sys.path`` so its ``solo`` package is the one imported.
``--cpu``
    CPU conveniences. pretrain / linear: appends ``accelerator=cpu``, ``devices='1'``,
    ``strategy=auto``, ``sync_batchnorm=False``, ``precision=32`` unless ARGS already set them
    (``--cpu strategy=ddp devices=2``: two CPU processes over gloo). knn / umap: those launchers
    hard-code CUDA; ``--cpu`` runs them under :func:`~e2mc_plugin.solo.launch.cpu_shim.cpu_shim`.
``--verbose``
    also show the warnings the host's imports print about its own dependencies (timm's moved
    modules, solo's registry overwrites...: the list and the reasons are in
    :mod:`e2mc_plugin.solo.host.import_warnings`), each once. Without it they are hidden; the
    run's first line names the host and says how many were hidden. Ranks that Lightning
    re-launches never show them again.

pretrain / linear also: relative ``--config-path`` / ``-cp`` values are made absolute, a value
holding ``=`` is quoted (:mod:`e2mc_plugin.solo.launch.overrides`), solo's lr scaling counts the
processes Lightning really starts (``devices=2`` works; :mod:`e2mc_plugin.solo.host.devices`),
and the run ends with its checkpoint folder, ``metrics.json`` and final metrics
(:mod:`e2mc_plugin.solo.launch.callbacks`). With the plugin installed, the
``hydra_plugins.e2mc_plugin_searchpath`` plugin puts the plugin's ``configs/`` on hydra's search
path: ``--config-name pretrain/vicreg/e2mc`` works without ``--config-path``.

kNN / UMAP rebuild the method from the checkpoint's ``args.json``; the ``pretrained`` block
recorded there is skipped (``E2MC_PLUGIN_SKIP_PRETRAINED=1``): the weights come from the
checkpoint being evaluated, and a moved or deleted init file does not matter. kNN ends with its
results, also written to ``knn_metrics.json`` in the evaluated checkpoint folder.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import traceback
from importlib import metadata
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from e2mc_plugin.solo.launch.cpu_shim import cpu_shim
from e2mc_plugin.solo.launch.overrides import (
    absolute_config_path,
    cpu_overrides,
    quote_equals,
    renamed_recipe,
)
from e2mc_plugin.solo.launch.recipe_errors import FULL_ERROR_ENV, full_error_value, recipe_error
from e2mc_plugin.solo.launch.relaunch import LauncherError, environ, prepare_host, run_host

__all__ = [
    "main_pretrain",
    "main_linear",
    "main_knn",
    "main_umap",
    "find_host_checkout",
    "cpu_shim",
    "LauncherError",
    "SOLO_SRC_ENV",
]

SOLO_SRC_ENV = "SOLO_LEARN_SRC"
SCRIPTS = {
    "pretrain": "main_pretrain.py",
    "linear": "main_linear.py",
    "knn": "main_knn.py",
    "umap": "main_umap.py",
}
HYDRA_COMMANDS = ("pretrain", "linear")
CALLBACKS_GROUP = "lightning.pytorch.callbacks_factory"  # the 1.0.6 host's Lightning 2.x
_CALLBACK_MODULE = "e2mc_plugin.solo.launch.callbacks"  # the entry point setup.cfg declares


def _installed_checkout(script: str) -> Optional[str]:
    """Root of the source checkout of an editable ``solo`` install, if it holds ``script``."""
    spec = importlib.util.find_spec("solo")
    if spec is None or not spec.origin:
        return None
    root = Path(spec.origin).resolve().parent.parent
    return str(root) if (root / script).is_file() else None


def find_host_checkout(solo_src: Optional[str] = None, command: str = "pretrain") -> Path:
    """The solo-learn source checkout holding ``main_<command>.py``: ``solo_src``, else
    ``$SOLO_LEARN_SRC``, else the checkout the installed ``solo`` package was installed from
    (an editable install). Raises :class:`LauncherError` with what to do otherwise."""
    script = SCRIPTS[command]
    src = solo_src or os.environ.get(SOLO_SRC_ENV) or _installed_checkout(script)
    if not src:
        raise LauncherError(
            f"e2mc-plugin {command}: cannot find solo-learn's {script}. The solo-learn wheels do "
            f"not ship the main_*.py launchers: pass --solo-src /path/to/solo-learn (a source "
            f"checkout, e.g. git clone https://github.com/vturrisi/solo-learn) or set "
            f"{SOLO_SRC_ENV}=/path/to/solo-learn"
        )
    root = Path(src).expanduser().resolve()
    if not (root / script).is_file():
        how = "--solo-src" if solo_src else SOLO_SRC_ENV
        raise LauncherError(
            f"e2mc-plugin {command}: {root / script} does not exist ({how}={src}); point it at "
            f"the root of a solo-learn 1.0.6 source checkout (the folder with main_pretrain.py "
            f"and solo/)"
        )
    return root


def _split_flags(argv: Sequence[str]) -> Tuple[List[str], Optional[str], bool, bool]:
    """Remove the launcher's own flags from argv: ``--solo-src PATH|=PATH``, ``--cpu``,
    ``--verbose``; returns ``(rest, solo_src, cpu, verbose)``."""
    rest: List[str] = []
    solo_src: Optional[str] = None
    cpu = verbose = False
    it = iter(argv)
    for arg in it:
        if arg == "--solo-src":
            solo_src = next(it, None)
            if solo_src is None:
                raise LauncherError("--solo-src needs a path")
        elif arg.startswith("--solo-src="):
            solo_src = arg.split("=", 1)[1]
        elif arg == "--cpu":
            cpu = True
        elif arg == "--verbose":
            verbose = True
        else:
            rest.append(arg)
    return rest, solo_src, cpu, verbose


def _summary_installed() -> bool:
    """Whether this install declares the plugin's ``callbacks_factory`` entry point."""
    return any(
        ep.value.split(":")[0] == _CALLBACK_MODULE
        for ep in metadata.entry_points(group=CALLBACKS_GROUP)
    )


def _hydra_args(args: List[str], cpu: bool) -> Tuple[List[str], List[str]]:
    renamed_recipe(args)
    args, notes = quote_equals(absolute_config_path(args))
    return (args + cpu_overrides(args) if cpu else args), notes


def _first_process() -> bool:
    """False in the ranks > 0 that ``torchrun`` / ``srun`` start, each running the launcher: the
    first one already showed the host and its import warnings."""
    rank = os.environ.get("RANK") or os.environ.get("SLURM_PROCID") or "0"
    return not rank.isdigit() or int(rank) == 0


def _first_line(command: str, root: Path, hidden: int) -> str:
    """The launcher's first line: which host runs, and the import warnings it did not show."""
    from e2mc_plugin.solo.host import compat

    host = compat.HOST
    commit = f", commit {host.commit}" if host.commit else ""
    line = (
        f"e2mc-plugin {command}: solo-learn {host.family} ({host.layout} layout{commit}) at {root}"
    )
    if hidden:
        line += f"; {hidden} warnings of the host's imports hidden (--verbose shows them)"
    return line


def _cuda_hint(command: str, err: BaseException) -> Optional[str]:
    """The hint for a CUDA failure of knn / umap without ``--cpu`` on a machine with no GPU."""
    import torch

    text = f"{type(err).__name__} {err}".lower()
    if torch.cuda.is_available() or not ("cuda" in text or "nvidia" in text):
        return None
    return (
        f"e2mc-plugin {command}: this machine has no usable CUDA device and the host's "
        f"{SCRIPTS[command]} moves the model and batches to CUDA; add --cpu "
        f"(e2mc-plugin {command} --cpu ...)"
    )


def run(command: str, argv: Sequence[str]) -> int:
    """Run the host's ``main_<command>.py`` with the plugin registered; return its exit code.

    A command line it cannot run raises :class:`LauncherError` / :class:`OverrideError`, which
    ``e2mc-plugin`` reports like every sub-command's input errors (:mod:`e2mc_plugin.cli`).
    """
    notes: List[str] = []
    args, solo_src, cpu, verbose = _split_flags(list(argv))
    root = find_host_checkout(solo_src, command)
    first = _first_process()
    hidden = prepare_host(root, command, ("all" if verbose else "unlisted") if first else "none")
    if first:
        print(_first_line(command, root, hidden), file=sys.stderr, flush=True)
    if command in HYDRA_COMMANDS:
        args, notes = _hydra_args(args, cpu)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)

    from e2mc_plugin.solo.launch.launched import SUMMARY_ENV
    from e2mc_plugin.solo.launch.run_summary import Tee, knn_summary, umap_summary
    from e2mc_plugin.solo.method.wrapper import SKIP_PRETRAINED_ENV

    tee: Optional[Tee] = None
    with contextlib.ExitStack() as stack:
        if command in HYDRA_COMMANDS:
            stack.enter_context(environ(SUMMARY_ENV, command))
            # the job's exceptions reach recipe_error below instead of hydra's long print
            stack.enter_context(environ(FULL_ERROR_ENV, full_error_value()))
            if not _summary_installed():
                print(
                    f"note: this e2mc-plugin install does not declare its {CALLBACKS_GROUP} "
                    "entry point (an install older than the source); reinstall it "
                    "(pip install -e .) to get the end-of-run summary",
                    file=sys.stderr,
                )
        else:
            stack.enter_context(environ(SKIP_PRETRAINED_ENV, "1"))
        if cpu and command in ("knn", "umap"):
            stack.enter_context(cpu_shim())
        if command == "knn":
            tee = Tee(sys.stdout)
            stack.enter_context(contextlib.redirect_stdout(tee))
        try:
            if command == "linear":
                # imported here: it reads the recipe schema, which imports the host detector;
                # that must run after prepare_host put the checkout's solo first on sys.path
                from e2mc_plugin.solo.launch.linear_check import check_linear_recipe

                check_linear_recipe(args)  # before hydra's callbacks could swallow an error
            code = run_host(root / SCRIPTS[command], args)
        except Exception as err:
            if command in HYDRA_COMMANDS:
                recipe = recipe_error(err, args)
                if recipe is not None:
                    raise recipe from err
            hint = None if cpu or command in HYDRA_COMMANDS else _cuda_hint(command, err)
            if hint is None:
                raise
            traceback.print_exc()
            print(f"\nerror: {hint}", file=sys.stderr)
            return 1
    if code == 0 and tee is not None:
        knn_summary(args, tee.getvalue())
    elif code == 0 and command == "umap":
        umap_summary()
    return code


def main_pretrain(argv: Sequence[str]) -> int:
    """``e2mc-plugin pretrain``: the host's ``main_pretrain.py`` (hydra)."""
    return run("pretrain", argv)


def main_linear(argv: Sequence[str]) -> int:
    """``e2mc-plugin linear``: the host's ``main_linear.py`` (hydra)."""
    return run("linear", argv)


def main_knn(argv: Sequence[str]) -> int:
    """``e2mc-plugin knn``: the host's ``main_knn.py`` (argparse)."""
    return run("knn", argv)


def main_umap(argv: Sequence[str]) -> int:
    """``e2mc-plugin umap``: the host's ``main_umap.py`` (argparse)."""
    return run("umap", argv)
