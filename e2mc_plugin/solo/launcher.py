"""``e2mc-plugin pretrain|linear|knn|umap [ARGS...] [--solo-src PATH] [--cpu]``.

Runs the host's own launcher (``main_pretrain.py``, ``main_linear.py``, ``main_knn.py``,
``main_umap.py`` of a solo-learn 1.0.6 source checkout) unchanged, in this process, after
registering the plugin's ``<method>_aux`` variants into ``solo.methods.METHODS``::

    sys.argv = [script, *ARGS]
    runpy.run_path("<checkout>/main_pretrain.py", run_name="__main__")

The working directory is not changed; ARGS are the host's own (hydra overrides for pretrain /
linear, argparse flags for knn / umap) plus:

``--solo-src PATH``
    the checkout (else ``$SOLO_LEARN_SRC``, else the checkout of an editable solo install). The
    wheels do not ship the ``main_*.py`` launchers.
    The checkout is put first on ``sys.path`` so its ``solo`` package is the one imported.
``--cpu``
    CPU conveniences. pretrain / linear: appends ``accelerator=cpu``, ``devices='1'`` (solo takes
    ``len(devices)``: an int crashes, ``[0]`` is rejected on CPU), ``strategy=auto``,
    ``sync_batchnorm=False``, ``precision=32`` unless ARGS already set them. knn / umap: those
    launchers hard-code CUDA (``im.cuda()``, ``device = "cuda:0"``); ``--cpu`` runs them with
    ``Tensor.cuda`` / ``Module.cuda`` as no-ops and ``.to("cuda...")`` mapped to the CPU, for the
    duration of the call only. Host files are never edited.

Relative ``--config-path`` / ``-cp`` values are made absolute against the current directory
(hydra would resolve them against the host's ``main_*.py``). With the plugin installed, the
``hydra_plugins.e2mc_plugin_searchpath`` plugin also puts the plugin's ``configs/`` on hydra's
search path: ``--config-name pretrain/vicreg/e2mc`` works without ``--config-path``.

kNN / UMAP rebuild the method from the checkpoint's ``args.json``; the ``pretrained`` block
recorded there is skipped (``E2MC_PLUGIN_SKIP_PRETRAINED=1``): the weights come from the
checkpoint being evaluated.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import runpy
import sys
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

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
CPU_OVERRIDES = (
    ("accelerator", "cpu"),
    ("devices", "'1'"),
    ("strategy", "auto"),
    ("sync_batchnorm", "False"),
    ("precision", "32"),
)


class LauncherError(RuntimeError):
    """The launcher cannot start (no checkout, missing script...)."""


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


def _split_flags(argv: Sequence[str]) -> Tuple[List[str], Optional[str], bool]:
    """Remove the launcher's own flags from argv: ``--solo-src PATH|=PATH``, ``--cpu``."""
    rest: List[str] = []
    solo_src: Optional[str] = None
    cpu = False
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
        else:
            rest.append(arg)
    return rest, solo_src, cpu


