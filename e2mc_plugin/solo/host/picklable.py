"""Classes built at run time on a host class, made picklable by name (``ddp_spawn``, workers).

``pickle`` stores a class as ``module.qualname`` and finds it again with ``getattr(module,
qualname)``. A class made inside a factory has neither: :func:`picklable_subclass` publishes it
under its name in a module, and that module's ``__getattr__`` (:func:`rebuilding_getattr`) makes
it again in a fresh process where the factory has not run yet.
"""

from __future__ import annotations

import sys
from typing import Callable, Optional

__all__ = ["picklable_subclass", "rebuilding_getattr"]


def picklable_subclass(cls: type, module: str, name: str) -> type:
    """Name ``cls`` ``module.name`` and make it that module's attribute; returns ``cls``."""
    cls.__name__ = cls.__qualname__ = name
    cls.__module__ = module
    setattr(sys.modules[module], name, cls)
    return cls


def rebuilding_getattr(module: str, rebuild: Callable[[str], Optional[type]]) -> Callable:
    """A module ``__getattr__``: ``rebuild(name)`` (which publishes the class with
    :func:`picklable_subclass`), or ``AttributeError`` when it returns None."""

    def __getattr__(name: str) -> type:
        cls = None if name.startswith("__") else rebuild(name)
        if cls is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        return cls

    return __getattr__
