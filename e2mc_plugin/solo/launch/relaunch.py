"""Every process of a run executes the host's ``main_*.py`` with the plugin registered.

Lightning's ``strategy=ddp`` starts ranks > 0 by re-executing the command line
(``lightning/fabric/strategies/launchers/subprocess_script.py``: ``python abspath(sys.argv[0])
sys.argv[1:]``, plus ``hydra.run.dir=...`` under hydra). If ``sys.argv[0]`` were the host's
``main_pretrain.py``, those ranks would never register the ``<method>_aux`` variants and fail at
``assert cfg.method in METHODS``. So, while the host script runs, :func:`run_host` sets

* ``sys.argv[0]`` = :data:`ENTRY_SCRIPT`, a plugin-owned script in a folder of its own (running it
  puts only that folder on ``sys.path``: nothing there can shadow ``config`` or ``solo``);
* ``$E2MC_PLUGIN_HOST_SCRIPT`` = the host script, inherited by every child process.

A re-launched rank runs the entry script, which calls :func:`rank_main`: the checkout first on
``sys.path``, the host imported without showing its import warnings (the first process showed
them, or hid them, already), the plugin registered, the lr scaled by the real device count, then
the host script exactly as in the parent (same arguments, so ``--cpu`` overrides hold; the
environment, so ``E2MC_PLUGIN_SKIP_PRETRAINED`` and the run summary hold). ``ddp_spawn`` needs
nothing more (the wrapped class unpickles by name, see ``wrapper.__getattr__``); ranks started by
``torchrun`` or ``srun`` each run ``e2mc-plugin`` themselves and Lightning starts no children.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import sys
import types
from pathlib import Path
from typing import Iterator, Optional, Sequence

__all__ = [
    "ENTRY_SCRIPT",
    "HOST_SCRIPT_ENV",
    "LauncherError",
    "environ",
    "prepare_host",
    "rank_main",
    "run_host",
]

HOST_SCRIPT_ENV = "E2MC_PLUGIN_HOST_SCRIPT"
# the script keeps its path from before the adapter's re-layout (solo/rank_entry/)
ENTRY_SCRIPT = Path(__file__).resolve().parents[1] / "rank_entry" / "e2mc_rank.py"
HYDRA_SCRIPTS = ("main_pretrain.py", "main_linear.py")


class LauncherError(RuntimeError):
    """The launcher cannot start (no checkout, missing script, wrong host...)."""


def put_checkout_first(root: Path) -> None:
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


def prepare_host(root: Path, command: str, show_warnings: str = "unlisted") -> int:
    """The checkout's ``solo`` first on ``sys.path``, imported with its import warnings shown as
    ``show_warnings`` says (:func:`e2mc_plugin.solo.host.import_warnings.import_host`), and the
    ``<method>_aux`` variants in its ``METHODS``; returns how many import warnings were hidden.
    Raises :class:`LauncherError` on a host whose profile has no hydra launchers."""
    put_checkout_first(root)
    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.solo.host.import_warnings import import_host
    from e2mc_plugin.solo.method.registration import register

    if compat.PROFILE is None or not compat.PROFILE.hydra_launchers:
        raise LauncherError(
            f"e2mc-plugin {command} runs solo-learn 1.0.6 launchers; this environment imports "
            f"solo-learn {compat.HOST_DIST_VERSION or compat.HOST_VERSION}. Use the Python API "
            "(e2mc_plugin.solo.api) on 1.0.2."
        )
    hidden = import_host(show_warnings)
    register()
    return len(hidden)


@contextlib.contextmanager
def environ(name: str, value: Optional[str]) -> Iterator[None]:
    """``os.environ[name] = value`` within the block (None: unchanged); restored on exit."""
    before = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def run_as_main(script: Path) -> None:
    """Execute ``script`` as the ``__main__`` module, like ``runpy.run_path(script,
    run_name="__main__")`` but leaving ``sys.argv[0]`` alone (``run_path`` sets it to the script
    for the duration of the run, and Lightning re-launches ranks from ``sys.argv[0]``)."""
    code = compile(script.read_bytes(), str(script), "exec")
    module = types.ModuleType("__main__")
    module.__dict__.update(
        __file__=str(script), __builtins__=builtins, __loader__=None, __spec__=None
    )
    before = sys.modules.get("__main__")
    sys.modules["__main__"] = module
    try:
        exec(code, module.__dict__)
    finally:
        if before is not None:
            sys.modules["__main__"] = before


def run_host(script: Path, args: Sequence[str]) -> int:
    """Run ``script`` as ``__main__`` in this process with ``sys.argv = [ENTRY_SCRIPT, *args]``
    and ``$E2MC_PLUGIN_HOST_SCRIPT = script`` (see the module docstring); return its exit code.
    The hydra launchers run with the lr scaled by the real device count (``host_devices``) and
    an auto-resume that skips incomplete checkpoints (``launch/auto_resume.py``)."""
    from e2mc_plugin.solo.host.devices import scaling_by_device_count
    from e2mc_plugin.solo.launch.auto_resume import checked_auto_resume

    argv_before = sys.argv
    sys.argv = [str(ENTRY_SCRIPT), *args]
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(environ(HOST_SCRIPT_ENV, str(script)))
            if script.name in HYDRA_SCRIPTS:
                stack.enter_context(scaling_by_device_count())
                stack.enter_context(checked_auto_resume())  # never a truncated checkpoint
            run_as_main(script)
    except SystemExit as exc:  # argparse / hydra exit codes
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        sys.argv = argv_before
    return 0


def rank_main() -> int:
    """Body of :data:`ENTRY_SCRIPT` in a re-launched rank: the host script named by
    ``$E2MC_PLUGIN_HOST_SCRIPT`` with ``sys.argv[1:]``, the plugin registered first."""
    value = os.environ.get(HOST_SCRIPT_ENV)
    if not value:
        print(
            f"error: {ENTRY_SCRIPT.name} runs a rank of an 'e2mc-plugin' run and needs "
            f"{HOST_SCRIPT_ENV} (set by the launcher); start runs with e2mc-plugin pretrain|linear",
            file=sys.stderr,
        )
        return 2
    script = Path(value)
    if not script.is_file():
        print(f"error: {HOST_SCRIPT_ENV}={value}: no such host script", file=sys.stderr)
        return 2
    try:
        prepare_host(script.parent, script.stem.replace("main_", ""), show_warnings="none")
    except LauncherError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return run_host(script, sys.argv[1:])
