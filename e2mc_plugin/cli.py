"""``e2mc-plugin`` command line: one sub-command per feature, each implemented in its own module.

Every sub-command module exposes ``main(argv: list[str]) -> int``; this file only dispatches, so
importing it stays cheap (torch, lightning and the host are imported by the sub-command).
"""

from __future__ import annotations

import importlib
import sys
from typing import Dict, List, Optional, Tuple

_LAUNCHER = "e2mc_plugin.solo.launcher"

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
    "list": ("e2mc_plugin.cli", "list_registered", "the registered aux losses and loaders"),
}


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
        print(
            f"usage: e2mc-plugin list [--configs-dir | --patches-dir]; got {argv}", file=sys.stderr
        )
        return 2

    import e2mc_plugin
    from e2mc_plugin.checkpoints import get_checkpoint_loader
    from e2mc_plugin.solo.host_info import describe_host, identify_host

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
    return f"usage: e2mc-plugin COMMAND [ARGS...]\n\ncommands:\n{rows}\n"


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        valid = ", ".join(COMMANDS)
        print(f"e2mc-plugin: unknown command {name!r}; valid: {valid}", file=sys.stderr)
        return 2
    module, func, _ = COMMANDS[name]
    return int(getattr(importlib.import_module(module), func)(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
