"""Quiet console output for the CPU commands (``demo``, ``diagnose``)."""

from __future__ import annotations

import logging
import warnings

__all__ = ["quiet_lightning"]


def quiet_lightning() -> None:
    """Silence Lightning's INFO banners (call after the host is imported: it sets its levels)."""
    from e2mc_plugin.solo.host import compat

    compat.lightning()
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for category in (UserWarning, DeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category)
