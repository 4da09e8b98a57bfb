"""Quiet console output for the CPU commands (``demo``, ``diagnose``).

What is filtered, and why: these commands build and fit several host models in one process, and
the host libraries announce the same facts at every build or fit (Lightning's ``Seed set to N``
and ``Adding 1 callbacks from entry point ...``, its INFO banners, its advice on data loader
workers) or warn at import about their own dependencies (the list and the reason of each:
:mod:`e2mc_plugin.solo.host.import_warnings`, which the launchers use too). None of them is about
the user's run; errors still show. Progress bars are the commands' own and stay.
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
    """Import the host without its import warnings, then silence the warnings of its fits and
    Lightning's INFO lines (banners, seeds, entry-point callbacks). Call before the host is first
    imported: Lightning sets its loggers' levels at import."""
    from e2mc_plugin.solo.host.import_warnings import import_host

    import_host(show="none")
    for category in (UserWarning, DeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category)
    for name in LIGHTNING_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
