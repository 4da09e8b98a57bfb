"""The recipe's scalar values: the one boolean parser and the one positive-number check.

YAML and hydra's command line hand over strings where a user meant a value (a quoted ``'false'``,
``1e-3`` without a dot in YAML 1.1): nothing here coerces them; every error names the key and
what it got.
"""

from __future__ import annotations

import math
from typing import Any

from e2mc_plugin.solo.recipe.schema import ConfigError

__all__ = ["flag", "positive_number"]

_BOOL_WORDS = "true or false (a YAML bool, without quotes)"


def flag(key: str, value: Any) -> bool:
    """A real bool (numpy's too), else :class:`ConfigError` naming ``key``. A string is refused,
    not read: ``bool("false")`` is true, and a quoted ``'false'`` (YAML, hydra's command line) is
    a string."""
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"):
        value = bool(value)
    if isinstance(value, bool):
        return value
    hint = "; write it without quotes" if isinstance(value, str) else ""
    raise ConfigError(f"{key}: expected {_BOOL_WORDS}, got {value!r}{hint}")


def positive_number(key: str, value: Any, what: str = "number") -> float:
    """A finite number > 0 as a float (bools and strings refused), else :class:`ConfigError`
    naming ``key``: ``{key}: expected a positive finite {what}, got ...``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ConfigError(f"{key}: expected a positive finite {what}, got {value!r}")
    return float(value)
