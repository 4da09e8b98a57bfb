"""Old name of :mod:`e2mc_plugin.solo.launch.callbacks` (before the adapter's re-layout), kept for a
release: the same module object, so attributes and patches are shared."""

import sys

from e2mc_plugin.solo.launch import callbacks

sys.modules[__name__] = callbacks
