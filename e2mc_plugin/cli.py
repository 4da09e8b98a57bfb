"""``e2mc-plugin`` command line: one sub-command per feature, each implemented in its own module.

Every sub-command module exposes ``main(argv: list[str]) -> int``; this file only dispatches, so
importing it stays cheap (torch, lightning and the host are imported by the sub-command).

Errors: an expected error (bad input: the plugin's own errors, ``ValueError`` / ``TypeError`` /
``KeyError`` raised by plugin code, a missing or unwritable file) prints ``error: <its message>``
and exits 2; any other exception prints one line and a hint, and exits 1 (the launcher's
commands, pretrain / linear / knn / umap, print its traceback first: a run may have taken hours).
``e2mc-plugin --traceback COMMAND ...`` lets every exception through with its full traceback.
Recipe errors of pretrain / linear arrive as one line naming the recipe file and the key
(:mod:`e2mc_plugin.solo.launch.recipe_errors`).
"""

from __future__ import annotations

import importlib
import os
import sys
import sysconfig
import traceback
from typing import Dict, List, Optional, Tuple

_LAUNCHER = "e2mc_plugin.solo.launch.commands"

# name -> (module, function, one-line help)
COMMANDS: Dict[str, Tuple[str, str, str]] = {
    "pretrain": (_LAUNCHER, "main_pretrain", "the host's main_pretrain.py, plugin registered"),
    "linear": (_LAUNCHER, "main_linear", "the host's main_linear.py, plugin registered"),
    "knn": (_LAUNCHER, "main_knn", "the host's main_knn.py, plugin registered"),
    "umap": (_LAUNCHER, "main_umap", "the host's main_umap.py, plugin registered"),
    "convert": (
        "e2mc_plugin.checkpoints.convert",
        "main",
        "a checkpoint -> a host checkpoint directory (.ckpt + args.json)",
    ),
    "demo": (
        "e2mc_plugin.demo.cli",
        "main",
        "base -> continued (none vs E2MC) -> kNN / linear probes, on embedded digits",
    ),
    "diagnose": (
        "e2mc_plugin.diagnostics.cli",
        "main",
        "plots of a checkpoint's mapped marginals, 2-D scatters, neighbour distances",
    ),
    "voc07-svm": (
        "e2mc_plugin.evaluation.voc07_cli",
        "main",
        "VOC07 mAP of per-class linear SVMs on a checkpoint's frozen pooled features",
    ),
    "report": (
        "e2mc_plugin.report.cli",
        "main",
        "sweep table and plot (kNN / linear vs a coefficient) of solo-learn run folders",
    ),
    "reproduce": (
        "e2mc_plugin.reproduce.cli",
        "main",
        "one row of the paper's tables: pretraining, probes, the comparison (--plan, --smoke)",
    ),
    "list": ("e2mc_plugin.cli", "list_registered", "the registered aux losses and loaders"),
}


class UsageError(ValueError):
    """A sub-command's arguments are wrong (reported like every input error: one line, exit 2)."""


def list_registered(argv: List[str]) -> int:
    """Print the host, the aux losses, the checkpoint loaders and where recipes / patches are.

    ``--configs-dir`` / ``--patches-dir`` print only that folder (for scripts, e.g.
    ``git apply $(e2mc-plugin list --patches-dir)/*.patch``).
    """
    from e2mc_plugin._resources import resource_dir, resource_origin

    for flag, name in (("--configs-dir", "configs"), ("--patches-dir", "patches")):
        if flag in argv:
            found = resource_dir(name)
            if found is None:
                print(f"e2mc-plugin: no {name}/ folder found", file=sys.stderr)
                return 1
            print(found)
            return 0
    if argv:
        raise UsageError(f"usage: e2mc-plugin list [--configs-dir | --patches-dir]; got {argv}")

    import e2mc_plugin
    from e2mc_plugin.checkpoints import get_checkpoint_loader
    from e2mc_plugin.solo.host.detect import describe_host, identify_host

    print(f"e2mc-plugin {e2mc_plugin.__version__}")
    launcher, imported = identify_host(), identify_host(use_env=False)
    print(f"host:              {describe_host(launcher)}")
    if imported.package_dir != launcher.package_dir:  # $SOLO_LEARN_SRC is not `import solo`
        print(f"import solo:       {describe_host(imported)}")
    print("aux losses:       ", ", ".join(e2mc_plugin.list_aux_losses()))
    names = e2mc_plugin.list_checkpoint_loaders()
    print("checkpoint loaders:", ", ".join(names))
    width = max(map(len, names))
    for name in names:
        loader = get_checkpoint_loader(name)
        print(f"  {name:<{width}} -> {loader.method or '-':<13} {loader.layout}")
    for name in ("configs", "patches"):
        label = "recipes" if name == "configs" else "patches"
        print(f"{label + ':':<19}{resource_dir(name)} ({resource_origin(name)})")
    return 0


def _usage() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {help_}" for name, (_, _, help_) in COMMANDS.items())
    return (
        f"usage: e2mc-plugin [--traceback] COMMAND [ARGS...]\n\ncommands:\n{rows}\n\n"
        "--traceback: show the full traceback of an error instead of its one-line message\n"
    )


_PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
_STDLIB_DIRS = tuple(
    os.path.abspath(sysconfig.get_paths()[k]) + os.sep for k in ("stdlib", "platstdlib")
)
# input errors: their message names the bad value, so a traceback adds nothing for the user
_INPUT_ERRORS = (ValueError, TypeError, KeyError)
_FILE_ERRORS = (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError,
                NotADirectoryError)  # fmt: skip


def _raised_by_plugin(err: BaseException) -> bool:
    """True if the innermost frame outside the standard library is plugin code."""
    tb, last = err.__traceback__, None
    while tb is not None:
        filename = os.path.abspath(tb.tb_frame.f_code.co_filename)
        if not filename.startswith(_STDLIB_DIRS):
            last = filename
        tb = tb.tb_next
    return last is not None and last.startswith(_PLUGIN_DIR + os.sep)


def is_expected_error(err: BaseException) -> bool:
    """An error about the user's input rather than a bug (see the module docstring)."""
    if type(err).__module__.split(".")[0] == "e2mc_plugin" or isinstance(err, _FILE_ERRORS):
        return True
    return isinstance(err, _INPUT_ERRORS) and _raised_by_plugin(err)


def error_message(err: BaseException) -> str:
    """The error's own message (``KeyError`` and ``OSError(errno, text)`` without decoration)."""
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        return err.args[0]
    if isinstance(err, OSError) and err.strerror and err.filename is None:
        return err.strerror
    return str(err) or type(err).__name__


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    show_traceback = bool(argv) and argv[0] == "--traceback"
    if show_traceback:
        argv = argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        valid = ", ".join(COMMANDS)
        print(f"e2mc-plugin: unknown command {name!r}; valid: {valid}", file=sys.stderr)
        return 2
    module, func, _ = COMMANDS[name]
    try:
        return int(getattr(importlib.import_module(module), func)(rest) or 0)
    except Exception as err:
        if show_traceback:
            raise
        if is_expected_error(err):
            print(f"error: {error_message(err)}", file=sys.stderr)
            return 2
        first = (str(err).strip().splitlines() or [""])[0]
        if module == _LAUNCHER:  # a run of hours: its traceback now, not after a rerun
            traceback.print_exc()
            print(f"error: {type(err).__name__}: {first} (unexpected error)", file=sys.stderr)
            return 1
        print(
            f"error: {type(err).__name__}: {first}\n(unexpected error; run 'e2mc-plugin "
            f"--traceback {name} ...' for the full traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
