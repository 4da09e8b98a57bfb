"""Named registries: one decorator per kind, a ``list_*`` function, entry-point discovery.

Modelled on timm's ``register_model`` / ``create_model`` / ``list_models``, with two differences:
a duplicate name is an error (never a silent overwrite) and an unknown name fails with the
closest valid names.
"""

from __future__ import annotations

import difflib
import fnmatch
from importlib import metadata
from typing import Callable, Dict, Generic, List, Optional, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised for a name that is not registered; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError quotes its message; show it verbatim
        return str(self.args[0])


class DuplicateNameError(ValueError):
    """Raised when a name is registered twice."""


class Registry(Generic[T]):
    """A name -> object table filled by a decorator and by an entry-point group.

    Args:
        kind: what the entries are, used in messages (e.g. ``"aux loss"``).
        entry_point_group: ``importlib.metadata`` group that third-party packages use to
            register entries (each entry point loads the object to register).
    """

    def __init__(self, kind: str, entry_point_group: Optional[str] = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: Dict[str, T] = {}
        self._sources: Dict[str, str] = {}
        self._entry_points_loaded = False

    def register(self, name: str, obj: Optional[T] = None, *, source: str = "") -> Callable:
        """Register ``obj`` under ``name``; usable as ``@registry.register("name")``."""

        def _add(target: T) -> T:
            key = name.lower()
            if key in self._entries and self._entries[key] is not target:
                where = self._sources.get(key) or "another module"
                raise DuplicateNameError(
                    f"{self.kind} {name!r} is already registered (by {where}); choose another name"
                )
            self._entries[key] = target
            self._sources[key] = source or getattr(target, "__module__", "")
            return target

        if obj is not None:
            return _add(obj)
        return _add

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded or self.entry_point_group is None:
            return
        self._entry_points_loaded = True
        for ep in metadata.entry_points(group=self.entry_point_group):
            key = ep.name.lower()
            if key in self._entries:
                # Our own names win only if the entry point loads the very same object.
                loaded = ep.load()
                if self._entries[key] is not loaded:
                    raise DuplicateNameError(
                        f"entry point {ep.value!r} of group {self.entry_point_group!r} "
                        f"registers {self.kind} {ep.name!r}, which is already registered"
                    )
                continue
            self.register(ep.name, ep.load(), source=f"entry point {ep.value}")

    def get(self, name: str) -> T:
        """Return the entry for ``name`` or raise :class:`UnknownNameError` listing valid names."""
        self._load_entry_points()
        key = str(name).lower()
        if key not in self._entries:
            valid = sorted(self._entries)
            close = difflib.get_close_matches(key, valid, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}.{hint} Valid names: {', '.join(valid)}"
            )
        return self._entries[key]

    def names(self, pattern: str = "*") -> List[str]:
        """Sorted registered names matching a shell-style ``pattern``."""
        self._load_entry_points()
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: str) -> bool:
        self._load_entry_points()
        return str(name).lower() in self._entries
