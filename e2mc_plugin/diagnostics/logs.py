"""Quiet console output for the CPU commands (``demo``, ``diagnose``).

What is filtered, and why: these commands build and fit several host models in one process, and
the host libraries announce the same facts at every build or fit (Lightning's ``Seed set to N``
and ``Adding 1 callbacks from entry point ...``, its INFO banners) or warn at import about their
own dependencies (``pkg_resources is deprecated`` from Lightning 2.1, timm's renamed modules,
solo-learn's ``timm`` registry overwrites, lightning-bolts' ``UnderReviewWarning`` on 1.0.2).
None of them is about the user's run; errors still show. Progress bars are the commands' own and
stay.
"""

from __future__ import annotations

import logging
import warnings

__all__ = ["quiet_lightning", "LIGHTNING_LOGGERS"]

#: every logger of both hosts' Lightning that sets its own level (a child with its own level
#: ignores its parent's: ``lightning.fabric`` sets INFO below ``lightning``)
LIGHTNING_LOGGERS = (
    "lightning",
    "lightning.fabric",
    "lightning.pytorch",
    "lightning_fabric",
    "pytorch_lightning",
)


def quiet_lightning() -> None:
    """Silence the host's import-time warnings and Lightning's INFO lines (banners, seeds,
    entry-point callbacks). Call before the host is first imported: it imports it, then sets
    the loggers' levels (Lightning sets its own at import) and the filters its imports replace."""
    from e2mc_plugin.solo.host import compat

    # lightning-bolts (imported by solo-learn 1.0.2) puts a "once" filter per feature ahead of
    # any filter set before; recording the import's warnings keeps them off the console
    with warnings.catch_warnings(record=True):
        compat.lightning()
        compat.host_methods()
    for category in (UserWarning, DeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", message=r".*is currently marked under review")
    for name in LIGHTNING_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
