"""Old name of :mod:`e2mc_plugin.solo.host.detect` (before the adapter's re-layout), kept for a
release: the same module object; ``python -m e2mc_plugin.solo.host_info`` still prints the host."""

import sys

from e2mc_plugin.solo.host import detect

if __name__ == "__main__":
    print(detect.describe_host(detect.identify_host(sys.argv[1] if len(sys.argv) > 1 else None)))
else:
    sys.modules[__name__] = detect