def _absolute_config_path(argv: List[str]) -> List[str]:
    out: List[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--config-path", "-cp") and i + 1 < len(argv):
            out += [arg, _abs(argv[i + 1])]
            i += 2
            continue
        for flag in ("--config-path=", "-cp="):
            if arg.startswith(flag):
                arg = flag + _abs(arg[len(flag) :])
        out.append(arg)
        i += 1
    return out


def _abs(path: str) -> str:
    if "://" in path or os.path.isabs(path):
        return path
    return str(Path(path).resolve())


def _override_key(arg: str) -> str:
    return arg.split("=", 1)[0].lstrip("+~") if "=" in arg and not arg.startswith("-") else ""


def _cpu_overrides(argv: List[str]) -> List[str]:
    given = {_override_key(a) for a in argv}
    return [f"++{k}={v}" for k, v in CPU_OVERRIDES if k not in given]


def _to_cpu(device):
    import torch

    if isinstance(device, str) and device.startswith("cuda"):
        return "cpu"
    if isinstance(device, torch.device) and device.type == "cuda":
        return torch.device("cpu")
    if isinstance(device, int) and not isinstance(device, bool):
        return "cpu"  # .to(0) / .cuda(0) style device ordinals
    return device


@contextlib.contextmanager
def cpu_shim() -> Iterator[None]:
    """Run CUDA-hard-coded host code on the CPU: ``Tensor.cuda`` / ``Module.cuda`` return the
    object unchanged and CUDA devices given to ``Tensor.to`` / ``Module.to`` become the CPU.
    Everything is restored on exit."""
    import torch
    from torch import nn

    saved = (torch.Tensor.cuda, nn.Module.cuda, torch.Tensor.to, nn.Module.to)
    tensor_to, module_to = torch.Tensor.to, nn.Module.to

    def tensor_cuda(self, *args, **kwargs):
        return self

    def module_cuda(self, *args, **kwargs):
        return self

    def tensor_to_cpu(self, *args, **kwargs):
        args = tuple(_to_cpu(a) for a in args)
        if "device" in kwargs:
            kwargs["device"] = _to_cpu(kwargs["device"])
        return tensor_to(self, *args, **kwargs)

    def module_to_cpu(self, *args, **kwargs):
        args = tuple(_to_cpu(a) for a in args)
        if "device" in kwargs:
            kwargs["device"] = _to_cpu(kwargs["device"])
        return module_to(self, *args, **kwargs)

    torch.Tensor.cuda, nn.Module.cuda = tensor_cuda, module_cuda
    torch.Tensor.to, nn.Module.to = tensor_to_cpu, module_to_cpu
    try:
        yield
    finally:
        torch.Tensor.cuda, nn.Module.cuda, torch.Tensor.to, nn.Module.to = saved


def _put_checkout_first(root: Path) -> None:
    """Import ``solo`` from the checkout whose launcher runs."""
    loaded = sys.modules.get("solo")
    if loaded is not None:
        where = Path(getattr(loaded, "__file__", "") or ".").resolve()
        if root not in where.parents:
            raise LauncherError(
                f"solo is already imported from {where.parent}, not from the checkout {root}; "
                "run the launcher in a fresh process"
            )
        return
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))


def run(command: str, argv: Sequence[str]) -> int:
    """Run the host's ``main_<command>.py`` with the plugin registered; return its exit code."""
    try:
        args, solo_src, cpu = _split_flags(list(argv))
        root = find_host_checkout(solo_src, command)
        _put_checkout_first(root)
    except LauncherError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    from e2mc_plugin.solo import compat
    from e2mc_plugin.solo.registration import register
    from e2mc_plugin.solo.wrapper import SKIP_PRETRAINED_ENV

    if not compat.CFG_API:
        print(
            f"error: e2mc-plugin {command} runs solo-learn 1.0.6 launchers; this environment "
            f"imports solo-learn {compat.HOST_DIST_VERSION or compat.HOST_VERSION}. Use the Python "
            "API (e2mc_plugin.solo.api) on 1.0.2.",
            file=sys.stderr,
        )
        return 2
    register()

    if command in HYDRA_COMMANDS:
        args = _absolute_config_path(args)
        if cpu:
            args += _cpu_overrides(args)
    env_before = os.environ.get(SKIP_PRETRAINED_ENV)
    if command in ("knn", "umap"):
        os.environ[SKIP_PRETRAINED_ENV] = "1"
    script = root / SCRIPTS[command]
    argv_before = sys.argv
    sys.argv = [str(script), *args]
    try:
        with cpu_shim() if cpu and command in ("knn", "umap") else contextlib.nullcontext():
            runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:  # argparse / hydra exit codes
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        sys.argv = argv_before
        if env_before is None:
            os.environ.pop(SKIP_PRETRAINED_ENV, None)
        else:
            os.environ[SKIP_PRETRAINED_ENV] = env_before
    return 0


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
