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
    "report": (
        "e2mc_plugin.report.cli",
        "main",
        "sweep table and plot (kNN / linear vs a coefficient) of solo-learn run folders",
    ),
    "list": ("e2mc_plugin.cli", "list_registered", "the registered aux losses and loaders"),
}


def list_registered(argv: List[str]) -> int:
    """Print the registered aux losses and checkpoint loaders."""
    import e2mc_plugin

    print("aux losses:        ", ", ".join(e2mc_plugin.list_aux_losses()))
    print("checkpoint loaders:", ", ".join(e2mc_plugin.list_checkpoint_loaders()))
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
