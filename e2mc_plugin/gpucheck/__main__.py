"""``python -m e2mc_plugin.gpucheck``: see :mod:`e2mc_plugin.gpucheck.runner`."""

import sys

from e2mc_plugin.gpucheck.runner import main

sys.exit(main())
