"""Old name of :mod:`e2mc_plugin.solo.method.registration` (before the adapter's re-layout),
kept for a release (installed entry points name it): the same module object."""

import sys

from e2mc_plugin.solo.method import registration

sys.modules[__name__] = registration
