"""Whether this process runs a host script under ``e2mc-plugin pretrain|linear|knn|umap``.

The launcher sets one environment variable around the host's ``main_*.py`` (ranks that Lightning
re-launches inherit it); the callbacks factory and the run-safety callbacks read it here.
"""

from __future__ import annotations

import os
from typing import Optional

__all__ = ["SUMMARY_ENV", "launched_command"]

SUMMARY_ENV = "E2MC_PLUGIN_RUN_SUMMARY"  # value: the command name (pretrain / linear)


def launched_command() -> Optional[str]:
    """The launcher's command (``"pretrain"``, ``"linear"``...) or None outside the launcher."""
    return os.environ.get(SUMMARY_ENV) or None
