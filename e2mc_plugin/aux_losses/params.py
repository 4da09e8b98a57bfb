"""Constructor-argument checks of the aux losses: one place, each error naming loss and parameter.

Recipes arrive from YAML, where ``false`` in quotes is the string ``"false"`` and ``1e3`` without a
dot is a string too (YAML 1.1): nothing here coerces such values, every check names what it got.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional, Sequence

#: ``check_finite`` values: the deferred (default), eager and off modes.
FINITE_MODES = ("deferred", "eager", "off")


class InvalidParameterError(ValueError, TypeError):
    """A constructor argument of the wrong type or value (a ValueError and a TypeError)."""


def _fail(loss: str, param: str, what: str, value: Any, hint: str = "") -> InvalidParameterError:
    msg = f"{loss}: {param} must be {what}, got {value!r}"
    if isinstance(value, str) and hint:
        msg += f" (a string; {hint})"
    return InvalidParameterError(msg)


def _plain_bool(value: Any) -> Any:
    """numpy's bool scalar as a Python bool; anything else unchanged."""
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"):
        return bool(value)
    return value


def real(
    loss: str, param: str, value: Any, *, minimum: Optional[float] = 0.0, strict: bool = False
) -> float:
    """A finite real number (bools and strings rejected) ``>= minimum`` (``> minimum`` if
    ``strict``; ``minimum=None``: any sign, for parameters documented as legitimately signed)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(loss, param, "a real number", value, "in YAML write 1.0e3, not 1e3")
    out = float(value)
    if not math.isfinite(out):
        raise _fail(loss, param, "finite", value)
    if minimum is not None:
        if strict and not out > minimum:
            raise _fail(loss, param, f"> {minimum:g}", value)
        if not strict and not out >= minimum:
            raise _fail(loss, param, f">= {minimum:g}", value)
    return out


def integer(loss: str, param: str, value: Any, *, minimum: int = 1) -> int:
    """An integer (bools, floats and strings rejected) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _fail(loss, param, "an integer", value)
    if int(value) < minimum:
        raise _fail(loss, param, f"an integer >= {minimum}", value)
    return int(value)


def flag(loss: str, param: str, value: Any) -> bool:
    """A real bool (``"false"`` and 0/1 rejected: a quoted YAML ``"false"`` would read as True)."""
    value = _plain_bool(value)
    if not isinstance(value, bool):
        raise _fail(loss, param, "true or false (a bool)", value, "write false without quotes")
    return value


def choice(loss: str, param: str, value: Any, choices: Sequence[str]) -> str:
    """One of ``choices`` (exact string match)."""
    if not isinstance(value, str) or value not in choices:
        raise _fail(loss, param, f"one of {', '.join(map(repr, choices))}", value)
    return value


def finite_mode(loss: str, value: Any) -> str:
    """``check_finite``: ``"deferred"`` | ``True`` / ``"eager"`` | ``False`` -> FINITE_MODES."""
    value = _plain_bool(value)
    if value is True or value == "eager":
        return "eager"
    if value is False:
        return "off"
    if value == "deferred":
        return "deferred"
    raise InvalidParameterError(
        f"{loss}: check_finite must be 'deferred', True (or 'eager') or False, got {value!r}"
    )


#: ``shard`` values: on where it applies (default), always (an error where it cannot), never.
SHARD_MODES = ("auto", "on", "off")


def shard_mode(loss: str, value: Any) -> str:
    """``shard``: ``"auto"`` | ``True`` / ``"on"`` | ``False`` / ``"off"`` -> SHARD_MODES."""
    value = _plain_bool(value)
    if value is True or value == "on":
        return "on"
    if value is False or value == "off":
        return "off"
    if value == "auto":
        return "auto"
    raise InvalidParameterError(
        f"{loss}: shard must be 'auto', True (or 'on') or False (or 'off'), got {value!r}"
    )
