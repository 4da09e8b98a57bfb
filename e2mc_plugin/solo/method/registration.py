"""Register ``"<method>_aux"`` variants of every host method into ``solo.methods.METHODS``.

Why variants and not a patched ``METHODS["vicreg"]``: a recipe that says ``method: vicreg_aux``
fails loudly (``assert cfg.method in METHODS``) on a host where the plugin was not registered,
instead of training plain VICReg and silently ignoring its ``aux_losses`` block. The host's own
names keep meaning exactly the host's methods, and checkpoints record which one was trained
(``args.json`` -> ``"method": "vicreg_aux"``), so ``main_knn.py`` / ``main_umap.py`` rebuild the
right class.

``register()`` is idempotent; it never overwrites an entry that is a different object (raises
:class:`RegistrationError`). ``base`` and ``linear`` are not SSL methods and are skipped.
"""

from __future__ import annotations

from typing import Dict, Iterable, MutableMapping, Optional

from e2mc_plugin.method_families import SUFFIX, host_method
from e2mc_plugin.solo.host import compat
from e2mc_plugin.solo.method.wrapper import base_method_of, is_wrapped, with_aux_losses

__all__ = ["SUFFIX", "SKIP", "RegistrationError", "entry_point_methods", "register", "variant_name"]

SKIP = frozenset({"base", "linear"})


class RegistrationError(RuntimeError):
    """``METHODS`` already holds a different object under a variant name."""


def variant_name(method: str) -> str:
    return f"{method}{SUFFIX}"


def register(
    methods: Optional[MutableMapping[str, type]] = None,
    *,
    only: Optional[Iterable[str]] = None,
) -> Dict[str, type]:
    """Add ``<name>_aux = with_aux_losses(cls)`` to ``methods`` for every host method.

    Args:
        methods: the table to fill; default the host's ``solo.methods.METHODS`` (the object that
            ``main_pretrain.py``, ``main_knn.py`` and ``main_umap.py`` read).
        only: restrict to these host method names.

    Returns:
        ``{variant_name: wrapped_class}`` for every variant now present (new or already there).
    """
    table = compat.host_methods() if methods is None else methods
    wanted = None if only is None else set(only)
    done: Dict[str, type] = {}
    for name, cls in list(table.items()):
        if name in SKIP or name.endswith(SUFFIX) or is_wrapped(cls):
            continue
        if wanted is not None and name not in wanted:
            continue
        wrapped = with_aux_losses(cls)
        key = variant_name(name)
        current = table.get(key)
        if current is None:
            table[key] = wrapped
        elif current is not wrapped:
            owner = f"{current.__module__}.{getattr(current, '__qualname__', current)}"
            raise RegistrationError(
                f"solo.methods.METHODS[{key!r}] is already {owner}, not e2mc-plugin's wrapper of "
                f"{cls.__name__}"
                + (
                    " (a wrapper of another class)"
                    if is_wrapped(current) and base_method_of(current) is not cls
                    else ""
                )
                + "; remove it or rename it before registering the plugin"
            )
        done[key] = wrapped
    if wanted is not None:
        missing = sorted(wanted - {host_method(n) for n in done})
        if missing:
            valid = sorted(n for n in table if n not in SKIP and not n.endswith(SUFFIX))
            raise KeyError(f"unknown host methods {missing}; valid: {', '.join(valid)}")
    return done


def entry_point_methods() -> Dict[str, type]:
    """``{"<method>_aux": wrapped class}`` for the ``solo.methods`` entry-point group.

    Read by a host carrying ``patches/0001-method-discovery-entry-points.patch`` while
    ``solo.methods`` is being imported (``METHODS`` exists by then); the host inserts the entries
    itself, so the table is not mutated here. Wrapped classes are cached, so every call returns
    the same objects.
    """
    return register(dict(compat.host_methods()))
