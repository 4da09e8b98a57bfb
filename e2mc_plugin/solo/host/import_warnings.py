"""The warnings the host's imports print about its own dependencies: the one list, each with the
reason it is filtered (the launchers, ``demo`` and ``diagnose`` read it).

Importing solo-learn and its Lightning prints about 20 lines before anything else (solo-learn
main; 7 on 1.0.2), none about the user's run: they tell solo-learn's and Lightning's maintainers
that a dependency moved. :func:`import_host` imports the host once with the warnings recorded,
shows each distinct one at most once as asked (all with ``--verbose``, else only those not listed
here, none in a process that is not the first of its run), and ignores the listed ones from then
on, so a lazy import later in the run stays quiet too.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

__all__ = ["HOST_IMPORT_WARNINGS", "SHOW", "HostWarning", "import_host", "known_warning"]

#: which recorded warnings :func:`import_host` shows: every one, those not listed, or none
SHOW = ("all", "unlisted", "none")


@dataclass(frozen=True)
class HostWarning:
    """A warning the host's imports emit: its category, the start of its message (a regular
    expression) and why the plugin does not show it by default."""

    category: type
    message: str
    reason: str

    def matches(self, found: warnings.WarningMessage) -> bool:
        return issubclass(found.category, self.category) and bool(
            re.match(self.message, str(found.message))
        )


HOST_IMPORT_WARNINGS: Tuple[HostWarning, ...] = (
    HostWarning(
        UserWarning,
        r"pkg_resources is deprecated as an API",
        "Lightning (both hosts) imports pkg_resources, whose removal setuptools announces",
    ),
    HostWarning(
        FutureWarning,
        r"Importing from timm\.",
        "solo-learn imports timm modules by their paths before timm 0.9 (helpers, registry, "
        "layers, optim_factory)",
    ),
    HostWarning(
        UserWarning,
        r"Overwriting \S+ in registry with solo\.",
        "solo-learn registers its own ConvNeXt and PoolFormer models under timm's names",
    ),
    HostWarning(
        FutureWarning,
        r"`torch\.cuda\.amp\.custom_(fwd|bwd)\(args\.\.\.\)` is deprecated",
        "solo-learn's whitening layers (solo/utils/whitening.py) use torch's old CUDA autocast "
        "decorators",
    ),
    HostWarning(
        Warning,  # lightning-bolts' own UnderReviewWarning class
        r"The feature \S+ is currently marked under review",
        "lightning-bolts, which solo-learn 1.0.2 imports, marks its modules as under review",
    ),
    HostWarning(
        FutureWarning,
        r"In the future `np\.\w+` will be defined",
        "lightning-bolts (solo-learn 1.0.2) probes numpy's removed type aliases",
    ),
)


def known_warning(found: warnings.WarningMessage) -> Optional[HostWarning]:
    """The entry of :data:`HOST_IMPORT_WARNINGS` that ``found`` is, or None."""
    return next((known for known in HOST_IMPORT_WARNINGS if known.matches(found)), None)


def _distinct(found: Sequence[warnings.WarningMessage]) -> List[warnings.WarningMessage]:
    seen, out = set(), []
    for w in found:
        key = (w.category, str(w.message))
        if key not in seen:
            seen.add(key)
            out.append(w)
    return out


def import_host(show: str = "unlisted") -> List[warnings.WarningMessage]:
    """Import the host's Lightning and ``solo.methods`` with their warnings recorded; show the
    distinct ones ``show`` selects (:data:`SHOW`); ignore the listed ones from now on (all but
    ``show="all"``). Returns the distinct warnings not shown.

    Recording, rather than filters set before the import, also catches the filters that
    lightning-bolts (solo-learn 1.0.2) puts ahead of every other one while it is imported.
    """
    if show not in SHOW:
        raise ValueError(f"show: {show!r} is not one of {', '.join(SHOW)}")
    from e2mc_plugin.solo.host import compat

    with warnings.catch_warnings(record=True) as caught:
        compat.lightning()
        compat.host_methods()
    hidden = []
    for found in _distinct(caught):
        if show == "all" or (show == "unlisted" and known_warning(found) is None):
            warnings.showwarning(found.message, found.category, found.filename, found.lineno)
        else:
            hidden.append(found)
    if show != "all":
        for known in HOST_IMPORT_WARNINGS:
            warnings.filterwarnings("ignore", message=known.message, category=known.category)
    return hidden
