"""Rewrites of the hydra command line that ``e2mc-plugin pretrain|linear`` passes to the host.

* ``--config-path`` / ``-cp``: made absolute against the current directory (hydra would resolve
  a relative one against the host's ``main_*.py``).
* ``--cpu``: ``++accelerator=cpu ++devices='1' ++strategy=auto ++sync_batchnorm=False
  ++precision=32``, each unless the command line already sets that key.
* a value holding ``=`` (``pretrained_feature_extractor=/runs/x-ep=0.ckpt``, solo's own checkpoint
  names): hydra's grammar rejects it unquoted (``mismatched input '='``). A plain value is quoted
  for the user (``key='/runs/x-ep=0.ckpt'``); a structured one (``{...}``, ``[...]``) raises
  :class:`OverrideError` with the quoted form to type instead.
* a recipe folder that was renamed (:data:`RENAMED_GROUPS`): :class:`OverrideError` naming the new
  name (``configs/finetune/`` became ``configs/finetuning/``: a config folder on hydra's search
  path is a config group, and the group ``finetune`` made the host's key ``finetune=False``
  impossible to set on the command line).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

__all__ = [
    "CPU_OVERRIDES",
    "RENAMED_GROUPS",
    "OverrideError",
    "absolute_config_path",
    "cpu_overrides",
    "override_key",
    "quote_equals",
    "renamed_recipe",
]

#: recipe folders of the plugin's configs/ that were renamed: old -> new
RENAMED_GROUPS = {"finetune": "finetuning"}

CPU_OVERRIDES: Tuple[Tuple[str, str], ...] = (
    ("accelerator", "cpu"),
    ("devices", "'1'"),
    ("strategy", "auto"),
    ("sync_batchnorm", "False"),
    ("precision", "32"),
)
# characters that make a value structured (or already quoted / interpolated) in hydra's grammar
_STRUCTURE = set("{}[](),'\"$ \t")
# an unquoted token holding '=' inside a structured value: a run of non-delimiters around '='
_TOKEN_WITH_EQUALS = re.compile(r"""(?<![\w'"./-])([^\s,{}\[\]()'":]*=[^\s,{}\[\]()'"]*)""")


# hydra's flags whose next argument is their value, not an override
_VALUE_FLAGS = frozenset({"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd"})


class OverrideError(ValueError):
    """A hydra override that cannot be parsed; the message shows how to write it."""


def _abs(path: str) -> str:
    if "://" in path or os.path.isabs(path):
        return path
    return str(Path(path).resolve())


def absolute_config_path(argv: Sequence[str]) -> List[str]:
    """``--config-path X`` / ``--config-path=X`` / ``-cp X`` / ``-cp=X`` with X made absolute."""
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


def override_key(arg: str) -> str:
    """``"++a.b=1"`` -> ``"a.b"``; ``""`` for flags and for arguments without ``=``."""
    return arg.split("=", 1)[0].lstrip("+~") if "=" in arg and not arg.startswith("-") else ""


def cpu_overrides(argv: Sequence[str]) -> List[str]:
    """The ``--cpu`` overrides whose keys ``argv`` does not set already (the user's keys win)."""
    given = {override_key(a) for a in argv}
    return [f"++{k}={v}" for k, v in CPU_OVERRIDES if k not in given]


def _parse_error(arg: str) -> Optional[str]:
    """hydra's own parse error for one override, or None if it parses."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        OverridesParser.create().parse_overrides([arg])
    except OverrideParseException as err:
        return str(err).splitlines()[0]
    return None


def quote_equals(argv: Sequence[str]) -> Tuple[List[str], List[str]]:
    """Quote the override values that fail to parse only because they hold ``=``.

    Returns ``(argv, notes)``: the rewritten arguments and one note per rewrite. Raises
    :class:`OverrideError` for a structured value that holds an unquoted ``=``; the message
    names the override and shows the quoted form (shell-quoted, ready to paste).
    """
    out: List[str] = []
    notes: List[str] = []
    takes_value = False
    for arg in argv:
        key = "" if takes_value else override_key(arg)
        takes_value = arg in _VALUE_FLAGS
        value = arg.split("=", 1)[1] if key else ""
        if "=" not in value or _parse_error(arg) is None:
            out.append(arg)
            continue
        head = arg[: len(arg) - len(value)]
        if not set(value) & _STRUCTURE:
            fixed = f"{head}'{value}'"
            notes.append(f"hydra override {arg!r} read as {fixed!r} (a value with '=' is quoted)")
            out.append(fixed)
            continue
        suggestion = head + _TOKEN_WITH_EQUALS.sub(r'"\1"', value)
        hint = (
            f"; write it as {shlex.quote(suggestion)}"
            if _parse_error(suggestion) is None
            else "; quote each value that holds '=' (key='a=b')"
        )
        raise OverrideError(
            f"hydra cannot parse the override {arg!r} ({_parse_error(arg)}): a value holding '=' "
            f"must be quoted inside the override{hint}"
        )
    return out, notes


def renamed_recipe(argv: Sequence[str]) -> None:
    """:class:`OverrideError` for ``--config-name`` in a renamed recipe folder of the plugin
    (``finetune/semisup_1pct_vicreg``) that the given ``--config-path`` does not hold."""
    name = path = None
    for i, arg in enumerate(argv):
        for flags, slot in ((("--config-name", "-cn"), "name"), (("--config-path", "-cp"), "path")):
            if arg in flags and i + 1 < len(argv):
                value = argv[i + 1]
            elif any(arg.startswith(f + "=") for f in flags):
                value = arg.split("=", 1)[1]
            else:
                continue
            name, path = (value, path) if slot == "name" else (name, value)
    if not name or "/" not in name:
        return
    group, rest = name.split("/", 1)
    if group not in RENAMED_GROUPS:
        return
    yaml_name = name if name.endswith(".yaml") else f"{name}.yaml"
    if path and (Path(path) / yaml_name).is_file():
        return  # the user's own folder of that name
    raise OverrideError(
        f"--config-name {name}: the recipe folder configs/{group}/ was renamed "
        f"configs/{RENAMED_GROUPS[group]}/ ('{group}' is also the host's key, which a config "
        f"group would hide on the command line); use --config-name {RENAMED_GROUPS[group]}/{rest}"
    )
